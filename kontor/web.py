"""Request-scoped helpers shared by the app factory and the blueprints."""
import re
from datetime import UTC
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import (
    get_date_format,
    get_datetime_format,
    get_period_names,
    get_time_format,
)
from flask import Request, Response, g
from flask_babel import get_locale, get_timezone
from werkzeug.datastructures import FileStorage, ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter
from werkzeug.user_agent import UserAgent

from kontor.text import MAX_INTEGER, fold, one_line, without_controls
from models import Company


class DatabaseInteger(IntegerConverter):
    """The `<int:...>` of every route: a number past a database integer matches no route
    (404), as kontor.text.whole_number refuses it in a query string; SQLite would otherwise
    raise OverflowError and PostgreSQL refuse the query (a 500). Only ASCII digits match:
    Werkzeug's `\\d+` also matches "１" and "٣", which int() reads as 1 and 3, so
    `/contacts/１` opened contact 1 (issue 10 item 24; found by a new user's try)."""

    regex = r"[0-9]+"

    def __init__(self, url_map, **kwargs):
        kwargs.setdefault("max", MAX_INTEGER)
        super().__init__(url_map, **kwargs)


class ControlFreeParameters(ImmutableMultiDict):
    """Query, form and cookie values without control characters (kontor.text.without_controls):
    every search box and every saved field is spared a NUL (FTS5 and PostgreSQL refuse it,
    a 500) in one place, for every route added later too. Uploaded files keep their bytes;
    their names lose control characters and line breaks."""

    def __init__(self, mapping=None):
        if isinstance(mapping, MultiDict):
            pairs = mapping.items(multi=True)
        elif isinstance(mapping, dict):
            pairs = mapping.items()
        else:
            pairs = mapping or ()
        super().__init__([(without_controls(key) if isinstance(key, str) else key,
                           _without_controls(value)) for key, value in pairs])


def _without_controls(value):
    if isinstance(value, FileStorage):   # the name is kept as data (the case's file list)
        value.filename = one_line(without_controls(value.filename))
        return value
    return without_controls(value) if isinstance(value, str) else value


class ControlFreeUserAgent(UserAgent):
    """The User-Agent header without control characters: the session list stores it. (waitress
    refuses such a header already; a test client or another server may not.)"""

    def __init__(self, string):
        super().__init__(without_controls(string))


class KontorRequest(Request):
    """The request of the staff app and the portal (see ControlFreeParameters)."""
    parameter_storage_class = ControlFreeParameters
    dict_storage_class = ControlFreeParameters
    user_agent_class = ControlFreeUserAgent


def current_company():
    """The company row (None before setup), read once per request."""
    if "company" not in g:
        g.company = Company.current()
    return g.company


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Version/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
            ("Mac OS X", "macOS"), ("Linux", "Linux"))


def browser_name(user_agent):
    """E.g. "Firefox 128 · Windows" from a User-Agent header, for the "Signed in now" page."""
    agent = user_agent or ""
    browser = next((f"{name} {agent.split(marker, 1)[1].split('.')[0].split(' ')[0]}"
                    for marker, name in _BROWSERS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    if browser and system:
        return f"{browser} · {system}"
    return browser or system or agent[:60]


def browser_parts(user_agent):
    """(browser, system) named plainly from a User-Agent header, e.g. ("Firefox", "Windows");
    either is "" when the header does not say. For "Firefox on Windows" (the first sync's list
    of who is signed in, kontor/sync/first_sync.py)."""
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    return browser, system


def ascii_filename(name, fallback="download"):
    """A file name safe in any header and file system: ASCII letters, digits, - _ . and spaces."""
    text = "".join(ch if ch.isascii() else fold(ch) for ch in (name or ""))
    text = text.encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._ -]+", "", text).strip(" .")[:80]
    return text or fallback


def content_disposition(filename):
    """`attachment` with an ASCII fallback and the RFC 6266 / 5987 `filename*` (SECURITY 31)."""
    safe = "".join(ch for ch in filename if ch not in "\r\n\"\\")
    encoded = quote(safe, safe="")    # "/" too: RFC 5987 allows no "/" in the value
    return f"attachment; filename=\"{ascii_filename(safe)}\"; filename*=UTF-8''{encoded}"


def attachment(body, mimetype, filename):
    """A download response: `body` (bytes, str or an iterable of them, streamed as given) as
    `mimetype`, saved as `filename` (any Unicode; see content_disposition), with a sandbox
    CSP so a browser that renders it anyway runs nothing (SECURITY.md 31)."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


# The numeric pattern letters, as str.format fields of (moment, two-digit year, 12-hour
# hour, AM/PM name): a short stamp becomes one str.format call.
_FIELDS = {
    "d": "{0.day}", "dd": "{0.day:02d}", "M": "{0.month}", "MM": "{0.month:02d}",
    "y": "{0.year}", "yyyy": "{0.year}", "yy": "{1:02d}", "H": "{0.hour}", "HH": "{0.hour:02d}",
    "h": "{2}", "hh": "{2:02d}", "mm": "{0.minute:02d}", "ss": "{0.second:02d}", "a": "{3}",
}


def local_time(value, style="short"):
    """A stored (naive UTC) time in the company's time zone, formatted for the reader's locale.

    The same text as flask_babel.format_datetime (a test compares them), several times
    faster: the locale's patterns are looked up once per request, and patterns made only of
    numbers (the short style, used for every stamp in lists, notes and RTF) become a single
    str.format. A page or RTF with hundreds of stamps would otherwise spend most of its time
    here.
    """
    if value is None:
        return ""
    return time_formatter(style)(value)


def time_formatter(style="short"):
    """local_time for many stamps: the function that formats one naive UTC time (not None)."""
    formats = g.get("_time_formats")
    if formats is None:
        formats = g._time_formats = {}
    formatter = formats.get(style)
    if formatter is None:
        to_text = _time_format(style)
        formatter = formats[style] = lambda value: to_text(value.replace(tzinfo=UTC))
    return formatter


def _time_format(style):
    """A function from an aware UTC datetime to its text in this request's locale and zone."""

    locale, zone = get_locale(), get_timezone()
    try:
        zone = ZoneInfo(getattr(zone, "zone", str(zone)))   # converts 3x faster than pytz
    except (ZoneInfoNotFoundError, ValueError):
        pass
    date_pattern = get_date_format(style, locale=locale)
    time_pattern = get_time_format(style, locale=locale)
    combined = get_datetime_format(style, locale=locale)
    template = combined.replace("{1}", date_pattern.format).replace("{0}", time_pattern.format)
    parts = re.split(r"%\((\w+)\)s", template)     # literal, name, literal, name, ...
    if all(name in _FIELDS for name in parts[1::2]):
        periods = get_period_names(locale=locale)
        am_pm = (periods.get("am", "AM"), periods.get("pm", "PM"))
        text = "".join(_FIELDS[part] if n % 2 else
                       part.replace("%%", "%").replace("{", "{{").replace("}", "}}")
                       for n, part in enumerate(parts)).format

        def numeric(moment):
            moment = moment.astimezone(zone)
            hour = moment.hour
            return text(moment, moment.year % 100, hour % 12 or 12, am_pm[hour >= 12])
        return numeric

    def spelled(moment):       # month names and the like: Babel writes them
        moment = moment.astimezone(zone)
        return combined.replace("{1}", date_pattern.apply(moment, locale)).replace(
            "{0}", time_pattern.apply(moment, locale))
    return spelled
