"""The exclusive first sync (SPEC section 8; issue 17 item 1; seed 000: "you cannot use the
program during the first sync, and other users must not be signed in"). Nothing here imports
Flask; the pages (blueprints/first_sync.py), the sync (kontor/sync/service.py) and `flask
sync-now` call these functions.

- **Nobody else signed in.** Activation is refused while any other staff user or any portal
  customer has a live session (`others_signed_in`); the superuser may end those sessions
  (`end_sessions`), audited.
- **Nobody else signs in while it runs** (`running`, `may_work`): only the sync owner (or,
  when the owner's account is gone, a superuser) gets past the maintenance page.
- **Progress that survives a restart.** The first sync is the engine's first cycle, written in
  batches (kontor/sync/engine.py); each batch commits its bindings, so an interrupted first
  sync continues where it stopped (a bound, unchanged record is skipped). `run` counts, per
  table, the records to sync when a run starts and the records done after each batch into
  `sync_first_progress` (migration 0027); `progress` reads them back with an estimate of the
  time left from the rate of the current run.
"""
import json
import logging
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import fn

from kontor import audit, jobs
from kontor.sync import engine
from kontor.sync.kontor_side import ADAPTERS
from kontor.sync.layout import business_models
from models import (
    SyncBinding,
    SyncFirstProgress,
    SyncRun,
    SyncState,
    User,
    UserSession,
    WebAccount,
    Website,
    db,
    is_sqlite,
    with_employee,
)
from models.clock import utcnow
from models.db import Prepared

log = logging.getLogger("kontor.sync")

# Set when the process is about to stop (app.main, on SIGTERM or Ctrl+C): a first sync under
# way stops after the batch it is writing, so that the shutdown does not wait for all of it
# and the lease is let go at once; the next process goes on from there.
STOPPING = threading.Event()
SAVE_SECONDS = 1.0            # the progress rows are written at most this often during a run
STALLED_AFTER = timedelta(minutes=2)    # no batch for this long: the run is not working now
RETRY_AFTER_DEFAULT = 120     # seconds, when no estimate can be made yet
RETRY_AFTER_MIN, RETRY_AFTER_MAX = 30, 3600
ESTIMATE_AFTER = timedelta(seconds=3)   # the rate of a run is measured after this much time


# --- who may work ---------------------------------------------------------------------------

_SYNC_STATE = Prepared(lambda: SyncState.select().where(SyncState.id == 1))


def sync_state():
    """The SyncState row, or None before the sync's settings were first saved. Read on every
    request (the maintenance gate), so its SQL is written once (models.db.Prepared)."""
    rows = _SYNC_STATE()
    return rows[0] if rows else None


UNREAD = object()     # "the caller has not read the SyncState": None means there is none


def running(current=UNREAD) -> bool:
    """Whether the first sync is under way: the sync is active and its first sync has not
    finished. `current` is the SyncState (read when not given; None: no sync set up)."""
    current = sync_state() if current is UNREAD else current
    return bool(current is not None and current.active and current.first_sync_done_at is None)


def may_work(user, current) -> bool:
    """Whether the staff `user` (a User) may use Kontor while the first sync of `current` (the
    SyncState) runs: the sync owner only; when the owner's account is gone, a superuser (so
    the firm is never locked out). Portal customers never may."""
    if not isinstance(user, User) or not user.is_active:
        return False
    if current.owner_id is None:
        return bool(user.is_superuser)
    return user.id == current.owner_id


# --- who is signed in -----------------------------------------------------------------------

@dataclass
class SignedIn:
    """One live session of someone else: `portal` for a customer on a website's portal (then
    `website` names it); `since` (naive UTC) the sign-in, `user_agent` the browser's header."""
    session_id: int
    name: str
    email: str
    since: object
    last_seen: object
    user_agent: str
    portal: bool = False
    website: str = ""


def _live(now, idle_minutes, absolute_hours):
    """The conditions of a session that is live now: not ended, and within both timeouts
    (a row the per-minute job has not ended yet counts as ended when its time is up)."""
    return ((UserSession.ended_at.is_null())
            & (UserSession.last_seen_at >= now - timedelta(minutes=idle_minutes))
            & (UserSession.created_at > now - timedelta(hours=absolute_hours)))


def others_signed_in(user_id, idle_minutes, absolute_hours, now=None) -> list:
    """The live sessions of every staff user but `user_id` and of every portal customer,
    the latest sign-in first: [SignedIn]. The timeouts are the app's (IDLE_MINUTES,
    ABSOLUTE_HOURS), so a session past them does not count even before the job ends it."""
    now = now or utcnow()
    live = _live(now, idle_minutes, absolute_hours)
    found = []
    staff = (with_employee(UserSession.select(UserSession, User).join(User))
             .where(live, UserSession.realm == "staff", UserSession.user.is_null(False),
                    UserSession.user != user_id))
    for row in staff:
        found.append(SignedIn(row.id, row.user.display_name, row.user.email, row.created_at,
                              row.last_seen_at, row.user_agent))
    customers = (UserSession.select(UserSession, WebAccount, Website)
                 .join(WebAccount, on=(UserSession.web_account == WebAccount.id))
                 .switch(UserSession).join(Website, on=(UserSession.website == Website.id))
                 .where(live, UserSession.realm == "portal",
                        UserSession.web_account.is_null(False)))
    for row in customers:
        account = row.web_account
        found.append(SignedIn(row.id, account.name or account.email, account.email,
                              row.created_at, row.last_seen_at, row.user_agent, portal=True,
                              website=row.website.name))
    found.sort(key=lambda item: (item.since, item.session_id), reverse=True)
    return found


