"""A note as an RTF document for Word and LibreOffice (SECURITY.md item 32).

All text is escaped: `\\`, `{` and `}` get a backslash; every character outside printable
ASCII becomes `\\uN?` (N signed 16-bit, characters beyond the BMP as a surrogate pair); a line
break becomes `\\par`. So nothing in a note can smuggle in control words such as
`{\\*\\template URL}` or `\\field` that would make a word processor fetch remote content.
"""
import re


_ASCII = str.maketrans({"\\": "\\\\", "{": "\\{", "}": "\\}", "\n": "\\par\n", "\t": "\\tab "})
_OTHER = re.compile(r"[^\x20-\x7e\n\t]")


def _unicode(match):
    code = ord(match.group())
    if code < 0x20:
        return ""           # other control characters have no place in a note
    if code > 0xFFFF:       # beyond the BMP: a UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10) - 0x10000}?\\u{0xDC00 + (code & 0x3FF) - 0x10000}?"
    return f"\\u{code - 0x10000 if code > 0x7FFF else code}?"


def escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ASCII)
    return _OTHER.sub(_unicode, text)


def document(title: str, entries, subtitle: str = "") -> bytes:
    """`entries`: (stamp, text) pairs, oldest first. Returns the RTF as ASCII bytes."""
    parts = [
        "{\\rtf1\\ansi\\ansicpg1252\\deff0\\uc1\n",
        "{\\fonttbl{\\f0\\fswiss Arial;}}\n",
        "{\\info{\\title ", escape(title), "}}\n",
        "\\viewkind4\\pard\\f0\\fs20\n",
        "{\\b\\fs28 ", escape(title), "}\\par\n",
    ]
    if subtitle:
        parts += ["{\\i ", escape(subtitle), "}\\par\n"]
    for stamp, text in entries:
        parts += ["\\par\n{\\b ", escape(stamp), "}\\par\n", escape(text), "\\par\n"]
    parts.append("}\n")
    return "".join(parts).encode("ascii")
