"""The business database's password at rest (issue 16 item 2): encrypted with a key that lives
in the data folder (`sync.key`, mode 0600), never in the database, so a copy of the database
alone does not reveal it. Fernet (the `cryptography` package): AES-128-CBC with HMAC-SHA256,
a well-kept library rather than our own construction."""
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from kontor.storage import write_private

KEY_FILE = "sync.key"


class SecretUnreadable(Exception):
    """The stored password cannot be decrypted (the key file was replaced or lost): the
    superuser must enter the password again (Sync settings, Update password)."""


def _fernet(data_dir) -> Fernet:
    path = Path(data_dir) / KEY_FILE
    if not path.is_file():
        write_private(path, Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def seal(data_dir, password: str) -> str:
    """`password` encrypted with the data folder's key (created 0600 when missing), as text
    for the database; "" stays "" (no password)."""
    if not password:
        return ""
    return _fernet(data_dir).encrypt(password.encode("utf-8")).decode("ascii")


def unseal(data_dir, sealed: str) -> str:
    """The password `seal` encrypted; "" for "". Raises SecretUnreadable."""
    if not sealed:
        return ""
    try:
        return _fernet(data_dir).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretUnreadable() from None
