"""CSRF, safe redirects, output escaping, security headers, error pages, reverse proxies, the
audit log and the secret key (SECURITY.md items 23-28, 34 and 35)."""
import logging
import os
import re
import stat
from datetime import datetime
from urllib.parse import quote

import pytest
import time_machine
from flask import url_for
from helpers import (
    PASSWORD,
    KontorClient,
    assert_walked,
    make_company,
    make_user,
    sign_in,
    url_values,
)

from app import create_app
from kontor import audit, mail, migrate
from kontor import config as kontor_config
from kontor.access import access_level, public
from models import AuditEvent, Company, Employee, OutboxMessage, UserSession, db

CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

SCRIPT = '<script>alert("kontor")</script>'
ATTRIBUTE = '"><img src=x onerror=alert(1)>'


def post_routes(app):
    """(url, access level) of every route that accepts POST, variables filled with dummies."""
    found = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        with app.test_request_context():
            found.append((url_for(rule.endpoint, **url_values(rule, 4242, "x")),
                          access_level(rule.endpoint)))
    return sorted(found)


def csrf_page(response):
    return response.status_code == 400 and \
        "The form has expired" in response.get_data(as_text=True)


# --- CSRF (item 23) ------------------------------------------------------------------------

def test_every_post_without_a_token_from_a_signed_in_user_is_refused_with_a_friendly_page(
        app, admin_client):
    routes = post_routes(app)
    for url, _level in routes:
        response = admin_client.post(url, data={"name": "x", "email": "x@example.com"})
        assert csrf_page(response), (url, response.status_code)
    assert_walked([url for url, _level in routes], 8, {"/login", "/admin/company"})


def test_every_post_with_a_forged_token_is_refused(app, admin_client):
    checked = []
    for url, _level in post_routes(app):
        response = admin_client.post(url, data={"csrf_token": "forged.token.value"})
        assert csrf_page(response), (url, response.status_code)
        checked.append(url)
    assert_walked(checked, 8, {"/login", "/admin/company"})


def test_a_token_from_another_browser_does_not_work(app, admin_client, other_client):
    stolen = other_client.csrf_token()
    response = admin_client.post("/admin/company", data={"csrf_token": stolen, "name": "Evil"})
    assert csrf_page(response)
    assert Company.current().name == "Jansen Installatie BV"


def test_a_visitors_post_without_a_token_is_refused_or_sent_to_login_never_an_error(app, client):
    make_company()
    public, protected = [], []
    for url, level in post_routes(app):
        response = client.post(url, data={"email": "a@b.example", "password": "x" * 12})
        if level == "public":
            assert csrf_page(response), (url, response.status_code)
            public.append(url)
        else:   # the access check answers first: nothing reaches the view
            assert response.status_code == 302, (url, response.status_code)
            assert response.headers["Location"].startswith("/login")
            protected.append(url)
    assert_walked(public, 4, {"/login", "/logout"})
    assert_walked(protected, 8, {"/admin/company", "/employees/new"})


def test_sign_in_and_sign_out_need_the_token(app, client, staff):
    response = client.post("/login", data={"email": staff.email, "password": PASSWORD})
    assert csrf_page(response)
    assert not AuditEvent.select().where(AuditEvent.action == "login").exists()
    assert sign_in(client, staff.email).status_code == 302
    assert csrf_page(client.post("/logout"))
    assert client.get("/").status_code == 200   # still signed in


def test_a_post_without_a_token_changes_nothing(app, admin_client):
    admin_client.post("/employees/new", data={"name": "Sneaky"})
    assert not Employee.select().where(Employee.name == "Sneaky").exists()


