"""Default deny (SECURITY.md item 19): every route is for signed-in staff unless it is marked
public, superuser routes answer 403 to staff users, and the tests find the routes by walking
`app.url_map`, so a route added tomorrow is checked without anyone remembering to."""
import html
import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import url_for
from helpers import assert_walked, make_company, url_values
from werkzeug.exceptions import HTTPException

from blueprints.common import nearest_page
from kontor.access import access_level
from models import AuditEvent, Company, Employee

# Every route anyone may open without signing in. A new public route must be added here on
# purpose; the test below fails until it is.
PUBLIC_ENDPOINTS = {
    "static",
    "main.set_language",
    "main.healthz",
    "auth.login",
    "auth.logout",
    "auth.forgot",
    "auth.reset_with_token",
    "auth.reset",
    "setup.with_token",
    "setup.start",
    "invitations.with_token",
    "invitations.accept",
}

DUMMY_INT = 987654
DUMMY_TEXT = "dummy-value"


def dummy_url(app, rule):
    """The rule's URL with every variable filled in with a value of the right kind."""
    with app.test_request_context():
        return url_for(rule.endpoint, **url_values(rule, DUMMY_INT, DUMMY_TEXT))


def routes(app, level=None, exclude_level=None):
    """(method, url, endpoint) for every GET/POST of every rule with the given access level."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        access = access_level(rule.endpoint)
        if level is not None and access != level:
            continue
        if exclude_level is not None and access == exclude_level:
            continue
        for method in ("GET", "POST"):
            if method in rule.methods:
                found.append((method, dummy_url(app, rule), rule.endpoint))
    return found


def opens_with_get(app, url):
    try:
        app.url_map.bind("localhost").match(url, method="GET")
    except HTTPException:
        return False
    return True


def send(client, method, url):
    """GET, or POST with a valid CSRF token as a browser's form would (a direct POST)."""
    if method == "GET":
        return client.get(url)
    return client.form(url, {})


def test_the_public_routes_are_exactly_the_listed_ones(app):
    public = {rule.endpoint for rule in app.url_map.iter_rules()
              if access_level(rule.endpoint) == "public"}
    assert public == PUBLIC_ENDPOINTS


def test_every_route_has_a_known_access_level(app):
    levels = {access_level(rule.endpoint) for rule in app.url_map.iter_rules()}
    assert levels <= {"public", "staff", "superuser"}


def test_the_whole_admin_area_is_for_superusers_only(app):
    admin = [rule.endpoint for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("admin.")]
    assert admin, "the admin blueprint has routes"
    assert {access_level(endpoint) for endpoint in admin} == {"superuser"}


