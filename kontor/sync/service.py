"""The sync as Kontor runs it (SPEC section 8; issue 16 items 2-4): its settings, Test
connection, activation by a superuser who becomes the sync owner, and the job that runs a
cycle every KONTOR_SYNC_SECONDS (15 by default) while the sync is active. Nothing here imports
Flask; the pages (blueprints/sync.py) and `flask sync-now` call these functions.
"""
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from kontor import audit, jobs, staff_auth
from kontor import company as company_rules
from kontor.errors import Refused
from kontor.sync import engine, first_sync, nodes, secret
from kontor.sync.business import (
    BusinessDatabaseError,
    open_business,
    split_password,
    try_connection,
)
from kontor.sync.layout import MappingError, parse_mapping
from kontor.versions import update_if_unchanged
from models import Company, JobLease, SyncConflict, SyncNode, SyncRun, SyncState, db
from models.clock import utcnow

log = logging.getLogger("kontor.sync")
# One cycle at a time in this process: the scheduled job and a cycle started otherwise in the
# same process (a command, a test) hold the same lease as the same node, so the lease cannot
# keep them apart.
_ONE_CYCLE = threading.Lock()
STOPPED_AFTER = timedelta(minutes=1)     # issue 16 item 4: a job not run for over a minute


def stopped_after(interval_seconds=None) -> timedelta:
    """How long the sync job may go without a run before the service counts as stopped:
    a minute (issue 16 item 4), or three intervals when KONTOR_SYNC_SECONDS is longer than
    20 s (a sync every 5 minutes is not "stopped" a minute after each run).
    `interval_seconds`: the job's interval (None: the default 15 s)."""
    return max(STOPPED_AFTER, timedelta(seconds=3 * (interval_seconds or 0)))


class SyncRefused(Refused):
    """A sync action that may not happen now. `reason`: "not_superuser", "wrong_password",
    "not_ready" (`missing`: the readiness checklist's codes), "no_access" (a deactivated
    sync is reactivated by its owner only), "no_settings", "active"
    (settings cannot change while the sync runs: deactivate first), "inactive",
    "connection" (`problem`: the BusinessDatabaseError or MappingError), "signed_in"
    (`others`: first_sync.SignedIn of everyone else signed in)."""


@dataclass
class Connection:
    """What Sync settings stores, ready to open: URL (no password), password, layout."""
    url: str
    password: str
    layout: object


def state() -> SyncState:
    """The one SyncState row (id 1); before the settings were first saved, an unsaved one
    with the defaults (reading never writes: a GET changes nothing)."""
    return SyncState.get_or_none(SyncState.id == 1) or SyncState(id=1)


def save_settings(data_dir, url, password, mapping, opened_version, user, ip=""):
    """Store the business database's URL (a password typed into it is taken out), the
    password (sealed with the data folder's key; "" keeps the stored one) and the mapping
    file (TOML; "" for the default layout), if nobody saved since `opened_version`.
    Returns the SyncState. Raises BusinessDatabaseError("bad_url"), MappingError,
    SyncRefused("active") while the sync runs, versions.ChangedMeanwhile. Audited without
    the password."""
    url, in_url = split_password(url)
    parse_mapping(mapping or "")
    password = password or in_url
    current = state()
    if current.active:
        raise SyncRefused("active")
    values = dict(business_url=url, mapping=(mapping or "").strip(), updated_at=utcnow(),
                  tested_at=None)
    if password:
        values["business_password"] = secret.seal(data_dir, password)
    with db.atomic():
        SyncState.insert(id=1).on_conflict_ignore().execute()   # the first save makes it
        update_if_unchanged(SyncState, 1, opened_version, **values)
        audit.record("sync.settings", user, target=url, ip=ip,
                     detail="password changed" if password else "")
    return state()


def connection(data_dir, current=None) -> Connection:
    """The stored settings, unsealed and parsed. Raises SyncRefused("no_settings"),
    secret.SecretUnreadable, MappingError."""
    current = current or state()
    if not current.business_url:
        raise SyncRefused("no_settings")
    return Connection(current.business_url, secret.unseal(data_dir, current.business_password),
                      parse_mapping(current.mapping))


