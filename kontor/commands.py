"""CLI commands: `flask --app app <command>` (migrate, setup, setup-url, serve, run-jobs,
business-demo, backup, restore).

Every command that needs the tables applies the pending migrations first (`with_schema`), as
`python app.py` does, so that a command on a new data folder works instead of failing with a
missing table; a database that cannot be opened is said in one line, not a traceback.
"""
import functools
import os
import sys
import threading

import click
from flask import current_app
from peewee import DatabaseError

from kontor import backups, jobs, languages, passwords, storage, tokens
from kontor import company as company_rules
from kontor import migrate as migrations
from kontor.mail import InvalidAddress, normalise_address, normalise_email
from kontor.sync import business, demo, first_sync, ownership, service
from models import db
from models.clock import utcnow


def print_setup_url_if_needed(app):
    """On an empty database, print a one-time setup URL (and only to the console)."""
    if company_rules.needs_setup():
        raw = tokens.issue("setup")
        click.echo("Kontor has no users yet. Open this one-time setup link to create the "
                   "company and the first superuser:\n\n"
                   f"    {app.config['BASE_URL']}/setup/{raw}\n")
        return True
    return False


def upgrade_schema():
    """Apply the pending migrations and make the data folder private (both as `python app.py`
    does at start); return the names applied. A database that cannot be opened or migrated
    becomes a ClickException: one line saying what to check, not a traceback."""
    storage.DataFolder(current_app.config["DATA_DIR"]).tighten()
    try:
        return migrations.upgrade(db.obj)
    except DatabaseError as exc:
        raise click.ClickException(
            f"Cannot open or migrate the database ({type(exc).__name__}: {exc}). Check "
            "DATABASE_URL and KONTOR_DATA_DIR, then run `flask --app app migrate`.") from None


def with_schema(command):
    """Decorate a command that needs the tables: migrate first (told on stderr, so that what
    the command prints on stdout stays its own)."""
    @functools.wraps(command)
    def migrated_first(*args, **kwargs):
        applied = upgrade_schema()
        if applied:
            click.echo("Applied migrations: " + ", ".join(applied), err=True)
        return command(*args, **kwargs)
    return migrated_first


