"""The sync computer (SPEC section 8; issue 17 item 2): every Kontor process registers itself
(computer name, process id, last seen; renewed by a job every process runs), the superuser
chooses one on Sync settings, and the chosen one syncs. If it stops renewing the sync's lease
(switched off, killed, hung), another process takes over once the lease has expired (15
minutes, `KONTOR_SYNC_LEASE_SECONDS`), the takeover is recorded (shown on Sync settings,
audited, an alert e-mail) and the sync log names the computer that ran each line.

Nothing here imports Flask. Times are naive UTC from the caller's clock, so tests move them.

The rule a process follows before each cycle (`claim`):
- no computer chosen, or this process is the chosen one: take or renew the lease;
- another is chosen: take the lease only when the chosen one is down: it holds the lease and
  stopped renewing it (the lease expired), or it has not been seen for the lease time;
- a process that took over keeps the lease until the chosen computer's Kontor is started
  again after the takeover; then, as any other process holding the lease while the chosen
  one is there (say, from before the choice), it lets the lease go;
- `jobs.take_lease` then still waits for any other holder's lease to expire, and moves the
  epoch on at a takeover, so the former holder's writes are refused (engine.Cycle.fence).
"""
import logging
import os
import socket
from datetime import timedelta

from kontor import alerts, audit, jobs
from models import JobLease, SyncNode, SyncRun, SyncState, db
from models.clock import utcnow

log = logging.getLogger("kontor.sync")
LEASE_NAME = "sync"                         # the same row as engine.LEASE_NAME
DEFAULT_LEASE = timedelta(minutes=15)       # SPEC section 8: another takes over after this
HEARTBEAT_SECONDS = 60                      # how often each process says it is there
FORGET_AFTER = timedelta(days=7)            # nodes not seen for this long leave the list


def lease_ttl(config) -> timedelta:
    """The sync lease's time (`SYNC_LEASE_SECONDS` of the config; 15 minutes by default)."""
    seconds = (config or {}).get("SYNC_LEASE_SECONDS")
    return timedelta(seconds=seconds) if seconds else DEFAULT_LEASE


