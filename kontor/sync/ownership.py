"""Who answers for the sync, and ending it (SPEC section 8; issue 17 items 3 and 4): another
superuser becomes the sync owner by confirming with their own password; `flask sync-owner`
hands ownership over from the server; the business database's password is replaced only
after a connection test with the new one passed; the owner deactivates the sync, which
deletes Kontor's copies of the synced business data in one transaction; only the user who
was the owner reactivates it (service.activate enforces that), which is a fresh first sync.

Nothing here imports Flask; the pages (blueprints/sync_admin.py) and the CLI call these.
"""
from kontor import audit
from kontor.sync import secret
from kontor.sync.business import BusinessDatabaseError, try_connection
from kontor.sync.layout import MappingError, parse_mapping
from kontor.sync.service import SyncRefused, check_password, state
from models import (
    Contact,
    ContactPerson,
    Employee,
    JobLease,
    NoteEntry,
    Order,
    SupportCase,
    SyncBase,
    SyncBinding,
    SyncConflict,
    SyncState,
    User,
    WebAccount,
    db,
)
from models.clock import utcnow

LEASE_NAME = "sync"
SYNCED = ("employees", "contacts", "contact_persons", "note_entries")


def confirm_password(user, password, action, ip=""):
    """Check that `user` (a superuser) typed their own `password` to do `action` (an audit
    action name). Raises SyncRefused("not_superuser"), ("wrong_password") or ("locked":
    too many wrong passwords, as at sign-in; service.check_password); each refusal is
    audited as `action`.refused."""
    if not user.is_superuser:
        audit.record(f"{action}.refused", user, detail="not_superuser", ip=ip)
        raise SyncRefused("not_superuser")
    check_password(user, password, action, ip)


def become_owner(user, password, ip=""):
    """Change sync user: `user`, another superuser, becomes the sync owner by confirming with
    their own `password`. Only while the sync is active (a deactivated sync is reactivated
    by its owner only; `flask sync-owner` is the way out when the owner has left). Raises
    SyncRefused ("not_superuser", "wrong_password", "inactive", "already_owner"). Audited
    with the former owner."""
    confirm_password(user, password, "sync.owner", ip)
    current = state()
    if not current.active:
        raise SyncRefused("inactive")
    if current.owner_id == user.id:
        raise SyncRefused("already_owner")
    _set_owner(user, current, ip, how="confirmed with their password")
    return state()


def hand_over(email, ip=""):
    """`flask sync-owner EMAIL`: whoever can run commands on the server makes the active
    superuser with this e-mail address the sync owner (also of a deactivated sync, so that
    the firm is never locked out of its own sync). Raises SyncRefused ("no_sync": never
    set up; "unknown_user"; "not_superuser": no active superuser). Audited. Returns the
    new owner."""
    current = SyncState.get_or_none(SyncState.id == 1)
    if current is None:
        raise SyncRefused("no_sync")
    user = User.get_or_none(User.email == (email or "").strip().lower())
    if user is None:
        raise SyncRefused("unknown_user")
    if not (user.is_superuser and user.is_active):
        raise SyncRefused("not_superuser")
    _set_owner(user, current, ip, how="handed over on the server (flask sync-owner)")
    return user


def _set_owner(user, current, ip, how):
    former = User.get_or_none(User.id == current.owner_id) if current.owner_id else None
    with db.atomic():
        SyncState.update(owner=user.id, version=SyncState.version + 1,
                         updated_at=utcnow()).where(SyncState.id == 1).execute()
        audit.record("sync.owner", user, target=user.email, ip=ip,
                     detail=f"from {former.email if former else '-'}; {how}")


def update_password(data_dir, user, new_password, ip=""):
    """Update password: the business database's new password replaces the stored one only
    after a connection test with it passed (until then every run logs the refused login).
    Allowed while the sync is active (that is what it is for). Raises SyncRefused
    ("not_superuser", "no_settings", "connection" with `problem`). Audited, without the
    password. Returns the business.Report of the test."""
    if not user.is_superuser:
        raise SyncRefused("not_superuser")
    current = state()
    if not current.business_url:
        raise SyncRefused("no_settings")
    try:
        report = try_connection(current.business_url, new_password or "",
                                parse_mapping(current.mapping))
    except (BusinessDatabaseError, MappingError) as problem:
        audit.record("sync.password.refused", user, target=current.business_url, ip=ip,
                     detail=f"connection: {problem.code}")
        raise SyncRefused("connection", problem=problem) from None
    with db.atomic():
        SyncState.update(business_password=secret.seal(data_dir, new_password or ""),
                         tested_at=utcnow(), version=SyncState.version + 1,
                         updated_at=utcnow()).where(SyncState.id == 1).execute()
        audit.record("sync.password", user, target=current.business_url, ip=ip)
    return report


