"""Country and time-zone choices, named in the reader's language by Babel's CLDR data."""
from flask_babel import get_locale

COUNTRIES = ("NL", "BE", "NO", "SE", "DK", "DE", "AT", "CH", "GB", "IE", "US", "CA", "AU",
             "NZ", "FR", "LU", "FI", "IS", "PL", "ES", "IT", "PT")

TIMEZONES = ("Europe/Amsterdam", "Europe/Brussels", "Europe/Oslo", "Europe/Stockholm",
             "Europe/Copenhagen", "Europe/Berlin", "Europe/Vienna", "Europe/Zurich",
             "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Helsinki",
             "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
             "America/Toronto", "Australia/Sydney", "Pacific/Auckland", "UTC")


def country_choices():
    names = get_locale().territories
    choices = sorted(((code, names.get(code, code)) for code in COUNTRIES), key=lambda c: c[1])
    return dict([("", "—")] + choices)   # a dict: WTForms 3.3 deprecates tuple choices


def country_name(code):
    return get_locale().territories.get(code, code) if code else ""
