"""Text folding shared by search, duplicate checks and file names."""
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
