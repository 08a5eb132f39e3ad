"""Request-scoped helpers shared by the app factory and the blueprints."""
from flask import g

from models import Company


def current_company():
    """The company row, read once per request."""
    if g.get("company") is None:
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


def ascii_filename(name, fallback="download"):
    """A file name safe in any header and file system: ASCII letters, digits, - _ . and spaces."""
    import re

    from kontor.text import fold
    text = "".join(ch if ch.isascii() else fold(ch) for ch in (name or ""))
    text = text.encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._ -]+", "", text).strip(" .")[:80]
    return text or fallback


def content_disposition(filename):
    """`attachment` with an ASCII fallback and the RFC 6266 / 5987 `filename*` (SECURITY 31)."""
    from urllib.parse import quote
    safe = "".join(ch for ch in filename if ch not in "\r\n\"\\")
    encoded = quote(safe, safe="")    # "/" too: RFC 5987 allows no "/" in the value
    return f"attachment; filename=\"{ascii_filename(safe)}\"; filename*=UTF-8''{encoded}"


def local_time(value, style="short"):
    """A stored (naive UTC) time in the company's time zone, formatted for the reader's locale.

    The same result as flask_babel.format_datetime, but the locale's patterns are looked up
    once per request: a page or RTF with hundreds of stamps would otherwise spend most of its
    time finding them again for every stamp.
    """
    from datetime import timezone

    from babel.dates import get_date_format, get_datetime_format, get_time_format
    from flask_babel import get_locale, get_timezone
    if value is None:
        return ""
    cache = g.setdefault("_time_formats", {})
    formats = cache.get(style)
    if formats is None:
        locale, zone = get_locale(), get_timezone()
        formats = cache[style] = (locale, zone, get_datetime_format(style, locale=locale),
                                  get_date_format(style, locale=locale),
                                  get_time_format(style, locale=locale))
    locale, zone, combined, date_pattern, time_pattern = formats
    local = value.replace(tzinfo=timezone.utc).astimezone(zone)
    return combined.replace("{1}", date_pattern.apply(local, locale)).replace(
        "{0}", time_pattern.apply(local, locale))
