"""Where Kontor keeps its files: every path under the data folder, in one place.

The data folder (`KONTOR_DATA_DIR`, default `./instance`) holds everything that is not in the
database, and on SQLite the database too. Backup reads this module to know what to save;
nothing else builds a path under the data folder by hand.
"""
from pathlib import Path

DATABASE_FILE = "kontor.db"


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

    def folder(self, name) -> Path:
        """The sub-folder `name` ("mail", "uploads", "imports", "backups"), created if needed."""
        path = getattr(self, name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def all_paths(self) -> dict:
        """Every path Kontor keeps here, by name: what a backup must consider."""
        names = ("database", "secret_key", "mail", "uploads", "imports", "backups")
        return {name: getattr(self, name) for name in names}
