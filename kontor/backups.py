"""Backups of Kontor and their restore (SPEC section 8; issue 17 item 5; SECURITY.md 40-42).

A backup is one zip file, `kontor-backup-<UTC time>-<kind>.zip`, holding

- `database/kontor.db` (SQLite: a copy made with SQLite's online backup API, a consistent
  snapshot taken while people keep working) or `database/kontor.dump` (PostgreSQL: `pg_dump`
  in its custom format, also a consistent snapshot);
- `uploads/…`: the files customers and staff attached to cases (storage.DataFolder.uploads);
- `manifest.json`: the format, Kontor's version, the database kind, the schema version (the
  names of the applied migrations), each member's size and SHA-256, and `checksum`, the
  SHA-256 of those entries: the checksum of the backup's contents.

Not in a backup: the key that encrypts the business database's password (`sync.key`, so a
stolen backup does not reveal it: after a restore on another PC the password is entered
again), the session-signing key, e-mails written to files, CSV files between an import's
preview and its confirmation, and other backups.

A restore is refused while the sync is active or other people (staff, portal customers) are
signed in; it verifies the whole file before it touches anything (checksum, the database's
integrity, a schema version this Kontor can migrate), keeps the current database as a backup
first ("before-restore"), and either replaces the database and the uploads completely or
leaves both as they were. After it the sync is off and marked restored (`SyncState.
restored_at`): it must be reactivated, which starts a fresh first sync; every session ends.

Kontor's database is not a backup of the business database: it holds only what Kontor syncs.

Nothing here imports Flask: the pages (blueprints/backups.py), `flask --app app restore` and
the nightly job call these functions. Times are naive UTC.
"""
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from peewee import SqliteDatabase

from kontor import __version__, alerts, audit, storage
from kontor import migrate as migrations
from kontor.errors import Refused
from kontor.sync import secret
from kontor.versions import update_if_unchanged
from models import AuditEvent, BackupSetting, SyncState, User, UserSession, db
from models.clock import utcnow

log = logging.getLogger("kontor.backups")

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/kontor.db"
POSTGRES_MEMBER = "database/kontor.dump"
KINDS = ("manual", "nightly", "before-restore")
FILE_NAME = re.compile(r"kontor-backup-(\d{8}-\d{6})-(manual|nightly|before-restore)\.zip")
_MEMBER = re.compile(r"(?:database/kontor\.(?:db|dump)|uploads/[A-Za-z0-9][A-Za-z0-9._-]{0,200})")
CHUNK = 1024 * 1024
DEFAULT_DAYS = 14                 # KONTOR_BACKUP_DAYS
DEFAULT_HOUR = 2                  # KONTOR_BACKUP_HOUR: the nightly backup after 02:00 UTC
PG_LOCK_TIMEOUT = "15s"           # a restore waits this long for a table, then fails cleanly
BACKUP_PAGES = 64                 # pages a restore copies per step (one transaction in all)


class BackupRefused(Refused):
    """A backup or restore that may not happen, or a file that is not a usable backup.
    `reason`:
    - folder: "folder_relative", "folder_missing", "not_a_folder", "folder_not_writable";
    - making one: "no_pg_dump" (PostgreSQL without the `pg_dump` program), "dump_failed"
      (`detail`: what it said);
    - restore: "sync_active", "signed_in" (`sessions`: the live sessions of others),
      "no_psql";
    - the file: "not_a_backup", "format" (a newer backup format), "checksum" (the contents
      do not match their checksum: damaged, truncated or changed), "other_database" (a
      SQLite backup on PostgreSQL or the reverse; `kind`), "integrity" (the database in it
      is damaged; `detail`), "newer_schema" (made by a newer Kontor; `names`: the migrations
      this one does not know);
    - "failed": the restore failed half-way and changed nothing (`detail`)."""


@dataclass
class BackupFile:
    """A backup in the backup folder, as the page lists it."""
    name: str
    path: Path
    size: int                 # bytes
    made_at: datetime         # naive UTC, from the name
    kind: str                 # "manual", "nightly", "before-restore"


@dataclass
class Verified:
    """A backup that passed `verify`: its manifest, and its database extracted into `work`
    (a private temporary folder the caller removes: `cleanup`)."""
    manifest: dict
    work: Path
    database: Path
    source: Path
    uploads: list = field(default_factory=list)    # member names under uploads/
    pending: list = field(default_factory=list)    # migrations a restore applies to it

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)


