"""The exclusive first sync (issue 17 item 1): activation refused with the list of who is
signed in (staff and portal customers, their browsers in words), the superuser ending those
sessions (CSRF, audited), the maintenance page (503 with Retry-After, in the reader's language,
no script) for everyone but the sync owner while the first sync runs, its progress page, an
interrupted first sync that goes on where it stopped, and `flask sync-now`'s progress bar.
Against a real business database (a SQLite file; in the PostgreSQL run also PostgreSQL)."""
import re
import threading
import time
from datetime import timedelta

import pytest
from helpers import PASSWORD, body, make_user, sign_in, text_of
from portal_helpers import open_website, signed_in_customer

from kontor import jobs
from kontor.sync import engine, first_sync, service
from models import (
    AuditEvent,
    Contact,
    ContactPerson,
    Employee,
    NoteEntry,
    SyncFirstProgress,
    SyncRun,
    SyncState,
    UserSession,
    db,
)
from models.clock import utcnow

FIREFOX_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 "
                   "Firefox/128.0")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def audits(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def save_settings(client, firm):
    response = client.form("/admin/sync", {"url": firm.url, "password": "", "mapping": "",
                                           "version": str(service.state().version)})
    assert response.status_code == 302, text_of(response)[:500]


def activate(client):
    return client.form("/admin/sync/activate", {"activate-password": PASSWORD})


def fill_demo(firm, firms):
    """The demo firms in the business database, its key sequences (PostgreSQL) moved past
    the keys the demo gave, as the desktop program's own inserts would leave them."""
    firm.fill_demo(firms)
    if not firm.url.startswith("sqlite"):
        for table in engine.ORDER:
            firm.database.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))")


def sign_in_at_login(client, email, password=PASSWORD):
    """Sign in through the sign-in page's own form (while the first sync runs, the page that
    KontorClient takes its token from is the maintenance page)."""
    page = body(client.get("/login"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token})


def browser_of(app, user_agent):
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = user_agent
    return browser


@pytest.fixture
def sanne(app, superuser):
    """A colleague signed in with Firefox on Windows."""
    user = make_user("sanne@jansen.example", name="Sanne Visser")
    browser = browser_of(app, FIREFOX_WINDOWS)
    assert sign_in(browser, user.email).status_code == 302
    return browser


@pytest.fixture
def maria(app, superuser):
    """A customer signed in on the portal of the website "shop", with Safari on an iPhone."""
    website = open_website("shop", name="Jansen Webshop")
    browser, _account = signed_in_customer(app, website)
    UserSession.update(user_agent=SAFARI_IPHONE).where(
        UserSession.web_account.is_null(False)).execute()
    return browser


@pytest.fixture
def started(admin_client, firm):
    """The sync activated on a business database with some firms: its first sync has not
    run yet."""
    fill_demo(firm, 12)
    save_settings(admin_client, firm)
    response = activate(admin_client)
    assert response.status_code == 302 and response.location.endswith("/admin/sync/first")
    assert first_sync.running()
    return admin_client


# --- activation refused while others are signed in -----------------------------------------

def test_activation_is_refused_with_the_list_of_who_is_signed_in(admin_client, firm, sanne,
                                                                 maria):
    save_settings(admin_client, firm)
    page = admin_client.get("/admin/sync")
    shown = text_of(page)
    assert "Signed in now" in shown and "Sanne Visser" in shown
    response = activate(admin_client)
    assert response.status_code == 409
    shown = text_of(response)
    assert "Others are signed in." in shown
    assert re.search(r"Sanne Visser sanne@jansen\.example \d", shown)
    assert "Firefox on Windows" in shown
    assert "Maria Jensen Customer on the portal Jansen Webshop" in shown
    assert "Safari on iOS" in shown
    assert "End all these sessions" in shown
    assert not service.state().active
    assert audits("sync.activate.refused")[-1].detail == "signed_in: 2 other sessions"


def test_the_superusers_own_other_browser_and_idle_sessions_do_not_count(app, admin_client,
                                                                       superuser, firm):
    second = app.test_client()            # the same superuser in another browser
    assert sign_in(second, superuser.email).status_code == 302
    colleague = make_user("joost@jansen.example", name="Joost Smit")
    idle = app.test_client()
    assert sign_in(idle, colleague.email).status_code == 302
    UserSession.update(last_seen_at=utcnow() - timedelta(minutes=25)).where(
        UserSession.user == colleague.id).execute()
    save_settings(admin_client, firm)
    assert 'id="signed-in"' not in body(admin_client.get("/admin/sync"))
    assert activate(admin_client).status_code == 302


