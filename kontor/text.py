"""Text folding shared by search, duplicate checks and file names."""
import codecs
import ipaddress
import re
import unicodedata

# Letters that Unicode does not decompose into a base letter plus an accent; and the other
# apostrophes (’ ‘ ʼ ´ ` ′, what phones and word processors type for ') and hyphens (‐ ‑),
# which must be the same letter as the one on the keyboard: "O’Brien" finds "O'Brien".
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l",
                       "þ": "th", "ð": "d", "ı": "i",
                       "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
                       "\u2032": "'", "\u2010": "-", "\u2011": "-"})


def fold(text: str) -> str:
    """`text` (str or None) lower-cased, accents removed, apostrophes and hyphens made the
    keyboard's: "Søren Ærø" → "soren aero", "O’Brien" → "o'brien".

    The one folding of every search (issue 11 item 8): the stored search columns (contacts,
    employees, support cases) hold folded text and every query is folded the same way, on
    SQLite and PostgreSQL alike. Changing it changes what is stored: a migration must
    recompute the stored columns (as migrations/0013_one_folding.py does)."""
    text = text or ""
    if text.isascii() and "`" not in text:   # nothing to decompose: 20 times faster (import)
        return text.lower()
    text = text.casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    # accents go, and so do invisible format characters such as a zero-width space pasted
    # with a name ("mu\u200bller" is "muller"; found by a new user's try)
    return "".join(ch for ch in decomposed
                   if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")


MAX_SEARCH_TERMS = 6   # words of a search box that count; the rest are ignored


def search_terms(text) -> list:
    """The words of a search box's `text` (str or None), each folded, at most
    MAX_SEARCH_TERMS: a row matches when its folded search column contains every one
    ("jan utrecht" finds "Jansen, Utrecht"). Control characters are dropped first.
    Every search uses it (issue 11 item 8)."""
    terms = (fold(word) for word in without_controls(text or "").split())
    return [term for term in terms if term][:MAX_SEARCH_TERMS]   # a lone accent folds to ""


def search_text(*parts) -> str:
    """The stored, folded text a search looks in: the non-empty `parts` (str or None),
    folded and joined by spaces (issue 11 item 8)."""
    return " ".join(fold(part) for part in parts if part)


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


def unix_lines(text):
    """`text` with every line ending made a line feed (CRLF and a lone CR → LF); other values
    are returned as they are. A browser counts a line break as one character for a text
    area's maxlength but sends it as CRLF: counted before this, a note the browser allowed
    was refused as too long (issue 11 item 9). Every multi-line text is stored this way."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if isinstance(text, str) else text


def without_controls(text):
    """`text` without the control characters a form or a query never needs (see _CONTROLS)."""
    return _CONTROLS.sub("", text) if isinstance(text, str) else text


def one_line(text):
    """`text` with each run of line breaks made one space: a single-line field (a name, a
    subject) must not carry a line break into an e-mail header or a vCard line."""
    return _LINE_BREAKS.sub(" ", text) if isinstance(text, str) else text


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_ASCII_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")


def _is_label(label):
    """One label of a host name: ASCII letters, digits and inner hyphens, at most 63
    characters; or an internationalised label ("müller") whose IDNA form is one."""
    if label.isascii():
        return _ASCII_LABEL.fullmatch(label) is not None
    if not all(ch.isalnum() or ch == "-" or unicodedata.category(ch).startswith("M")
               for ch in label):
        return False
    try:
        encoded = label.encode("idna")
    except UnicodeError:
        return False
    return _ASCII_LABEL.fullmatch(encoded.decode("ascii")) is not None


def _is_host(host, bare):
    """A host name of labels, an IPv4 address or a bracketed IPv6 address. A `bare` host
    (typed without http:// and without a port) needs a dot: a word alone is no web address."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return isinstance(ipaddress.ip_address(host[1:-1]), ipaddress.IPv6Address)
        except ValueError:
            return False
    if _IPV4.fullmatch(host):
        return True
    labels = host.split(".")
    if labels[-1].isdigit():   # "999.1.1.1", "10.0.0": no host name, no IPv4 address
        return False
    if bare and len(labels) < 2:
        return False
    return len(host) <= 253 and all(_is_label(label) for label in labels)


def _web_parts(text):
    """(absolute address, True) for a web address, or (None, False): see is_web_address."""
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text):
        return None, False
    scheme = _SCHEME.fullmatch(text)
    bare = scheme is None or bool(re.fullmatch(r"\d+([/?#].*)?", scheme.group(2), re.DOTALL))
    if bare:   # "www.example.nl", "example.nl:8080/shop": a host (and port), no scheme
        address, rest = "https://" + text, text
    elif scheme.group(1).lower() in ("http", "https") and scheme.group(2).startswith("//"):
        address, rest = text, scheme.group(2)[2:]
    else:      # "javascript:", "data:", "mailto:", "http:/x"
        return None, False
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority or "\\" in authority:   # "http://user@evil.example"
        return None, False
    host, port = authority, None
    ported = re.fullmatch(r"(.*):(\d{1,5})", authority, re.DOTALL)
    if ported and not authority.endswith("]"):
        host, port = ported.groups()
    if port is not None and not 0 < int(port) <= 65535:
        return None, False
    return (address, True) if _is_host(host, bare and port is None) else (None, False)


def is_web_address(text):
    """True for a website as people type it, or for nothing at all ("" or None): "http://" or
    "https://" followed by a host name (letters, digits and hyphens in dot-separated labels,
    internationalised ones such as "müller.de" too), an IPv4 or a bracketed IPv6 address,
    an optional port, then any path; or such a host without the scheme ("www.example.nl",
    "example.nl:8080/shop", "localhost:8080"), which needs a dot or a port. False for any
    other scheme ("javascript:", "data:"), a user name before the host
    ("http://user@evil.example"), an empty label ("https://a..b"), and anything with spaces
    or control characters (browsers drop tabs and line breaks from a link, so
    "java\\nscript:" would still run). Issue 10 item 24."""
    text = (text or "").strip()
    return not text or _web_parts(text)[1]


def web_link(text):
    """The absolute http(s) address of a web address as stored (is_web_address), for output
    such as a vCard's URL: a bare host gets "https://"; None when `text` is empty or no web
    address (a value saved before the rule)."""
    text = (text or "").strip()
    return _web_parts(text)[0] if text else None


def _utf16(raw):
    """"utf-16" when `raw` starts with its byte order mark, or the byte order of UTF-16
    without one (every other byte NUL: a NUL in any 8-bit text is a broken file anyway)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = raw[:4096]
    if len(sample) >= 4 and len(raw) % 2 == 0:
        if sample[1::2].count(0) > len(sample) // 4:
            return "utf-16-le"
        if sample[0::2].count(0) > len(sample) // 4:
            return "utf-16-be"
    return None


def text_encoding(raw: bytes):
    """The encoding `raw` is text in, of those spreadsheet programs and editors write: UTF-16
    (with or without byte order mark), UTF-8 (with or without BOM) or Windows-1252; None when
    it is none of them. Windows-1252 leaves only five byte values undefined, so binary data
    often decodes as it: `looks_like_text` is the check for "is this a text file"."""
    for encoding in (_utf16(raw), "utf-8-sig", "cp1252"):
        if encoding:
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            return encoding
    return None


def decode_text(raw: bytes) -> str:
    """`raw` as text in the encoding `text_encoding` finds (a BOM removed), else read as
    Latin-1, which never fails. Control characters are kept: see `without_controls`."""
    encoding = text_encoding(raw)
    return raw.decode(encoding).removeprefix("\ufeff") if encoding else raw.decode("latin-1")


# what a text file holds besides printable characters: tab, line ends, form feed
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def looks_like_text(raw: bytes) -> bool:
    """True when `raw` is text in one of `text_encoding`'s encodings and holds no control
    characters but tab, line ends and form feed (an upload named .txt or .csv must be one:
    SECURITY.md, uploads checked by content; issue 11 item 12: Windows-1252 and UTF-16 are
    text too)."""
    encoding = text_encoding(raw)
    return encoding is not None and not _BINARY.search(raw.decode(encoding))

# --- names in the short lists a superuser keeps (support categories and types) --------------

def list_name(name: str) -> str:
    """A name as a short list stores it: spaces trimmed, runs of spaces made one, at most 100
    characters."""
    return " ".join((name or "").split())[:100]


def list_key(name: str) -> str:
    """What makes two names of a short list the same (issue 11 item 19): "Installatie",
    " installatie " and "INSTALLATIE" are one, as are "Überweisung" and "uberweisung" (`fold`,
    the folding every search uses). Support categories and types store it in `name_key`,
    unique."""
    return " ".join(fold(list_name(name)).split())[:100]
