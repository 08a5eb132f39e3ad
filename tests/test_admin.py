"""The superuser's pages (SPEC sections 2, 3, 5, 11): company details with the readiness
checklist, who is signed in, the audit log, and /healthz for monitoring."""
import ast
import html
import re
import socket
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path

import pytest
import time_machine
from helpers import make_company, sign_in, text

from app import create_app
from blueprints.filters import AUDIT_ACTION_LABELS
from kontor import audit, jobs, mail
from kontor import config as kontor_config
from models import AuditEvent, Company, OutboxMessage, User, UserSession, db

COMPANY_FORM = {
    "name": "Jansen Installatie BV", "street": "Dorpsstraat 1", "postcode": "1234 AB",
    "city": "Utrecht", "country": "NL", "phone": "+31 30 123 4567",
    "email": "info@jansen.example", "vat_number": "NL001234567B01", "org_number": "12345678",
    "language": "en", "timezone": "Europe/Amsterdam",
}


def checklist(client, url="/admin/company"):
    """The readiness checklist as [(text, link)], or None when the page says "Ready"."""
    body = client.get(url).get_data(as_text=True)
    block = re.search(r'<ul class="checklist">(.*?)</ul>', body, re.S)
    if block is None:
        assert re.search(r"<h2[^>]*>Ready</h2>", body), "neither a checklist nor Ready"
        return None
    items = []
    for item in re.findall(r"<li>(.*?)</li>", block.group(1), re.S):
        link = re.search(r'<a href="([^"]+)"', item).group(1)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item.split("—")[0])).strip()
        items.append((html.unescape(text), link))
    return items


# --- readiness checklist -------------------------------------------------------------------

def test_a_complete_company_and_a_linked_superuser_are_ready(app, admin_client):
    assert checklist(admin_client) is None
    assert checklist(admin_client, "/") is None


def test_the_checklist_names_exactly_what_is_missing_with_links(app, admin_client):
    make_company(street="", vat_number="")
    assert checklist(admin_client) == [
        ("Street and number is missing", "/admin/company#street"),
        ("VAT number is missing", "/admin/company#vat_number"),
    ]


def test_an_unlinked_superuser_is_told_to_link_to_an_employee(app, admin_client, superuser):
    make_company(street="", vat_number="")
    User.update(employee=None).where(User.id == superuser.id).execute()
    assert checklist(admin_client) == [
        ("Street and number is missing", "/admin/company#street"),
        ("VAT number is missing", "/admin/company#vat_number"),
        ("Your account is linked to an employee in the employee register", "/employees"),
    ]
    assert checklist(admin_client, "/") == checklist(admin_client)   # the start page too


@pytest.mark.parametrize("field, label", [
    ("name", "Company name"), ("street", "Street and number"), ("postcode", "Postcode"),
    ("city", "City"), ("phone", "Company phone"), ("email", "Company e-mail"),
    ("vat_number", "VAT number"),
])
def test_each_required_company_field_is_named_when_blank(app, admin_client, field, label):
    make_company(**{field: "   "})    # only spaces is still nothing
    assert checklist(admin_client) == [(f"{label} is missing", f"/admin/company#{field}")]


# --- the address links in e-mails use (issue 10 item 16) -----------------------------------

