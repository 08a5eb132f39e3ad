"""Scheduled jobs and the database leases that make each run once across processes.

Every job is a plain function run inside `run_job`, which opens the job's own database
connection and takes the job's lease first: several processes serving the same database
(the scale-out path) each run a scheduler, and the lease decides which one works.
The scheduler is started only by the serving entry point (`app.main`), never by
`create_app`, the tests or a reloader.
"""
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from peewee import Case, IntegrityError

from kontor import contact_import, kept_forms, mail, maintenance, sessions, uploads
from kontor.storage import DataFolder
from kontor.sync import service as sync_service
from models import CaseFile, JobLease, db
from models.clock import utcnow

log = logging.getLogger("kontor.jobs")

# Jobs run on at most this many threads at once, each with its own database connection (and
# SQLite page cache: models/db.py; issue 12 item 27). They are short; the rest wait their turn.
JOB_THREADS = 4
NODE_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take_lease(name, holder, ttl: timedelta, now=None) -> bool:
    """Take or renew the lease `name` for `holder` until `now` (naive UTC; default the
    clock's) + `ttl`; False while another holder's is valid. A takeover moves the epoch on,
    so a former holder's fenced writes fail (kontor/sync/engine.py)."""
    now = now or utcnow()
    with db.atomic():
        renewed = (JobLease.update(
            holder=holder, expires_at=now + ttl,
            epoch=Case(None, [(JobLease.holder == holder, JobLease.epoch)], JobLease.epoch + 1))
            .where(JobLease.name == name,
                   (JobLease.holder == holder) | (JobLease.expires_at < now))
            .execute())
        if renewed:
            return True
        try:
            with db.atomic():
                JobLease.create(name=name, holder=holder, epoch=1, expires_at=now + ttl)
            return True
        except IntegrityError:
            return False


def release_leases(holder=NODE_ID) -> int:
    """Let go of every lease `holder` (this process) holds, so that a process started next
    takes the jobs at once instead of waiting for the leases to expire; called on a clean
    shutdown. Leases of other holders are left alone. Returns how many were released."""
    with db.connection_context(), db.atomic():
        return (JobLease.update(expires_at=utcnow() - timedelta(seconds=1))
                .where(JobLease.holder == holder, JobLease.expires_at >= utcnow())
                .execute())


def run_job(name, work, config, ttl=timedelta(minutes=2), holder=NODE_ID):
    """Run `work(config)` if this process holds the lease; record how it went."""
    with db.connection_context():
        if not take_lease(name, holder, ttl):
            return False
        try:
            work(config)
        except Exception as exc:   # a job must never kill the scheduler thread
            log.exception("job %s failed", name)
            JobLease.update(last_run_at=utcnow(), last_error=f"{type(exc).__name__}: {exc}"[:1000]
                            ).where(JobLease.name == name).execute()
            return False
        JobLease.update(last_run_at=utcnow(), last_error="").where(JobLease.name == name).execute()
        return True


def end_idle_sessions(config):
    """End idle and expired sessions, and purge the kept forms past their lifetime."""
    ended = sessions.end_idle_sessions(config["IDLE_MINUTES"], config["ABSOLUTE_HOURS"])
    if ended:
        log.info("ended %d idle or expired sessions", ended)
    kept_forms.purge_expired()


def deliver_outbox(config):
    sent, retried, failed = mail.deliver_due(config)
    if sent or retried or failed:
        log.info("outbox: %d sent, %d deferred, %d failed", sent, retried, failed)


def purge_orphan_uploads(config):
    """Delete uploaded files that no case uses (left by abandoned wizards): the job's body."""
    in_use = {name for (name,) in CaseFile.select(CaseFile.stored_name).tuples()}
    deleted = uploads.purge_orphans(DataFolder(config["DATA_DIR"]).uploads, in_use)
    if deleted:
        log.info("deleted %d uploaded files that no case uses", deleted)


def undo_abandoned_imports(config):
    """Take out contact imports whose process ended half-way (issue 10 item 1): the job's body."""
    undone = contact_import.undo_abandoned()
    if undone:
        log.info("undid %d interrupted contact imports", undone)


def refresh_statistics(config):
    """Keep the query planner's statistics fresh (issue 12 item 28): the job's body, run on
    start and every hour; see kontor/maintenance.py."""
    maintenance.refresh_statistics()


JOBS = {
    # name: (function, interval in seconds, or the config key that holds it)
    "end_idle_sessions": (end_idle_sessions, 60),
    "deliver_outbox": (deliver_outbox, "MAIL_INTERVAL_SECONDS"),
    "purge_orphan_uploads": (purge_orphan_uploads, 3600),
    "undo_abandoned_imports": (undo_abandoned_imports, 60),
    "refresh_statistics": (refresh_statistics, 3600),
    # the sync with the business database (SPEC section 8): a cycle while it is active; the
    # sync's own lease (15 minutes) decides which process syncs (kontor/sync/engine.py)
    "sync": (sync_service.sync_job, "SYNC_SECONDS"),
    # sync log lines older than KONTOR_SYNC_LOG_DAYS go (issue 16 item 4)
    "prune_sync_log": (sync_service.prune_job, 3600),
}


def start_scheduler(config):
    """Start one background scheduler with every job; return it (the caller shuts it down)."""

    scheduler = BackgroundScheduler(daemon=True, timezone="UTC",
                                    executors={"default": ThreadPoolExecutor(JOB_THREADS)},
                                    job_defaults={"max_instances": 1, "coalesce": True,
                                                  "misfire_grace_time": 30})
    for name, (work, every) in JOBS.items():
        seconds = config[every] if isinstance(every, str) else every
        scheduler.add_job(run_job, "interval", seconds=seconds, id=name, name=name,
                          args=(name, work, config),
                          kwargs={"ttl": timedelta(seconds=max(120, 3 * seconds))},
                          next_run_time=utcnow().replace(tzinfo=UTC))
    scheduler.start()
    return scheduler


def ensure_scheduler(extensions, config, key="kontor_scheduler"):
    """Start the scheduler again when the one in `extensions` (the app's, set by `app.main`)
    has stopped: the Restart button of the sync log page (issue 16 item 4). A process that
    never had one (the tests, `flask run`) gets none: only the serving entry point runs jobs.
    Returns True when it started one."""
    scheduler = extensions.get(key)
    if scheduler is None or scheduler.running:
        return False
    extensions[key] = start_scheduler(config)
    log.warning("the scheduler had stopped and is started again")
    return True


def run_soon(extensions, config, name, key="kontor_scheduler"):
    """Have this process's scheduler run the job `name` now, in its own thread (the sync
    log's "Sync now" and "Restart", issue 16 item 4): a stopped scheduler is started again
    (it runs every job at once), a running one has the job's next run moved to now. The job
    never runs in the caller's thread, so a request answers at once. Returns "started",
    "woken", or "" when this process runs no scheduler (the tests, `flask run`: only the
    serving entry point runs jobs) or has no such job."""
    if ensure_scheduler(extensions, config, key):
        return "started"
    scheduler = extensions.get(key)
    if scheduler is None:
        return ""
    try:
        scheduler.modify_job(name, next_run_time=datetime.now(UTC))
    except JobLookupError:
        return ""
    return "woken"


def status():
    """Each job's last run and holder, for /healthz and the admin pages."""
    return {lease.name: {"holder": lease.holder, "last_run_at": lease.last_run_at,
                         "last_error": lease.last_error}
            for lease in JobLease.select()}
