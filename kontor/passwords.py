"""Password rules and hashing (SECURITY.md items 1-3).

Rules: 12 to 128 characters, any Unicode, no composition rules; not a common password from
the shipped list; not the e-mail (or its local part) or the company name. Hashes are argon2id
with OWASP's parameters, and outdated hashes are replaced on the next successful login.
"""
import re
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 128

hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # argon2id by default

# A real hash to verify against when the account does not exist, so that an unknown e-mail
# costs the same hashing work as a wrong password (SECURITY.md item 5).
_DUMMY_HASH = hasher.hash("kontor dummy password for timing equality")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset:
    path = Path(__file__).parent / "data" / "common-passwords.txt"
    with path.open(encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle
                         if line.strip() and not line.startswith("#"))


def _fold(text):
    return re.sub(r"\s+", "", (text or "").casefold())


def password_problem(password, email="", company_name=""):
    """Return the reason `password` is not acceptable, as a message key, or None.

    Keys: "too_short", "too_long", "common", "context".
    """
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    folded = _fold(password)
    common = common_passwords()
    # "sunshine2026!" is "sunshine" with a suffix anyone would guess first
    stem = re.sub(r"[\d\W_]+$", "", folded)
    if folded in common or (len(stem) >= 6 and stem in common):
        return "common"
    local_part = _fold(email.split("@")[0]) if email else ""
    for word in (_fold(email), local_part, _fold(company_name)):
        if len(word) >= 4 and (folded == word or folded.startswith(word) and
                               not folded[len(word):].strip("0123456789!?.-_ ")):
            return "context"
    return None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(stored_hash, password: str) -> bool:
    """Check `password`; with no stored hash, do the same work and return False."""
    try:
        return hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher.check_needs_rehash(stored_hash)