def base_url_warning(client, url):
    """The text of the warning that links in e-mails open only on this computer, or None."""
    page = client.get(url).get_data(as_text=True)
    block = re.search(r'<section[^>]*aria-labelledby="base-url-heading">(.*?)</section>',
                      page, re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", block.group(1))).split()) \
        if block else None


def test_without_a_base_address_links_use_this_computers_network_name_and_port(monkeypatch):
    assert kontor_config.from_environment({})["BASE_URL"] == \
        f"http://{socket.gethostname()}:8080"
    monkeypatch.setattr(socket, "gethostname", lambda: "kontor-pc")
    assert kontor_config.from_environment({})["BASE_URL"] == "http://kontor-pc:8080"
    assert kontor_config.from_environment({"KONTOR_PORT": "8123"})["BASE_URL"] == \
        "http://kontor-pc:8123"
    assert kontor_config.from_environment(
        {"KONTOR_BASE_URL": "https://kontor.example.nl/"})["BASE_URL"] == \
        "https://kontor.example.nl"


@pytest.mark.parametrize("host, expected", [
    ("0.0.0.0", "http://kontor-pc:8080"), ("::", "http://kontor-pc:8080"),
    ("192.168.1.20", "http://192.168.1.20:8080"), ("fd00::5", "http://[fd00::5]:8080"),
    ("kontor.intra", "http://kontor.intra:8080"), ("127.0.0.1", "http://127.0.0.1:8080")])
def test_served_on_one_address_links_use_that_address(monkeypatch, host, expected):
    monkeypatch.setattr(socket, "gethostname", lambda: "kontor-pc")
    assert kontor_config.from_environment({"KONTOR_HOST": host})["BASE_URL"] == expected


class TestWithoutAConfiguredBaseAddress:
    @pytest.fixture
    def app_config(self, app_config, monkeypatch):
        monkeypatch.setattr(socket, "gethostname", lambda: "kontor-pc")
        for name in ("KONTOR_BASE_URL", "KONTOR_HOST", "KONTOR_PORT"):
            monkeypatch.delenv(name, raising=False)
        return {k: v for k, v in app_config.items() if k != "BASE_URL"}

    def test_a_reset_mail_links_to_this_computers_network_name(self, app, client, staff):
        client.form("/forgot", {"email": staff.email})
        mailed = OutboxMessage.get(OutboxMessage.kind == "reset").body
        assert "http://kontor-pc:8080/reset/" in mailed
        assert "localhost" not in mailed

    def test_the_checklist_does_not_warn(self, app, admin_client):
        assert base_url_warning(admin_client, "/admin/company") is None


@pytest.mark.parametrize("address", [
    "http://localhost:8080", "http://127.0.0.1:8080", "http://127.0.1.1", "http://[::1]:8080",
    "http://0.0.0.0:8080", "https://kontor.localhost", "http://LOCALHOST.:8080",
    # the other spellings of this computer a browser reads (found by a new user)
    "http://127.1:8612", "http://[::ffff:127.0.0.1]:8612", "http://2130706433:8612",
    "http://0:8080"])
def test_the_checklist_warns_when_links_would_open_only_on_this_computer(app, admin_client,
                                                                         address):
    app.config["BASE_URL"] = address
    for url in ("/admin/company", "/", "/users"):   # ready: the users page shows only this
        warning = base_url_warning(admin_client, url)
        assert warning is not None, url
        assert address in warning and "KONTOR_BASE_URL" in warning, warning


@pytest.mark.parametrize("address", [
    "http://kontor-pc:8080", "https://kontor.example.nl", "http://192.168.1.20:8080",
    "http://[fd00::5]:8080", "http://localhost-server.intra"])
def test_the_checklist_does_not_warn_for_a_network_address(app, admin_client, address):
    app.config["BASE_URL"] = address
    for url in ("/admin/company", "/", "/users"):
        assert base_url_warning(admin_client, url) is None, url


def test_only_superusers_see_the_base_address_warning(app, staff_client):
    app.config["BASE_URL"] = "http://localhost:8080"
    assert base_url_warning(staff_client, "/") is None


def test_the_base_address_warning_is_translated(app, admin_client, superuser):
    app.config["BASE_URL"] = "http://localhost:8080"
    User.update(language="nl").where(User.id == superuser.id).execute()
    warning = base_url_warning(admin_client, "/admin/company")
    assert "alleen op deze computer" in warning and "http://localhost:8080" in warning


def test_optional_company_fields_do_not_block_readiness(app, admin_client):
    make_company(org_number="", country="")
    assert checklist(admin_client) is None


def test_the_links_lead_to_the_fields(app, admin_client):
    make_company(street="", vat_number="")
    body = admin_client.get("/admin/company").get_data(as_text=True)
    for anchor in ("street", "vat_number"):
        assert f'id="{anchor}"' in body


def test_staff_users_see_no_checklist(app, staff_client):
    body = staff_client.get("/").get_data(as_text=True)
    assert "checklist" not in body and "Ready" not in body


# --- company details -----------------------------------------------------------------------

def test_the_superuser_saves_the_company_details(app, admin_client, superuser):
    make_company(street="", vat_number="")
    version = Company.current().version
    form = {**COMPANY_FORM, "name": "  Jansen & Zonen BV ", "street": "Kerkstraat 9",
            "vat_number": "NL009999999B01", "timezone": "Europe/Oslo", "country": "NO"}
    response = admin_client.form("/admin/company", form)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/company"
    company = Company.current()
    assert (company.name, company.street, company.vat_number, company.timezone,
            company.country) == ("Jansen & Zonen BV", "Kerkstraat 9", "NL009999999B01",
                                 "Europe/Oslo", "NO")
    assert company.version == version + 1
    page = admin_client.get("/admin/company").get_data(as_text=True)
    assert "Company details saved." in page
    assert 'value="Kerkstraat 9"' in page
    assert checklist(admin_client) is None
    event = AuditEvent.get(AuditEvent.action == "company.updated")
    assert (event.user_id, event.target.strip()) == (superuser.id, "Jansen & Zonen BV")


def test_company_details_with_mistakes_are_shown_again_with_the_errors(app, admin_client):
    form = {**COMPANY_FORM, "name": "", "email": "info at jansen", "street": "Kerkstraat 9",
            "country": "XX"}
    response = admin_client.form("/admin/company", form)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert re.search(r'id="name-error"[^>]*>\s*This field is required', body)
    assert re.search(r'id="email-error"[^>]*>\s*Enter a valid e-mail address', body)
    assert re.search(r'id="country-error"', body)
    assert 'value="Kerkstraat 9"' in body and 'value="info at jansen"' in body
    assert Company.current().street == "Dorpsstraat 1"


def test_company_details_cannot_be_longer_than_the_database_allows(app, admin_client):
    response = admin_client.form("/admin/company", {**COMPANY_FORM, "postcode": "9" * 21})
    assert response.status_code == 400
    assert Company.current().postcode == "1234 AB"


# --- signed in now -------------------------------------------------------------------------

def test_the_superuser_sees_who_is_signed_in(app, admin_client, staff_client, staff):
    body = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert "piet@jansen.example" in body and "anna@jansen.example" in body
    assert "This session" in body
    assert body.count("End session") == 1   # not for one's own session
    assert "127.0.0.1" in body


def test_the_sessions_list_comes_in_pages_of_50(app, admin_client, staff):
    """A list page shows 50 rows and a Next link, never every row at once (issue 12 item 26)."""
    UserSession.insert_many([dict(user=staff.id, realm="staff", ip=f"10.0.0.{i}",
                                  sid_hash=f"{i:064d}", user_agent="Firefox")
                             for i in range(60)]).execute()
    first = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert first.count("<tr>") - 1 == 50 and "page=2" in first
    second = admin_client.get("/admin/sessions?page=2").get_data(as_text=True)
    assert second.count("<tr>") - 1 == 11       # the other 10 and the superuser's own
    assert "This session" in second            # signed in before the 60: on the last page


def test_ending_a_session_signs_the_other_browser_out(app, admin_client, staff_client,
                                                      superuser, staff):
    row = UserSession.get(UserSession.user == staff.id, UserSession.ended_at.is_null())
    response = admin_client.form(f"/admin/sessions/{row.id}/end")
    assert response.status_code == 302
    assert "The session of piet@jansen.example is ended." in admin_client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert UserSession.get_by_id(row.id).end_reason == "ended_by_admin"

    answer = staff_client.get("/employees")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")
    login_page = staff_client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your session was ended by an administrator." in login_page
    assert "piet@jansen.example" not in admin_client.get("/admin/sessions").get_data(
        as_text=True)
    assert admin_client.get("/").status_code == 200   # the superuser stays signed in
    event = AuditEvent.get(AuditEvent.action == "session.ended")
    assert (event.user_id, event.target) == (superuser.id, "piet@jansen.example")


def test_the_signed_out_user_can_sign_in_again(app, admin_client, staff_client, staff):
    row = UserSession.get(UserSession.user == staff.id, UserSession.ended_at.is_null())
    admin_client.form(f"/admin/sessions/{row.id}/end")
    staff_client.get("/")
    assert sign_in(staff_client, staff.email).status_code == 302
    assert staff_client.get("/employees").status_code == 200


def test_ending_an_unknown_session_is_404(app, admin_client):
    assert admin_client.form("/admin/sessions/999999/end").status_code == 404


def test_a_staff_user_cannot_end_sessions(app, client, staff_client, superuser, staff):
    sign_in(client, superuser.email)
    row = UserSession.get(UserSession.user == superuser.id, UserSession.ended_at.is_null())
    assert staff_client.form(f"/admin/sessions/{row.id}/end").status_code == 403
    assert UserSession.get_by_id(row.id).ended_at is None
    assert client.get("/admin/sessions").status_code == 200


# --- audit log -----------------------------------------------------------------------------

def test_the_audit_log_page_lists_events_newest_first(app, client, other_client, superuser,
                                                      staff):
    sign_in(other_client, staff.email, password="not the right one")
    sign_in(client, superuser.email)
    body = client.get("/admin/audit").get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td[^>]*>.*?</tr>", body, re.S)
    actions = [re.search(r"<code class=\"hint\">([^<]+)</code>", row).group(1) for row in rows]
    assert actions[:2] == ["login", "login.failed"]
    assert "anna@jansen.example" in rows[0]
    assert "piet@jansen.example" in rows[1]


def test_the_audit_log_can_be_filtered_by_action(app, client, other_client, superuser, staff):
    sign_in(other_client, staff.email, password="not the right one")
    sign_in(client, superuser.email)
    body = client.get("/admin/audit?action=login.failed").get_data(as_text=True)
    actions = re.findall(r'<code class="hint">([^<]+)</code>', body)
    assert actions == ["login.failed"]
    assert "Sign-in failed" in text(client.get("/admin/audit?action=login.failed"))


def test_the_audit_log_speaks_the_readers_language(app, client, superuser):
    """Issue 11 item 19: the actions were codes ("login") in every language."""
    User.update(language="de").where(User.id == superuser.id).execute()
    sign_in(client, superuser.email)
    page = text(client.get("/admin/audit"))
    assert "Angemeldet" in page
    assert '<option value="login.failed">Anmeldung fehlgeschlagen</option>' in \
        client.get("/admin/audit").get_data(as_text=True)


def test_the_audit_log_pages_through_many_events(app, admin_client):
    for n in range(120):
        audit.record("test.event", target=f"item {n}")
    first = admin_client.get("/admin/audit?action=test").get_data(as_text=True)
    assert "item 119" in first and "item 19<" not in first
    assert 'rel="next"' in first
    second = admin_client.get("/admin/audit?action=test&page=2").get_data(as_text=True)
    assert "item 19<" in second and "item 119" not in second


# --- /healthz ------------------------------------------------------------------------------

def test_healthz_reports_database_outbox_and_scheduler(app, client, runner):
    mail.enqueue("piet@jansen.example", "One", "Body")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    report = response.get_json()
    assert report["status"] == "ok"
    assert report["database"] == "ok"
    assert report["outbox"]["queued"] == 1
    assert report["outbox"]["failed"] == 0
    assert report["outbox"]["oldest_queued_seconds"] >= 0
    assert report["scheduler"]["this_process"] == "not running"
    assert report["scheduler"]["jobs"] == {}

    runner.invoke(args=["run-jobs"])
    report = client.get("/healthz").get_json()
    assert report["outbox"]["queued"] == 0 and report["outbox"]["written"] == 1
    assert set(report["scheduler"]["jobs"]) == set(jobs.JOBS)
    for state in report["scheduler"]["jobs"].values():
        assert state["stale"] is False and state["error"] is False
        assert state["last_run_at"].endswith("Z")


def test_healthz_notices_a_job_that_stopped_running(app, client, runner):
    result = runner.invoke(args=["run-jobs"])
    assert result.exit_code == 0, result.output
    # every job has run just now: none is stale yet
    just_run = client.get("/healthz").get_json()["scheduler"]["jobs"]
    assert jobs.JOBS and set(just_run) == set(jobs.JOBS)
    assert not any(state["stale"] for state in just_run.values())

    # six minutes later, without another run, every one of them is
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
        report = client.get("/healthz").get_json()
    assert set(report["scheduler"]["jobs"]) == set(jobs.JOBS)
    assert all(state["stale"] for state in report["scheduler"]["jobs"].values())


def test_healthz_shows_a_running_scheduler(app, client):
    scheduler = jobs.start_scheduler(app.config)
    app.extensions["kontor_scheduler"] = scheduler
    try:
        assert client.get("/healthz").get_json()["scheduler"]["this_process"] == "running"
    finally:
        scheduler.shutdown(wait=True)
        del app.extensions["kontor_scheduler"]


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path, app_config):
    broken = create_app({**app_config,
                         "DATABASE_URL": f"sqlite:///{tmp_path}/no/such/folder/kontor.db"})
    try:
        response = broken.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "error", "database": "unreachable"}
    finally:
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()