# --- where backups go ---------------------------------------------------------------------

def settings() -> BackupSetting:
    """The one BackupSetting row; an unsaved one with the defaults before the first save (a
    GET never writes)."""
    return BackupSetting.get_or_none(BackupSetting.id == 1) or BackupSetting(id=1)


def folder_problem(path) -> str:
    """Why `path` (text) cannot be the backup folder, as a BackupRefused reason, or "" when
    it can: an absolute path to an existing folder this process can write into (tried by
    writing and removing a file, so a read-only mount or a full USB disk says so now, not
    at night)."""
    folder = Path(path)
    if not folder.is_absolute():
        return "folder_relative"
    if not folder.exists():
        return "folder_missing"
    if not folder.is_dir():
        return "not_a_folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".kontor-write-test-"):
            pass
    except OSError:
        return "folder_not_writable"
    return ""


def save_folder(path, opened_version, user, ip=""):
    """Make `path` (text; "" for the data folder's `backups`) the backup folder, if nobody
    saved since `opened_version`. Raises BackupRefused (folder_problem's reasons),
    versions.ChangedMeanwhile. Audited. Returns the BackupSetting."""
    path = (path or "").strip()
    problem = folder_problem(path) if path else ""
    if problem:
        raise BackupRefused(problem)
    with db.atomic():
        BackupSetting.insert(id=1).on_conflict_ignore().execute()   # the first save makes it
        update_if_unchanged(BackupSetting, 1, opened_version, folder=path, updated_at=utcnow())
        audit.record("backup.folder", user, target=path or "(data folder)", ip=ip)
    return settings()


def backup_folder(data_dir) -> Path:
    """Where backups are written and listed: the chosen folder, else `backups` in the data
    folder (created 0700). A chosen folder that is gone raises BackupRefused."""
    chosen = settings().folder
    if chosen:
        problem = folder_problem(chosen)
        if problem:
            raise BackupRefused(problem)
        return Path(chosen)
    return storage.DataFolder(data_dir).folder("backups")


def listed(folder) -> list:
    """The backups in `folder`, newest first (only files named as Kontor names them)."""
    found = []
    with suppress(OSError):
        for path in Path(folder).iterdir():
            match = FILE_NAME.fullmatch(path.name)
            if match and path.is_file():
                found.append(BackupFile(path.name, path, path.stat().st_size,
                                        datetime.strptime(match.group(1), "%Y%m%d-%H%M%S"),
                                        match.group(2)))
    return sorted(found, key=lambda backup: (backup.made_at, backup.name), reverse=True)


def find(folder, name):
    """The listed backup called `name` in `folder`, or None (a name Kontor did not give, a
    path, "..": None)."""
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name):
        return None
    return next((backup for backup in listed(folder) if backup.name == name), None)


def prune(folder, days, clock=utcnow) -> int:
    """Delete the backups in `folder` made more than `days` days ago (KONTOR_BACKUP_DAYS),
    but never the newest one, so that a long run of failed nights keeps the last good
    backup. Returns how many went."""
    backups = listed(folder)
    cutoff = clock() - timedelta(days=max(1, days))
    deleted = 0
    for backup in backups[1:]:
        if backup.made_at < cutoff:
            backup.path.unlink(missing_ok=True)
            deleted += 1
    return deleted


# --- making a backup ----------------------------------------------------------------------

def database_kind(database_url) -> str:
    """"sqlite" or "postgresql" for Kontor's DATABASE_URL."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def applied_migrations(database) -> list:
    """The names of the migrations applied to `database` (a connected Peewee database), in
    order; [] for a database without Kontor's tables."""
    if not database.table_exists("schema_migration"):
        return []
    return sorted(migrations.runner(database).applied())


def _pg_environment(database_url):
    """The libpq settings of a postgresql:// URL as environment variables: the password
    never appears on a command line (where `ps` shows it)."""
    parts = urlsplit(database_url.replace("postgres://", "postgresql://", 1))
    env = dict(os.environ)
    values = {"PGHOST": parts.hostname, "PGPORT": parts.port,
              "PGUSER": unquote(parts.username or "") or None,
              "PGPASSWORD": unquote(parts.password or "") or None,
              "PGDATABASE": unquote(parts.path.lstrip("/")) or None}
    env.update({name: str(value) for name, value in values.items() if value})
    return env