def register(app):
    @app.cli.command("migrate")
    def migrate_command():
        """Apply pending schema migrations."""
        applied = upgrade_schema()
        click.echo("Applied: " + ", ".join(applied) if applied else "The schema is up to date.")

    @app.cli.command("setup-url")
    @with_schema
    def setup_url_command():
        """Print a new one-time setup URL (only while no user exists)."""
        with db.connection_context():
            if not print_setup_url_if_needed(current_app):
                raise click.ClickException("Setup is already done.")

    @app.cli.command("setup")
    @click.option("--company", "company_name", required=True, help="Company name.")
    @click.option("--name", required=True, help="The first superuser's full name.")
    @click.option("--email", required=True, help="The first superuser's e-mail (login name).")
    @click.option("--password", envvar="KONTOR_SETUP_PASSWORD", prompt=True, hide_input=True,
                  confirmation_prompt=True, help="Read from KONTOR_SETUP_PASSWORD or asked for.")
    @click.option("--street", default="")
    @click.option("--postcode", default="")
    @click.option("--city", default="")
    @click.option("--country", default="")
    @click.option("--phone", default="")
    @click.option("--company-email", default="")
    @click.option("--vat-number", default="")
    @click.option("--org-number", default="")
    @click.option("--language", type=click.Choice(languages.CODES), default=languages.DEFAULT)
    @with_schema
    def setup_command(company_name, name, email, password, company_email, **fields):
        """Create the company and the first superuser without a browser."""
        try:
            email = normalise_email(normalise_address(email))
        except InvalidAddress as exc:
            raise click.BadParameter(str(exc), param_hint="--email") from None
        problem = passwords.password_problem(password, email, company_name, name)
        if problem:
            raise click.BadParameter(PASSWORD_PROBLEMS_EN[problem], param_hint="--password")
        with db.connection_context():
            try:
                company_rules.perform_setup(
                    dict(fields, name=company_name, email=company_email), name, email, password)
            except company_rules.SetupAlreadyDone:
                raise click.ClickException("Setup is already done.") from None
            tokens.revoke_open("setup")
        click.echo(f"Company {company_name!r} created; {email} is its first superuser.")

    @app.cli.command("business-demo")
    @click.argument("path")
    @click.option("--contacts", default=200, show_default=True,
                  type=click.IntRange(1, 1_000_000), help="How many firms to create.")
    def business_demo_command(path, contacts):
        """Create a sample business database in the default layout at PATH (a new SQLite
        file, or a postgresql:// URL of an empty database) with Dutch, Norwegian and German
        firms, their contact persons and notes, to try the sync with."""
        url = path if "://" in path else f"sqlite:///{os.path.abspath(path)}"
        if url.startswith("sqlite:///") and os.path.exists(url[len("sqlite:///"):]):
            raise click.ClickException(f"{path} exists already; the demo makes a new file.")
        try:
            url, password = business.split_password(url)
            database = business.open_business(url, password, create=True)
        except business.BusinessDatabaseError as error:
            raise click.ClickException(f"Cannot open {path}: {error.code}.") from None
        try:
            counts = demo.create_demo(database, contacts)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        finally:
            database.close()
        click.echo(f"Business database created at {path}: " + ", ".join(
            f"{count} {entity.replace('_', ' ')}" for entity, count in counts.items()) + ".")
        click.echo(f"Its URL for Sync settings: {url}")

    @app.cli.command("sync-now")
    @click.option("--wait", "wait_seconds", type=click.IntRange(0, 3600), default=None,
                  help="While a running Kontor holds the sync: how many seconds to wait for "
                       "its next cycle (default: two sync intervals and 30 s).")
    @with_schema
    def sync_now_command(wait_seconds):
        """Run one sync cycle with the business database now and print its counts (the sync
        must be active: Administration → Sync). While a running Kontor holds the sync (it
        syncs every KONTOR_SYNC_SECONDS), wait for its next cycle and print that one's."""
        with db.connection_context():
            if not service.state().active:
                raise click.ClickException("The sync is not active (Administration → Sync).")
            started = utcnow()
            try:
                if first_sync.running():
                    run = first_sync_with_bar(current_app.config)
                    if run is None and not first_sync.running():
                        click.echo("Another Kontor process ran the first sync; it is done.")
                        return
                else:
                    run = service.run_sync(current_app.config)
            finally:
                jobs.release_leases()    # a serving process takes the next cycle at once
            if run is None:
                # the running Kontor holds the sync (it syncs every KONTOR_SYNC_SECONDS):
                # wait for its next cycle and print that one's counts
                seconds = current_app.config.get("SYNC_SECONDS") or 15
                wait = wait_seconds if wait_seconds is not None else 2 * seconds + 30
                holder = service.syncing_elsewhere()
                named = service.node_names([holder])[holder] if holder else None
                where = f" on {named[0]}" + (f" (pid {named[1]})" if named[1] else "") \
                    if named else ""
                click.echo(f"The running Kontor{where} does the sync (every {seconds} s); "
                           f"waiting up to {wait} s for its next cycle…")
                run = service.wait_for_cycle(started, wait)
                if run is None:
                    raise click.ClickException(
                        f"No sync cycle ended within {wait} s. The running Kontor{where} "
                        "holds the sync: see Administration → Sync → Sync log, or stop that "
                        "Kontor and run sync-now again.")
            click.echo(f"Sync run {run.id}: {run.status.upper()}; read {run.read}, written to "
                       f"the business database {run.to_business}, written to Kontor "
                       f"{run.to_kontor}, conflicts {run.conflicts}.")
            if run.status == "error":
                raise click.ClickException(f"The run ended with an error: {run.error[:500]}")

    @app.cli.command("backup")
    @with_schema
    def backup_command():
        """Write a backup (database, uploaded files, manifest with checksum) into the backup
        folder now and print its path."""
        with db.connection_context():
            try:
                backup = backups.create_backup(current_app.config, "manual")
            except backups.BackupRefused as refused:
                raise click.ClickException(restore_refusal_en(refused)) from None
        click.echo(f"Backup written: {backup.path} ({backup.size} bytes).")

    @app.cli.command("restore")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--end-sessions", is_flag=True,
                  help="End the sessions of everyone signed in instead of refusing.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore_command(file, end_sessions, yes):
        """Restore the backup FILE over this Kontor (also onto a new, empty data folder).
        Refused while the sync is active or anyone is signed in; the file is checked
        completely first and the present state is kept as a backup."""
        storage.DataFolder(current_app.config["DATA_DIR"]).tighten()
        with db.connection_context():
            if end_sessions and backups.has_schema():
                ended = backups.end_other_sessions(None, None)
                click.echo(f"Ended {ended} sessions.")
            refusal = backups.restore_refusal()
            if refusal is not None:
                raise click.ClickException(restore_refusal_en(refusal))
            if not yes:
                click.confirm(f"Replace Kontor's database and uploaded files with {file}?",
                              abort=True)
            try:
                restored = backups.restore(current_app.config, file,
                                           source=os.path.basename(file))
            except backups.BackupRefused as refused:
                raise click.ClickException(restore_refusal_en(refused)) from None
        if restored.kept is not None:
            click.echo(f"The state before is kept as {restored.kept.path}.")
        if restored.migrated:
            click.echo("Brought up to this version: " + ", ".join(restored.migrated))
        made = str(restored.manifest.get("created_at", "?")).replace("T", " ")
        click.echo(f"Restored the backup made {made} UTC. "
                   "Everyone signs in again. The sync is off: activate it again under "
                   "Administration → Sync (enter the business database's password again if "
                   "asked); it starts with a fresh first sync.")
    @app.cli.command("sync-owner")
    @click.argument("email")
    @with_schema
    def sync_owner_command(email):
        """Make the superuser with this e-mail address the sync owner (issue 17 item 3): for
        when the owner has left or their account was deactivated. Whoever can run commands
        on the server is trusted; the change is audited."""
        refusals = {
            "no_sync": "The sync was never set up (Administration → Sync).",
            "unknown_user": f"No user has the e-mail address {email}.",
            "not_superuser": f"{email} is not an active superuser.",
        }
        with db.connection_context():
            try:
                user = ownership.hand_over(email, ip="command line")
            except service.SyncRefused as refused:
                raise click.ClickException(refusals.get(refused.reason, refused.reason)) \
                    from None
            click.echo(f"{user.email} is the sync owner now.")

    @app.cli.command("run-jobs")
    @with_schema
    def run_jobs_command():
        """Run every scheduled job once, now (for cron or troubleshooting), then let go of the
        leases, so that the serving process's scheduler need not wait for them to expire."""
        try:
            for name, (work, _every) in jobs.JOBS.items():
                ran = jobs.run_job(name, work, current_app.config)
                click.echo(f"{name}: {'done' if ran else 'skipped (another process holds it)'}")
        finally:
            jobs.release_leases()


