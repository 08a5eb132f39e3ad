"""The languages Kontor speaks: one list for the interface, e-mails, forms and the CLI.

Codes are the catalogue names in translations/ ("nb" is Norwegian Bokmål). A browser asking
for "no" (Norwegian) or "nn" (Nynorsk) gets Bokmål, the written standard our Norwegian users
work in.
"""
from babel import localedata

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


def formatting_locale(language, country=""):
    """The locale that formats dates and numbers for a reader of `language` (one of CODES)
    in a company in `country` (ISO 3166 alpha-2, "" when unknown): the language itself,
    except that English outside the United States takes that country's English ("en_NL":
    30/11/2026, 14:05), or British English where CLDR has none for the country, rather than
    US English's 11/30/26, 2:05 PM (issue 11 item 19). Texts still come from `language`'s
    catalogue."""
    country = (country or "").upper()
    if language != "en" or not country or country == "US":
        return language
    candidate = f"en_{country}"
    return candidate if country.isalpha() and localedata.exists(candidate) else "en_GB"
