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