def _program(name):
    """The path of a PostgreSQL program (`pg_dump`, `pg_restore`, `psql`), or None."""
    return shutil.which(name)


def _run(arguments, database_url, failure):
    """Run a PostgreSQL program; raise BackupRefused(`failure`, detail=its message)."""
    done = subprocess.run(arguments, env=_pg_environment(database_url), capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise BackupRefused(failure, detail=(done.stderr or done.stdout).strip()[-1000:])
    return done


def _copy_database(database_url, target: Path) -> str:
    """Copy Kontor's database into the file `target`; returns the zip member name. SQLite:
    the online backup API in one step from its own read transaction; in WAL mode that
    neither waits for writers nor holds them up, and the copy is the database as it was
    when the step began. PostgreSQL: `pg_dump` (a snapshot in one transaction)."""
    if database_kind(database_url) == "sqlite":
        source_path = storage.sqlite_file(database_url)
        with closing(sqlite3.connect(source_path, timeout=30)) as source, \
                closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        os.chmod(target, storage.FILE_MODE)
        return SQLITE_MEMBER
    program = _program("pg_dump")
    if program is None:
        raise BackupRefused("no_pg_dump")
    _run([program, "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)],
         database_url, "dump_failed")
    os.chmod(target, storage.FILE_MODE)
    return POSTGRES_MEMBER


def _write_member(archive, name, source: Path, entries):
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as handle, archive.open(name, "w", force_zip64=True) as member:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            member.write(chunk)
    entries[name] = {"size": size, "sha256": digest.hexdigest()}


def contents_checksum(entries) -> str:
    """The SHA-256 of a manifest's `files` ({member: {size, sha256}}), in a canonical form."""
    canonical = json.dumps(entries, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create_backup(config, kind="manual", folder=None, clock=utcnow) -> BackupFile:
    """Write a backup of the database and the uploaded files into `folder` (default the
    backup folder) and return it. The zip is written as a hidden `.part` file and renamed
    when complete, so a half-written backup is never listed; it is 0600. Raises
    BackupRefused ("no_pg_dump", "dump_failed", the folder's reasons)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of backup: {kind}")
    data = storage.DataFolder(config["DATA_DIR"])
    folder = Path(folder) if folder is not None else backup_folder(config["DATA_DIR"])
    made_at = clock().replace(microsecond=0)
    name = f"kontor-backup-{made_at:%Y%m%d-%H%M%S}-{kind}.zip"
    while (folder / name).exists():       # two in one second: the next second's name
        made_at += timedelta(seconds=1)
        name = f"kontor-backup-{made_at:%Y%m%d-%H%M%S}-{kind}.zip"
    part = folder / f".{name}.part"
    work = Path(tempfile.mkdtemp(prefix=".backup-", dir=data.create()))
    try:
        copy = work / "database"
        member = _copy_database(config["DATABASE_URL"], copy)
        if member == SQLITE_MEMBER:
            with closing(SqliteDatabase(str(copy))) as copied:
                names = applied_migrations(copied)
        else:
            names = applied_migrations(db)
        entries = {}
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, storage.FILE_MODE)
        with os.fdopen(fd, "wb") as handle, \
                zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            _write_member(archive, member, copy, entries)
            uploads = data.uploads
            if uploads.is_dir():
                for path in sorted(uploads.iterdir()):
                    if path.is_file() and not path.is_symlink() \
                            and _MEMBER.fullmatch(f"uploads/{path.name}"):
                        with suppress(FileNotFoundError):   # a file deleted meanwhile
                            _write_member(archive, f"uploads/{path.name}", path, entries)
            manifest = {"format": FORMAT, "kontor_version": __version__, "kind": kind,
                        "created_at": made_at.isoformat(),
                        "database": database_kind(config["DATABASE_URL"]),
                        "migrations": names, "files": entries,
                        "checksum": contents_checksum(entries)}
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(part, folder / name)
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    path = folder / name
    return BackupFile(name, path, path.stat().st_size, made_at, kind)


# --- the nightly backup -------------------------------------------------------------------

def nightly_due(now, hour, last) -> bool:
    """Whether the nightly backup is due at `now` (naive UTC): it is `hour` o'clock (UTC) or
    later, and the last nightly backup (`last`, or None) was made before today's `hour`.
    A Kontor that was off at night makes it when it runs again."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    due_since = today if now >= today else today - timedelta(days=1)
    return last is None or last < due_since


def nightly(config, clock=utcnow) -> BackupFile | None:
    """The nightly job's work: when due, write a nightly backup into the backup folder, prune
    the backups older than BACKUP_DAYS and record how it went. A failure is recorded, logged
    and mailed to the superusers (kontor/alerts.py, at most once an hour), then raised, so
    the job's lease row shows it too. Returns the backup, or None when not due."""
    now = clock()
    current = settings()
    if not nightly_due(now, config.get("BACKUP_HOUR", DEFAULT_HOUR), current.last_nightly_at):
        return None
    with db.atomic():
        BackupSetting.insert(id=1).on_conflict_ignore().execute()
    try:
        folder = backup_folder(config["DATA_DIR"])
        backup = create_backup(config, "nightly", folder, clock=clock)
        prune(folder, config.get("BACKUP_DAYS", DEFAULT_DAYS), clock=clock)
    except Exception as problem:
        message = _problem_text(problem)
        with db.atomic():
            BackupSetting.update(last_error=message, last_error_at=now).where(
                BackupSetting.id == 1).execute()
            audit.record("backup.nightly.failed", None, detail=message)
        log.error("the nightly backup failed: %s", message)
        try:
            alerts.send_alert("backup_failed", problem=message,
                              folder=current.folder or str(storage.DataFolder(
                                  config["DATA_DIR"]).backups), clock=clock)
        except Exception:    # the alert must not hide the backup's own failure
            log.exception("the alert about the failed nightly backup could not be sent")
        raise
    with db.atomic():
        BackupSetting.update(last_nightly_at=now, last_nightly_file=backup.name, last_error="",
                             last_error_at=None).where(BackupSetting.id == 1).execute()
        audit.record("backup.nightly", None, target=backup.name, detail=f"{backup.size} bytes")
    log.info("nightly backup written: %s (%d bytes)", backup.name, backup.size)
    return backup


def _problem_text(problem) -> str:
    """A one-line English description of why a backup failed, for the log and the alert."""
    if isinstance(problem, BackupRefused):
        detail = getattr(problem, "detail", "")
        return f"{problem.reason}{': ' + detail if detail else ''}"[:1000]
    return f"{type(problem).__name__}: {problem}"[:1000]


def nightly_job(config):
    """The scheduled job's body (kontor/jobs.py): `nightly`."""
    nightly(config)


# --- checking a backup --------------------------------------------------------------------

def known_migrations() -> list:
    """The names of the migrations this Kontor has, in order."""
    return sorted(path.stem for path in migrations.MIGRATIONS_DIR.glob("[0-9]*.py"))


def verify(path, database_url, data_dir) -> Verified:
    """Check the backup file `path` completely, touching nothing: a zip with Kontor's
    manifest, every member exactly as listed (size and SHA-256) and nothing else, the
    manifest's checksum of its contents, a database of this Kontor's kind (SQLite or
    PostgreSQL) that passes its integrity check (SQLite's `PRAGMA integrity_check`; a
    PostgreSQL dump is read through by `pg_restore`), and a schema this Kontor knows (it
    can migrate an older one). The database is extracted into a private temporary folder in
    the data folder. Returns Verified (call its `cleanup`); raises BackupRefused."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BackupRefused("not_a_backup") from None
    with archive:
        manifest = _manifest(archive)
        entries = manifest["files"]
        if contents_checksum(entries) != manifest.get("checksum"):
            raise BackupRefused("checksum")
        members = [info.filename for info in archive.infolist() if info.filename != MANIFEST]
        if sorted(members) != sorted(entries) or len(set(members)) != len(members) \
                or not all(_MEMBER.fullmatch(name) for name in members):
            raise BackupRefused("checksum")
        kind = database_kind(database_url)
        member = SQLITE_MEMBER if kind == "sqlite" else POSTGRES_MEMBER
        if manifest.get("database") != kind or member not in entries:
            raise BackupRefused("other_database", kind=manifest.get("database", ""))
        known = known_migrations()
        names = manifest.get("migrations")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BackupRefused("not_a_backup")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise BackupRefused("newer_schema", names=unknown)
        work = Path(tempfile.mkdtemp(prefix=".restore-", dir=storage.DataFolder(
            data_dir).create()))
        verified = Verified(manifest, work, work / "database", Path(path),
                            uploads=[name for name in members if name.startswith("uploads/")],
                            pending=[name for name in known if name not in names])
        try:
            for name in members:      # every member read through: size, hash, zip's CRC
                target = verified.database if name == member else None
                _check_member(archive, name, entries[name], target)
            _check_database(verified, kind, names)
        except BaseException:
            verified.cleanup()
            raise
    return verified


def _manifest(archive) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        raise BackupRefused("not_a_backup") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BackupRefused("not_a_backup")
    if manifest.get("format") != FORMAT:
        raise BackupRefused("format" if isinstance(manifest.get("format"), int)
                            and manifest["format"] > FORMAT else "not_a_backup")
    for entry in manifest["files"].values():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or not isinstance(entry.get("size"), int):
            raise BackupRefused("not_a_backup")
    return manifest


def _check_member(archive, name, entry, target):
    """Read member `name` through, comparing its size and SHA-256 with `entry`; write it to
    `target` (a Path) when given. A damaged zip (bad CRC, cut short) is "checksum" too."""
    digest = hashlib.sha256()
    size = 0
    try:
        output = open(target, "xb") if target is not None else None   # noqa: SIM115
        if target is not None:
            os.chmod(target, storage.FILE_MODE)
        with archive.open(name) as member:
            while chunk := member.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if output is not None:
                    output.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise BackupRefused("checksum") from None
    finally:
        if target is not None:
            output.close()
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise BackupRefused("checksum")


def _check_database(verified, kind, names):
    if kind == "sqlite":
        try:
            with closing(sqlite3.connect(verified.database)) as copy:
                result = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
                tables = {row[0] for row in copy.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                found = sorted(row[0] for row in copy.execute(
                    'SELECT "name" FROM "schema_migration"')) \
                    if "schema_migration" in tables else []
        except sqlite3.DatabaseError as problem:
            raise BackupRefused("integrity", detail=str(problem)) from None
        if result != ["ok"]:
            raise BackupRefused("integrity", detail="; ".join(result)[:1000])
        if found != sorted(names):
            raise BackupRefused("integrity", detail="the schema version differs from the "
                                "manifest's")
        return
    program = _program("pg_restore")
    if program is None:
        raise BackupRefused("no_psql")
    done = subprocess.run([program, "--file", os.devnull, str(verified.database)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupRefused("integrity", detail=done.stderr.strip()[-1000:])


# --- restoring ----------------------------------------------------------------------------

def others_signed_in(user_id=None):
    """The live signed-in sessions a restore must wait for: those of every staff user but
    `user_id` (the acting superuser, whose own other browsers need not hold it up; None from
    the command line: everyone's) and every portal customer's, the newest first."""
    query = (UserSession.select()
             .where(UserSession.ended_at.is_null(),
                    UserSession.user.is_null(False) | UserSession.web_account.is_null(False))
             .order_by(UserSession.created_at.desc(), UserSession.id.desc()))
    if user_id is not None:
        query = query.where(UserSession.user.is_null() | (UserSession.user != user_id))
    return list(query)


def has_schema() -> bool:
    """Whether Kontor's database has its tables (False on a fresh install before the first
    migration, where a restore has nothing to keep or check)."""
    return db.table_exists("schema_migration")


def restore_refusal(user_id=None):
    """Why a restore by `user_id` (None: from the command line) may not start now, as a
    BackupRefused (not raised), or None: the sync is active ("sync_active"), or others are
    signed in ("signed_in", with `sessions`)."""
    if not has_schema():
        return None
    state = SyncState.get_or_none(SyncState.id == 1)
    if state is not None and state.active:
        return BackupRefused("sync_active")
    others = others_signed_in(user_id)
    if others:
        return BackupRefused("signed_in", sessions=others)
    return None


def end_other_sessions(session_row_id, user, ip="") -> int:
    """End every signed-in session but `session_row_id` (staff and portal; None: every one),
    so that a restore can start; audited. Returns how many ended."""
    query = (UserSession.update(ended_at=utcnow(), end_reason="ended_by_admin")
             .where(UserSession.ended_at.is_null(),
                    UserSession.user.is_null(False) | UserSession.web_account.is_null(False)))
    if session_row_id is not None:
        query = query.where(UserSession.id != session_row_id)
    ended = query.execute()
    audit.record("backup.sessions_ended", user, detail=f"{ended} sessions", ip=ip)
    return ended


def fail_point(stage):
    """A test's hook: called at each step of a restore ("uploads"; "database": on SQLite
    between the steps of copying the pages, on PostgreSQL before psql starts);
    raising here shows that a restore failing half-way leaves the old state intact."""


@dataclass
class Restored:
    """What a restore did: the backup it came from, and the backup of the state before."""
    manifest: dict
    kept: BackupFile | None
    migrated: list


def restore(config, path, user=None, ip="", source="", clock=utcnow) -> Restored:
    """Restore the backup file `path` over this Kontor. `user`: the superuser (None from the
    command line), whose own sessions may stay signed in meanwhile; `source`: the file's name
    for the audit log.

    In order: refused while the sync is active or others are signed in (BackupRefused
    "sync_active", "signed_in"); the file verified (`verify`); the current database and
    uploads kept as a "before-restore" backup (skipped on a fresh install, whose database
    is empty); then the database and the uploads replaced, all or nothing: the backup's
    database is migrated to this Kontor's schema and made ready (sync off and marked
    restored, every session ended, the audit entry written) before it replaces the current
    one in one step, and the uploads folder is swapped back if that step fails. A failure
    raises BackupRefused("failed", detail=…) with the old state intact."""
    refusal = restore_refusal(getattr(user, "id", user))
    if refusal is not None:
        if has_schema():
            audit.record("backup.restore.refused", user, target=source, detail=refusal.reason,
                         ip=ip)
        raise refusal
    try:
        verified = verify(path, config["DATABASE_URL"], config["DATA_DIR"])
    except BackupRefused as refused:
        if has_schema():
            audit.record("backup.restore.refused", user, target=source, detail=refused.reason,
                         ip=ip)
        raise
    try:
        kept = None
        if has_schema():
            audit.record("backup.restore.started", user, target=source, ip=ip)
            kept = create_backup(config, "before-restore", clock=clock)
        actor = User.get_or_none(User.id == getattr(user, "id", user)) if user else None
        note = dict(source=source, manifest=verified.manifest, ip=ip,
                    by=actor.email if actor else "the command line", kept=kept)
        if database_kind(config["DATABASE_URL"]) == "sqlite":
            _restore_sqlite(config, verified, note, clock)
        else:
            _restore_postgres(config, verified, note, clock)
        return Restored(verified.manifest, kept, verified.pending)
    finally:
        verified.cleanup()


def _after_restore(now, data_dir, note):
    """On the restored database (bound as `db` or through `bind_ctx`): the sync off and
    marked restored, its password cleared when this data folder's key cannot read it (a
    restore on another PC: it is entered again), every session ended, and the audit entry.
    The bindings and agreed states stay: they are the snapshot's own, consistent with its
    records, so reactivation never takes a record that is here for a deleted one."""
    state = SyncState.get_or_none(SyncState.id == 1)
    if state is not None:
        password = state.business_password
        try:
            secret.unseal(data_dir, password)
        except secret.SecretUnreadable:
            password = ""
        SyncState.update(active=False, first_sync_done_at=None, restored_at=now,
                         business_password=password, tested_at=None,
                         version=SyncState.version + 1, updated_at=now).where(
            SyncState.id == 1).execute()
    UserSession.update(ended_at=now, end_reason="restored").where(
        UserSession.ended_at.is_null()).execute()
    detail = (f"by {note['by']}; backup of {note['manifest'].get('created_at', '?')}"
              + (f"; the state before kept as {note['kept'].name}" if note["kept"] else ""))
    audit.record("backup.restored", None, target=note["source"], detail=detail, ip=note["ip"])


def _stage_uploads(data, verified, source_path):
    """Extract the backup's uploads into a new private folder beside `uploads`."""
    staged = Path(tempfile.mkdtemp(prefix=".uploads-restoring-", dir=data.root))
    with zipfile.ZipFile(source_path) as archive:
        for name in verified.uploads:
            target = staged / name.split("/", 1)[1]
            _check_member(archive, name, verified.manifest["files"][name], target)
    return staged


