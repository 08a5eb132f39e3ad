"""Running the sync (issue 17 items 2-4 and 6; SYNC.md tests 10 and 11): the sync computer and
failover with a frozen clock and the lease's fencing, change sync user and `flask sync-owner`,
update password, the deactivate wizard and reactivation by the former owner only, a business
database unchanged row for row after deactivate → reactivate, and the alert e-mails."""
import re
from datetime import datetime, timedelta

import pytest
from helpers import PASSWORD, error_beside, make_user, signed_in, text, text_of
from support_helpers import category, customer, open_case, type_of_request

from kontor import alerts, jobs
from kontor.sync import engine, nodes, ownership, secret, service
from kontor.sync.business import BusinessDatabaseError
from models import (
    AuditEvent,
    Contact,
    ContactPerson,
    Employee,
    JobLease,
    NoteEntry,
    OutboxMessage,
    SyncBase,
    SyncBinding,
    SyncConflict,
    SyncRun,
    SyncState,
    User,
)
from models.clock import utcnow

T0 = datetime(2026, 3, 2, 9, 0, 0)
TTL = nodes.DEFAULT_LEASE
NEW_POSTS = ["/admin/sync/node", "/admin/sync/owner", "/admin/sync/password",
             "/admin/sync/deactivate", "/admin/sync/deactivate/confirm"]