BACKUP_REFUSALS_EN = {
    "folder_relative": "The backup folder must be a full path.",
    "folder_missing": "The backup folder does not exist (is its disk or share connected?).",
    "not_a_folder": "The backup folder is a file, not a folder.",
    "folder_not_writable": "Kontor cannot write into the backup folder.",
    "no_pg_dump": "The database is PostgreSQL and pg_dump is not installed: install "
                  "PostgreSQL's client programs (Debian: postgresql-client).",
    "no_psql": "The database is PostgreSQL and pg_restore or psql is not installed: install "
               "PostgreSQL's client programs (Debian: postgresql-client).",
    "dump_failed": "pg_dump failed: {detail}",
    "sync_active": "The sync with the business database is active: deactivate it first "
                   "(Administration → Sync).",
    "signed_in": "People are signed in: {who}. Ask them to sign out, or run again with "
                 "--end-sessions.",
    "not_a_backup": "This file is not a Kontor backup.",
    "format": "This backup was made by a newer version of Kontor: update Kontor first.",
    "checksum": "This backup is damaged: its contents do not match their checksum. Nothing "
                "was changed.",
    "other_database": "This backup is of another kind of database ({kind}) than this "
                      "Kontor uses.",
    "integrity": "The database in this backup is damaged ({detail}). Nothing was changed.",
    "newer_schema": "This backup was made by a newer version of Kontor (it has {names}): "
                    "update Kontor first.",
    "failed": "The restore failed and nothing was changed: {detail}",
}


def restore_refusal_en(refused):
    """A BackupRefused in one English line for the terminal."""
    values = {"detail": getattr(refused, "detail", ""), "kind": getattr(refused, "kind", ""),
              "names": ", ".join(getattr(refused, "names", [])),
              "who": ", ".join(sorted({row.user.email if row.user_id else "a portal customer"
                                       for row in getattr(refused, "sessions", [])}))}
    return BACKUP_REFUSALS_EN.get(refused.reason, refused.reason).format(**values)