def _swap_uploads(data, staged):
    """Put `staged` in place of the uploads folder; returns where the old one went."""
    aside = Path(tempfile.mkdtemp(prefix=".uploads-before-restore-", dir=data.root))
    aside.rmdir()
    if data.uploads.exists():
        os.replace(data.uploads, aside)
    os.replace(staged, data.uploads)
    return aside


def _swap_back(data, aside):
    shutil.rmtree(data.uploads, ignore_errors=True)
    if aside.exists():
        os.replace(aside, data.uploads)


def _restore_sqlite(config, verified, note, clock):
    data = storage.DataFolder(config["DATA_DIR"])
    now = clock()
    copy = SqliteDatabase(str(verified.database), pragmas={"foreign_keys": 1})
    with copy.connection_context():
        migrations.upgrade(copy)
        with copy.bind_ctx([SyncState, UserSession, AuditEvent]), copy.atomic():
            _after_restore(now, config["DATA_DIR"], note)
    copy.close()
    staged = _stage_uploads(data, verified, verified.source)
    aside = None
    try:
        fail_point("uploads")
        aside = _swap_uploads(data, staged)
        live = storage.sqlite_file(config["DATABASE_URL"])
        with closing(sqlite3.connect(verified.database)) as source, \
                closing(sqlite3.connect(live, timeout=30)) as target:
            # one transaction on the live database: committed whole when the copy is done,
            # rolled back when it stops half-way (SQLite's backup API)
            source.backup(target, pages=BACKUP_PAGES,
                          progress=lambda status, remaining, total: fail_point("database"))
    except BaseException as problem:
        if aside is not None:
            _swap_back(data, aside)
        shutil.rmtree(staged, ignore_errors=True)
        raise BackupRefused("failed", detail=_problem_text(problem)) from problem
    shutil.rmtree(aside, ignore_errors=True)
    if db.obj is not None and hasattr(db.obj, "close_idle"):
        db.obj.close_idle()     # pooled connections start afresh on the restored file