def test_a_visitor_who_is_not_signed_in_is_sent_to_the_login_page_everywhere(app, client):
    make_company()
    checked = []
    for method, url, endpoint in routes(app, exclude_level="public"):
        response = send(client, method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        target = urlsplit(response.headers["Location"])
        assert target.path == "/login", (method, url, response.headers["Location"])
        # a GET comes back after login; a POST cannot be replayed, but sign-in leads back to
        # the form's page (issue 10 item 5): its own address when a GET opens it, else
        # (without a Referer) the nearest page above it
        if method == "GET" or opens_with_get(app, url):
            expected_next = [url]
        else:
            with app.test_request_context(url, method="POST"):
                above = nearest_page(urlsplit(url).path)
            expected_next = [above] if above else None
        assert parse_qs(target.query).get("next") == expected_next, (method, url)
        checked.append(endpoint)
    # the walk really found the protected routes
    assert_walked(checked, 10, {"main.home", "contacts.index", "admin.company"})


def test_a_visitor_may_open_the_public_pages_without_being_sent_to_login(app, client):
    checked = []
    for method, url, endpoint in routes(app, level="public"):
        if endpoint == "static":
            url = "/static/kontor.css"
        response = send(client, method, url)
        location = response.headers.get("Location", "")
        assert not location.startswith("/login?next="), (method, url, location)
        assert response.status_code < 500, (method, url)
        checked.append(endpoint)
    assert_walked(checked, 10, {"auth.login", "auth.forgot", "main.healthz", "static"})


@pytest.mark.parametrize("level, known", [("staff", {"contacts.new", "support.new"}),
                                          ("superuser", {"admin.company", "employees.new"})])
def test_nothing_is_changed_by_a_visitors_post(app, client, superuser, level, known):
    """A direct POST (with a token, as a forged form would have) changes nothing."""
    before = Employee.select().count(), Company.current().name
    posted = []
    for method, url, endpoint in routes(app, level=level):
        if method == "POST":
            client.form(url, {"name": "Hacked BV", "email": "x@evil.example"})
            posted.append(endpoint)
    assert (Employee.select().count(), Company.current().name) == before
    assert_walked(posted, 10, known)


def test_a_staff_user_gets_403_on_every_superuser_route(app, staff_client, staff):
    checked = []
    for method, url, endpoint in routes(app, level="superuser"):
        response = send(staff_client, method, url)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "Not allowed" in response.get_data(as_text=True)
        checked.append(endpoint)
    assert_walked(checked, 8, {"admin.company", "employees.new", "users.index"})


def test_a_staff_users_direct_post_to_a_superuser_form_changes_nothing(app, staff_client, staff):
    name = Company.current().name
    response = staff_client.form("/admin/company", {"name": "Staff Takeover BV"})
    assert response.status_code == 403
    assert Company.current().name == name
    response = staff_client.form("/employees/new", {"name": "Ghost", "email": "g@x.example"})
    assert response.status_code == 403
    assert not Employee.select().where(Employee.name == "Ghost").exists()
    own = Employee.get(Employee.email == staff.email)
    response = staff_client.form(f"/employees/{own.id}/edit", {"name": "Boss"})
    assert response.status_code == 403
    assert Employee.get_by_id(own.id).name == own.name


def test_a_staff_user_reaches_every_ordinary_route(app, staff_client):
    """The other half of the rule: "staff" routes are not accidentally closed to staff."""
    checked = []
    for method, url, endpoint in routes(app, level="staff"):
        if method != "GET":
            continue
        response = staff_client.get(url)
        # What matters is that staff get in: a 404 for a dummy id, or a wizard's redirect to
        # its first step, is fine; 403, the login page or an error is not.
        expected = (200, 302, 404) if str(DUMMY_INT) in url or DUMMY_TEXT in url \
            else (200, 302)
        assert response.status_code in expected, (url, response.status_code)
        assert not response.headers.get("Location", "").startswith("/login"), url
        checked.append(endpoint)
    assert_walked(checked, 15, {"main.home", "contacts.index", "support.index", "profile.show"})


def test_a_superuser_reaches_the_superuser_pages(app, admin_client):
    checked = []
    for method, url, endpoint in routes(app, level="superuser"):
        if method == "GET" and "<" not in url and str(DUMMY_INT) not in url \
                and DUMMY_TEXT not in url:     # a dummy name (a backup's file): 404 is right
            assert admin_client.get(url).status_code == 200, url
            checked.append(endpoint)
    assert_walked(checked, 6, {"admin.company", "admin.audit_log", "users.index"})


def test_a_denied_request_is_recorded_in_the_audit_log(app, staff_client, staff):
    staff_client.get("/admin/outbox")
    event = AuditEvent.get(AuditEvent.action == "access.denied")
    assert event.user_id == staff.id
    assert event.target == "/admin/outbox"


def test_after_signing_in_the_visitor_lands_on_the_page_they_asked_for(app, client, staff):
    response = client.get("/employees?q=piet")
    login_url = response.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    assert parse_qs(urlsplit(login_url).query)["next"] == ["/employees?q=piet"]
    page = client.get(login_url)
    assert "Please sign in to open that page." in page.get_data(as_text=True)
    response = client.form(login_url, {"email": staff.email,
                                       "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/employees?q=piet"
    assert client.get("/employees?q=piet").status_code == 200


def test_the_login_form_keeps_the_next_page_in_its_action(app, client):
    page = client.get("/login?next=" + quote("/employees?q=a", safe=""))
    action = re.search(r'<form method="post" action="([^"]*)"', page.get_data(as_text=True))
    target = urlsplit(html.unescape(action.group(1)))
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/employees?q=a"]


def test_the_login_form_drops_a_next_page_that_leaves_the_site(app, client):
    page = client.get("/login?next=" + quote("//evil.example/x", safe=""))
    action = re.search(r'<form method="post" action="([^"]*)"', page.get_data(as_text=True))
    assert action.group(1) == "/login"