def check_stored(data_dir):
    """Test connection with the stored settings. Returns the business.Report (rows per
    table) and notes when it passed; raises SyncRefused("no_settings"),
    BusinessDatabaseError, MappingError, secret.SecretUnreadable."""
    found = connection(data_dir)
    report = try_connection(found.url, found.password, found.layout)
    with db.atomic():
        SyncState.update(tested_at=utcnow()).where(SyncState.id == 1).execute()
    return report


def activate(data_dir, user, password, ip="", timeouts=(20, 12)):
    """Activate the sync (SPEC section 8): `user` (a superuser) confirms with their own
    `password`; the readiness checklist must be passed and Test connection must pass, and
    nobody else may be signed in (issue 17 item 1; `timeouts`: the app's IDLE_MINUTES and
    ABSOLUTE_HOURS, see first_sync.others_signed_in). They become the sync owner; the first
    sync then runs as the sync job's next cycle. Returns the SyncState. A deactivated sync is
    reactivated this way too, by its former owner only, as a fresh first sync (issue 17 item
    4). Raises SyncRefused ("not_superuser", "wrong_password", "no_access", "not_ready",
    "no_settings", "active", "signed_in", "connection"). Every refusal and the activation are
    audited."""
    if not user.is_superuser:
        audit.record("sync.activate.refused", user, detail="not_superuser", ip=ip)
        raise SyncRefused("not_superuser")
    check_password(user, password, "sync.activate", ip)
    current = state()
    if current.active:
        raise SyncRefused("already_active")
    if current.deactivated_at is not None and current.owner_id != user.id:
        # issue 17 item 4: only the user who was sync owner reactivates
        audit.record("sync.activate.refused", user, detail="no_access", ip=ip)
        raise SyncRefused("no_access")
    missing = company_rules.missing_for_readiness(Company.select().first(), user)
    if missing:
        raise SyncRefused("not_ready", missing=missing)
    others = first_sync.others_signed_in(user.id, *timeouts)
    if others:
        audit.record("sync.activate.refused", user, ip=ip,
                     detail=f"signed_in: {len(others)} other sessions")
        raise SyncRefused("signed_in", others=others)
    try:
        check_stored(data_dir)
    except (BusinessDatabaseError, MappingError, secret.SecretUnreadable) as problem:
        audit.record("sync.activate.refused", user, detail="connection", ip=ip)
        raise SyncRefused("connection", problem=problem) from None
    with db.atomic():
        # one conditional update: of several activations at once (a double click, two
        # browsers) exactly one wins; the others are told the sync is active already
        won = SyncState.update(active=True, owner=user.id, activated_at=utcnow(),
                               first_sync_done_at=None, deactivated_at=None,
                               version=SyncState.version + 1, updated_at=utcnow()).where(
            SyncState.id == 1, SyncState.active == False).execute()  # noqa: E712
        if not won:
            raise SyncRefused("already_active")
        audit.record("sync.activate", user, ip=ip,
                     detail="reactivated" if current.deactivated_at else "")
    return state()


def mass_deletes(run):
    """The mass deletes held back on the Error line `run` (kontor.sync.engine)."""
    return engine.mass_deletes(run)


def confirm_deletes(run_id, user, ip="", clock=utcnow):
    """A superuser confirms the mass deletes an Error line of the sync log held back (the
    mass-delete safeguard, kontor.sync.engine.mass_delete_guard): the next cycle applies
    them, once. Audited ("sync.deletes_confirmed", with the counts and tables). Returns the
    confirmed entries; raises SyncRefused("not_superuser") for anyone else and
    SyncRefused("nothing_to_confirm") for a line without held deletes."""
    if not getattr(user, "is_superuser", False):
        raise SyncRefused("not_superuser")
    run = SyncRun.get_or_none(SyncRun.id == run_id)
    entries = engine.confirm_mass_deletes(run, user.email, clock()) if run else []
    if not entries:
        raise SyncRefused("nothing_to_confirm")
    audit.record("sync.deletes_confirmed", user, target=f"sync run {run_id}", ip=ip,
                 detail="; ".join(f"{e.get('count')} of {e.get('total')} in {e.get('table')}"
                                  for e in entries))
    return entries