BAR_WIDTH = 30
POLL_SECONDS = 0.5
TABLE_NAMES_EN = {"employees": "employees", "contacts": "contacts",
                  "contact_persons": "contact persons", "note_entries": "notes"}


def progress_line(shown):
    """The first sync's progress (first_sync.Progress) as one line of a terminal: a bar, the
    records done of total, and the estimate of the time left."""
    filled = BAR_WIDTH * shown.percent // 100
    if shown.finished_at is not None:
        left = "done"
    elif shown.seconds_left is None:
        left = "estimating the time left"
    else:
        minutes, seconds = divmod(shown.seconds_left, 60)
        left = f"about {minutes} min {seconds:02d} s left" if minutes else \
            f"about {seconds} s left"
    return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {shown.percent:3d}%  "
            f"{shown.done} of {shown.total} records; {left}")


def table_lines(shown):
    """Per table: records done of total."""
    return [f"  {TABLE_NAMES_EN.get(table.entity, table.entity)}: {table.done} of "
            f"{table.total}" for table in shown.tables]


def first_sync_with_bar(config):
    """Run the first sync (or the rest of it) in a worker thread and show its progress as a
    bar in the terminal meanwhile (read from the database, as the progress page does); when
    another process runs it, follow that one's progress until it is done. Returns the SyncRun
    line, or None when another process ran it."""
    outcome = {}

    def work():
        with db.connection_context():
            try:
                outcome["run"] = service.run_sync(config)
            except Exception as error:   # noqa: BLE001 - raised again in the main thread
                outcome["error"] = error

    worker = threading.Thread(target=work, name="first-sync", daemon=True)
    worker.start()
    tty = sys.stdout.isatty()
    click.echo("First sync with the business database: nobody else can sign in until it is "
               "done.")
    shown_line, last_percent = "", -1
    while True:
        worker.join(POLL_SECONDS)
        current = first_sync.sync_state()
        shown = first_sync.progress(current)
        line = progress_line(shown)
        if tty and line != shown_line:
            click.echo("\r" + line.ljust(len(shown_line)), nl=False)
        elif not tty and shown.percent // 10 != last_percent // 10:
            click.echo(line)
        shown_line, last_percent = line, shown.percent
        if not worker.is_alive() and (outcome.get("run") is not None or "error" in outcome
                                      or not first_sync.running(current)):
            break
        if not worker.is_alive() and not shown.working:
            break          # another process holds the lease but is not working now
    if tty:
        click.echo()
    if "error" in outcome:
        raise outcome["error"]
    shown = first_sync.progress()
    if shown.finished_at is not None and line != progress_line(shown):
        click.echo(progress_line(shown))
    for text in table_lines(shown):
        click.echo(text)
    return outcome.get("run")


PASSWORD_PROBLEMS_EN = {
    "too_short": f"Use at least {passwords.MIN_LENGTH} characters.",
    "too_long": f"Use at most {passwords.MAX_LENGTH} characters.",
    "common": "This password is too common; choose another.",
    "context": "Without your name, your e-mail address, the company name and the word "
               f"'Kontor', fewer than {passwords.MIN_OWN_LENGTH} characters are left.",
    "context_company": f"Without the company name, fewer than {passwords.MIN_OWN_LENGTH} "
                       "characters are left.",
    "context_name": f"Without your name, fewer than {passwords.MIN_OWN_LENGTH} characters "
                    "are left.",
    "context_email": f"Without your e-mail address, fewer than {passwords.MIN_OWN_LENGTH} "
                     "characters are left.",
    "context_kontor": f"Without the word 'Kontor', fewer than {passwords.MIN_OWN_LENGTH} "
                      "characters are left.",
    "sequence": "It is a run or a repeat of characters, like '123456' or 'aaaa'.",
    "keyboard": "It follows a row of keys on the keyboard, like 'qwerty'.",
    "date": "It leans on a year or a date, which are easy to guess.",
    "names": "It leans on a common first name or surname.",
    "words": "It leans on one common word; add a few unrelated words.",
    "guessable": "This password is easy to guess; add a few unrelated words.",
}