def test_healthz_needs_no_sign_in_and_reveals_no_people(app, client, superuser):
    body = client.get("/healthz").get_data(as_text=True)
    assert "anna" not in body and "@" not in body


def audit_codes_in_the_source():
    """Every action code the source passes to `audit.record` (or to the users view's
    `account_action`, which passes it on): literal codes, both sides of a conditional, and
    f-strings as fnmatch patterns."""
    root = Path(__file__).resolve().parent.parent
    codes = set()
    for path in [root / "app.py", *(root / "blueprints").rglob("*.py"),
                 *(root / "kontor").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "record" and \
                    getattr(func.value, "id", "") == "audit" and node.args:
                argument = node.args[0]
            elif getattr(func, "id", "") == "account_action" and len(node.args) == 4:
                argument = node.args[3]
            else:
                continue
            for part in ast.walk(argument):
                if isinstance(part, ast.JoinedStr):
                    codes.add("".join(v.value if isinstance(v, ast.Constant) else "*"
                                      for v in part.values))
                elif isinstance(part, ast.Constant) and isinstance(part.value, str) and \
                        not any(isinstance(p, ast.JoinedStr) for p in ast.walk(argument)):
                    codes.add(part.value)
    return codes


def test_every_audit_action_in_the_source_has_words():
    codes = audit_codes_in_the_source()
    assert len(codes) > 25 and "login.failed" in codes and "support.*.added" in codes
    missing = [code for code in codes
               if not any(fnmatch(known, code) for known in AUDIT_ACTION_LABELS)]
    assert missing == []


@pytest.mark.parametrize("address", ["ftp://kontor:8612", "kontor-pc:8612", "http://",
                                     "https://kontor.example.nl:port"])
def test_a_base_address_that_is_no_web_address_stops_kontor_at_start(app_config, address):
    """Found by a new user: "ftp://…" was used in the setup link, and "kontor-pc:8612" (no
    scheme) was warned about as if it were this computer only."""
    with pytest.raises(ValueError, match="KONTOR_BASE_URL"):
        create_app({**app_config, "BASE_URL": address})