def check_password(user, password, action, ip=""):
    """A "confirm with your password" form (activate, change sync owner, deactivate,
    restore): `user` typed their own `password` to do `action` (an audit action name)?
    Wrong guesses count toward the same lockout as wrong passwords at sign-in
    (staff_auth.check_current_password: after config.LOCK_AFTER_FAILURES in a row the
    account is locked and its sessions end). Raises SyncRefused("wrong_password") or
    SyncRefused("locked", outcome="locked_now"|"locked"); each refusal is audited as
    `action`.refused."""
    outcome = staff_auth.confirm_password(user, password, action, ip)
    if outcome == "ok":
        return
    if outcome == "wrong":
        raise SyncRefused("wrong_password")
    raise SyncRefused("locked", outcome=outcome)


def run_sync(config, clock=utcnow, interrupt=None, node=None):
    """One cycle now, if the sync is active and this process holds (or can take) the sync
    lease. Opens the business database with the stored settings, runs the cycle (the first
    sync while none has finished) and closes it. A business database that cannot be opened
    is an Error line in the sync log saying why. Returns the SyncRun line, or None when the
    sync is inactive, another process holds the lease or a cycle of this process is
    running now."""
    if not _ONE_CYCLE.acquire(blocking=False):
        return None          # a cycle of this process is running now
    try:
        return _run_sync(config, clock, interrupt, node)
    finally:
        _ONE_CYCLE.release()


def _run_sync(config, clock, interrupt, node):
    current = state()
    if not current.active:
        return None
    node = node or jobs.NODE_ID
    ttl = nodes.lease_ttl(config)
    if not nodes.claim(node, clock(), ttl):    # the sync computer's rule (issue 17 item 2)
        return None
    try:
        found = connection(config["DATA_DIR"], current)
    except secret.SecretUnreadable:
        return engine.error_line(node, {"code": "password_unreadable"}, clock)
    except MappingError as problem:
        return engine.error_line(node, {"code": "mapping", "problem": problem.code,
                                        **problem.params}, clock)
    except SyncRefused:
        return None
    try:
        database = open_business(found.url, found.password)
    except BusinessDatabaseError as problem:
        log.warning("sync: the business database cannot be used: %s", problem.code)
        return engine.error_line(node, {"code": problem.code, **problem.params}, clock)
    try:
        if current.first_sync_done_at is None:      # the exclusive first sync, with progress
            return first_sync.run(database, found.layout, node, clock=clock,
                                  interrupt=interrupt, ttl=ttl)
        return engine.run_cycle(database, found.layout, node=node, clock=clock,
                                interrupt=interrupt, ttl=ttl,
                                mass_delete=(config.get("SYNC_MASS_DELETE_MIN", 20),
                                             config.get("SYNC_MASS_DELETE_PERCENT", 10)))
    finally:
        database.close()


def claim_for_job(holder, config):
    """Whether the scheduled sync job of `holder` (this process) runs now (kontor/jobs.py
    CLAIMS): while the sync is active, by the sync computer's rule (nodes.claim, which
    takes the sync lease); while it is not, whoever holds the job's lease (nothing syncs;
    the lease row records the job's runs)."""
    if not state().active:
        return jobs.take_lease(engine.LEASE_NAME, holder, timedelta(minutes=2))
    return nodes.claim(holder, utcnow(), nodes.lease_ttl(config))


def sync_job(config):
    """The scheduled job's body (kontor/jobs.py, every SYNC_SECONDS)."""
    run = run_sync(config)
    if run is not None and run.status == "error":
        log.warning("sync run %s ended with an error: %s", run.id, run.error[:200])


def error_of(run) -> dict:
    """The Error line's problem as a dict ({} for an OK line)."""
    return json.loads(run.error) if run.error else {}


def last_runs(limit=50):
    """The newest sync log lines first."""
    return list(SyncRun.select().order_by(SyncRun.id.desc()).limit(limit))


