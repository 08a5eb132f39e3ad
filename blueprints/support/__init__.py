"""Support → Requests: the case list, the "Create new" wizard, the case page with its thread
and files, "Was your question answered?", and the superuser's category and type lists.

The rooms: `forms` (the forms, the owner choices, turning a request's files into stored ones),
`wizard` (the four steps of "Create new" and the draft they keep in the session), `cases` (the
list, the case page, its actions and downloads), `settings` (categories and types), `notices`
(the e-mails a case sends). The views are thin: the rules and every write are in
kontor/support.py, the stored files in kontor/uploads.py.
"""
from flask import Blueprint

bp = Blueprint("support", __name__, url_prefix="/support")


# The view modules add their routes to `bp`, so they are imported once it exists.
from blueprints.support import cases, settings, wizard  # noqa: E402, F401
