"""Where Kontor keeps its files: every path under the data folder, in one place.

The data folder (`KONTOR_DATA_DIR`, default `./instance`) holds everything that is not in the
database, and on SQLite the database too. Backup reads this module to know what to save;
nothing else builds a path under the data folder by hand.

The data folder holds the database, live single-use links (in `mail/*.eml`) and customers'
files, so only the account Kontor runs as may read it: every folder here is created 0700 and
every file Kontor writes 0600 (`create`, `folder`, `write_private`, `private_database`), and
`tighten` puts the modes right on a data folder made by an older version.
"""
import os
from contextlib import suppress
from pathlib import Path

DATABASE_FILE = "kontor.db"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
SUB_FOLDERS = ("mail", "uploads", "imports", "backups")
# What SQLite writes beside a database file: the write-ahead log, its index, the rollback journal.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def write_private(path, data: bytes) -> Path:
    """Write `data` to the file `path` (a Path or text), readable by Kontor's account only
    (0600) from the moment it exists; an existing file is replaced and made 0600 too."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(data)
    return path


def make_folder(path) -> Path:
    """Create the folder `path` (and missing parents) with mode 0700; an existing one is
    made 0700 too. Returns it as a Path."""
    path = Path(path)
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    with suppress(PermissionError):   # another account's folder: not ours to change
        os.chmod(path, FOLDER_MODE)   # mkdir's mode passes the umask; an old folder keeps its own
    return path


def sqlite_file(database_url: str):
    """The file of a `sqlite:///…` database URL, or None (PostgreSQL, or in memory)."""
    scheme, _, rest = database_url.partition(":///")
    if not scheme.startswith("sqlite") or not rest:
        return None
    name = rest.split("?", 1)[0]
    return None if name in ("", ":memory:") else Path(name)


def private_database(database_url: str):
    """Before SQLite opens it: create the database file of `database_url` empty with mode 0600
    (SQLite gives a new database 0644, and its -wal and -shm files copy the database file's
    mode), or make an existing one and its companions 0600. Nothing for PostgreSQL."""
    path = sqlite_file(database_url)
    if path is None:
        return None
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:   # an existing database: made private below
        pass
    except OSError:   # no such folder, no permission: SQLite says so when it opens the file
        return None
    for companion in (path, *(Path(f"{path}{end}") for end in SQLITE_COMPANIONS)):
        if companion.exists():
            with suppress(PermissionError):   # another account's file: not ours to change
                os.chmod(companion, FILE_MODE)
    return path


class DataFolder:
    """The paths under one data folder. `root`: the folder (str or Path). The properties only
    name paths; `folder(name)` also creates a sub-folder when it is missing."""

    def __init__(self, root):
        self.root = Path(root)

    @property
    def database(self) -> Path:
        """The SQLite database file (unused when DATABASE_URL names PostgreSQL)."""
        return self.root / DATABASE_FILE

    @property
    def secret_key(self) -> Path:
        """The generated session-signing key (mode 0600)."""
        return self.root / "secret_key"

    @property
    def mail(self) -> Path:
        """E-mails written as .eml files when no SMTP server is configured."""
        return self.root / "mail"

    @property
    def uploads(self) -> Path:
        """Files attached to support cases, under random names."""
        return self.root / "uploads"

    @property
    def imports(self) -> Path:
        """CSV files waiting between an import's preview and its confirmation."""
        return self.root / "imports"

    @property
    def backups(self) -> Path:
        """Backups (issue: sync administration with backups)."""
        return self.root / "backups"

    def create(self) -> Path:
        """Create the data folder itself (0700) if it is missing; return it."""
        return make_folder(self.root)

    def folder(self, name) -> Path:
        """The sub-folder `name` ("mail", "uploads", "imports", "backups"), created 0700 (and
        the data folder with it) if needed."""
        if name not in SUB_FOLDERS:
            raise ValueError(f"not a sub-folder of the data folder: {name}")
        path = getattr(self, name)
        if not path.is_dir():
            self.create()
            make_folder(path)
        return path

    def tighten(self) -> int:
        """Make the data folder and its sub-folders 0700 and every file in them 0600, as a data
        folder made by an older Kontor (0755 and 0644) needs. Returns how many modes changed."""
        changed = 0

        def set_mode(path, mode):
            nonlocal changed
            if path.stat().st_mode & 0o777 != mode:
                with suppress(PermissionError):   # another account's file: not ours to change
                    os.chmod(path, mode)
                    changed += 1

        if not self.root.is_dir():
            return 0
        set_mode(self.root, FOLDER_MODE)
        # os.walk does not follow symbolic links; a link is an administrator's, left alone
        for folder, folders, files in os.walk(self.root):
            for name in folders:
                if not (Path(folder) / name).is_symlink():
                    set_mode(Path(folder) / name, FOLDER_MODE)
            for name in files:
                path = Path(folder) / name
                if not path.is_symlink() and path.is_file():
                    set_mode(path, FILE_MODE)
        return changed

    def all_paths(self) -> dict:
        """Every path Kontor keeps here, by name: what a backup must consider."""
        names = ("database", "secret_key", "mail", "uploads", "imports", "backups")
        return {name: getattr(self, name) for name in names}
