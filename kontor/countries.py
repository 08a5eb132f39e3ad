"""Country and time-zone choices, named in the reader's language by Babel's CLDR data."""
import functools
import unicodedata

from babel import Locale
from flask_babel import get_locale
from markupsafe import escape

COUNTRIES = ("NL", "BE", "NO", "SE", "DK", "DE", "AT", "CH", "GB", "IE", "US", "CA", "AU",
             "NZ", "FR", "LU", "FI", "IS", "PL", "ES", "IT", "PT")   # the firms' usual ones

# Every country Kontor accepts: the two-letter territories of CLDR (ISO 3166-1), without the
# groupings and placeholders CLDR also names (European Union, United Nations, Unknown Region …)
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
ALL_COUNTRIES = frozenset(code for code in Locale.parse("en").territories
                          if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)

TIMEZONES = ("Europe/Amsterdam", "Europe/Brussels", "Europe/Oslo", "Europe/Stockholm",
             "Europe/Copenhagen", "Europe/Berlin", "Europe/Vienna", "Europe/Zurich",
             "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Helsinki",
             "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
             "America/Toronto", "Australia/Sydney", "Pacific/Auckland", "UTC")


def country_choices():
    """The country select's choices ({code: name in the reader's language}): "—", the firms'
    usual countries by name, then every other country by name. Every country the import or
    an older version may have stored is there, so saving a form never empties a country
    (issue 11 item 10: an imported "Japan" was erased by the next edit)."""
    return dict(_choices_in(str(get_locale())))   # a dict: WTForms 3.3 deprecates tuples


@functools.lru_cache(maxsize=16)
def _choices_in(locale):
    """country_choices for one locale, as (code, name) pairs: sorted once per locale, not for
    every country field of every form shown."""
    names = Locale.parse(locale).territories
    usual = sorted(((code, names.get(code, code)) for code in COUNTRIES), key=lambda c: c[1])
    rest = sorted(((code, names.get(code, code)) for code in ALL_COUNTRIES - set(COUNTRIES)),
                  key=lambda c: c[1])
    return tuple([("", "—")] + usual + rest)


@functools.lru_cache(maxsize=16)
def options_html(locale) -> str:
    """The <option> elements of the country select in `locale`, none selected, as HTML (names
    escaped): built once per locale. Rendering 258 options through WTForms took about 10 ms
    of every contact form (issue 12 item 26: record pages under 10 ms)."""
    return "".join(f'<option value="{escape(code)}">{escape(name)}</option>'
                   for code, name in _choices_in(locale))


def country_name(code):
    return get_locale().territories.get(code, code) if code else ""


def _folded(text):
    """A country name as compared: case, accents, dots and extra spaces ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.replace(".", " ").replace("-", " ").split())


# common other names for a few countries (issue 11 item 10); the four languages' CLDR names are
# added to these below
COUNTRY_ALIASES = {
    "NL": ("Holland", "The Netherlands", "Nederlân"),
    "GB": ("UK", "Great Britain", "England", "Scotland", "Wales", "Grossbritannien",
           "Storbritannia", "Groot Brittannie"),
    "US": ("USA", "U.S.A.", "United States of America", "America", "Amerika",
           "Vereinigte Staaten von Amerika"),
    "DE": ("Germany", "Deutschland", "Duitsland", "Tyskland", "Bundesrepublik Deutschland"),
    "NO": ("Kingdom of Norway", "Noreg"),
    "CH": ("Schweiz", "Zwitserland", "Sveits"),
}


def _country_codes():
    names = {}
    ambiguous = set()
    for language in ("en", "nl", "nb", "de"):
        for code, name in Locale.parse(language).territories.items():
            if len(code) != 2 or not code.isalpha():     # regions such as 001 World
                continue
            key = _folded(name)
            if names.get(key, code) != code:
                ambiguous.add(key)
            names.setdefault(key, code)
    for key in ambiguous:
        del names[key]
    for code, aliases in COUNTRY_ALIASES.items():
        for alias in aliases:
            names[_folded(alias)] = code
    return names


_COUNTRY_CODES = _country_codes()   # built once, when Kontor starts


def country_code(value):
    """The ISO 3166 code of a country given as a two-letter code ("no", "NL") or as its name in
    English, Dutch, Norwegian or German ("Norway", "Norge", "Noorwegen", "Norwegen", "The
    Netherlands", "Deutschland"; case, accents and dots ignored), or a common other name
    ("Holland", "UK"). In: str. Out: the code in capitals, one of ALL_COUNTRIES, or None when
    the value is none of these ("XX", "Atlantis"; the caller reports it). Rule: issue 11
    item 10."""
    value = " ".join(str(value or "").split())
    if value.upper() in ALL_COUNTRIES:
        return value.upper()
    folded = _folded(value)
    code = _COUNTRY_CODES.get(folded) or _COUNTRY_CODES.get(folded.removeprefix("the "))
    return code if code in ALL_COUNTRIES else None
