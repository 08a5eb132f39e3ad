"""Text folding shared by search, duplicate checks and file names."""
import ipaddress
import re
import unicodedata

# Letters that Unicode does not decompose into a base letter plus an accent.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l",
                       "þ": "th", "ð": "d", "ı": "i"})


def fold(text: str) -> str:
    """Lower-case, accents removed: "Søren Ærø" → "soren aero"."""
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
