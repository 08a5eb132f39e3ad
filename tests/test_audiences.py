"""Two audiences (SECURITY.md item 36): staff and a website's portal customers are separate
realms, with separate apps, cookies and session rows. A portal session never satisfies a staff
check and the reverse; a portal session of one website is no session on another.

Both walks find their routes in the apps' url_maps, so a route added tomorrow is covered."""
import json
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from helpers import make_company, make_website, sign_in, url_values
from portal_helpers import make_account

from kontor import access, jobs, sessions
from models import UserSession, Website
from models.clock import utcnow

SITE_A, SITE_B = "site-a", "site-b"
DUMMY_INT = 987654
DUMMY_TEXT = "dummy-value"
PORTAL_PUBLIC_ENDPOINTS = {"static", "portal.home", "portal.login", "portal.logout",
                           "portal.register", "portal.registered",
                           "portal.confirm_with_token", "portal.confirm",
                           "portal.forgot", "portal.reset_with_token", "portal.reset",
                           "portal.set_language", "portal.products"}


# --- helpers ---------------------------------------------------------------------------------

def portal_of(app):
    return app.extensions["kontor_portal"]


def staff_cookie(app):
    return app.config["SESSION_COOKIE_NAME"]


def portal_cookie(app):
    return app.config["PORTAL_SESSION_COOKIE_NAME"]


@pytest.fixture(autouse=True)
def two_websites(app):
    """The websites SITE_A and SITE_B, each with its portal."""
    return make_website(SITE_A), make_website(SITE_B)


def website_id(slug):
    return Website.get(Website.slug == slug).id


def plant_session(realm, user=None, website=None, data=None, last_seen_at=None, account=None):
    """A live session row as a session interface would write it, signed in as the staff
    `user` or the customer's web `account` unless `data` says otherwise; returns its raw id
    (what a cookie would carry)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    who = user or account
    if data is None:
        data = json.dumps({"_user_id": str(who.id), "_fresh": True} if who else {})
    UserSession.create(sid_hash=sessions.sid_digest(sid), user=user, web_account=account,
                       data=data,
                       created_at=now, last_seen_at=last_seen_at or now, realm=realm,
                       website_id=website_id(website) if website else None)
    return sid


def give_cookies(client, app, sid, slugs=(SITE_A,)):
    """Put one session id in the staff cookie and in the portal cookie of each website."""
    client.set_cookie(staff_cookie(app), sid, path="/")
    for slug in slugs:
        client.set_cookie(portal_cookie(app), sid, path=f"/w/{slug}/")


def walk(flask_app, prefix=""):
    """(method, url, endpoint, level) for every GET/POST of every rule of `flask_app`."""
    found = []
    with flask_app.test_request_context():
        for rule in sorted(flask_app.url_map.iter_rules(), key=lambda r: r.rule):
            url = prefix + url_for(rule.endpoint, **url_values(rule, DUMMY_INT, DUMMY_TEXT))
            level = access.access_level(rule.endpoint)
            for method in ("GET", "POST"):
                if method in rule.methods:
                    found.append((method, url, rule.endpoint, level))
    return found


def send(client, method, url):
    """GET, or a POST without a token: the access check answers before the CSRF check."""
    return client.get(url) if method == "GET" else client.post(url, data={})


def portal_csrf_token(client, slug=SITE_A):
    page = client.get(f"/w/{slug}/login").get_data(as_text=True)
    return page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def portal_accounts(two_websites):
    """An approved customer's web account on SITE_A and one on SITE_B (same e-mail)."""
    return tuple(make_account(site, email="maria@example.com", password=None)
                 for site in two_websites)


@pytest.fixture
def company(app):
    return make_company()


# --- the decision: a second app, reached through the staff app ---------------------------

