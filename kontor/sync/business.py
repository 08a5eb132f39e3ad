"""Opening the business database and "Test connection" (SPEC section 8; issue 16 items 1-2).

The business database is named by a Peewee database URL without its password:
`sqlite:////path/to/firm.db` (a file on the sync computer's own disk, never a network share:
SQLite's locking is not safe there) or `postgresql://user@host:5432/name`. The password is
passed separately (stored encrypted, kontor/sync/secret.py). Nothing here imports Flask;
problems come back as codes with the names involved, and the pages word them.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from peewee import DatabaseError, OperationalError, PostgresqlDatabase, SqliteDatabase

from kontor.sync.layout import BOOLEAN, DECIMAL, INTEGER, TEXT, TIMESTAMP, Layout

CONNECT_TIMEOUT_SECONDS = 5
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "9p", "sshfs", "fuse.sshfs",
                       "afs", "davfs", "fuse.davfs2", "ncpfs", "glusterfs", "ceph"}


class BusinessDatabaseError(Exception):
    """The business database cannot be used. `code` is one of: "bad_url" (not a URL Kontor
    supports), "no_file" (the SQLite file does not exist), "network_share" (the SQLite file is
    on a network file system), "unreachable" (no server answers), "login_refused" (user or
    password wrong), "no_database" (the server has no such database), "table_missing",
    "column_missing", "wrong_type", "failed" (anything else; `params["detail"]` says what the
    driver said, with no password in it). `params` names the table, column and types."""

    def __init__(self, code, **params):
        super().__init__(f"{code}: {params}")
        self.code = code
        self.params = params


@dataclass
class Report:
    """What "Test connection" found: rows per entity ({entity name: count}) when it worked."""
    counts: dict = field(default_factory=dict)


def split_password(url: str):
    """(`url` without its password, the password or ""): a password typed into the URL is
    taken out so that the stored URL never holds one. Raises BusinessDatabaseError("bad_url")
    for a URL that is neither sqlite:/// nor postgresql://."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise BusinessDatabaseError("bad_url")
        return url, ""
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname \
            or not parts.path.strip("/"):
        raise BusinessDatabaseError("bad_url")
    password = unquote(parts.password or "")
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        user = netloc[0].split(":", 1)[0]
        netloc = f"{user}@{netloc[1]}"
    else:
        netloc = netloc[0]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), password


def redacted(text: str, password: str) -> str:
    """`text` (a driver's message) with `password` replaced by ***: never log a password."""
    return text.replace(password, "***") if password else text


def sqlite_path(url: str) -> Path:
    """The file of a sqlite:/// URL (sqlite:////abs/path or sqlite:///relative)."""
    return Path(url[len("sqlite:///"):].split("?", 1)[0])


def is_network_path(path: Path, mounts_file="/proc/mounts") -> bool:
    """True when `path` lies on a network file system (NFS, SMB/CIFS, …) or is a Windows UNC
    path (\\\\server\\share): SQLite's locks do not hold there (sqlite.org/useovernet.html)."""
    text = str(path)
    if text.startswith("\\\\") or text.startswith("//"):
        return True
    try:
        with open(mounts_file, encoding="utf-8") as handle:
            mounts = [line.split()[:3] for line in handle if len(line.split()) >= 3]
    except OSError:
        return False
    resolved = str(Path(path).resolve())
    best, best_type = "", ""
    for _device, point, fstype in mounts:
        point = point.replace("\\040", " ")
        if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) \
                and len(point) > len(best):
            best, best_type = point, fstype
    return best_type in NETWORK_FILESYSTEMS