def _process_runs(pid) -> bool:
    """Whether a process `pid` runs on this computer (a signal 0 reaches it)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register(node_id=None, computer=None, pid=None, now=None):
    """Say that the process `node_id` (this one: jobs.NODE_ID) on `computer` (this computer's
    name) is there now: insert or renew its SyncNode row, forget nodes not seen for a week.
    When the chosen sync computer is an earlier Kontor process on this same computer that no
    longer runs (Kontor was restarted), this process becomes the chosen one, so a restart
    does not hand the sync to another computer. Returns the SyncNode."""
    node_id = node_id or jobs.NODE_ID
    computer = computer or socket.gethostname()
    pid = os.getpid() if pid is None else pid
    now = now or utcnow()
    with db.atomic():
        updated = (SyncNode.update(last_seen_at=now, computer=computer, pid=pid)
                   .where(SyncNode.node_id == node_id).execute())
        if not updated:
            SyncNode.insert(node_id=node_id, computer=computer, pid=pid, started_at=now,
                            last_seen_at=now).on_conflict_ignore().execute()
        SyncNode.delete().where(SyncNode.last_seen_at < now - FORGET_AFTER).execute()
        state = SyncState.get_or_none(SyncState.id == 1)
        if state is not None and state.node and state.node != node_id:
            chosen = SyncNode.get_or_none(SyncNode.node_id == state.node)
            if chosen is not None and chosen.computer == computer \
                    and chosen.pid != pid and not _process_runs(chosen.pid):
                SyncState.update(node=node_id).where(SyncState.id == 1).execute()
                audit.record("sync.node.restarted", target=computer,
                             detail=f"{state.node} -> {node_id}")
    return SyncNode.get(SyncNode.node_id == node_id)


def heartbeat_job(config):
    """The job every process runs (not under a lease): register this process."""
    register()


def known_nodes():
    """Every registered process, the most recently seen first."""
    return list(SyncNode.select().order_by(SyncNode.last_seen_at.desc(), SyncNode.id))


def node_label(node_id) -> str:
    """A node as a person names it: its computer's name, with the process id when another
    registered process runs on the same computer ("kantoor-pc (4711)"). An unknown node
    (forgotten, or written before registration) is named from its id (host:pid:random)."""
    if not node_id:
        return ""
    node = SyncNode.get_or_none(SyncNode.node_id == node_id)
    if node is None:
        parts = node_id.split(":")
        return f"{parts[0]} ({parts[1]})" if len(parts) >= 2 else node_id
    shared = (SyncNode.select().where(SyncNode.computer == node.computer,
                                      SyncNode.node_id != node_id).exists())
    return f"{node.computer} ({node.pid})" if shared else node.computer


def holder(now=None):
    """The node holding the sync lease now ("" when nobody holds a valid one)."""
    now = now or utcnow()
    lease = JobLease.get_or_none(JobLease.name == LEASE_NAME)
    if lease is None or not lease.holder or lease.expires_at < now:
        return ""
    return lease.holder


def is_alive(node, now, within) -> bool:
    return node is not None and node.last_seen_at >= now - within


def chosen_is_down(state, lease, now, ttl) -> bool:
    """Whether the chosen sync computer is down: it held the lease and stopped renewing it
    (expired), or it has not been seen for the lease time `ttl`."""
    chosen = SyncNode.get_or_none(SyncNode.node_id == state.node)
    if not is_alive(chosen, now, ttl):
        return True
    return lease is not None and lease.holder == state.node and lease.expires_at < now


def claim(node, now, ttl) -> bool:
    """Before a cycle: whether `node` may sync now, by the rule in this module's docstring;
    when it may, it holds the sync lease (taken or renewed until `now` + `ttl`). A takeover
    from another node that had synced and whose lease expired is recorded
    (`record_takeover`); a lease the scheduled job held while the sync was off is none."""
    state = SyncState.get_or_none(SyncState.id == 1)
    chosen = state.node if state is not None else ""
    lease = JobLease.get_or_none(JobLease.name == LEASE_NAME)
    if chosen and chosen != node:
        mine = lease is not None and lease.holder == node and lease.expires_at >= now
        kept = mine and state.taken_over_at is not None \
            and not _chosen_came_back(state, now, ttl)
        if not chosen_is_down(state, lease, now, ttl) and not kept:
            if mine:
                give_back(node, now)    # the chosen one is there: it takes the lease next
            return False
    before = (lease.holder, lease.expires_at) if lease is not None else ("", None)
    if not jobs.take_lease(LEASE_NAME, node, ttl, now=now):
        return False
    if before[0] and before[0] != node and before[1] is not None and before[1] < now \
            and SyncRun.select().where(SyncRun.node == before[0]).exists():
        record_takeover(before[0], node, now)     # it had synced: a real takeover
    elif chosen == node and state.taken_over_at is not None:
        with db.atomic():     # the chosen computer syncs again: the takeover is over
            SyncState.update(taken_over_from="", taken_over_at=None).where(
                SyncState.id == 1).execute()
    return True


def _chosen_came_back(state, now, ttl) -> bool:
    """The chosen computer's Kontor runs again since the last takeover: it was seen lately
    and started after the takeover (a hung process that never stopped is not "back")."""
    chosen = SyncNode.get_or_none(SyncNode.node_id == state.node)
    return (is_alive(chosen, now, timedelta(seconds=3 * HEARTBEAT_SECONDS))
            and chosen.started_at > state.taken_over_at)


def give_back(node, now):
    """Let go of the sync lease `node` holds: it expires now and has no holder, so whoever
    takes it next moves the epoch on (fencing `node`), and that is no takeover."""
    with db.atomic():
        JobLease.update(holder="", expires_at=now - timedelta(seconds=1)).where(
            JobLease.name == LEASE_NAME, JobLease.holder == node).execute()


def record_takeover(former, node, now):
    """`node` took the sync over from `former`, whose lease had expired: kept on SyncState
    (Sync settings says so), audited, logged, and the superusers get an alert."""
    with db.atomic():
        SyncState.update(taken_over_from=former, taken_over_at=now).where(
            SyncState.id == 1).execute()
        audit.record("sync.node.takeover", target=node_label(node),
                     detail=f"from {node_label(former)} ({former}) to {node}")
    log.warning("sync: %s took over the sync from %s, which stopped renewing its lease",
                node_label(node), node_label(former))
    alerts.sync_computer_changed(node_label(former), node_label(node), now=now)


def choose(node_id, user, ip="", now=None):
    """Make `node_id` the sync computer ("" for any Kontor process). A node that is not
    registered is refused with ValueError. When another node holds the lease, it is ended
    (its holder cleared), so the chosen one takes over at its next cycle and the former
    holder's writes are refused (fencing). Audited. Returns the SyncState."""
    now = now or utcnow()
    if node_id and not SyncNode.select().where(SyncNode.node_id == node_id).exists():
        raise ValueError("unknown node")
    with db.atomic():
        SyncState.insert(id=1).on_conflict_ignore().execute()
        SyncState.update(node=node_id, taken_over_from="", taken_over_at=None,
                         version=SyncState.version + 1, updated_at=now).where(
            SyncState.id == 1).execute()
        if node_id:
            JobLease.update(holder="", expires_at=now - timedelta(seconds=1)).where(
                JobLease.name == LEASE_NAME, JobLease.holder != node_id).execute()
        audit.record("sync.node", user, target=node_label(node_id) or "any", ip=ip,
                     detail=node_id)
    return SyncState.get_by_id(1)