# --- safe "next" (item 24) -----------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "//evil.example", "///evil.example", "/\\evil.example", "/\\/evil.example",
    "javascript:alert(1)", "https://evil.example", "http://kontor.test.evil.example/",
    "/\t/evil.example", "evil.example", "",
])
def test_after_sign_in_an_unsafe_next_page_goes_to_the_start_page(app, client, staff, target):
    response = client.form("/login?next=" + quote(target, safe=""),
                           {"email": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/employees?q=a", "/profile", "/employees"])
def test_after_sign_in_a_same_site_next_page_is_honoured(app, client, staff, target):
    response = client.form("/login?next=" + quote(target, safe=""),
                           {"email": staff.email, "password": PASSWORD})
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil"])
def test_the_language_switch_does_not_redirect_off_site(app, client, target):
    response = client.form("/language", {"language": "de", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_signed_in_user_opening_login_with_an_unsafe_next_stays_here(app, client, staff):
    sign_in(client, staff.email)
    response = client.get("/login?next=" + quote("//evil.example", safe=""))
    assert response.headers["Location"] == "/"


# --- output escaping (item 25) --------------------------------------------------------------

def assert_escaped(body, where):
    assert "<script" not in body.lower(), where
    assert "<img src=x" not in body, where
    assert "&lt;script&gt;" in body or "&lt;img src=x" in body, where


def test_script_in_employee_fields_is_shown_as_text(app, admin_client):
    response = admin_client.fill("/employees/new", {
        "name": SCRIPT, "email": "eve@jansen.example", "title": ATTRIBUTE,
        "department": SCRIPT, "phone": "<b>1</b>", "mobile": ATTRIBUTE[:50], "active": "y"})
    assert response.status_code == 302
    employee = Employee.get(Employee.email == "eve@jansen.example")
    assert employee.name == SCRIPT   # stored as typed, escaped only on output
    listing = admin_client.get("/employees").get_data(as_text=True)
    assert_escaped(listing, "list")
    assert "&lt;b&gt;1&lt;/b&gt;" in listing
    edit = admin_client.get(f"/employees/{employee.id}/edit").get_data(as_text=True)
    assert_escaped(edit, "edit form")
    assert 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in edit
    search = admin_client.get("/employees?q=" + quote(SCRIPT)).get_data(as_text=True)
    assert_escaped(search, "search")
    audit = admin_client.get("/admin/audit").get_data(as_text=True)
    assert_escaped(audit, "audit log")


def test_script_in_the_company_name_is_shown_as_text_on_every_page(app, admin_client, staff):
    fields = dict(name=SCRIPT, street=ATTRIBUTE, postcode="1234", city="<i>Utrecht</i>",
                  country="NL", phone="1", email="info@jansen.example", vat_number="NL1",
                  org_number="1", language="en", timezone="Europe/Amsterdam")
    assert admin_client.form("/admin/company", fields).status_code == 302
    assert Company.current().name == SCRIPT
    for url in ("/", "/admin/company", "/employees", "/profile", "/admin/audit",
                "/admin/sessions", "/admin/outbox", "/nowhere"):
        body = admin_client.get(url).get_data(as_text=True)
        assert_escaped(body, url)
    admin_client.form("/logout")
    assert_escaped(admin_client.get("/login").get_data(as_text=True), "login page")


def test_a_hostile_browser_name_is_shown_as_text_on_the_sessions_page(app, admin_client,
                                                                      other_client, staff):
    other_client.environ_base["HTTP_USER_AGENT"] = SCRIPT
    sign_in(other_client, staff.email)
    body = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert_escaped(body, "sessions")


def test_a_hostile_e_mail_subject_is_shown_as_text_in_the_outbox(app, admin_client):
    mail.enqueue("someone@jansen.example", SCRIPT, "body")
    assert_escaped(admin_client.get("/admin/outbox").get_data(as_text=True), "outbox")


# --- headers (item 26) ----------------------------------------------------------------------

def assert_security_headers(response, what):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    for directive in CSP.split("; "):
        assert directive in csp, (what, csp)
    assert "unsafe-inline" not in csp, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "same-origin", what


def add_failing_route(app):
    """A throwaway view that fails, as a bug in a real view would."""
    @public
    def broken_view():
        raise RuntimeError("database password is hunter2 (secret detail)")
    app.add_url_rule("/__broken__", "broken_view", broken_view)
    app.config["PROPAGATE_EXCEPTIONS"] = False   # answer like production, not like a test


def test_every_kind_of_response_carries_the_security_headers(app, client):
    add_failing_route(app)
    make_user("piet@jansen.example")
    responses = {
        "page": client.get("/login"),
        "404": client.get("/no/such/page"),
        "405": client.get("/logout"),
        "500": client.get("/__broken__"),
        "redirect": client.get("/employees"),
        "static": client.get("/static/kontor.css"),
        "healthz": client.get("/healthz"),
        "csrf 400": client.post("/login", data={}),
    }
    assert [r.status_code for r in responses.values()] == [200, 404, 405, 500, 302, 200, 200, 400]
    sign_in(client, "piet@jansen.example")
    responses["signed-in page"] = client.get("/employees")
    responses["403"] = client.get("/admin/company")
    responses["signed-in json"] = client.get("/healthz")
    for what, response in responses.items():
        assert_security_headers(response, what)
        response.close()


def test_hsts_only_over_https(app, client):
    plain = client.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = client.get("/login", base_url="https://kontor.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(re.search(r"max-age=(\d+)", secure.headers["Strict-Transport-Security"])
               .group(1)) >= 180 * 24 * 3600
    assert_security_headers(secure, "https page")


def test_signed_in_pages_are_never_cached(app, staff_client):
    for url in ("/", "/employees", "/profile", "/healthz"):
        assert staff_client.get(url).headers.get("Cache-Control") == "no-store", url


def test_the_session_cookie_is_http_only_and_same_site_lax(app, client):
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    secure = app.test_client().get("/login", base_url="https://kontor.test")
    assert "Secure" in secure.headers["Set-Cookie"].split("; ")


# --- error pages (item 27) ------------------------------------------------------------------

def test_a_failing_view_shows_a_generic_page_without_traceback(app, client, caplog):
    add_failing_route(app)
    with caplog.at_level(logging.ERROR):
        response = client.get("/__broken__")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    for leak in ("Traceback", "RuntimeError", "hunter2", "broken_view", 'File "'):
        assert leak not in body
    # ... while the administrator still finds the details in the log
    assert "hunter2" in caplog.text and "Traceback" in caplog.text


def test_debug_is_off_unless_asked_for(app, monkeypatch):
    assert app.debug is False
    monkeypatch.delenv("KONTOR_DEBUG", raising=False)
    assert kontor_config.from_environment({})["DEBUG"] is False
    assert kontor_config.from_environment({"KONTOR_DEBUG": "1"})["DEBUG"] is True


def test_not_found_and_method_not_allowed_are_friendly_pages(app, client):
    assert "Page not found" in client.get("/nope").get_data(as_text=True)
    response = client.get("/logout")
    assert response.status_code == 405
    assert "Not possible this way" in response.get_data(as_text=True)


# --- reverse proxies (item 28) --------------------------------------------------------------

PROXY = "10.0.0.1"
CLIENT_IP = "203.0.113.7"


def test_proxy_addresses_come_from_the_environment():
    settings = kontor_config.from_environment({"KONTOR_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2"})
    assert settings["TRUSTED_PROXIES"] == ["10.0.0.1", "10.0.0.2"]
    assert kontor_config.from_environment({})["TRUSTED_PROXIES"] == []


def test_a_proxy_entry_that_is_no_address_stops_kontor_at_start(app_config):
    with pytest.raises(ValueError, match="proxy.example"):
        create_app({**app_config, "TRUSTED_PROXIES": ["10.0.0.1", "proxy.example"]})


def test_a_proxy_network_trusts_every_address_in_it():
    networks = kontor_config.proxy_networks(["10.0.0.0/24", "::1"])
    assert kontor_config.is_trusted_proxy("10.0.0.77", networks)
    assert kontor_config.is_trusted_proxy("::1", networks)
    assert kontor_config.is_trusted_proxy("::ffff:10.0.0.5", networks)
    for outsider in ("10.0.1.1", "127.0.0.1", "", None, "not-an-address"):
        assert not kontor_config.is_trusted_proxy(outsider, networks), outsider


def login_ip(client, staff, remote_addr, forwarded_for):
    client.environ_base["REMOTE_ADDR"] = remote_addr
    response = client.form("/login", {"email": staff.email, "password": PASSWORD},
                           headers={"X-Forwarded-For": forwarded_for})
    assert response.status_code == 302
    event = AuditEvent.select().where(AuditEvent.action == "login").order_by(
        AuditEvent.id.desc()).get()
    row = UserSession.select().where(UserSession.user == staff.id).order_by(
        UserSession.id.desc()).get()
    return event.ip, row.ip


def test_without_configured_proxies_forwarded_headers_are_ignored(app, client, staff):
    assert app.config["TRUSTED_PROXIES"] == []
    assert login_ip(client, staff, PROXY, CLIENT_IP) == (PROXY, PROXY)
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


class TestBehindATrustedProxy:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TRUSTED_PROXIES": [PROXY]}

    def test_the_client_address_comes_from_the_proxy_header(self, app, client, staff):
        assert login_ip(client, staff, PROXY, CLIENT_IP) == (CLIENT_IP, CLIENT_IP)

    def test_a_spoofed_first_address_is_ignored(self, app, client, staff):
        assert login_ip(client, staff, PROXY, f"6.6.6.6, {CLIENT_IP}") == (CLIENT_IP, CLIENT_IP)

    def test_anyone_else_cannot_claim_another_address(self, app, client, staff):
        assert login_ip(client, staff, "192.0.2.9", CLIENT_IP) == ("192.0.2.9", "192.0.2.9")

    def test_the_signed_in_now_page_shows_the_real_client(self, app, client, other_client,
                                                          superuser, staff):
        login_ip(other_client, staff, PROXY, CLIENT_IP)
        sign_in(client, superuser.email)
        assert CLIENT_IP in client.get("/admin/sessions").get_data(as_text=True)

    def test_https_at_the_proxy_makes_the_cookie_secure(self, app, client):
        client.environ_base["REMOTE_ADDR"] = PROXY
        response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in response.headers["Set-Cookie"].split("; ")
        assert "Strict-Transport-Security" in response.headers

    def test_an_untrusted_client_claiming_https_gets_no_secure_cookie(self, app, client):
        client.environ_base["REMOTE_ADDR"] = "192.0.2.9"
        response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" not in response.headers["Set-Cookie"].split("; ")
        assert "Strict-Transport-Security" not in response.headers


# --- audit log and logging (item 34) --------------------------------------------------------

FROZEN = datetime(2026, 3, 2, 9, 30, 0)


def events(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def test_sign_ins_failures_lockout_resets_and_denials_are_audited_in_utc(app, client,
                                                                        other_client, staff):
    with time_machine.travel(FROZEN.replace(tzinfo=__import__("datetime").timezone.utc),
                             tick=False):
        sign_in(other_client, staff.email)
        other_client.get("/admin/company")
        for _ in range(5):
            sign_in(client, staff.email, password="not the password at all")
        client.form("/forgot", {"email": staff.email})
    login, = events("login")
    assert (login.user_id, login.at) == (staff.id, FROZEN)
    denied, = events("access.denied")
    assert (denied.user_id, denied.target, denied.at) == (staff.id, "/admin/company", FROZEN)
    failures = events("login.failed")
    assert len(failures) == 5
    assert {(f.user_id, f.target, f.at) for f in failures} == {(staff.id, staff.email, FROZEN)}
    locked, = events("account.locked")
    assert (locked.user_id, locked.target, locked.at) == (staff.id, staff.email, FROZEN)
    reset, = events("password.reset_requested")
    assert (reset.user_id, reset.at) == (staff.id, FROZEN)
    assert login.ip == "127.0.0.1"


def test_a_failed_sign_in_for_an_unknown_address_is_audited_without_a_user(app, client):
    make_company()
    sign_in(client, "nobody@jansen.example", password="whatever it is")
    failure, = events("login.failed")
    assert failure.user_id is None
    assert failure.target == "nobody@jansen.example"


def test_line_breaks_in_logged_values_cannot_forge_log_lines(app, admin_client, caplog):
    name = "Eve\r\nINFO kontor.audit: audit action=login user=1"
    with caplog.at_level(logging.INFO, logger="kontor.audit"):
        response = admin_client.fill("/employees/new", {"name": name, "active": "y"})
    assert response.status_code == 302
    lines = [r.getMessage() for r in caplog.records if r.name == "kontor.audit"]
    created = [line for line in lines if "employee.created" in line]
    assert len(created) == 1
    assert "\n" not in created[0] and "\r" not in created[0]
    event, = events("employee.created")
    assert "\n" not in event.target and "\r" not in event.target
    # a name is one line since issue 10 (blueprints.forms.Form); a value that still has line
    # breaks is logged with them encoded
    with caplog.at_level(logging.INFO, logger="kontor.audit"):
        audit.record("note.added", target=name)
    assert "Eve\\r\\nINFO kontor.audit" in caplog.records[-1].getMessage()


def test_passwords_and_tokens_never_reach_the_logs_or_the_audit_log(app, client, staff, caplog):
    wrong = "wrong password with a secret 7731"
    new = "a brand new password for Piet 8842"
    caplog.set_level(logging.INFO)                   # what `python app.py` logs
    caplog.set_level(logging.DEBUG, logger="kontor")  # and everything of Kontor's own
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    if True:
        sign_in(client, staff.email, password=wrong)
        sign_in(client, staff.email)
        client.form("/logout")
        client.form("/forgot", {"email": staff.email})
        message = OutboxMessage.get(OutboxMessage.kind == "reset")
        token = re.search(r"/reset/(\S+)", message.body).group(1)
        assert client.get(f"/reset/{token}").status_code == 302
        response = client.form("/reset", {"password": new, "confirm": new})
        assert response.status_code == 302
        sign_in(client, staff.email, password=new)
    assert AuditEvent.select().where(AuditEvent.action == "password.reset").exists()
    stored = " ".join(f"{e.action} {e.target} {e.detail} {e.ip}" for e in AuditEvent.select())
    for secret in (PASSWORD, wrong, new, token):
        assert secret not in caplog.text, secret
        assert secret not in stored, secret


# --- the secret key (item 35) ---------------------------------------------------------------

@pytest.fixture
def keyless_config(app_config, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("KONTOR_SECRET_KEY", raising=False)
    return {k: v for k, v in app_config.items() if k != "SECRET_KEY"}


def test_a_secret_key_is_generated_once_with_owner_only_permissions(keyless_config):
    first = create_app(keyless_config)
    path = os.path.join(keyless_config["DATA_DIR"], "secret_key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        stored = handle.read().strip()
    assert len(bytes.fromhex(stored)) == 32
    assert first.secret_key == stored
    second = create_app(keyless_config)
    assert second.secret_key == stored
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_secret_key_from_the_environment_wins(keyless_config, monkeypatch):
    generated = create_app(keyless_config).secret_key
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "k" * 40)
    assert create_app(keyless_config).secret_key == "from-the-environment-" + "k" * 40
    assert generated != "from-the-environment-" + "k" * 40


def test_a_form_opened_before_a_restart_still_works_after_it(keyless_config):
    """The same data folder gives the same key, so CSRF tokens stay valid across a restart."""

    before = create_app(keyless_config)
    before.test_client_class = KontorClient
    migrate.upgrade(db.obj)
    try:
        with before.app_context():
            make_user("piet@jansen.example")
        browser = before.test_client()
        assert sign_in(browser, "piet@jansen.example").status_code == 302
        token = browser.csrf_token()
        after = create_app(keyless_config)
        same_browser = after.test_client()
        same_browser.set_cookie("kontor_session",
                                browser.get_cookie("kontor_session").value)
        response = same_browser.post("/language", data={"csrf_token": token, "language": "de"})
        assert response.status_code == 302
    finally:
        if not db.is_closed():
            db.close()
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()
