"""Password rules and hashing (SECURITY.md items 1-3).

Rules (for every place a password is set): 12 to 128 characters, any Unicode, no composition
rules. Then, ignoring case and separators, the words of the company's name, of the person's
name, the parts of their e-mail address and "kontor" are taken out; what is left must be at
least 8 characters, not a common password from the shipped list, not a run or a repeat
("123456789012", "aaaaaaaaaaaa"), and zxcvbn, told those words, must score it 3 or more.
Each refusal names the part that made the password weak (NIST SP 800-63B 3.1.1.2).

Hashes are argon2id with OWASP's parameters, and outdated hashes are replaced on the next
successful login.
"""
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_OWN_LENGTH = 8          # characters left once the context words are taken out
MIN_SCORE = 3               # zxcvbn's 0-4 scale
MIN_WORD_LENGTH = 3         # shorter context words ("B.V.", "Jo") are not taken out
PRODUCT_WORDS = ("kontor",)

hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # argon2id by default

# Each hash or check takes `memory_cost` KiB (19 MB) for its duration. Eight people signing in
# at once took a served Kontor from 95 to 240 MB for a moment, and glibc kept much of it
# (issue 12 item 27, measured with bench/memory.py's eight clients signing in together):
# at most HASHING_AT_ONCE run together, the others wait their turn (a few tens of
# milliseconds each; more at once would not be faster on a two-core server anyway).
HASHING_AT_ONCE = 2
_hashing = threading.BoundedSemaphore(HASHING_AT_ONCE)

# A real hash to verify against when the account does not exist, so that an unknown e-mail
# costs the same hashing work as a wrong password (SECURITY.md item 5).
_DUMMY_HASH = hasher.hash("kontor dummy password for timing equality")

# zxcvbn's match patterns (and dictionaries) -> our message keys
_ZXCVBN_PARTS = {
    "spatial": "keyboard",
    "repeat": "sequence",
    "sequence": "sequence",
    "regex": "date",
    "date": "date",
    "passwords": "common",
    "surnames": "names",
    "male_names": "names",
    "female_names": "names",
    "english_wikipedia": "words",
    "us_tv_and_film": "words",
    "user_inputs": "context",
}


@lru_cache(maxsize=1)
def common_passwords() -> frozenset:
    path = Path(__file__).parent / "data" / "common-passwords.txt"
    with path.open(encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle
                         if line.strip() and not line.startswith("#"))


def _fold(text):
    """Lower case without separators: spaces and punctuation ("B.V.", "a-b_c", "x & y")."""
    return "".join(char for char in (text or "").casefold()
                   if unicodedata.category(char)[0] not in "ZPC")


def _words(text):
    """The words of a name or address, folded; the whole of it, folded, comes first."""
    pieces = [_fold(piece) for piece in re.split(r"[\s@.,;:&+/\\_\-()]+", text or "")]
    return [word for word in [_fold(text), *pieces] if len(word) >= MIN_WORD_LENGTH]


def context_words(email="", company_name="", person_name=""):
    """{source: [folded words]} for the sources "company", "email", "name" and "kontor"; a
    word in two sources counts for the first."""
    return {"company": _words(company_name), "email": _words(email),
            "name": _words(person_name), "kontor": list(PRODUCT_WORDS)}


def _strip_context(folded, words_by_source):
    """What is left of `folded` without the context words (longest first), and the sources
    whose words were in it."""
    found = set()
    pairs = sorted(((word, source) for source, words in words_by_source.items()
                    for word in words), key=lambda pair: -len(pair[0]))
    for word, source in pairs:
        if word in folded:
            folded = folded.replace(word, "")
            found.add(source)
    return folded, found


def _is_common(text):
    common = common_passwords()
    # "sunshine2026!" is "sunshine" with a suffix anyone would guess first
    stem = re.sub(r"[\d\W_]+$", "", text)
    return text in common or (len(stem) >= 6 and stem in common)


def _is_run_or_repeat(text):
    """"aaaaaaaa", "abcabcabc" (a repeated piece shorter than MIN_OWN_LENGTH), or a run of
    steady steps: "123456789012" (digits wrap), "abcdefgh", "87654321"."""
    if re.fullmatch(rf"(.{{1,{MIN_OWN_LENGTH - 1}}}?)\1+", text, re.DOTALL):
        return True
    if len(text) < 3:
        return False
    steps = set()
    for before, after in zip(text, text[1:], strict=False):
        if before.isdigit() and after.isdigit():
            steps.add((int(after) - int(before)) % 10)
        else:
            steps.add(ord(after) - ord(before))
    return len(steps) == 1 and steps <= {1, -1, 9}


def _weakest_part(result):
    """The message key for the part zxcvbn found easiest: the longest match it recognised."""
    matches = [match for match in result["sequence"] if match["pattern"] != "bruteforce"]
    if not matches:
        return "guessable"
    match = max(matches, key=lambda m: len(m["token"]))
    key = match.get("dictionary_name") if match["pattern"] == "dictionary" else match["pattern"]
    return _ZXCVBN_PARTS.get(key, "guessable")


def password_problem(password, email="", company_name="", person_name=""):
    """Return the reason `password` is not acceptable, as a message key, or None.

    Keys: "too_short", "too_long", "common", "context" (several context sources),
    "context_company", "context_name", "context_email", "context_kontor" (fewer than
    MIN_OWN_LENGTH characters left beside that one source), "sequence", "keyboard", "date",
    "names", "words", "guessable" (zxcvbn's score is too low; the key names its weakest part).
    """
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    folded = _fold(password)
    if _is_common(folded) or _is_common(re.sub(r"\s+", "", password.casefold())):
        return "common"
    words = context_words(email, company_name, person_name)
    rest, sources = _strip_context(folded, words)
    if len(rest) < MIN_OWN_LENGTH:
        return f"context_{next(iter(sources))}" if len(sources) == 1 else "context"
    if _is_common(rest):
        return "common"
    if _is_run_or_repeat(rest):
        return "sequence"
    inputs = sorted({word for source in words.values() for word in source})
    result = zxcvbn(password, user_inputs=inputs, max_length=MAX_LENGTH)
    if result["score"] < MIN_SCORE:
        return _weakest_part(result)
    return None


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (at most HASHING_AT_ONCE hashes or checks at once)."""
    with _hashing:
        return hasher.hash(password)


def verify_password(stored_hash, password: str) -> bool:
    """Check `password`; with no stored hash, do the same work and return False. At most
    HASHING_AT_ONCE hashes or checks run at once."""
    try:
        with _hashing:
            return hasher.verify(stored_hash or _DUMMY_HASH, password) and \
                stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher.check_needs_rehash(stored_hash)