def end_sessions(by, idle_minutes, absolute_hours, session_id=None, ip="") -> list:
    """End the sessions that stand in the way of the first sync, as the superuser `by` asks
    from Sync settings: the one `session_id` (which must be one of `others_signed_in`), or
    every one of them. Each is audited ("session.ended", detail "first sync"). Returns the
    SignedIn entries ended ([] when `session_id` is not one of them)."""
    ended = []
    for other in others_signed_in(by.id, idle_minutes, absolute_hours):
        if session_id is not None and other.session_id != session_id:
            continue
        with db.atomic():
            done = (UserSession.update(ended_at=utcnow(), end_reason="ended_by_admin")
                    .where(UserSession.id == other.session_id, UserSession.ended_at.is_null())
                    .execute())
            if done:
                audit.record("session.ended", by, target=other.email, ip=ip,
                             detail="first sync" + (f"; portal {other.website}"
                                                    if other.portal else ""))
                ended.append(other)
    return ended


# --- running it -----------------------------------------------------------------------------

def _kontor_model(entity):
    return ADAPTERS[entity].model


def _bound(entity):
    return SyncBinding.select().where(SyncBinding.entity == entity).count()


def begin(database, layout, clock=utcnow):
    """Count what the first sync has to do, as a run of it starts (or starts again after an
    interruption): per table, the business table's rows and Kontor's records not bound yet;
    done: those bound. Rows of an earlier first sync (before the current activation) are
    replaced; a table finished by an earlier run of this one stays finished. The counts of a
    table that cannot be read are left as they were (the cycle's Error line says why)."""
    now = clock()
    current = sync_state()
    rows = {row.entity: row for row in SyncFirstProgress.select()}
    stale = current is not None and current.activated_at is not None and any(
        row.started_at < current.activated_at for row in rows.values())
    models = business_models(layout, database)
    fresh = stale or not rows
    started = now if fresh else min(row.started_at for row in rows.values())
    with db.atomic():
        if stale:
            SyncFirstProgress.delete().execute()
            rows = {}
        for entity in engine.ORDER:
            row = rows.get(entity)
            if row is not None and row.finished_at is not None:
                continue
            bound = _bound(entity)
            try:
                business = models[entity].select().count()
            except Exception:      # noqa: BLE001 - the cycle reports the problem itself
                business = row.total if row is not None else 0
            unbound = max(0, _kontor_model(entity).select().count() - bound)
            values = dict(total=max(business + unbound, bound), done=bound,
                          done_at_resume=bound, started_at=started, resumed_at=now,
                          updated_at=now, finished_at=None)
            if row is None:
                SyncFirstProgress.create(entity=entity, **values)
            else:
                SyncFirstProgress.update(**values).where(
                    SyncFirstProgress.entity == entity).execute()
        if fresh:
            audit.record("sync.first_sync.started", current.owner_id if current else None,
                         detail=", ".join(f"{row.entity} {row.total}"
                                          for row in SyncFirstProgress.select()))


class Recorder:
    """The engine's `on_progress` for a first sync: after a batch, the table's records done
    (its bindings), written at most every SAVE_SECONDS; a finished table is written at once,
    with its total set to what was done (records the log names as not synced are left out)."""

    def __init__(self, clock=utcnow):
        self.clock = clock
        self.saved = {}

    def __call__(self, entity, finished):
        if STOPPING.is_set():
            self.flush()
            raise engine.Interrupted("shutdown")
        moment = time.monotonic()
        if not finished and moment - self.saved.get(entity, -math.inf) < SAVE_SECONDS:
            return
        self.saved[entity] = moment
        self.save(entity, finished)

    def save(self, entity, finished=False):
        bound, now = _bound(entity), self.clock()
        greatest = fn.MAX if is_sqlite() else fn.GREATEST     # the larger of two values
        values = dict(done=bound, updated_at=now,
                      total=bound if finished else greatest(SyncFirstProgress.total, bound))
        if finished:
            values["finished_at"] = now
        with db.atomic():
            SyncFirstProgress.update(**values).where(
                SyncFirstProgress.entity == entity,
                SyncFirstProgress.finished_at.is_null()).execute()

    def flush(self):
        """Write every unfinished table's records done now (after a run stopped)."""
        for entity in engine.ORDER:
            self.save(entity)


def first_sync_finished(run) -> bool:
    """Whether `run` (a SyncRun of the first sync) went through every table: OK, or an Error
    that only names records that could not be synced (they are retried every cycle and shown
    in the sync log; holding everyone out for them would lock the firm out of Kontor)."""
    if run is None or run.status == "running":
        return False
    if run.status == "ok":
        return True
    try:
        return json.loads(run.error or "{}").get("code") == "records"
    except ValueError:
        return False


