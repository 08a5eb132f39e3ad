"""A website's portal on its own host name (issue 13 item 2): a request for the host is the
portal at `/`, staff pages are not found there, a deactivated website's host answers 404, and
Kontor's own host (KONTOR_BASE_URL) stays the staff app's."""
from helpers import make_company, make_website, text
from portal_helpers import CUSTOMER_PASSWORD, csrf_of, make_account

from kontor import websites

HOST = "shop.jansen.example"


def on_host(client, path, host=HOST, **kwargs):
    return client.get(path, headers={"Host": host}, **kwargs)


def test_the_websites_host_name_serves_its_portal_at_the_root(app, client):
    make_company()
    make_website(host=HOST)
    home = on_host(client, "/")
    assert home.status_code == 200 and "Customer portal" in text(home)
    assert 'href="/login"' in text(home)
    assert on_host(client, "/login").status_code == 200
    assert on_host(client, "/w/shop/login").status_code == 404


def test_staff_pages_are_not_found_on_a_websites_host_name(app, client, staff):
    make_website(host=HOST)
    for path in ("/contacts", "/admin/websites", "/setup", "/healthz", "/users"):
        assert on_host(client, path).status_code == 404, path
    assert on_host(client, "/contacts", host="Shop.Jansen.Example.:443").status_code == 404
    assert client.get("/contacts").status_code == 302   # Kontor's own host: the staff app


def test_a_deactivated_websites_host_answers_404(app, client):
    site = make_website(host=HOST)
    websites.set_active(site, False)
    assert on_host(client, "/").status_code == 404
    assert on_host(client, "/login").status_code == 404


def test_a_host_name_given_to_a_website_is_served_at_once(app, client):
    site = make_website()
    assert on_host(client, "/").status_code == 302   # the staff app: to its sign-in
    websites.save(site, {**{name: getattr(site, name) for name in websites.FIELDS},
                         "host": HOST})
    assert on_host(client, "/").status_code == 200


def test_a_customer_signs_in_on_the_host_name_with_a_cookie_for_its_root(app, client):
    site = make_website(host=HOST)
    make_account(site)
    page = on_host(client, "/login")
    response = client.post("/login", headers={"Host": HOST}, data={
        "csrf_token": csrf_of(page), "email": "maria@example.com",
        "password": CUSTOMER_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    cookie = client.get_cookie("kontor_portal", domain=HOST, path="/")
    assert cookie is not None
    assert on_host(client, "/account").status_code == 200
    assert client.get("/").status_code == 302   # no staff session came of it