def test_the_superuser_ends_the_sessions_and_then_activates(app, admin_client, superuser, firm,
                                                            sanne, maria, staff):
    save_settings(admin_client, firm)
    staff_browser = app.test_client()
    assert sign_in(staff_browser, staff.email).status_code == 302
    sanne_row = UserSession.get(UserSession.user_agent == FIREFOX_WINDOWS)
    own_row = UserSession.get(UserSession.user == superuser.id, UserSession.ended_at.is_null())
    # without the form's token nothing happens; staff may not; one's own session is no target
    assert admin_client.post(f"/admin/sync/sessions/{sanne_row.id}/end").status_code == 400
    assert staff_browser.form(f"/admin/sync/sessions/{sanne_row.id}/end").status_code == 403
    assert admin_client.form(f"/admin/sync/sessions/{own_row.id}/end").status_code == 404
    assert UserSession.get_by_id(sanne_row.id).ended_at is None
    # one session
    response = admin_client.form(f"/admin/sync/sessions/{sanne_row.id}/end")
    assert response.status_code == 302
    assert "The session of Sanne Visser is ended." in text_of(admin_client.get("/admin/sync"))
    assert sanne.get("/contacts").status_code == 302            # back to the sign-in
    # every other one
    response = admin_client.form("/admin/sync/sessions/end")
    assert response.status_code == 302
    assert "2 sessions are ended." in text_of(admin_client.get(response.location))
    assert maria.get("/w/shop/account").status_code == 302
    assert staff_browser.get("/contacts").status_code == 302
    ended = audits("session.ended")
    assert ended[0].target == "sanne@jansen.example" and ended[0].detail == "first sync"
    assert {(event.target, event.detail) for event in ended[1:]} == {
        ("piet@jansen.example", "first sync"),
        ("maria@example.com", "first sync; portal Jansen Webshop")}
    assert all(event.user_id == superuser.id for event in ended)
    assert 'id="signed-in"' not in body(admin_client.get("/admin/sync"))
    assert activate(admin_client).status_code == 302
    assert service.state().active and first_sync.running()


# --- the maintenance page --------------------------------------------------------------------

def test_while_the_first_sync_runs_only_the_sync_owner_gets_in(app, started, staff, firm):
    stranger = app.test_client()
    response = stranger.get("/")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 30
    assert response.headers["Cache-Control"] == "no-store"
    page = body(response)
    # it tries again by itself without script (the Refresh header), unless asked not to
    assert "<script" not in page and response.headers["Refresh"] == \
        response.headers["Retry-After"]
    calm = stranger.get("/contacts?refresh=off")
    assert calm.status_code == 503 and "Refresh" not in calm.headers
    assert 'href="/contacts">Try again</a>' in body(calm)
    assert "Back soon" in text_of(page) and "Sign in as the sync owner" in text_of(page)
    for url in ("/contacts", "/forgot", "/admin/sync", "/no-such-page"):
        assert stranger.get(url).status_code == 503, url
    # the sign-in page opens (for the sync owner); anyone else is refused after the password
    assert stranger.get("/login").status_code == 200
    response = sign_in_at_login(stranger, staff.email)
    assert response.status_code == 503 and "Back soon" in text_of(response)
    assert audits("login.refused")[-1].target == staff.email
    assert stranger.get("/").status_code == 503                 # not signed in
    assert sign_in_at_login(stranger, staff.email, "wrong password").status_code == 200
    # the sync owner works on, and watches the progress
    assert started.get("/contacts").status_code == 200
    assert started.get("/admin/sync/first").status_code == 200
    assert app.test_client().get("/healthz").status_code == 200      # monitors still see it
    # done: everyone in again
    service.run_sync(app.config)
    assert not first_sync.running()
    assert stranger.get("/").status_code == 302
    assert sign_in(stranger, staff.email).status_code == 302


