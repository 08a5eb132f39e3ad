"""Where Kontor's code asked for the time before the clock moved to `models.clock` (the models
must not import from `kontor`). A re-export only: the lead will point its imports at
`models.clock` after the issue 9 branches are merged, and then remove this module."""
from models.clock import utcnow  # noqa: F401