class Clock:
    """An injectable clock (naive UTC) that a test moves."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def move(self, **delta):
        self.now += timedelta(**delta)
        return self.now


def audits(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def activate(client, firm, password=PASSWORD):
    response = client.form("/admin/sync", {"url": firm.url, "password": "", "mapping": "",
                                           "version": str(service.state().version)})
    assert response.status_code == 302, text_of(response)[:500]
    response = client.form("/admin/sync/activate", {"activate-password": password})
    assert response.status_code == 302, text_of(response)[:800]
    assert service.state().active


def filled(firm):
    """A small business database: two employees, two contacts with persons and notes."""
    firm.add("employees", email="joost@bakker.example", name="Joost Bakker")
    firm.add("employees", email="sanne@bakker.example", name="Sanne Visser")
    for number, name in ((20001, "Bakker Techniek B.V."), (20002, "Fjord Rør AS")):
        key = firm.add("contacts", customer_number=number, name=name, phone="+31 30 1")
        person = firm.add("contact_persons", contact_id=key, name=f"Eva {number}",
                          email=f"eva{number}@example.com")
        firm.add("note_entries", contact_id=key, person_id=person, text=f"Called {number}",
                 uid=f"n-{number}", created_at=datetime(2026, 1, 5, 10, 0))
    return firm


def every_row(firm):
    return {entity: firm.rows(entity) for entity in engine.ORDER}


# --- the sync computer: registration, the drop-down, takeover (SYNC.md test 10) -------------

def register(name, pid, now):
    return nodes.register(node_id=f"{name}:{pid}:abcd", computer=name, pid=pid, now=now)


def synced(node, now):
    """`node` ran a cycle (a line in the sync log), as a holder of the lease does."""
    SyncRun.create(node=node, epoch=1, started_at=now, finished_at=now, status="ok")


def test_every_process_registers_and_the_page_offers_them(admin_client, firm):
    register("kantoor-pc", 4711, utcnow())
    register("laptop-anna", 815, utcnow())
    page = admin_client.get("/admin/sync")
    said = text_of(page)
    assert "kantoor-pc, process 4711" in said and "laptop-anna, process 815" in said
    assert "Any Kontor process" in said and "Syncing now No Kontor process at the moment" in said
    response = admin_client.form("/admin/sync/node", {"node-node": "kantoor-pc:4711:abcd"})
    assert response.status_code == 302
    assert service.state().node == "kantoor-pc:4711:abcd"
    assert audits("sync.node")[-1].target == "kantoor-pc"
    said = text_of(admin_client.get("/admin/sync"))
    assert "Chosen kantoor-pc" in said
    # a node that is not registered is refused beside the field
    response = admin_client.form("/admin/sync/node", {"node-node": "elsewhere:1:x"})
    assert response.status_code == 400
    assert error_beside(text(response), "node-node") == "Not a valid choice."


def test_the_chosen_computer_syncs_and_another_takes_over_after_the_lease_time(app, firm,
                                                                                 mailbox):
    make_user("anna@jansen.example", superuser=True, name="Anna Jansen")
    clock = Clock()
    register("kantoor-pc", 999_991, clock())
    register("laptop", 999_992, clock())
    office, laptop = "kantoor-pc:999991:abcd", "laptop:999992:abcd"
    nodes.choose(office, None, now=clock())
    assert not nodes.claim(laptop, clock(), TTL)          # the chosen one is there
    assert nodes.claim(office, clock(), TTL)              # and syncs
    synced(office, clock())
    clock.move(minutes=14, seconds=59)
    register("laptop", 999_992, clock())                 # the laptop keeps running
    assert not nodes.claim(laptop, clock(), TTL)          # 15 minutes are not over
    clock.move(seconds=2)                                 # the office PC stopped renewing
    assert nodes.claim(laptop, clock(), TTL)
    lease = JobLease.get_by_id("sync")
    assert (lease.holder, lease.epoch) == (laptop, 2)
    state = service.state()
    assert state.taken_over_from == office and state.taken_over_at == clock()
    assert audits("sync.node.takeover")[-1].target == "laptop"
    # a hung office process that wakes up cannot take it back before the lease expires
    assert not nodes.claim(office, clock.move(minutes=1), TTL)
    assert nodes.claim(laptop, clock(), TTL)              # the laptop keeps syncing
    # the alert e-mail, once
    message = OutboxMessage.get(OutboxMessage.kind == "alert.sync_computer")
    assert message.to_addr == "anna@jansen.example"
    assert "kantoor-pc stopped renewing" in message.body and "laptop has taken over" in message.body
    mailbox.deliver()
    assert [m["Subject"] for m in mailbox.messages] == [
        "Kontor: the sync moved to another computer"]
    # Kontor started again on the office PC: it becomes the chosen one and gets the sync back
    clock.move(minutes=2)
    register("kantoor-pc", 999_993, clock())
    assert service.state().node == "kantoor-pc:999993:abcd"
    assert not nodes.claim(laptop, clock(), TTL)          # gives the lease back
    assert nodes.claim("kantoor-pc:999993:abcd", clock(), TTL)
    assert JobLease.get_by_id("sync").epoch == 3
    assert service.state().taken_over_at is None
    assert len(audits("sync.node.takeover")) == 1


def test_without_a_chosen_computer_any_process_syncs_one_at_a_time(app):
    clock = Clock()
    assert nodes.claim("a:1:x", clock(), TTL)
    assert not nodes.claim("b:2:x", clock.move(minutes=10), TTL)
    assert nodes.claim("b:2:x", clock.move(minutes=6), TTL)
    assert not nodes.claim("a:1:x", clock(), TTL)


def test_a_lease_held_while_the_sync_was_off_is_no_takeover(app):
    clock = Clock()
    assert nodes.claim("a:1:x", clock(), TTL)             # the job's lease; no cycle ran
    assert nodes.claim("b:2:x", clock.move(minutes=16), TTL)
    assert service.state().taken_over_at is None and not audits("sync.node.takeover")


def test_choosing_another_computer_fences_the_former_holder_at_once(app):
    clock = Clock()
    register("a", 1, clock())
    register("b", 2, clock())
    assert nodes.claim("a:1:abcd", clock(), TTL)
    nodes.choose("b:2:abcd", None, now=clock())
    assert JobLease.get_by_id("sync").holder == ""
    assert not nodes.claim("a:1:abcd", clock(), TTL)
    assert nodes.claim("b:2:abcd", clock(), TTL)
    assert not audits("sync.node.takeover")              # a choice is not a takeover


def test_a_node_whose_lease_was_taken_over_cannot_commit_its_cycle(app, firm, monkeypatch):
    """SYNC.md test 10: node A starts a cycle; while it reads, node B cannot take the lease;
    15 minutes later B takes it over (epoch 2). A's next write transaction is refused
    (fencing): its log line says so and nothing of that batch reached either side. B's
    cycle then does the work, each record exactly once."""
    filled(firm)
    clock = Clock()
    original = engine.Cycle.sync_entity
    seen = {}

    def slow_sync_entity(cycle, entity):
        if cycle.node == "a" and entity == "contacts":
            seen["b early"] = engine.run_cycle(firm.database, firm.layout, node="b",
                                               clock=clock)
            clock.move(minutes=15, seconds=1)            # A hangs past its lease
            seen["b took"] = jobs.take_lease("sync", "b", TTL, now=clock())
        return original(cycle, entity)

    monkeypatch.setattr(engine.Cycle, "sync_entity", slow_sync_entity)
    stale = engine.run_cycle(firm.database, firm.layout, node="a", clock=clock)
    assert seen == {"b early": None, "b took": True}
    assert stale.status == "error" and service.error_of(stale) == {"code": "lease_lost"}
    assert (stale.node, stale.epoch) == ("a", 1)
    assert stale.to_kontor == 2                           # the employees, before the takeover
    assert not Contact.select().exists() and not SyncBinding.select().where(
        SyncBinding.entity == "contacts").exists()
    assert firm.count("contacts") == 2
    # A's next cycle is not its own any more; B's does the rest, each record once
    assert engine.run_cycle(firm.database, firm.layout, node="a", clock=clock) is None
    done = engine.run_cycle(firm.database, firm.layout, node="b", clock=clock)
    assert done.status == "ok" and done.epoch == 2
    assert Contact.select().count() == 2 and ContactPerson.select().count() == 2
    assert NoteEntry.select().count() == 2 and Employee.select().count() == 2
    assert firm.count("contacts") == 2 and firm.count("employees") == 2


def test_a_stale_epochs_write_is_refused(app, firm):
    clock = Clock()
    assert jobs.take_lease("sync", "a", TTL, now=clock())
    clock.move(minutes=16)
    assert jobs.take_lease("sync", "b", TTL, now=clock())
    cycle = engine.Cycle(engine.BusinessSide(firm.database, firm.layout), "a", 1, clock=clock)
    with pytest.raises(engine.LeaseLost):
        cycle.fence()
    assert JobLease.get_by_id("sync").holder == "b"
    assert JobLease.get_by_id("sync").expires_at == clock() + TTL


def test_runs_of_one_process_never_overlap(admin_client, firm, monkeypatch):
    activate(admin_client, firm)
    config = admin_client.application.config
    inner = {}
    original = engine.Cycle.sync_entity

    def during(cycle, entity):
        if entity == "contacts" and "second" not in inner:
            inner["second"] = service.run_sync(config)
        return original(cycle, entity)

    monkeypatch.setattr(engine.Cycle, "sync_entity", during)
    assert service.run_sync(config).status == "ok"
    assert inner["second"] is None
    assert SyncRun.select().count() == 1


def test_the_log_names_the_computer_not_the_raw_id(admin_client, firm):
    activate(admin_client, firm)
    register("kantoor-pc", 4711, utcnow())
    service.run_sync(admin_client.application.config, node="kantoor-pc:4711:abcd")
    page = text_of(admin_client.get("/admin/sync/log"))
    assert "kantoor-pc" in page and "kantoor-pc:4711:abcd" not in page
    said = text_of(admin_client.get("/admin/sync"))
    assert "Syncing now kantoor-pc" in said


def test_the_page_says_another_computer_took_over(admin_client, firm):
    activate(admin_client, firm)
    clock = Clock(utcnow() - timedelta(minutes=20))
    register("kantoor-pc", 999_991, clock())
    register("laptop", 999_992, clock())
    nodes.choose("kantoor-pc:999991:abcd", None, now=clock())
    assert nodes.claim("kantoor-pc:999991:abcd", clock(), TTL)
    synced("kantoor-pc:999991:abcd", clock())
    register("laptop", 999_992, utcnow())
    assert nodes.claim("laptop:999992:abcd", utcnow(), TTL)
    said = text_of(admin_client.get("/admin/sync"))
    assert "kantoor-pc stopped renewing its lease, so laptop took the sync over" in said
    assert "Syncing now laptop" in said


def test_the_lease_time_comes_from_the_config():
    assert nodes.lease_ttl({}) == timedelta(minutes=15)
    assert nodes.lease_ttl({"SYNC_LEASE_SECONDS": 3}) == timedelta(seconds=3)


# --- change sync user ----------------------------------------------------------------------------

@pytest.fixture
def bert(app):
    return make_user("bert@jansen.example", superuser=True, name="Bert Smit")


def test_staff_cannot_reach_the_new_forms(staff_client):
    for url in NEW_POSTS:
        assert staff_client.form(url, {}).status_code == 403, url
    assert staff_client.get("/admin/sync/deactivate").status_code == 403


def test_another_superuser_becomes_owner_with_their_own_password(admin_client, firm, bert):
    activate(admin_client, firm)
    # the first sync done (meanwhile only the owner may sign in: issue 17 item 1)
    assert service.run_sync(admin_client.application.config).status == "ok"
    bert_client = signed_in(admin_client.application, bert)
    assert "You are the sync owner" in text_of(admin_client.get("/admin/sync"))
    assert "The sync owner is Anna Jansen" in text_of(bert_client.get("/admin/sync"))
    response = bert_client.form("/admin/sync/owner", {"owner-password": "not-my-password"})
    assert response.status_code == 400
    assert error_beside(text(response), "owner-password") == "This is not your password."
    assert audits("sync.owner.refused")[-1].detail == "wrong_password"
    response = bert_client.form("/admin/sync/owner", {"owner-password": PASSWORD})
    assert response.status_code == 302
    assert service.state().owner_id == bert.id
    event = audits("sync.owner")[-1]
    assert event.user_id == bert.id and event.detail.startswith("from anna@jansen.example")


def test_the_owner_cannot_be_taken_over_while_the_sync_is_off(app, bert, superuser):
    with pytest.raises(service.SyncRefused) as refused:
        ownership.become_owner(bert, PASSWORD)
    assert refused.value.reason == "inactive"


def test_flask_sync_owner_hands_ownership_over_from_the_server(admin_client, firm, bert, runner,
                                                               staff):
    result = runner.invoke(args=["sync-owner", "bert@jansen.example"])
    assert result.exit_code == 1 and "never set up" in result.output
    activate(admin_client, firm)
    User.update(is_active=False).where(User.email == "anna@jansen.example").execute()
    result = runner.invoke(args=["sync-owner", "nobody@jansen.example"])
    assert result.exit_code == 1 and "No user has the e-mail address" in result.output
    result = runner.invoke(args=["sync-owner", staff.email])
    assert result.exit_code == 1 and "is not an active superuser" in result.output
    result = runner.invoke(args=["sync-owner", "Bert@Jansen.example"])
    assert result.exit_code == 0, result.output
    assert "bert@jansen.example is the sync owner now." in result.output
    assert service.state().owner_id == bert.id
    event = audits("sync.owner")[-1]
    assert event.ip == "command line" and "flask sync-owner" in event.detail


# --- update password ----------------------------------------------------------------------------

def test_a_new_password_is_stored_only_after_the_test_passed(admin_client, firm, monkeypatch):
    activate(admin_client, firm)
    data_dir = admin_client.application.config["DATA_DIR"]
    before = service.state().business_password

    def refusing(url, password, layout):
        raise BusinessDatabaseError("login_refused")
    monkeypatch.setattr(ownership, "try_connection", refusing)
    response = admin_client.form("/admin/sync/password", {"business-password": "Wrong-1"})
    assert response.status_code == 400
    assert error_beside(text(response), "business-password").startswith(
        "The connection test with this password failed, so the stored password was kept: "
        "The database server refused the login")
    assert service.state().business_password == before
    assert audits("sync.password.refused")[-1].detail == "connection: login_refused"

    tried = []
    monkeypatch.setattr(ownership, "try_connection",
                        lambda url, password, layout: tried.append(password))
    response = admin_client.form("/admin/sync/password", {"business-password": "Fjord-2027!"})
    assert response.status_code == 302
    assert tried == ["Fjord-2027!"]
    assert secret.unseal(data_dir, service.state().business_password) == "Fjord-2027!"
    assert audits("sync.password")
    assert "Fjord-2027!" not in "".join(e.detail for e in AuditEvent.select())


def test_until_then_each_run_logs_that_the_login_was_refused(admin_client, firm, monkeypatch):
    activate(admin_client, firm)

    def refused(url, password):
        raise BusinessDatabaseError("login_refused")
    monkeypatch.setattr(service, "open_business", refused)
    for _ in range(2):
        assert service.run_sync(admin_client.application.config).status == "error"
    page = text_of(admin_client.get("/admin/sync/log"))
    assert page.count("The database server refused the login") == 2
    assert "enter the new one under Sync settings, Update password" in page


# --- deactivate and reactivate ------------------------------------------------------------------

def synced_with_kept_records(admin_client, firm, superuser):
    """Active and synced once: the business data, plus Anna's employee (a user's) and a
    support case for a customer made in Kontor, both passed to the business database."""
    filled(firm)
    make_user("piet@jansen.example", name="Piet de Vries")
    activate(admin_client, firm)
    customer_in_kontor = customer("Bakkerij De Korenschoof")
    open_case(admin_client, customer_in_kontor, category("Invoicing", position=1),
              type_of_request("Question", position=1))
    config = admin_client.application.config
    assert service.run_sync(config).status == "ok"
    assert service.run_sync(config).status == "ok"
    return customer_in_kontor


def test_only_the_owner_deactivates_with_their_password_then_a_confirmation(
        admin_client, firm, superuser, bert):
    synced_with_kept_records(admin_client, firm, superuser)
    bert_client = signed_in(admin_client.application, bert)
    assert "Only the sync owner can deactivate" in text_of(bert_client.get("/admin/sync"))
    response = bert_client.form("/admin/sync/deactivate", {"deactivate-password": PASSWORD})
    assert response.status_code == 400
    assert error_beside(text(response), "deactivate-password") == \
        "Only the sync owner can deactivate the sync."
    response = admin_client.form("/admin/sync/deactivate", {"deactivate-password": "nope"})
    assert error_beside(text(response), "deactivate-password") == "This is not your password."
    assert [e.detail for e in audits("sync.deactivate.refused")] == ["not_owner",
                                                                     "wrong_password"]
    response = admin_client.form("/admin/sync/deactivate", {"deactivate-password": PASSWORD})
    assert response.status_code == 200
    said = text_of(response)
    assert "Step 2 of 2" in said
    # the business's 2 employees go; Anna's, Piet's and Bert's are users'
    assert "2 employees" in said and "3 employees linked to a user" in said
    assert "2 contacts" in said
    assert "1 contact that support cases, orders or portal accounts belong to" in said
    assert "2 contact persons" in said and "2 notes" in said
    assert service.state().active                       # nothing happened yet
    # a forged or stale confirmation is refused
    stale = admin_client.form("/admin/sync/deactivate/confirm", {"step": "forged"})
    assert stale.status_code == 302 and stale.location.endswith("/admin/sync/deactivate")
    assert service.state().active
    token = re.search(r'name="step" type="hidden" value="([^"]+)"', text(response)).group(1)
    assert bert_client.form("/admin/sync/deactivate/confirm",
                            {"step": token}).status_code == 302
    assert service.state().active                       # Bert's session cannot use Anna's step
    response = admin_client.form("/admin/sync/deactivate/confirm", {"step": token})
    assert response.status_code == 302
    assert not service.state().active
    assert audits("sync.deactivate")[-1].detail.startswith("employees 2, contacts 2")


def test_deactivating_deletes_the_copies_and_keeps_company_and_user_access(
        admin_client, firm, superuser):
    kept_customer = synced_with_kept_records(admin_client, firm, superuser)
    users_before = [(u.id, u.email, u.employee_id) for u in User.select().order_by(User.id)]
    ownership.deactivate(superuser)
    state = service.state()
    assert not state.active and state.deactivated_at and state.owner_id == superuser.id
    assert [(u.id, u.email, u.employee_id) for u in User.select().order_by(User.id)] == \
        users_before
    assert {e.email for e in Employee.select()} == {"anna@jansen.example",
                                                    "piet@jansen.example"}
    assert [c.id for c in Contact.select()] == [kept_customer.id]
    assert not ContactPerson.select().exists() and not NoteEntry.select().exists()
    for model in (SyncBinding, SyncBase, SyncConflict):
        assert not model.select().exists()
    assert JobLease.get_by_id("sync").holder == ""
    assert service.run_sync(admin_client.application.config) is None     # the sync stopped


@pytest.mark.parametrize("step", ["stopped", "persons", "records", "bindings"])
def test_a_failure_half_way_leaves_the_old_state_intact(admin_client, firm, superuser, step):
    synced_with_kept_records(admin_client, firm, superuser)

    def everything():
        return ([m.__data__ for m in SyncState.select()],
                *[sorted(tuple(r.values()) for r in model.select().dicts())
                  for model in (Employee, Contact, ContactPerson, NoteEntry, SyncBinding,
                                SyncBase, JobLease)])
    before = everything()

    def fail(at):
        if at == step:
            raise RuntimeError("the disk is full")
    with pytest.raises(RuntimeError):
        ownership.deactivate(superuser, fail_after=fail)
    assert everything() == before
    assert not audits("sync.deactivate")


def test_reactivation_by_another_superuser_is_refused(admin_client, firm, superuser, bert):
    synced_with_kept_records(admin_client, firm, superuser)
    ownership.deactivate(superuser)
    bert_client = signed_in(admin_client.application, bert)
    page = text_of(bert_client.get("/admin/sync"))
    assert "Reactivate" in page and "Only Anna Jansen, who was the sync owner" in page
    response = bert_client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert response.status_code == 400
    assert error_beside(text(response), "activate-password") == \
        "This user has no access to reactivate this company database."
    assert not service.state().active
    assert audits("sync.activate.refused")[-1].detail == "no_access"


def test_deactivate_then_reactivate_leaves_the_business_database_unchanged(
        admin_client, firm, superuser):
    synced_with_kept_records(admin_client, firm, superuser)
    rows_before = every_row(firm)
    contacts_before = sorted((c.customer_number, c.name) for c in Contact.select())
    ownership.deactivate(superuser)
    assert every_row(firm) == rows_before
    response = admin_client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert response.status_code == 302
    state = service.state()
    assert state.active and state.first_sync_done_at is None and state.deactivated_at is None
    config = admin_client.application.config
    first = service.run_sync(config)
    assert first.status == "ok" and first.first and first.to_business == 0
    assert service.run_sync(config).status == "ok"
    assert every_row(firm) == rows_before                  # row for row
    assert sorted((c.customer_number, c.name) for c in Contact.select()) == contacts_before
    assert ContactPerson.select().count() == 2 and NoteEntry.select().count() == 2
    assert not SyncConflict.select().where(SyncConflict.resolution == "deleted").exists()
    assert audits("sync.activate")[-1].detail == "reactivated"


# --- alerts ------------------------------------------------------------------------------------

def test_superusers_get_one_alert_an_hour_when_the_sync_has_not_run(admin_client, firm, mailbox,
                                                                    bert, staff):
    activate(admin_client, firm)
    User.update(language="nl").where(User.id == bert.id).execute()
    start = utcnow()
    assert alerts.check_sync(now=start + timedelta(minutes=14)) is None
    assert alerts.check_sync(now=start + timedelta(minutes=16)) == "stopped"
    assert alerts.check_sync(now=start + timedelta(minutes=40)) == "stopped"   # no second
    mailbox.deliver()
    assert sorted(m["To"] for m in mailbox.messages) == ["anna@jansen.example",
                                                         "bert@jansen.example"]
    subjects = {m["To"]: m["Subject"] for m in mailbox.messages}
    assert subjects["anna@jansen.example"] == "Kontor: the sync has not run for 15 minutes"
    assert subjects["bert@jansen.example"] == \
        "Kontor: de synchronisatie heeft 15 minuten niet gedraaid"            # in his language
    alerts.check_sync(now=start + timedelta(minutes=77))
    mailbox.deliver()
    assert len(mailbox.messages) == 4


def test_failing_runs_alert_and_an_ok_run_is_quiet(admin_client, firm, mailbox):
    activate(admin_client, firm)
    later = utcnow() + timedelta(minutes=20)
    assert service.run_sync(admin_client.application.config).status == "ok"
    assert alerts.check_sync(now=utcnow() + timedelta(minutes=5)) is None
    engine.error_line("test-node", {"code": "unreachable"})
    assert alerts.check_sync(now=later) == "failed"
    mailbox.deliver()
    assert [m["Subject"] for m in mailbox.messages] == ["Kontor: the sync keeps failing"]
    assert alerts.check_sync(now=later + timedelta(minutes=1)) == "failed"
    mailbox.deliver()
    assert len(mailbox.messages) == 1


def test_an_inactive_sync_never_alerts(app, superuser):
    assert alerts.check_sync(now=utcnow() + timedelta(days=1)) is None
    assert not OutboxMessage.select().exists()
