"""The sync pages (issue 16 items 2, 4 and 5): Sync settings with Test connection and Activate,
the sync log (folded quiet runs, Error messages, a stopped service and Restart) and the sync
history, for superusers only; the contact timeline's sync entries. Test connection runs on
real SQLite files (and, in the PostgreSQL run, a real PostgreSQL login)."""
import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from conftest import ON_POSTGRES
from helpers import PASSWORD, body, error_beside, make_company, text, text_of
from sync_helpers import Business, bound_contact

from kontor import jobs
from kontor.sync import engine, service
from models import AuditEvent, Contact, JobLease, SyncConflict, SyncRun, SyncState
from models.clock import utcnow

SECRET = "Fjord-Secret-2026!"
PAGES = ["/admin/sync", "/admin/sync/log", "/admin/sync/history"]
POSTS = ["/admin/sync", "/admin/sync/test", "/admin/sync/activate", "/admin/sync/restart",
         "/admin/sync/run"]


def audits(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def save(client, url, password="", mapping=""):
    return client.form("/admin/sync", {"url": url, "password": password, "mapping": mapping,
                                       "version": str(service.state().version)})


def connection_said(client):
    page = client.form("/admin/sync/test")
    return text_of(page)


def sqlite_file(tmp_path, *statements):
    path = tmp_path / f"firm-{uuid.uuid4().hex[:6]}.db"
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    return f"sqlite:///{path}"


def activated(client, firm):
    assert save(client, firm.url).status_code == 302
    response = client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert response.status_code == 302, text_of(response)[:800]
    assert service.state().active


# --- access ---------------------------------------------------------------------------------

def test_staff_get_403_and_strangers_are_sent_to_sign_in(client, staff_client, superuser):
    for url in PAGES + ["/admin/sync/history/1"]:
        assert staff_client.get(url).status_code == 403, url
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url
    for url in POSTS:
        assert staff_client.form(url, {"activate-password": PASSWORD}).status_code == 403, url
    assert not service.state().active


def test_the_pages_are_in_the_administration_navigation(admin_client):
    page = admin_client.get("/admin/company")
    assert 'href="/admin/sync"' in body(page)
    for url in PAGES:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert re.search(r'<a href="/admin/sync"[^>]*aria-current="page"', body(response)), url


def test_an_entry_that_does_not_exist_is_404(admin_client):
    assert admin_client.get("/admin/sync/history/987654").status_code == 404
    assert admin_client.get("/admin/sync/history/abc").status_code == 404


# --- settings and Test connection -----------------------------------------------------------

def test_settings_are_saved_the_password_sealed_never_shown_nor_logged(admin_client, tmp_path,
                                                                       caplog):
    caplog.set_level(logging.DEBUG)
    url = sqlite_file(tmp_path, "CREATE TABLE x (id INTEGER)")
    response = save(admin_client, url, password=SECRET)
    assert response.status_code == 302
    stored = service.state()
    assert stored.business_url == url and stored.business_password
    assert SECRET not in stored.business_password
    page = admin_client.get("/admin/sync")
    assert SECRET not in body(page) and "A password is stored." in text_of(page)
    assert url in body(page)
    # blank keeps the stored password
    sealed = stored.business_password
    assert save(admin_client, url).status_code == 302
    assert service.state().business_password == sealed
    # a password typed into a PostgreSQL address is taken out of it
    assert save(admin_client, f"postgresql://kontor:{SECRET}@db.example:5432/firm").status_code \
        == 302
    assert service.state().business_url == "postgresql://kontor@db.example:5432/firm"
    assert [event.detail for event in audits("sync.settings")] == \
        ["password changed", "", "password changed"]
    for event in AuditEvent.select():
        assert SECRET not in f"{event.target} {event.detail}"
    assert SECRET not in caplog.text
    assert SECRET not in body(admin_client.get("/admin/audit"))


def test_a_stale_form_is_refused_with_409(admin_client, other_client, superuser, tmp_path):
    url = sqlite_file(tmp_path, "CREATE TABLE x (id INTEGER)")
    opened = str(service.state().version)
    assert save(admin_client, url).status_code == 302
    response = admin_client.form("/admin/sync", {"url": url + "x", "version": opened})
    assert response.status_code == 409
    assert "Someone else saved the sync settings" in text_of(response)
    assert service.state().business_url == url


@pytest.mark.parametrize("data, field, message", [
    ({"url": "http://example.com/db"}, "url", "not a database address Kontor can use"),
    ({"url": ""}, "url", "This field is required."),
    ({"url": "sqlite:////x.db" + "a" * 600}, "url", "500"),
    ({"url": "sqlite:////\x00x.db", "mapping": "[contacts\n"}, "mapping", "not valid TOML"),
    ({"url": "sqlite:////x.db", "mapping": "x" * 30_000}, "mapping", "20000"),
    ({"url": "sqlite:////x.db", "mapping": "[kunder]\ntable = 'x'\n"}, "mapping", "[kunder]"),
    ({"url": "sqlite:////x.db", "mapping": "[contacts]\ntable = 'a\x01\x7f\"'\n"
      "[contacts.columns]\ncustomer_number = 'a'\nname = 'b'\n"}, "mapping", "contacts.table"),
    ({"url": "sqlite:////x.db", "password": "p" * 300}, "password", "200"),
])
def test_odd_input_gets_a_message_beside_its_field(admin_client, data, field, message):
    response = admin_client.form("/admin/sync", {"version": "1", **data})
    assert response.status_code == 400
    error = error_beside(text(response), field)
    assert error and message.replace(",", "") in error.replace(",", ""), error


def test_test_connection_counts_the_rows_of_the_demo(admin_client, firm):
    firm.fill_demo(12)
    assert save(admin_client, firm.url).status_code == 302
    said = connection_said(admin_client)
    assert "The connection works." in said and "Contacts: 12" in said
    assert "Employees: 8" in said
    assert audits("sync.test")[-1].detail == "ok"
    assert service.state().tested_at is not None


def test_test_connection_says_exactly_what_is_wrong(admin_client, tmp_path):
    missing = tmp_path / "nowhere.db"
    save(admin_client, f"sqlite:///{missing}")
    assert f"There is no database file at {missing}." in connection_said(admin_client)
    assert not missing.exists()

    save(admin_client, sqlite_file(tmp_path, "CREATE TABLE other (id INTEGER)"))
    assert "The table employees is missing (for Employees)." in connection_said(admin_client)

    mapping = ('[contacts]\ntable = "KUNDE"\n[contacts.columns]\ncustomer_number = "KNR"\n'
               'name = "NAVN"\n')
    url = sqlite_file(
        tmp_path, 'CREATE TABLE "KUNDE" (id INTEGER PRIMARY KEY, "KNR" INTEGER, "NAVN" TEXT)')
    Business(url).database.close()      # the default layout's tables next to KUNDE
    save(admin_client, url, mapping=mapping.replace('"NAVN"', '"NAME"'))
    assert "The table KUNDE has no column NAME." in connection_said(admin_client)

    save(admin_client, url, mapping=mapping.replace('customer_number = "KNR"\nname = "NAVN"',
                                                    'customer_number = "NAVN"\nname = "KNR"'))
    said = connection_said(admin_client)
    assert "The column NAVN of the table KUNDE has the type TEXT; Kontor needs a whole " \
           "number there." in said

    save(admin_client, url, mapping=mapping)
    assert "The connection works." in connection_said(admin_client)
    assert [e.detail for e in audits("sync.test")] == [
        "failed: no_file", "failed: table_missing", "failed: column_missing",
        "failed: wrong_type", "ok"]


@pytest.mark.skipif(not ON_POSTGRES, reason="needs the PostgreSQL server of the PostgreSQL run")
def test_test_connection_says_the_postgresql_login_was_refused(admin_client, pg_server, caplog):
    caplog.set_level(logging.DEBUG)
    parts = pg_server.parts
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    save(admin_client, f"postgresql://nobody_{uuid.uuid4().hex[:6]}@{host}:{port}/postgres",
         password=SECRET)
    said = connection_said(admin_client)
    assert "The database server refused the login: check the user name and the password." \
        in said
    assert SECRET not in said and SECRET not in caplog.text


def test_test_connection_without_settings_says_to_save_first(admin_client):
    response = admin_client.form("/admin/sync/test")
    assert response.status_code == 400
    assert "Save the business database's address first." in text_of(response)


# --- activation -------------------------------------------------------------------------------

def test_a_wrong_password_is_refused_beside_the_field_and_audited(admin_client, firm, caplog):
    caplog.set_level(logging.DEBUG)
    save(admin_client, firm.url)
    response = admin_client.form("/admin/sync/activate", {"activate-password": "not-my-password"})
    assert response.status_code == 400
    assert error_beside(text(response), "activate-password") == "This is not your password."
    assert not service.state().active
    assert [e.detail for e in audits("sync.activate.refused")] == ["wrong_password"]
    assert "not-my-password" not in body(response) and "not-my-password" not in caplog.text
    response = admin_client.form("/admin/sync/activate", {"activate-password": ""})
    assert response.status_code == 400 and not service.state().active


def test_activation_makes_the_owner_and_locks_the_settings(admin_client, superuser, firm):
    activated(admin_client, firm)
    page = text_of(admin_client.get("/admin/sync"))
    assert "The sync is active" in page and "Sync owner Anna Jansen" in page
    assert "First sync pending" in page
    assert 'name="url"' not in body(admin_client.get("/admin/sync"))
    assert audits("sync.activate")
    response = save(admin_client, firm.url + "x")
    assert response.status_code == 302
    assert "settings cannot change while it runs" in text_of(admin_client.get("/admin/sync"))
    assert service.state().business_url == firm.url
    service.run_sync(admin_client.application.config)
    assert "First sync done" in text_of(admin_client.get("/admin/sync"))


def test_activation_waits_for_the_checklist(admin_client, firm):
    make_company(vat_number="")
    save(admin_client, firm.url)
    page = text_of(admin_client.get("/admin/sync"))
    assert "VAT number is missing" in page and "Activate the sync" not in page
    response = admin_client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert response.status_code == 400
    assert error_beside(text(response), "activate-password") == "Complete the checklist first."
    assert not service.state().active


# --- the sync log -----------------------------------------------------------------------------

def test_the_log_folds_quiet_runs_and_words_errors(admin_client, firm):
    activated(admin_client, firm)
    config = admin_client.application.config
    service.run_sync(config)                         # the first sync
    for _ in range(3):
        service.run_sync(config)
    engine.error_line("test-node", {"code": "table_missing", "table": "KUNDE",
                                    "entity": "contacts"})
    engine.error_line("test-node", {"code": "records", "more": 2, "records": [
        {"entity": "contacts", "record": "7", "label": "Fjord Rør AS", "field": "phone",
         "reason": "unfit", "value": "0" * 80}]})
    page = admin_client.get("/admin/sync/log")
    said = text_of(page)
    assert "3 quiet runs, from" in said
    assert "Show the message" in said and "<details" in body(page)
    assert "The table KUNDE is missing (for Contacts)." in said
    assert "Contact Fjord Rør AS, field Phone: the value does not fit the field" in said
    assert "… and 2 more." in said
    assert said.count("Error") >= 2 and "OK" in said


def test_the_log_is_paged_and_bounded(admin_client):
    SyncRun.insert_many([dict(node="n", status="ok", read=i, quiet_runs=0)
                         for i in range(120)]).execute()
    first = admin_client.get("/admin/sync/log")
    assert first.status_code == 200 and body(first).count("<tr>") == 51
    assert 'rel="next"' in body(first)
    for odd in ("3", "999999999999999999999", "x", "\x00", "-1"):
        assert admin_client.get("/admin/sync/log", query_string={"page": odd}).status_code == 200


def test_old_log_lines_are_pruned_and_the_history_stays(app):
    old = SyncRun.create(node="n", status="ok", started_at=utcnow() - timedelta(days=40),
                         finished_at=utcnow() - timedelta(days=40))
    recent = SyncRun.create(node="n", status="ok", started_at=utcnow() - timedelta(days=2),
                            finished_at=utcnow() - timedelta(days=2))
    folded = SyncRun.create(node="n", status="ok", quiet_runs=9,
                            started_at=utcnow() - timedelta(days=40), finished_at=utcnow())
    entry = SyncConflict.create(run=old, entity="contacts", field="phone", label="x")
    assert service.prune_log(30) == 1
    assert {run.id for run in SyncRun.select()} == {recent.id, folded.id}
    assert SyncConflict.get_by_id(entry.id).run_id is None
    service.prune_job({"SYNC_LOG_DAYS": 1})
    assert {run.id for run in SyncRun.select()} == {folded.id}


@pytest.fixture
def scheduler(app):
    """This process's scheduler, as the served app has one (kontor/jobs.py), with only the
    sync job, whose next turn is an hour away. `ran` lists the threads the job ran on;
    `gate` holds the job until it is set (so a test can see that a request did not wait)."""
    made = []

    def make(config, first_run=None):
        ran, gate = [], threading.Event()

        def job(config):
            ran.append(threading.current_thread())
            gate.wait(30)
            service.sync_job(config)

        scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        scheduler.add_job(jobs.run_job, "interval", seconds=3600, id="sync", name="sync",
                          args=("sync", job, config), max_instances=1, coalesce=True,
                          next_run_time=first_run or datetime.now(UTC) + timedelta(hours=1))
        scheduler.ran, scheduler.gate = ran, gate
        scheduler.start()
        made.append(scheduler)
        return scheduler

    app.extensions["kontor_scheduler"] = make(app.config)
    app.extensions["make_scheduler"] = make
    yield app.extensions["kontor_scheduler"]
    app.extensions.pop("kontor_scheduler", None)
    app.extensions.pop("make_scheduler", None)
    for scheduler in made:
        scheduler.gate.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)