def open_business(url: str, password: str = "", create: bool = False):
    """A connected Peewee database for the business database at `url` (no password in it)
    with `password`. SQLite: the file must exist unless `create`, and lie on a local disk;
    PostgreSQL: connects with a 5-second timeout. Raises BusinessDatabaseError."""
    if url.startswith("sqlite:///"):
        path = sqlite_path(url)
        if not create and not path.is_file():
            raise BusinessDatabaseError("no_file", path=str(path))
        if is_network_path(path):
            raise BusinessDatabaseError("network_share", path=str(path))
        database = SqliteDatabase(str(path), pragmas={"journal_mode": "wal",
                                                      "busy_timeout": 5_000,
                                                      "foreign_keys": 1})
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise BusinessDatabaseError("bad_url")
        database = PostgresqlDatabase(
            parts.path.lstrip("/"), user=unquote(parts.username or "") or None,
            password=password or None, host=parts.hostname, port=parts.port or 5432,
            connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        database.connect()
    except OperationalError as error:
        raise _classified(error, password) from None
    return database


def _classified(error, password) -> BusinessDatabaseError:
    """The BusinessDatabaseError for a driver's connection error (psycopg2's texts)."""
    text = str(error).strip()
    lower = text.lower()
    if "password authentication failed" in lower or "no password supplied" in lower \
            or ("role" in lower and "does not exist" in lower) \
            or "authentication failed" in lower:
        return BusinessDatabaseError("login_refused")
    if "database" in lower and "does not exist" in lower:
        return BusinessDatabaseError("no_database")
    if any(words in lower for words in ("could not connect", "connection refused",
                                         "could not translate host name", "timeout expired",
                                         "no route to host", "name or service not known")):
        return BusinessDatabaseError("unreachable")
    return BusinessDatabaseError("failed", detail=redacted(text.splitlines()[0], password))


def quoted(name: str) -> str:
    """`name` as an SQL identifier in double quotes (SQLite and PostgreSQL): the layout's names
    never hold a quote (kontor.sync.layout), and an inner one is doubled anyway."""
    return '"' + name.replace('"', '""') + '"'


def _fits(kind: str, data_type: str) -> bool:
    """Whether a column declared `data_type` (as the database reports it) can hold a field of
    `kind`. An undeclared SQLite column holds anything."""
    declared = (data_type or "").lower()
    if not declared:
        return True
    if kind == TEXT:
        return any(word in declared for word in ("char", "text", "clob", "string"))
    if kind == INTEGER:
        return "int" in declared or "serial" in declared or declared.startswith("numeric")
    if kind == DECIMAL:
        return any(word in declared for word in ("int", "numeric", "decimal", "real", "double",
                                                 "float", "money"))
    if kind == BOOLEAN:
        return any(word in declared for word in ("bool", "int", "bit"))
    if kind == TIMESTAMP:
        return any(word in declared for word in ("timestamp", "date", "text", "char"))
    return False


def check_layout(database, layout: Layout, count=True) -> Report:
    """Check that `database` (connected) has `layout`'s tables and columns with fitting
    types, and count each table's rows (unless not `count`). Returns a Report; raises
    BusinessDatabaseError ("table_missing", "column_missing", "wrong_type") for the first
    problem, in the layout's order, naming the table and column."""
    report = Report()
    tables = {name.lower(): name for name in database.get_tables()}
    for table in layout.tables:
        actual = tables.get(table.table.lower())
        if actual is None:
            raise BusinessDatabaseError("table_missing", table=table.table,
                                        entity=table.entity.name)
        columns = {column.name.lower(): column for column in database.get_columns(actual)}
        if table.key.lower() not in columns:
            raise BusinessDatabaseError("column_missing", table=table.table, column=table.key)
        for name, column_name in table.columns.items():
            column = columns.get(column_name.lower())
            if column is None:
                raise BusinessDatabaseError("column_missing", table=table.table,
                                            column=column_name)
            kind = table.entity.field(name).kind
            if not _fits(kind, column.data_type):
                raise BusinessDatabaseError("wrong_type", table=table.table, column=column_name,
                                            found=column.data_type, expected=kind)
        if count:
            report.counts[table.entity.name] = database.execute_sql(
                f"SELECT COUNT(*) FROM {quoted(actual)}").fetchone()[0]
    return report


_LENGTH = re.compile(r"char[^(]*\(\s*(\d+)\s*\)", re.IGNORECASE)


def declared_lengths(database, table: str) -> dict:
    """{column name in lower case: the longest text it holds} for the columns of `table`
    that declare one (VARCHAR(60), CHARACTER VARYING(60), CHAR(2)): what the business
    database's own program expects, so the sync never writes a longer text there (SQLite
    does not enforce it; PostgreSQL refuses the whole statement). {} when the database cannot
    say."""
    try:
        if isinstance(database, PostgresqlDatabase):
            rows = database.execute_sql(
                "SELECT column_name, character_maximum_length FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s", (table,)).fetchall()
            return {name.lower(): length for name, length in rows if length}
        rows = database.execute_sql(f"PRAGMA table_info({quoted(table)})").fetchall()
    except DatabaseError:
        return {}
    found = {}
    for row in rows:
        match = _LENGTH.search(row[2] or "")
        if match and int(match.group(1)) > 0:
            found[row[1].lower()] = int(match.group(1))
    return found


def try_connection(url: str, password: str, layout: Layout) -> Report:
    """"Test connection": open the business database at `url` with `password`, check it
    against `layout` and count the rows; always closes it. Returns a Report; raises
    BusinessDatabaseError saying exactly what is wrong."""
    database = open_business(url, password)
    try:
        return check_layout(database, layout)
    finally:
        database.close()