def syncing_elsewhere(clock=utcnow):
    """The node id of another Kontor process that holds the sync lease now (its cycles do
    the work: this process's job waits), or None."""
    lease = JobLease.get_or_none(JobLease.name == engine.LEASE_NAME)
    if lease is not None and lease.holder != jobs.NODE_ID and lease.expires_at is not None \
            and lease.expires_at > clock():
        return lease.holder
    return None


def wait_for_cycle(since, timeout, clock=utcnow, sleep=time.sleep, poll=0.5):
    """`flask sync-now` while another Kontor process (the running server) holds the sync
    lease: that process syncs every KONTOR_SYNC_SECONDS, so wait up to `timeout` seconds for
    a cycle of it that ends at or after `since` (naive UTC, `clock`'s time) and return its
    log line (a quiet cycle folded into an earlier line: that line). A cycle under way at
    `since` may have passed a change made just before, so then the one after it is waited
    for. None when none ended in time or the sync was deactivated meanwhile."""
    deadline = time.monotonic() + timeout
    busy = SyncRun.select().where(SyncRun.status == "running").exists()
    while True:
        found = (SyncRun.select().where(SyncRun.finished_at >= since,
                                        SyncRun.status != "running")
                 .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc()).first())
        if found is not None and not busy:
            return found
        if found is not None:        # the cycle under way ended: now the next one
            busy, since = False, found.finished_at + timedelta(microseconds=1)
            continue
        if time.monotonic() >= deadline or not state().active:
            return None
        sleep(poll)


def node_names(node_ids) -> dict:
    """{node id: (computer name, process id or None)} for the nodes of sync log lines: the
    registered SyncNode when there is one, else read from the id itself (jobs.NODE_ID is
    "computer:pid:random"); an id of another form is its own name."""
    ids = sorted(set(node_ids))
    found = {node.node_id: (node.computer, node.pid or None) for node in
             SyncNode.select().where(SyncNode.node_id.in_(ids))} if ids else {}
    for node in ids:
        if node not in found:
            parts = node.rsplit(":", 2)
            found[node] = (parts[0], int(parts[1])) if len(parts) == 3 and parts[0] \
                and parts[1].isdigit() else (node, None)
    return found


def stopped_since(clock=utcnow, interval_seconds=None):
    """When the sync service stopped, or None while it runs (issue 16 item 4): the sync is
    active, but the "sync" job has not finished a run for longer than
    `stopped_after(interval_seconds)` (a minute, or three intervals; its lease's
    `last_run_at`; the activation time when it never ran), and no cycle is under way (a
    "running" log line started less than the lease's time ago: a long first sync is not a
    stopped service). A naive UTC datetime."""
    current = state()
    if not current.active:
        return None
    now = clock()
    lease = JobLease.get_or_none(JobLease.name == engine.LEASE_NAME)
    last = lease.last_run_at if lease is not None else None
    if last is not None and last >= now - stopped_after(interval_seconds):
        return None
    running = SyncRun.select().where(SyncRun.status == "running",
                                     SyncRun.started_at >= now - engine.LEASE_TTL).exists()
    if running:
        return None
    since = max(filter(None, (last, current.activated_at)), default=None)
    return since or now


def prune_log(days, clock=utcnow):
    """Delete the sync log lines that ended more than `days` days ago (KONTOR_SYNC_LOG_DAYS,
    30 by default; issue 16 item 4). The sync history keeps its entries (their `run` is
    cleared). Returns how many lines went."""
    cutoff = clock() - timedelta(days=max(1, days))
    old = SyncRun.select(SyncRun.id).where(       # started_at's index bounds the search
        SyncRun.started_at < cutoff,
        SyncRun.finished_at.is_null() | (SyncRun.finished_at < cutoff))
    with db.atomic():
        SyncConflict.update(run=None).where(SyncConflict.run.in_(old)).execute()
        return SyncRun.delete().where(SyncRun.id.in_(old)).execute()


def prune_job(config):
    """The hourly job's body: prune the sync log (prune_log with SYNC_LOG_DAYS)."""
    pruned = prune_log(config.get("SYNC_LOG_DAYS", DEFAULT_LOG_DAYS))
    if pruned:
        log.info("pruned %d old sync log lines", pruned)


DEFAULT_LOG_DAYS = 30
