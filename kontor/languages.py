"""The languages Kontor speaks: one list for the interface, e-mails, forms and the CLI.

Codes are the catalogue names in translations/ ("nb" is Norwegian Bokmål). A browser asking
for "no" (Norwegian) or "nn" (Nynorsk) gets Bokmål, the written standard our Norwegian users
work in.
"""
LANGUAGES = {"en": "English", "nl": "Nederlands", "nb": "Norsk bokmål", "de": "Deutsch"}
CODES = tuple(LANGUAGES)
DEFAULT = "en"
_ALIASES = {"no": "nb", "nn": "nb"}


def choices():
    """(code, name) pairs for a select field, in the order above."""
    return list(LANGUAGES.items())


def best_match(accept_languages):
    """The best of our codes for a werkzeug `Accept-Language` header object, or None."""
    best = accept_languages.best_match(list(CODES) + list(_ALIASES))
    return _ALIASES.get(best, best)
