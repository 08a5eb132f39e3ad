"""Text folding shared by search, duplicate checks and file names."""
import re
import unicodedata

# Letters that Unicode does not decompose into a base letter plus an accent.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l",
                       "þ": "th", "ð": "d", "ı": "i"})


def fold(text: str) -> str:
    """Lower-case, accents removed: "Søren Ærø" → "soren aero"."""
    if (text or "").isascii():    # nothing to decompose: 20 times faster (a CSV import)
        return (text or "").lower()
    text = (text or "").casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# The largest value of a 32-bit database integer (ids, numbers, versions): a larger number in
# a query makes PostgreSQL refuse it, and nothing Kontor stores comes near it.
MAX_INTEGER = 2**31 - 1


def whole_number(text, maximum=MAX_INTEGER):
    """`text` (str or None) as an int when it is ASCII digits only and at most `maximum`,
    else None. `str.isdigit()` alone also accepts "²" and other characters `int()` refuses,
    and a number past a database integer fails the query: both would be a 500."""
    text = text or ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if number <= maximum else None


# C0 control characters but tab, line feed and carriage return, and DEL: no one types them, a
# NUL breaks SQLite's FTS5 and PostgreSQL refuses it in any text, the others corrupt e-mail,
# CSV and vCard output.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# what ends a line in e-mail headers, browsers or str.splitlines()
_LINE_BREAKS = re.compile(r"\s*[\r\n\x85\u2028\u2029]+\s*")


def without_controls(text):
    """`text` without the control characters a form or a query never needs (see _CONTROLS)."""
    return _CONTROLS.sub("", text) if isinstance(text, str) else text


def one_line(text):
    """`text` with each run of line breaks made one space: a single-line field (a name, a
    subject) must not carry a line break into an e-mail header or a vCard line."""
    return _LINE_BREAKS.sub(" ", text) if isinstance(text, str) else text


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)


def is_web_address(text):
    """True for a website as people type it: "https://…", "http://…" or a bare host name
    ("www.example.nl", "example.nl:8080/shop"); False for any other scheme ("javascript:",
    "data:", "mailto:") and anything with spaces or controls (browsers drop tabs and line
    breaks from a link, so "java\\tscript:" would still run)."""
    text = (text or "").strip()
    if not text:
        return True
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return False
    scheme = _SCHEME.fullmatch(text)
    if scheme is None:
        return not text.startswith(("/", "\\"))
    if scheme.group(1).lower() in ("http", "https"):
        return scheme.group(2).startswith("//") and len(scheme.group(2)) > 2
    # "example.nl:8080/…" is a host and port, not a scheme
    return re.fullmatch(r"\d+(/.*)?", scheme.group(2), re.DOTALL) is not None
