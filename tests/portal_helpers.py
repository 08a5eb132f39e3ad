"""Helpers for the customers' side of the portal (issue 13): a website that lets customers
register, a customer who registers, confirms and signs in, and the mails they get."""
import re
from urllib.parse import urlsplit

from helpers import form_keys_on, link_in, make_company, make_website

from kontor import passwords
from models import OutboxMessage, WebAccount
from models.clock import utcnow

CUSTOMER_PASSWORD = "purple elephant dancing quietly"
PUBLIC = "https://shop.jansen.example"


def open_website(slug="shop", **fields):
    """A website whose customers may create a user, with a sender and a copy address."""
    if "public_url" not in fields:
        fields["public_url"] = f"https://{slug}.jansen.example"
    make_company()
    values = dict(self_registration=True, register_link=True, approval="manual",
                  sender_name="Jansen Webshop", sender_email=f"{slug}@jansen.example",
                  copy_email="office@jansen.example")
    values.update(fields)
    return make_website(slug, **values)


def registration(**changes):
    """The "Create user" form as a customer fills it in."""
    values = {"email": "maria@example.com", "password": CUSTOMER_PASSWORD,
              "confirm": CUSTOMER_PASSWORD, "company_name": "Jensen Bygg AS",
              "org_number": "987654321", "contact_person": "Maria Jensen",
              "phone": "+47 22 33 44 55", "street": "Storgata 1", "postcode": "0155",
              "city": "Oslo", "country": "NO", "consent": "y"}
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def csrf_of(page):
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def portal_form(client, url, data, page=None, **kwargs):
    """Open the portal page (`page`, by default `url`) and send `data` to `url` with its CSRF
    token and one-time form keys, as a browser does."""
    shown = client.get(page or url, **kwargs)
    data = dict(data)
    data.setdefault("csrf_token", csrf_of(shown))
    for name, key in form_keys_on(shown).items():
        data.setdefault(name, key)
    return client.post(url, data=data, **kwargs)


def last_mail(to=None):
    query = OutboxMessage.select().order_by(OutboxMessage.id.desc())
    if to is not None:
        query = query.where(OutboxMessage.to_addr == to)
    return query.first()


def portal_path(body, slug="shop", base=PUBLIC):
    """The portal path (/w/<slug>/...) of the first link to the public address in `body`."""
    return f"/w/{slug}" + link_in(body, base)


def follow_link(client, body, slug="shop", base=PUBLIC):
    """Open the first link of a mail's `body` in `client`; the page it redirects to."""
    first = client.get(portal_path(body, slug, base))
    assert first.status_code == 302, first.status_code
    return client.get(first.headers["Location"])


def register(client, slug="shop", headers=None, **changes):
    """Send the "Create user" form of the website `slug` with `changes` to `registration`,
    and follow the redirect to "Check your e-mail" as a browser does."""
    response = portal_form(client, f"/w/{slug}/register", registration(**changes),
                           headers=headers or {})
    location = urlsplit(response.headers.get("Location", "")).path
    if response.status_code == 302 and location.endswith("/register/sent"):
        return client.get(location, headers=headers or {})
    return response


def confirm_from_mail(client, slug="shop", to="maria@example.com", base=PUBLIC):
    """Open the confirmation link of the last mail to `to` and press the button."""
    page = follow_link(client, last_mail(to).body, slug, base)
    assert page.status_code == 200, page.status_code
    return client.post(f"/w/{slug}/confirm", data={"csrf_token": csrf_of(page)})


def portal_sign_in(client, slug="shop", email="maria@example.com", password=CUSTOMER_PASSWORD):
    return portal_form(client, f"/w/{slug}/login", {"email": email, "password": password})


def make_account(website, email="maria@example.com", status="approved", confirmed=True,
                 contact=None, name="Maria Jensen", language="en", password=CUSTOMER_PASSWORD):
    """A web account as if registered (and confirmed, and approved) already."""
    return WebAccount.create(website=website.id, email=email.lower(), status=status,
                             password_hash=passwords.hash_password(password) if password else "",
                             email_confirmed_at=utcnow() if confirmed else None,
                             contact=contact, name=name, language=language)


def signed_in_customer(app, website, **fields):
    """A new browser with an approved customer of `website` signed in."""
    account = make_account(website, **fields)
    browser = app.test_client()
    assert portal_sign_in(browser, website.slug, account.email).status_code == 302
    return browser, account