def check_may_deactivate(user, password, ip=""):
    """Step 1 of the deactivate wizard: only the sync owner, confirming with their password.
    Raises SyncRefused ("not_superuser", "wrong_password", "inactive", "not_owner")."""
    confirm_password(user, password, "sync.deactivate", ip)
    current = state()
    if not current.active:
        raise SyncRefused("inactive")
    if current.owner_id != user.id:
        audit.record("sync.deactivate.refused", user, detail="not_owner", ip=ip)
        raise SyncRefused("not_owner")


def what_goes():
    """What deactivating deletes and keeps, counted: {"employees", "contacts",
    "contact_persons", "note_entries"} to delete, and {"kept_employees": employees linked to
    a user, "kept_contacts": contacts that support cases, orders or portal accounts belong
    to: Kontor's own records of the customer stay linked}. The copies are the records
    the sync bound (records never synced stay, and a later first sync offers them to the
    business database)."""
    plan = _plan()
    return {**{entity: len(ids) for entity, ids in plan["delete"].items()},
            "kept_employees": len(plan["kept_employees"]),
            "kept_contacts": len(plan["kept_contacts"])}


def _bound(entity):
    return [kontor_id for (kontor_id,) in SyncBinding.select(SyncBinding.kontor_id)
            .where(SyncBinding.entity == entity).tuples()]


def _plan():
    bound = {entity: set(_bound(entity)) for entity in SYNCED}
    users_employees = {e for (e,) in User.select(User.employee).where(
        User.employee.is_null(False)).tuples()}
    in_use = set()
    for model in (SupportCase, Order, WebAccount):
        in_use |= {c for (c,) in model.select(model.contact).where(
            model.contact.is_null(False)).distinct().tuples()}
    kept_employees = bound["employees"] & users_employees
    kept_contacts = bound["contacts"] & in_use
    return {"delete": {"employees": bound["employees"] - kept_employees,
                       "contacts": bound["contacts"] - kept_contacts,
                       "contact_persons": bound["contact_persons"],
                       "note_entries": bound["note_entries"]},
            "kept_employees": kept_employees, "kept_contacts": kept_contacts}


def _delete_ids(model, ids):
    ids = sorted(ids)
    for start in range(0, len(ids), 500):
        model.delete().where(model.id.in_(ids[start:start + 500])).execute()


def deactivate(user, ip="", fail_after=None):
    """Step 2 of the wizard: stop the sync and delete, in one transaction, Kontor's copies of
    the synced business data (the bound employees, contacts, contact persons and note
    entries) with the sync's bindings, agreed states and history, except the company details
    and user access (users and the employees they are linked to) and the contacts that
    support cases, orders or portal accounts belong to. The sync lease is ended, so a cycle
    under way cannot commit (fencing). The owner stays recorded: only they may reactivate.
    `fail_after(step)` is a test's hook to fail half-way (the transaction then leaves
    everything as it was).
    Raises SyncRefused ("not_superuser", "inactive", "not_owner"). Audited with the counts.
    Returns what_goes()'s counts of what went."""
    current = state()
    if not user.is_superuser:
        raise SyncRefused("not_superuser")
    if not current.active:
        raise SyncRefused("inactive")
    if current.owner_id != user.id:
        raise SyncRefused("not_owner")
    fail = fail_after or (lambda step: None)
    now = utcnow()
    with db.atomic():
        plan = _plan()
        counts = {**{entity: len(ids) for entity, ids in plan["delete"].items()},
                  "kept_employees": len(plan["kept_employees"]),
                  "kept_contacts": len(plan["kept_contacts"])}
        SyncState.update(active=False, deactivated_at=now, first_sync_done_at=None,
                         taken_over_from="", taken_over_at=None,
                         version=SyncState.version + 1, updated_at=now).where(
            SyncState.id == 1).execute()
        JobLease.update(holder="", expires_at=now).where(JobLease.name == LEASE_NAME).execute()
        fail("stopped")
        _delete_ids(NoteEntry, plan["delete"]["note_entries"])
        _delete_ids(ContactPerson, plan["delete"]["contact_persons"])
        fail("persons")
        _delete_ids(Contact, plan["delete"]["contacts"])
        _delete_ids(Employee, plan["delete"]["employees"])
        fail("records")
        SyncBinding.delete().execute()
        SyncBase.delete().execute()
        SyncConflict.delete().execute()
        fail("bindings")
        audit.record("sync.deactivate", user, ip=ip, detail=", ".join(
            f"{name} {count}" for name, count in counts.items()))
    return counts