def _restore_postgres(config, verified, note, clock):
    data = storage.DataFolder(config["DATA_DIR"])
    pg_restore, psql = _program("pg_restore"), _program("psql")
    if pg_restore is None or psql is None:
        raise BackupRefused("no_psql")
    script = verified.work / "restore.sql"
    _run([pg_restore, "--no-owner", "--no-privileges", "--file", str(script),
          str(verified.database)], config["DATABASE_URL"], "integrity")
    staged = _stage_uploads(data, verified, verified.source)
    aside = None
    url = config["DATABASE_URL"]
    try:
        fail_point("uploads")
        aside = _swap_uploads(data, staged)
        if hasattr(db.obj, "close_idle"):
            db.obj.close_idle()   # pooled connections (autocommit: they hold no locks) go
        # one transaction (psql -1): the schema emptied, the dump loaded, the sync switched
        # off and every session ended; any error rolls all of it back
        arguments = [psql, "--no-psqlrc", "--quiet", "--single-transaction",
                     "--set", "ON_ERROR_STOP=1",
                     "--command", f"SET LOCAL lock_timeout = '{PG_LOCK_TIMEOUT}'; "
                                  "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
                     "--file", str(script),
                     "--command", _PG_SWITCH_OFF]
        fail_point("database")
        _run(arguments, url, "failed")
    except BaseException as problem:
        if aside is not None:
            _swap_back(data, aside)
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(problem, BackupRefused) and problem.reason == "failed":
            raise
        raise BackupRefused("failed", detail=_problem_text(problem)) from problem
    shutil.rmtree(aside, ignore_errors=True)
    # the schema of an older backup is brought up to date, as at any upgrade (PostgreSQL's
    # DDL is transactional: each migration is applied whole or not at all)
    migrations.upgrade(db.obj)
    with db.connection_context(), db.atomic():
        _after_restore(clock(), config["DATA_DIR"], note)


# Inside the restore's transaction: nothing of the backup's state may sync or sign in before
# the restore is complete (the tables may be missing in a backup of an old version).
_PG_SWITCH_OFF = """DO $$ BEGIN
IF to_regclass('public.sync_state') IS NOT NULL THEN
  UPDATE public.sync_state SET active = false, first_sync_done_at = NULL;
END IF;
IF to_regclass('public.user_session') IS NOT NULL THEN
  UPDATE public.user_session SET ended_at = now() AT TIME ZONE 'UTC', end_reason = 'restored'
  WHERE ended_at IS NULL;
END IF;
END $$;"""