def run(database, layout, node, clock=utcnow, interrupt=None, ttl=None):
    """Run (or continue) the first sync with the business `database` (connected) of `layout`
    as `node`, if it holds or can take the sync lease: count what is to do (`begin`), run the
    engine's first cycle, recording the progress after each batch, and mark the first sync
    done (SyncState.first_sync_done_at, audited) when it went through. Returns the SyncRun
    line, or None when another process holds the lease. `ttl`: the lease time (a timedelta;
    default the engine's 15 minutes)."""
    ttl = ttl or engine.LEASE_TTL
    if not jobs.take_lease(engine.LEASE_NAME, node, ttl, now=clock()):
        return None
    begin(database, layout, clock)
    recorder = Recorder(clock)
    try:
        line = engine.run_cycle(database, layout, node=node, first=True, clock=clock,
                                interrupt=interrupt, on_progress=recorder, ttl=ttl)
    except engine.Interrupted:
        if not STOPPING.is_set():
            raise
        log.info("the first sync stops for the shutdown; the next start goes on from here")
        return SyncRun.select().order_by(SyncRun.id.desc()).first()
    finally:
        recorder.flush()
    if first_sync_finished(line):
        with db.atomic():
            SyncState.update(first_sync_done_at=clock()).where(SyncState.id == 1).execute()
            current = sync_state()
            audit.record("sync.first_sync.done", current.owner_id if current else None,
                         detail=f"run {line.id} {line.status}; read {line.read}")
    return line


@contextmanager
def stopping():
    """While the process shuts its scheduler down: a first sync under way in this process
    stops after its current batch (see STOPPING). Cleared afterwards, so that an app served
    again in the same process (the tests) syncs as before."""
    STOPPING.set()
    try:
        yield
    finally:
        STOPPING.clear()


# --- progress -------------------------------------------------------------------------------

@dataclass
class TableProgress:
    entity: str
    done: int
    total: int
    finished: bool

    @property
    def percent(self):
        if self.finished or not self.total:
            return 100 if self.finished else 0
        return min(99, self.done * 100 // self.total)


@dataclass
class Progress:
    """The first sync as the progress page and `flask sync-now` show it: per table (in the
    engine's order) records done of total, the sums, when it started and finished (naive
    UTC; None when not yet), `working` (a run is under way and wrote a batch lately),
    `seconds_left` (an estimate from the current run's rate; None when none can be made)."""
    tables: list = field(default_factory=list)
    started_at: object = None
    finished_at: object = None
    working: bool = False
    seconds_left: int | None = None

    @property
    def done(self):
        return sum(table.done for table in self.tables)

    @property
    def total(self):
        return sum(table.total for table in self.tables)

    @property
    def percent(self):
        if self.finished_at is not None:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0


def progress(current=UNREAD, clock=utcnow) -> Progress:
    """The first sync's progress now (see Progress). `current`: the SyncState (read when not
    given; None: no sync set up)."""
    current = sync_state() if current is UNREAD else current
    now = clock()
    rows = {row.entity: row for row in SyncFirstProgress.select()}
    if current is not None and current.activated_at is not None and any(
            row.started_at < current.activated_at for row in rows.values()):
        rows = {}        # an earlier first sync's: this one has not started yet
    shown = Progress(finished_at=current.first_sync_done_at if current is not None else None)
    for entity in engine.ORDER:
        row = rows.get(entity)
        if row is not None:
            finished = row.finished_at is not None or shown.finished_at is not None
            shown.tables.append(TableProgress(entity, row.total if finished else row.done,
                                              row.total, finished))
    if not rows:
        return shown
    shown.started_at = min(row.started_at for row in rows.values())
    if shown.finished_at is not None:
        return shown
    latest = max(row.updated_at for row in rows.values())
    shown.working = latest >= now - STALLED_AFTER and SyncRun.select().where(
        SyncRun.first == True, SyncRun.status == "running",     # noqa: E712 - SQL
        SyncRun.started_at >= now - engine.LEASE_TTL).exists()
    resumed = min(row.resumed_at for row in rows.values())
    elapsed = (now - resumed).total_seconds()
    gained = sum(row.done - row.done_at_resume for row in rows.values())
    left = max(0, shown.total - shown.done)
    if shown.working and gained > 0 and now - resumed >= ESTIMATE_AFTER:
        shown.seconds_left = int(math.ceil(left * elapsed / gained))
    return shown


def retry_after(shown: Progress) -> int:
    """Seconds for the maintenance page's Retry-After: the estimate of the time left, within
    RETRY_AFTER_MIN and RETRY_AFTER_MAX (RETRY_AFTER_DEFAULT when there is none)."""
    seconds = shown.seconds_left if shown.seconds_left is not None else RETRY_AFTER_DEFAULT
    return max(RETRY_AFTER_MIN, min(RETRY_AFTER_MAX, int(seconds)))
