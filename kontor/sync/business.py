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
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from peewee import DatabaseError, PostgresqlDatabase, SqliteDatabase

from kontor.sync.layout import (
    BOOLEAN,
    DECIMAL,
    INTEGER,
    TEXT,
    TIMESTAMP,
    Layout,
    business_fields,
)

CONNECT_TIMEOUT_SECONDS = 5
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "9p", "sshfs", "fuse.sshfs",
                       "afs", "davfs", "fuse.davfs2", "ncpfs", "glusterfs", "ceph"}


class BusinessDatabaseError(Exception):
    """The business database cannot be used. `code` is one of: "bad_url" (not a URL Kontor
    supports), "no_file" (the SQLite file does not exist), "network_share" (the SQLite file is
    on a network file system), "unreachable" (no server answers), "login_refused" (user or
    password wrong), "no_database" (the server has no such database), "table_missing",
    "column_missing", "wrong_type", "key_not_unique" (the key column is neither primary key nor
    unique), "key_too_short" (a text key column too short for the keys Kontor makes),
    "relative_path", "bad_port", "not_database" (the file is no SQLite database),
    "cannot_open", "failed" (anything else; `params["detail"]` says what the
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
    taken out so that the stored URL never holds one. Raises BusinessDatabaseError:
    "bad_url" for a URL that is neither sqlite:/// nor postgresql://, "relative_path" for a
    SQLite file not named from the root (sqlite:///firm.db would depend on the directory
    Kontor happens to run in), "bad_port" for a port outside 1-65535."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise BusinessDatabaseError("bad_url")
        path = str(sqlite_path(url))
        if not (path.startswith("/") or re.match(r"[A-Za-z]:[\\/]", path)):
            raise BusinessDatabaseError("relative_path", path=path)
        return url, ""
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname \
            or not parts.path.strip("/"):
        raise BusinessDatabaseError("bad_url")
    _port(parts)
    password = unquote(parts.password or "")
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        user = netloc[0].split(":", 1)[0]
        netloc = f"{user}@{netloc[1]}"
    else:
        netloc = netloc[0]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), password


def _port(parts) -> int:
    """The port of a split URL (5432 when none is given). Raises BusinessDatabaseError
    ("bad_port") for one that is no number from 1 to 65535 (urlsplit raises ValueError)."""
    try:
        port = parts.port
    except ValueError:
        raise BusinessDatabaseError("bad_port") from None
    if port == 0:
        raise BusinessDatabaseError("bad_port")
    return port or 5432


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


def open_business(url: str, password: str = "", create: bool = False, read_only: bool = False):
    """A connected Peewee database for the business database at `url` (no password in it)
    with `password`. SQLite: the file must exist unless `create`, and lie on a local disk;
    it is opened as it is: its journal mode (the desktop program's choice) is never
    changed; `read_only` opens it with mode=ro (Test connection writes nothing, not even a
    journal). PostgreSQL: connects with a 5-second timeout (`read_only`: a read-only
    session). Every failure to open is a BusinessDatabaseError, never another exception:
    "not_database" for a file that is no SQLite database, "bad_port", "unreachable", …"""
    if url.startswith("sqlite:///"):
        path = sqlite_path(url)
        if not create and not path.is_file():
            raise BusinessDatabaseError("no_file", path=str(path))
        if is_network_path(path):
            raise BusinessDatabaseError("network_share", path=str(path))
        pragmas = {"busy_timeout": 5_000}
        if read_only:
            name = "file:" + quote(str(path.resolve())) + "?mode=ro"
            database = SqliteDatabase(name, uri=True, pragmas=pragmas)
        else:
            database = SqliteDatabase(str(path), pragmas={**pragmas, "foreign_keys": 1})
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise BusinessDatabaseError("bad_url")
        options = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        database = PostgresqlDatabase(
            parts.path.lstrip("/"), user=unquote(parts.username or "") or None,
            password=password or None, host=parts.hostname, port=_port(parts),
            connect_timeout=CONNECT_TIMEOUT_SECONDS, **options)
    try:
        database.connect()
        if isinstance(database, SqliteDatabase):
            # SQLite opens any file lazily: read its schema now, so that a file that is no
            # database (a text file) is said here and not as a crash later
            database.execute_sql("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BusinessDatabaseError:
        database.close()
        raise
    except Exception as error:   # noqa: BLE001 - every failure to open is worded
        if not database.is_closed():
            database.close()
        if isinstance(database, SqliteDatabase):
            raise _sqlite_classified(error, path) from None
        raise _classified(error, password) from None
    return database


def _sqlite_classified(error, path) -> BusinessDatabaseError:
    """The BusinessDatabaseError for a SQLite file that cannot be opened or read."""
    text = str(error).strip()
    lower = text.lower()
    if "not a database" in lower or "malformed" in lower or "encrypted" in lower:
        return BusinessDatabaseError("not_database", path=str(path))
    if "unable to open" in lower or "permission" in lower or "readonly" in lower:
        return BusinessDatabaseError("cannot_open", path=str(path))
    return BusinessDatabaseError("failed", detail=text.splitlines()[0] if text else
                                 type(error).__name__)


def _classified(error, password) -> BusinessDatabaseError:
    """The BusinessDatabaseError for a driver's connection error (psycopg2's texts)."""
    if isinstance(error, BusinessDatabaseError):
        return error
    text = str(error).strip() or type(error).__name__
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


# The shortest text key column Kontor makes keys for: a new record's key is a UUID
# (36 characters, "3f2b…-…"), or its 32 hexadecimal digits where the column holds fewer.
UUID_KEY_LENGTH = 36
SHORT_KEY_LENGTH = 32


@dataclass(frozen=True)
class KeyColumn:
    """What the business database says about a table's key column: whether it is unique
    (the primary key by itself, or a unique index on it alone), whether the database
    assigns it on insert (SQLite INTEGER PRIMARY KEY, PostgreSQL serial or identity), and
    the longest text it holds (0: no declared limit)."""
    unique: bool
    assigned: bool
    max_length: int = 0


def key_column(database, table: str, key: str) -> KeyColumn:
    """The KeyColumn of column `key` of `table` (the names as the database spells them;
    compared without case). Reads the database's own catalogue: PRAGMA table_info and
    index_list/index_info on SQLite, pg_index and information_schema on PostgreSQL."""
    wanted = key.lower()
    length = declared_lengths(database, table).get(wanted, 0)
    if isinstance(database, PostgresqlDatabase):
        unique = database.execute_sql(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
            "WHERE n.nspname = current_schema() AND c.relname = %s AND i.indisunique "
            "AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL "
            "AND lower(a.attname) = %s", (table, wanted)).fetchone() is not None
        found = database.execute_sql(
            "SELECT column_default, is_identity FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "AND lower(column_name) = %s", (table, wanted)).fetchone()
        assigned = bool(found) and (str(found[0] or "").startswith("nextval(")
                                    or found[1] == "YES")
        return KeyColumn(unique, assigned, length)
    info = database.execute_sql(f"PRAGMA table_info({quoted(table)})").fetchall()
    primary = [row for row in info if row[5]]
    alone = len(primary) == 1 and primary[0][1].lower() == wanted
    # only a column declared exactly INTEGER PRIMARY KEY is the rowid, which SQLite assigns
    assigned = alone and (primary[0][2] or "").strip().upper() == "INTEGER"
    unique = alone
    if not unique:
        for row in database.execute_sql(f"PRAGMA index_list({quoted(table)})").fetchall():
            if row[2] and not (len(row) > 4 and row[4]):        # unique, not partial
                columns = database.execute_sql(
                    f"PRAGMA index_info({quoted(row[1])})").fetchall()
                if len(columns) == 1 and (columns[0][2] or "").lower() == wanted:
                    unique = True
                    break
    return KeyColumn(unique, assigned, length)


def check_layout(database, layout: Layout, count=True) -> Report:
    """Check that `database` (connected) has `layout`'s tables and columns with fitting
    types, and count each table's rows (unless not `count`). Each table's key column must
    be of its key type and unique (its primary key, or a unique index on it alone): a key
    that two rows share cannot say which row a record is. A text key column must hold a key
    Kontor makes (SHORT_KEY_LENGTH characters); a link to a parent (a contact person's
    contact) must be of the parent's key type. Returns a Report; raises
    BusinessDatabaseError ("table_missing", "column_missing", "wrong_type",
    "key_not_unique", "key_too_short") for the first problem, in the layout's order, naming
    the table and column."""
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
        key_kind = INTEGER if table.key_type == "integer" else TEXT
        key_type = columns[table.key.lower()].data_type
        if not _fits(key_kind, key_type):
            raise BusinessDatabaseError("wrong_type", table=table.table, column=table.key,
                                        found=key_type, expected=key_kind)
        about = key_column(database, actual, columns[table.key.lower()].name)
        if not about.unique:
            raise BusinessDatabaseError("key_not_unique", table=table.table, column=table.key)
        if key_kind == TEXT and about.max_length and about.max_length < SHORT_KEY_LENGTH:
            raise BusinessDatabaseError("key_too_short", table=table.table, column=table.key,
                                        length=str(about.max_length))
        for spec in business_fields(layout, table.entity.name):
            column_name = table.columns[spec.name]
            column = columns.get(column_name.lower())
            if column is None:
                raise BusinessDatabaseError("column_missing", table=table.table,
                                            column=column_name)
            kind = spec.kind
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
    database = open_business(url, password, read_only=True)
    try:
        return check_layout(database, layout)
    except BusinessDatabaseError:
        raise
    except Exception as error:   # noqa: BLE001 - Test connection words every failure
        text = str(error).strip().splitlines()
        raise BusinessDatabaseError("failed", detail=redacted(
            text[0] if text else type(error).__name__, password)) from None
    finally:
        database.close()

