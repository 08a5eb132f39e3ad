"""A note as an RTF document for Word and LibreOffice (SECURITY.md item 32).

All text is escaped: `\\`, `{` and `}` get a backslash; every character outside printable
ASCII becomes `\\uN?` (N signed 16-bit, characters beyond the BMP as a surrogate pair); a line
break becomes `\\par`. So nothing in a note can smuggle in control words such as
`{\\*\\template URL}` or `\\field` that would make a word processor fetch remote content.

The document asks to be read-only: `\\readprot` and `\\enforceprot1\\protlevel3` (read-only
protection, enforced without a password, as the RTF 1.9 specification defines them for Word).
LibreOffice 7.4 opens the text exactly (tests/test_rtf.py) but ignores every RTF protection
word, so there the note opens editable; nothing edited in it goes back to Kontor.
"""
import re
from functools import lru_cache

_ASCII = (("\\", "\\\\"), ("{", "\\{"), ("}", "\\}"), ("\n", "\\par\n"), ("\t", "\\tab "))
_OTHER = re.compile(r"[^\x20-\x7e\n\t]")
_OTHER_BUT_NUL = re.compile(r"[^\x00\x20-\x7e\n\t]")    # for texts joined by NUL


@lru_cache(maxsize=4096)
def _escaped_character(character):
    code = ord(character)
    if code < 0x20:
        return ""           # other control characters have no place in a note
    if code > 0xFFFF:       # beyond the BMP: a UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10) - 0x10000}?\\u{0xDC00 + (code & 0x3FF) - 0x10000}?"
    return f"\\u{code - 0x10000 if code > 0x7FFF else code}?"


def _ascii(text):
    """The ASCII specials escaped: a few str.replace passes, far faster than str.translate
    with a table that maps characters to strings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for char, escaped in _ASCII:    # the backslash first
        text = text.replace(char, escaped)
    return text


def _non_ascii(text, pattern=_OTHER):
    """Every character outside printable ASCII as its `\\uN?`: one str.replace per distinct
    character (a note has a handful), not a Python call per occurrence."""
    for character in set(pattern.findall(text)):
        text = text.replace(character, _escaped_character(character))
    return text


def escape(text: str) -> str:
    return _non_ascii(_ascii(text))


def document(title: str, entries, subtitle: str = "") -> bytes:
    """`entries`: (stamp, text) pairs, oldest first. Returns the RTF as ASCII bytes."""
    parts = [
        "{\\rtf1\\ansi\\ansicpg1252\\deff0\\uc1\n",
        "{\\fonttbl{\\f0\\fswiss Arial;}}\n",
        "{\\info{\\title ", escape(title), "}}\n",
        # read-only protection, enforced without a password (RTF 1.9: protection level 3)
        "\\readprot\\enforceprot1\\protlevel3\n",
        "\\viewkind4\\pard\\f0\\fs20\n",
        "{\\b\\fs28 ", escape(title), "}\\par\n",
    ]
    if subtitle:
        parts += ["{\\i ", escape(subtitle), "}\\par\n"]
    # Every stamp and text is escaped in one pass over them all: they are joined by NUL,
    # which escaping keeps (and which no text keeps: escaping drops control characters).
    pieces = [piece.replace("\0", "") for entry in entries for piece in entry]
    escaped = escape_joined(pieces)
    for n in range(0, len(escaped), 2):
        parts += ["\\par\n{\\b ", escaped[n], "}\\par\n", escaped[n + 1], "\\par\n"]
    parts.append("}\n")
    return "".join(parts).encode("ascii")


def escape_joined(pieces):
    """escape() of each text in `pieces` (which hold no NUL), in one pass."""
    if not pieces:
        return []
    return _non_ascii(_ascii("\0".join(pieces)), _OTHER_BUT_NUL).split("\0")