def test_portal_paths_reach_the_portal_app_and_everything_else_the_staff_app(app, client,
                                                                             company):
    portal = portal_of(app)
    assert portal is not app
    assert "portal.login" in portal.view_functions and "auth.login" not in portal.view_functions
    assert not any(rule.endpoint.startswith("portal.") for rule in app.url_map.iter_rules())
    page = client.get(f"/w/{SITE_A}/login")
    assert page.status_code == 200
    assert "Sign in to the customer portal" in page.get_data(as_text=True)
    assert f'action="/w/{SITE_A}/login"' in page.get_data(as_text=True)
    assert "Sign in to Kontor" in client.get("/login").get_data(as_text=True)


def test_a_website_root_without_its_slash_is_redirected_to_it(app, client):
    response = client.get(f"/w/{SITE_A}")
    assert response.status_code == 308
    assert urlsplit(response.headers["Location"]).path == f"/w/{SITE_A}/"


@pytest.mark.parametrize("path", ["/w/UPPER/", "/w/a_b/", "/w/" + "x" * 51 + "/", "/w/"])
def test_a_path_that_names_no_website_is_the_staff_apps_not_found_page(app, client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert portal_cookie(app) + "=" not in response.headers.get("Set-Cookie", "")


def test_the_portal_cookie_is_its_own_and_belongs_to_the_website_path(app, client):
    response = client.get(f"/w/{SITE_A}/login")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith(portal_cookie(app) + "=")
    attributes = [part.strip() for part in cookies[0].split(";")]
    assert f"Path=/w/{SITE_A}/" in attributes
    assert "HttpOnly" in attributes and "SameSite=Lax" in attributes
    row = UserSession.get(UserSession.sid_hash == sessions.sid_digest(
        cookies[0].split(";")[0].split("=", 1)[1]))
    assert (row.realm, row.website_id, row.user_id) == ("portal", website_id(SITE_A), None)


def test_a_new_staff_session_is_a_staff_row(app, client, staff):
    assert sign_in(client, staff.email).status_code == 302
    row = UserSession.get(UserSession.user == staff.id, UserSession.ended_at.is_null())
    assert (row.realm, row.website_id) == ("staff", None)


# --- walk 1: every staff route with a portal session ---------------------------------------

def test_every_staff_route_sends_a_portal_session_to_the_staff_sign_in(app, client, company,
                                                                       superuser):
    # The worst case: a portal row whose user column names a real (super)user, as if signed in.
    sid = plant_session("portal", user=superuser, website=SITE_A)
    checked = 0
    for method, url, _endpoint, level in walk(app):
        if level == "public":
            continue
        give_cookies(client, app, sid)
        response = send(client, method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert urlsplit(response.headers["Location"]).path == "/login", (method, url)
        checked += 1
    assert checked > 60   # the walk really found the staff routes (67 today)
    assert UserSession.get(UserSession.sid_hash == sessions.sid_digest(sid)).ended_at is None


def test_the_same_planted_row_in_the_staff_realm_is_signed_in(app, client, company, superuser):
    """The other half: the walk above fails for the realm alone, not for a broken row."""
    sid = plant_session("staff", user=superuser)
    give_cookies(client, app, sid)
    assert client.get("/admin/company").status_code == 200


def test_a_portal_account_signed_in_on_the_portal_still_gets_no_staff_page(
        app, client, company, superuser, portal_accounts):
    sid = plant_session("portal", account=portal_accounts[0], website=SITE_A)
    give_cookies(client, app, sid)
    assert client.get(f"/w/{SITE_A}/account").status_code == 200   # signed in there
    give_cookies(client, app, sid)
    response = client.get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


# --- walk 2: every portal route with a staff session ---------------------------------------

def test_every_portal_route_sends_a_staff_session_to_the_portal_sign_in(app, staff_client,
                                                                        portal_accounts):
    staff_sid = staff_client.get_cookie(staff_cookie(app)).value
    assert staff_client.get("/").status_code == 200   # a live staff session
    checked = 0
    for method, url, _endpoint, level in walk(portal_of(app), prefix=f"/w/{SITE_A}"):
        if level == "public":
            continue
        give_cookies(staff_client, app, staff_sid)
        response = send(staff_client, method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        target = urlsplit(response.headers["Location"])
        assert target.path == f"/w/{SITE_A}/login", (method, url, response.headers["Location"])
        checked += 1
    assert checked >= 4   # the account page, its password, details and close pages
    assert staff_client.get("/").status_code == 200   # the staff session is untouched


def test_a_staff_session_is_anonymous_on_the_portals_public_pages(app, staff_client, staff):
    staff_sid = staff_client.get_cookie(staff_cookie(app)).value
    give_cookies(staff_client, app, staff_sid)
    page = staff_client.get(f"/w/{SITE_A}/").get_data(as_text=True)
    assert staff.employee.name not in page
    assert f'href="/w/{SITE_A}/login"' in page   # offered the portal's sign-in


def test_a_staff_row_planted_for_the_website_is_still_no_portal_session(app, client, superuser,
                                                                        portal_accounts):
    sid = plant_session("staff", user=superuser)
    UserSession.update(website_id=website_id(SITE_A)).execute()
    give_cookies(client, app, sid)
    response = client.get(f"/w/{SITE_A}/account")
    assert urlsplit(response.headers["Location"]).path == f"/w/{SITE_A}/login"


# --- one website's session is no session on another ----------------------------------------

def test_a_portal_session_for_website_a_does_not_count_on_website_b(app, client,
                                                                     portal_accounts):
    sid = plant_session("portal", website=SITE_A, account=portal_accounts[0],
                        data=f'{{"_user_id": "{portal_accounts[0].id}", "_fresh": true, '
                             '"_flashes": [{" t": ["info", "Hello from A"]}]}')
    give_cookies(client, app, sid, slugs=(SITE_A, SITE_B))
    on_b = client.get(f"/w/{SITE_B}/account")
    assert on_b.status_code == 302
    assert urlsplit(on_b.headers["Location"]).path == f"/w/{SITE_B}/login"
    assert "Hello from A" not in client.get(f"/w/{SITE_B}/login").get_data(as_text=True)
    on_a = client.get(f"/w/{SITE_A}/account")
    assert on_a.status_code == 200
    assert "Hello from A" in on_a.get_data(as_text=True)


def test_a_browser_sends_a_websites_cookie_to_that_website_only(app, client):
    client.get(f"/w/{SITE_A}/login")
    sid_a = client.get_cookie(portal_cookie(app), path=f"/w/{SITE_A}/").value
    client.get(f"/w/{SITE_B}/login")
    sid_b = client.get_cookie(portal_cookie(app), path=f"/w/{SITE_B}/").value
    assert sid_a != sid_b
    rows = {row.website_id for row in UserSession.select().where(UserSession.realm == "portal")}
    assert rows == {website_id(SITE_A), website_id(SITE_B)}


# --- the portal's own default deny, CSRF, pages ----------------------------------------------

def test_the_portals_public_routes_are_exactly_the_listed_ones(app):
    portal = portal_of(app)
    with portal.app_context():
        levels = {rule.endpoint: access.access_level(rule.endpoint)
                  for rule in portal.url_map.iter_rules()}
    assert {endpoint for endpoint, level in levels.items() if level == "public"} == \
        PORTAL_PUBLIC_ENDPOINTS
    assert set(levels.values()) == {"public", "portal"}   # no staff view in the portal


def test_a_visitor_is_sent_to_the_portal_sign_in_for_every_portal_page_that_needs_it(app,
                                                                                     client):
    checked = 0
    for method, url, _endpoint, level in walk(portal_of(app), prefix=f"/w/{SITE_A}"):
        if level == "public":
            continue
        response = send(client, method, url)
        assert response.status_code == 302, (method, url)
        target = urlsplit(response.headers["Location"])
        assert target.path == f"/w/{SITE_A}/login", (method, url)
        assert parse_qs(target.query).get("next") == ([url] if method == "GET" else None)
        checked += 1
    assert checked >= 1


def test_every_portal_post_without_a_token_is_refused(app, client):
    checked = 0
    for method, url, _endpoint, level in walk(portal_of(app), prefix=f"/w/{SITE_A}"):
        if method != "POST":
            continue
        response = client.post(url, data={"email": "a@b.example", "password": "x" * 12})
        if level == "public":
            assert response.status_code == 400, url
            assert "The form has expired" in response.get_data(as_text=True)
        else:
            assert urlsplit(response.headers["Location"]).path == f"/w/{SITE_A}/login"
        checked += 1
    assert checked >= 1


def test_a_staff_users_password_does_not_sign_in_to_the_portal(app, client, staff):
    token = portal_csrf_token(client)
    response = client.post(f"/w/{SITE_A}/login", data={
        "csrf_token": token, "email": staff.email, "password": "correct horse battery staple"})
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert not UserSession.select().where(UserSession.user.is_null(False)).exists()


def test_portal_responses_carry_the_security_headers(app, client):
    responses = [client.get(f"/w/{SITE_A}/login"), client.get(f"/w/{SITE_A}/nothing"),
                 client.get(f"/w/{SITE_A}/account"), client.post(f"/w/{SITE_A}/login")]
    assert [r.status_code for r in responses] == [200, 404, 302, 400]
    for response in responses:
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_portal_has_its_own_error_page(app, client):
    response = client.get(f"/w/{SITE_A}/nothing")
    body = response.get_data(as_text=True)
    assert "Page not found" in body
    assert f'href="/w/{SITE_A}/"' in body and 'action="/logout"' not in body


def test_the_portal_speaks_the_browsers_language(app, client):
    page = client.get(f"/w/{SITE_A}/login", headers={"Accept-Language": "nl"})
    assert "Inloggen op het klantenportaal" in page.get_data(as_text=True)


def test_a_view_with_an_unknown_access_level_is_refused_not_open(app, client, staff):
    def odd_view():
        return "open"
    odd_view.access = "everyone-ish"
    app.add_url_rule("/__odd__", "odd_view", odd_view)
    assert client.get("/__odd__").status_code == 403
    sign_in(client, staff.email)
    assert client.get("/__odd__").status_code == 403


# --- who is signed in, and the idle job ----------------------------------------------------

def test_signed_in_now_does_not_list_portal_sessions(app, admin_client, superuser, staff,
                                                    portal_accounts):
    plant_session("portal", account=portal_accounts[0], website=SITE_A)
    assert "maria@example.com" not in admin_client.get("/admin/sessions").get_data(as_text=True)
    assert not UserSession.signed_in().where(UserSession.user == staff.id).exists()
    assert not sessions.others_signed_in(superuser.id).exists()


def test_signed_in_now_lists_a_staff_session(app, admin_client, staff_client, staff):
    assert staff.employee.name in admin_client.get("/admin/sessions").get_data(as_text=True)


def test_the_idle_job_ends_portal_sessions_too(app, staff, portal_accounts):
    old = utcnow() - timedelta(minutes=app.config["IDLE_MINUTES"] + 5)
    named = plant_session("portal", account=portal_accounts[0], website=SITE_A,
                          last_seen_at=old)
    anonymous = plant_session("portal", website=SITE_A, data="{}", last_seen_at=old)
    fresh = plant_session("portal", website=SITE_B, data="{}")
    jobs.end_idle_sessions(app.config)

    def row(sid):
        return UserSession.get_or_none(UserSession.sid_hash == sessions.sid_digest(sid))
    assert row(named).end_reason == "idle" and row(named).ended_at is not None
    assert row(anonymous) is None           # stale anonymous sessions are forgotten
    assert row(fresh).ended_at is None


def test_an_idle_portal_session_is_not_reopened(app, client):
    client.get(f"/w/{SITE_A}/login")
    old_sid = client.get_cookie(portal_cookie(app), path=f"/w/{SITE_A}/").value
    UserSession.update(last_seen_at=utcnow() - timedelta(minutes=app.config["IDLE_MINUTES"]
                                                         + 1)).execute()
    client.get(f"/w/{SITE_A}/login")
    assert client.get_cookie(portal_cookie(app), path=f"/w/{SITE_A}/").value != old_sid
    assert UserSession.get_or_none(UserSession.sid_hash == sessions.sid_digest(old_sid)) is None