def test_portal_visitors_get_the_maintenance_page_in_their_language(app, started, firm):
    open_website("winkel", language="nl")
    visitor = app.test_client()
    response = visitor.get("/w/winkel/")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Zo terug" in text_of(response)                       # the website's language
    assert "Sign in as the sync owner" not in text_of(response)
    response = visitor.get("/w/winkel/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Gleich zurück" in text_of(response) and 'lang="de"' in body(response)
    response = visitor.post("/w/winkel/login", data={"email": "maria@example.com",
                                                     "password": "whatever"})
    assert response.status_code == 503       # no sign-in either (before the form's check)
    assert visitor.get("/w/no-such-site/").status_code == 404


@pytest.mark.parametrize("language, words", [("nl", "Zo terug"), ("nb", "Straks tilbake"),
                                             ("de", "Gleich zurück"), ("en", "Back soon")])
def test_staff_visitors_read_it_in_their_browsers_language(app, started, language, words):
    response = app.test_client().get("/", headers={"Accept-Language": language})
    assert response.status_code == 503 and words in text_of(response)


# --- progress and resume -------------------------------------------------------------------

def stop_in_the_second_batch_of_contacts(position):
    """An interrupt hook: the first sync stops while it writes the second batch of contacts,
    before that batch's commit, as when Kontor is stopped half-way."""
    if position == "kontor-commit" and Contact.select().count() > engine.BATCH:
        raise engine.Interrupted(position)


def kontor_records():
    return sum(model.select().count() for model in (Employee, Contact, ContactPerson,
                                                    NoteEntry))


def test_the_first_sync_goes_on_where_it_stopped_and_shows_its_progress(app, admin_client,
                                                                        firm):
    fill_demo(firm, 250)                  # more than one batch of contacts (engine.BATCH)
    business = {entity: firm.count(entity) for entity in engine.ORDER}
    save_settings(admin_client, firm)
    assert activate(admin_client).status_code == 302
    page = text_of(admin_client.get("/admin/sync/first"))
    assert "The first sync is about to start" in page
    with pytest.raises(engine.Interrupted):
        service.run_sync(app.config, interrupt=stop_in_the_second_batch_of_contacts)
    rows = {row.entity: row for row in SyncFirstProgress.select()}
    assert rows["employees"].finished_at is not None
    assert rows["employees"].done == rows["employees"].total
    assert rows["contacts"].finished_at is None
    assert rows["contacts"].done == engine.BATCH and Contact.select().count() == engine.BATCH
    assert rows["contacts"].total == business["contacts"]
    assert rows["note_entries"].done == 0 and rows["note_entries"].total == \
        business["note_entries"]
    # the page says as much, and refreshes itself without script
    response = admin_client.get("/admin/sync/first")
    page = body(response)
    assert response.headers["Refresh"] == "5" and "<script" not in page
    assert "Refresh" not in admin_client.get("/admin/sync/first?refresh=off").headers
    row = re.search(r"<tr>\s*<td[^>]*>Contacts</td>(.*?)</tr>", page, re.S)
    assert row and f">{engine.BATCH}<" in row.group(1) and \
        f">{business['contacts']}<" in row.group(1)
    total = sum(row.total for row in rows.values())
    done = sum(row.done for row in rows.values())
    assert f"{done} of {total} ({done * 100 // total}%)" in text_of(response)
    assert first_sync.running() and app.test_client().get("/").status_code == 503
    # a new run (as after a restart) goes on from there: nothing is written twice
    before = kontor_records()
    again = service.run_sync(app.config)
    assert again.status == "ok" and again.first
    assert again.to_kontor == kontor_records() - before
    assert not first_sync.running()
    assert Contact.select().count() == business["contacts"]
    assert ContactPerson.select().count() == business["contact_persons"]
    assert NoteEntry.select().count() == business["note_entries"]
    response = admin_client.get("/admin/sync/first")
    assert "The first sync is done" in text_of(response)
    assert "Refresh" not in response.headers
    assert all(table.done == table.total for table in first_sync.progress().tables)
    assert [event.action for event in AuditEvent.select().where(
        AuditEvent.action.startswith("sync.first_sync")).order_by(AuditEvent.id)] == \
        ["sync.first_sync.started", "sync.first_sync.done"]


def test_a_shutdown_stops_the_first_sync_after_a_batch_and_the_next_start_goes_on(
        app, admin_client, firm):
    fill_demo(firm, 250)
    save_settings(admin_client, firm)
    assert activate(admin_client).status_code == 302
    with first_sync.stopping():          # as app.main does on SIGTERM
        line = service.run_sync(app.config)
    assert not first_sync.STOPPING.is_set()
    assert line.status == "error" and service.error_of(line) == {"code": "interrupted"}
    assert first_sync.running()
    done = {row.entity: row.done for row in SyncFirstProgress.select()}
    assert 0 < sum(done.values()) < sum(firm.count(entity) for entity in engine.ORDER)
    line = service.run_sync(app.config)
    assert line.status == "ok" and not first_sync.running()
    assert Contact.select().count() == firm.count("contacts")


def test_the_time_left_comes_from_the_current_runs_rate(app):
    now = utcnow()
    SyncState.insert(id=1, active=True, activated_at=now - timedelta(minutes=5)).execute()
    for entity, done, total in (("employees", 10, 10), ("contacts", 300, 1000)):
        SyncFirstProgress.create(entity=entity, total=total, done=done, done_at_resume=10 if
                                 entity == "employees" else 100, started_at=now - timedelta(
                                     minutes=4), resumed_at=now - timedelta(seconds=20),
                                 updated_at=now - timedelta(seconds=1))
    shown = first_sync.progress(clock=lambda: now)
    assert not shown.working and shown.seconds_left is None      # no run under way
    SyncRun.create(node="n", first=True, started_at=now - timedelta(seconds=20))
    shown = first_sync.progress(clock=lambda: now)
    # 200 records in 20 s: 10 a second; 700 left
    assert shown.working and shown.seconds_left == 70
    assert (shown.done, shown.total, shown.percent) == (310, 1010, 30)
    assert first_sync.retry_after(shown) == 70
    shown.seconds_left = 5
    assert first_sync.retry_after(shown) == first_sync.RETRY_AFTER_MIN
    shown.seconds_left = None
    assert first_sync.retry_after(shown) == first_sync.RETRY_AFTER_DEFAULT


def test_a_first_sync_whose_only_errors_are_records_is_done(app, admin_client, firm):
    if not firm.url.startswith("sqlite"):
        pytest.skip("only SQLite keeps text in a whole-number column")
    firm.add("contacts", customer_number=10001, name="Bakker Techniek B.V.")
    firm.database.execute_sql("INSERT INTO contacts (customer_number, name) "
                              "VALUES ('abc', 'Unfit B.V.')")
    save_settings(admin_client, firm)
    assert activate(admin_client).status_code == 302
    run = service.run_sync(app.config)
    assert run.status == "error" and service.error_of(run)["code"] == "records"
    assert not first_sync.running()          # nobody stays locked out for one bad record


def test_a_new_activation_starts_a_fresh_progress(app, admin_client, firm):
    fill_demo(firm, 3)
    save_settings(admin_client, firm)
    assert activate(admin_client).status_code == 302
    service.run_sync(app.config)
    SyncState.update(active=False, first_sync_done_at=None).execute()
    firm.add("contacts", customer_number=20001, name="Nieuw B.V.")
    assert activate(admin_client).status_code == 302
    shown = first_sync.progress()
    assert shown.tables == [] and shown.finished_at is None


# --- flask sync-now ---------------------------------------------------------------------------

def test_sync_now_shows_the_first_syncs_progress_as_a_bar(app, runner, started, firm):
    result = runner.invoke(args=["sync-now"])
    assert result.exit_code == 0, result.output
    assert "First sync with the business database" in result.output
    assert re.search(r"\[#{30}\] 100%  (\d+) of \1 records; done", result.output)
    assert f"contacts: {firm.count('contacts')} of {firm.count('contacts')}" in result.output
    assert "Sync run" in result.output and "OK" in result.output
    assert not first_sync.running()
    # afterwards an ordinary cycle, without a bar
    result = runner.invoke(args=["sync-now"])
    assert result.exit_code == 0 and "First sync" not in result.output


def test_sync_now_follows_a_first_sync_that_another_process_runs(app, runner, started, firm):
    now = utcnow()
    jobs.take_lease(engine.LEASE_NAME, "other-computer:1:abc", engine.LEASE_TTL)
    SyncRun.create(node="other-computer:1:abc", first=True, started_at=now)
    for entity in engine.ORDER:
        SyncFirstProgress.create(entity=entity, total=100, done=40, started_at=now,
                                 resumed_at=now, updated_at=now)

    def other_process_finishes():
        time.sleep(1.5)
        with db.connection_context():
            SyncState.update(first_sync_done_at=utcnow()).execute()
    other = threading.Thread(target=other_process_finishes)
    other.start()
    result = runner.invoke(args=["sync-now"])
    other.join()
    assert result.exit_code == 0, result.output
    assert " 40%  160 of 400 records" in result.output
    assert "Another Kontor process ran the first sync; it is done." in result.output