def last_job_run():
    lease = JobLease.get_or_none(JobLease.name == "sync")
    return lease.last_run_at if lease is not None else None


def job_ran(scheduler, before=None, seconds=20):
    """Wait until the job of `scheduler` has run to its end (its lease records the run after
    `before`, the time it recorded before)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        last = last_job_run()
        if scheduler.ran and last is not None and (before is None or last > before):
            return True
        time.sleep(0.05)
    return False


def test_sync_now_starts_the_job_in_the_background_and_answers_at_once(admin_client, firm,
                                                                        scheduler):
    activated(admin_client, firm)
    firm.add("contacts", customer_number=10001, name="Bakker Techniek B.V.")
    # the job ran a moment ago (the service runs): the page offers "Sync now"
    JobLease.create(name="sync", holder=jobs.NODE_ID, epoch=1, expires_at=utcnow(),
                    last_run_at=utcnow())
    assert "Sync now" in text_of(admin_client.get("/admin/sync/log"))
    before = last_job_run()
    response = admin_client.form("/admin/sync/run")
    # the request did not run the cycle: the job waits for the gate, opened only now
    assert response.status_code == 302 and response.location.endswith("/admin/sync/log")
    assert not SyncRun.select().exists()
    assert "The sync runs now, in the background." in text_of(
        admin_client.get(response.location))
    scheduler.gate.set()
    assert job_ran(scheduler, before)
    assert scheduler.ran[0] is not threading.current_thread()
    assert Contact.select().where(Contact.name == "Bakker Techniek B.V.").exists()
    said = text_of(admin_client.get("/admin/sync/log"))
    assert "OK" in said and "first sync" in said
    assert [e.detail for e in audits("sync.run")] == ["job started"]


def test_a_stopped_service_shows_and_restart_starts_the_job(admin_client, firm, scheduler):
    activated(admin_client, firm)
    for url in ("/admin/sync/log", "/admin/sync"):
        assert "Sync service stopped since" in text_of(admin_client.get(url))
    scheduler.gate.set()
    response = admin_client.form("/admin/sync/restart")
    assert response.status_code == 302
    assert job_ran(scheduler)
    assert SyncRun.select().where(SyncRun.status == "ok").count() == 1
    assert "stopped since" not in text_of(admin_client.get("/admin/sync/log"))
    assert audits("sync.restart")[-1].detail == "job started"
    # a minute later without a run, it shows again
    JobLease.update(last_run_at=utcnow() - timedelta(minutes=2)).execute()
    assert "Sync service stopped since" in text_of(admin_client.get("/admin/sync/log"))


def test_restart_starts_a_stopped_scheduler_which_syncs_in_the_background(
        admin_client, firm, scheduler, monkeypatch):
    activated(admin_client, firm)
    scheduler.shutdown(wait=True)
    make = admin_client.application.extensions["make_scheduler"]
    started = []

    def start_scheduler(config, app=None):   # the served app's scheduler, here the sync job only
        started.append(make(config, first_run=datetime.now(UTC)))
        started[-1].gate.set()
        return started[-1]
    monkeypatch.setattr(jobs, "start_scheduler", start_scheduler)
    response = admin_client.form("/admin/sync/restart")
    assert "The sync service was started again" in text_of(admin_client.get(response.location))
    assert job_ran(started[0])
    assert admin_client.application.extensions["kontor_scheduler"] is started[0]
    assert audits("sync.restart")[-1].detail == "scheduler started"


def test_without_a_scheduler_nothing_runs_in_the_request(admin_client, firm):
    response = admin_client.form("/admin/sync/run")
    assert "No sync ran now: the sync is not active." in text_of(
        admin_client.get(response.location))
    activated(admin_client, firm)
    for url in ("/admin/sync/run", "/admin/sync/restart"):
        response = admin_client.form(url)
        assert response.status_code == 302
        assert "runs no background jobs" in text_of(admin_client.get(response.location))
    assert not SyncRun.select().exists()
    assert [e.detail for e in audits("sync.run")] == ["inactive",
                                                      "no scheduler in this process"]


def test_the_buttons_need_a_post_with_the_csrf_token(admin_client, firm, scheduler):
    activated(admin_client, firm)
    for url in ("/admin/sync/run", "/admin/sync/restart"):
        assert admin_client.post(url).status_code == 400
        assert admin_client.get(url).status_code == 405
    time.sleep(0.2)
    assert not scheduler.ran and not audits("sync.run")


def test_another_process_syncing_is_named_by_computer_and_process(admin_client, firm,
                                                                  scheduler):
    activated(admin_client, firm)
    JobLease.create(name="sync", holder="PC-KONTOR:4321:abcdef12", epoch=3,
                    expires_at=utcnow() + timedelta(minutes=10))
    response = admin_client.form("/admin/sync/run")
    said = text_of(admin_client.get(response.location))
    assert "Another Kontor process syncs now (PC-KONTOR (pid 4321))" in said
    assert "lease held by PC-KONTOR:4321:abcdef12" in audits("sync.run")[-1].detail


def test_the_log_names_the_computer_and_process_not_the_node_id(admin_client):
    SyncRun.create(node="PC-KONTOR:1234:abcd1234", status="ok", read=3)
    SyncRun.create(node="test-node", status="ok", read=4)
    page = admin_client.get("/admin/sync/log")
    said = text_of(page)
    assert "PC-KONTOR (pid 1234)" in said and "test-node" in said
    assert "abcd1234" not in said
    assert 'title="PC-KONTOR:1234:abcd1234"' in body(page)


def test_restart_starts_a_stopped_scheduler(app):
    class Stopped:
        running = False
    started = []
    real = jobs.start_scheduler
    jobs.start_scheduler = lambda config, app=None: started.append(config) or "new"
    try:
        extensions = {"kontor_scheduler": Stopped()}
        assert jobs.ensure_scheduler(extensions, {"x": 1})
        assert extensions["kontor_scheduler"] == "new" and started == [{"x": 1}]
        assert not jobs.ensure_scheduler({}, {})             # no scheduler: none started
        Stopped.running = True
        assert not jobs.ensure_scheduler({"kontor_scheduler": Stopped()}, {})
    finally:
        jobs.start_scheduler = real


def test_an_inactive_sync_is_never_stopped_and_a_running_cycle_is_not(app):
    assert service.stopped_since() is None
    SyncState.insert(id=1, active=True, activated_at=utcnow()).execute()
    assert service.stopped_since() is not None
    run = SyncRun.create(node="n", status="running")
    assert service.stopped_since() is None
    SyncRun.update(started_at=utcnow() - timedelta(minutes=20)).where(
        SyncRun.id == run.id).execute()
    assert service.stopped_since() is not None


# --- the sync history -------------------------------------------------------------------------

def conflicted(admin_client, firm):
    """A contact whose phone changed on both sides: the business value won."""
    activated(admin_client, firm)
    firm.add("contacts", customer_number=10001, name="Bakker Techniek B.V.", phone="030 111")
    service.run_sync(admin_client.application.config)
    contact = bound_contact(firm, 1)
    Contact.update(phone="030 222", version=Contact.version + 1).where(
        Contact.id == contact.id).execute()
    firm.set("contacts", 1, phone="030 333")
    service.run_sync(admin_client.application.config)
    return contact


def test_the_history_shows_both_values_and_which_won(admin_client, firm):
    contact = conflicted(admin_client, firm)
    assert Contact.get_by_id(contact.id).phone == "030 333"
    page = admin_client.get("/admin/sync/history")
    said = text_of(page)
    assert "Contact: Bakker Techniek B.V." in said
    for value in ("Phone", "030 111", "030 222", "030 333", "Business database"):
        assert value in said
    assert admin_client.get("/admin/sync/history?entity=employees").status_code == 200
    assert "030 222" not in text_of(admin_client.get("/admin/sync/history?entity=employees"))
    assert "030 222" in text_of(admin_client.get("/admin/sync/history?entity=contacts"))
    for odd in ("\x00", "x" * 500, "contacts' OR 1=1"):
        assert admin_client.get("/admin/sync/history", query_string={"entity": odd}
                                ).status_code == 200
    # the contact's timeline shows it
    view = text_of(admin_client.get(f"/contacts/{contact.id}"))
    assert "Phone changed on both sides; the business database's value won (Kontor: 030 222;" \
           " business database: 030 333)" in view


def test_a_deleted_record_is_shown_whole_and_escaped(admin_client):
    row = {"name": "<script>alert(1)</script> GmbH", "phone": "040 1", "active": True,
           "search_text": "internal words", "notes": [
        {"text": "Called <b>twice</b>", "author_name": "Anna"}], "persons": []}
    entry = SyncConflict.create(entity="contacts", kontor_id=5, label="<i>Evil</i> GmbH",
                                resolution="deleted", row=json.dumps(row))
    listed = body(admin_client.get("/admin/sync/history"))
    assert "<i>Evil" not in listed and "See the whole record" in listed
    page = admin_client.get(f"/admin/sync/history/{entry.id}")
    assert page.status_code == 200
    html = body(page)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; GmbH" in html
    assert "Called &lt;b&gt;twice&lt;/b&gt;" in html
    said = text_of(page)
    assert "Deleted (record kept here)" in said and "Phone 040 1" in said
    assert "Active Yes" in said and "internal words" not in said
    broken = SyncConflict.create(entity="contacts", resolution="deleted", row="{not json")
    assert admin_client.get(f"/admin/sync/history/{broken.id}").status_code == 200
