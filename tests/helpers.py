"""Test helpers that read like a user story (`make_user`, `sign_in`, `error_beside`...),
shared by the test modules. Fixtures live in conftest.py; test modules import these helpers
from here, never from conftest.py or from one another.
"""
import html
import os
import re
import socket
from datetime import timedelta
from email import message_from_bytes, policy

from flask import g, has_app_context
from flask.testing import FlaskClient
from werkzeug.routing.converters import NumberConverter

from kontor import employees, passwords, websites
from models import Company, User, db
from models.clock import utcnow

PG_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith(("postgres://", "postgresql://"))
PASSWORD = "correct horse battery staple"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ago(**delta):
    """A naive UTC datetime `delta` in the past, as Kontor stores times: `ago(minutes=20)`."""
    return utcnow() - timedelta(**delta)


# --- a browser ----------------------------------------------------------------------------

class KontorClient(FlaskClient):
    """A test client that sends the page's CSRF token with every form, as a browser does."""

    def open(self, *args, **kwargs):
        # The `app` fixture keeps an app context pushed, and Flask reuses it for each request,
        # so `g` (which caches the CSRF token) would outlive the request. A browser's next
        # request always starts with a fresh `g`.
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        return super().open(*args, **kwargs)

    def csrf_token(self):
        page = self.get("/__csrf__")   # any HTML page carries a token in its footer form
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def form(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)

    def fill(self, url, data=None, page=None, **kwargs):
        """Open the page that shows the form (`page`; by default `form_page(url)`), then send
        `data` to `url` with the one-time form keys of that page (kontor/form_keys.py) that
        `data` does not give, as a browser does. When the page does not open (403, 404) the
        form is sent without keys, as someone who never saw it would."""
        data = dict(data or {})
        shown = self.get(page or form_page(url))
        if shown.status_code == 200:
            for name, key in form_keys_on(shown).items():
                data.setdefault(name, key)
        return self.form(url, data, **kwargs)


# forms shown on another page than the address they post to
_FORM_PAGES = [(re.compile(r"(/contacts/\d+(?:/persons/\d+)?)/notes"), r"\1/edit"),
               (re.compile(r"(/support/[\w-]+)/add"), r"\1"),
               (re.compile(r"/support/settings/\w+"), "/support/settings")]


def form_page(url):
    """The page that shows the form posting to `url`: a note's form is on the contact's (or
    person's) edit page, "Add information" on the case, list items on the support settings;
    any other form on `url` itself."""
    for pattern, page in _FORM_PAGES:
        if pattern.fullmatch(url):
            return pattern.sub(page, url)
    return url


def form_keys_on(page):
    """{field name: one-time key} of every form key on a page (a response or HTML)."""
    markup = page if isinstance(page, str) else page.get_data(as_text=True)
    return dict(re.findall(r'<input[^>]*\bname="([\w-]*form_key)" type="hidden" '
                           r'value="([^"]+)"', markup))


def form_key(page, name="form_key"):
    """The one-time key of the form field `name` on a page (a response or HTML)."""
    keys = form_keys_on(page)
    assert name in keys, f"no {name} on the page"
    return keys[name]


# --- people -------------------------------------------------------------------------------

def make_company(**fields):
    """The company (created, or updated with `fields`), as setup leaves it."""
    values = dict(name="Jansen Installatie BV", street="Dorpsstraat 1", postcode="1234 AB",
                  city="Utrecht", country="NL", phone="+31 30 123 4567",
                  email="info@jansen.example", vat_number="NL001234567B01",
                  org_number="12345678", language="en")
    values.update(fields)
    company = Company.current()
    if company is None:
        return Company.create(**values)
    Company.update(**values).where(Company.id == company.id).execute()
    return Company.current()


def add_employee(name, **fields):
    """An employee in the register, saved as the employee form saves one: with the folded
    columns every search reads (kontor.employees.derived_fields)."""
    return employees.save(None, {"name": name, **fields})


def make_user(email="staff@jansen.example", password=PASSWORD, superuser=False, name=None,
              language="en", employee=True):
    """An account (and, by default, its employee) ready to sign in."""
    if Company.current() is None:
        make_company()
    person = add_employee(name or email.split("@")[0].title(), email=email) \
        if employee else None
    return User.create(email=email.lower(), password_hash=passwords.hash_password(password),
                       is_superuser=superuser, employee=person, language=language)


def make_website(slug="shop", name=None, **fields):
    """A website with its portal at /w/<slug>/, saved as the website form saves one."""
    values = dict(name=name or slug.replace("-", " ").title(), slug=slug, host="",
                  public_url=f"https://{slug}.jansen.example", language="en",
                  protection="none", self_registration=False, register_link=False,
                  approval="manual", sender_name="", sender_email="", copy_email="",
                  privacy_url="")
    values.update(fields)
    return websites.save(None, values)


def sign_in(client, email, password=PASSWORD, next_page=None):
    """Send the sign-in form; the response (302 when it worked)."""
    url = "/login" + (f"?next={next_page}" if next_page else "")
    return client.form(url, {"email": email, "password": password})


def signed_in(app, user):
    """A new browser with `user` signed in."""
    browser = app.test_client()
    response = sign_in(browser, user.email)
    assert response.status_code == 302
    return browser


# --- what a page says ---------------------------------------------------------------------

def body(response):
    """The response's HTML as text."""
    return response.get_data(as_text=True)


def text(response):
    """The response's HTML as text, character references resolved."""
    return html.unescape(response.get_data(as_text=True))


def text_of(page):
    """The visible text of a response (or an HTML string), tags stripped, spaces collapsed."""
    markup = page if isinstance(page, str) else page.get_data(as_text=True)
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def error_beside(page, field):
    """The error shown beside the form field with the id `field` in the HTML `page`, or None.

    Fails when the page has no such field, or when the error is not tied to its field
    (`aria-describedby` and `aria-invalid`, so that screen readers read them together)."""
    name = re.escape(field)
    block = re.search(rf'<div class="field[^"]*" id="{name}-field">(.*?)</div>', page, re.S)
    assert block, f"no field {field}"
    error = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', block.group(1), re.S)
    if error is None:
        return None
    control = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{name}"[^>]*>', block.group(1))
    assert control and f"{field}-error" in control.group(0) \
        and 'aria-invalid="true"' in control.group(0), "the error is not tied to its field"
    return html.unescape(error.group(1)).strip()


def assert_walked(walked, at_least, including):
    """A loop over routes really checked something: at least `at_least` of them, among them
    every one of `including` (a walk that finds no routes would otherwise pass)."""
    walked = list(walked)
    assert len(walked) >= at_least, f"only {len(walked)} routes checked: {walked}"
    missing = set(including) - set(walked)
    assert not missing, f"not checked: {sorted(missing)}"


def url_values(rule, number=987654, text="dummy-value"):
    """Values for every variable of a URL rule: `number` where the route takes a number
    (any NumberConverter, Kontor's DatabaseInteger included), `text` elsewhere."""
    return {name: number if isinstance(rule._converters[name], NumberConverter) else text
            for name in rule.arguments}


def database_text():
    """Every value of every row of every table, as one string."""
    parts = []
    for table in db.get_tables():
        for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
            parts.extend("" if value is None else str(value) for value in row)
    return "\n".join(parts)


# --- mail ---------------------------------------------------------------------------------

class Inbox:
    """What a real SMTP server on loopback received, parsed (an aiosmtpd handler)."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    @property
    def messages(self):
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


def body_of(message):
    """The plain-text body of an e-mail."""
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(text, base="http://kontor.test"):
    """The path of the first link to `base` in `text`; fails when there is none."""
    match = re.search(re.escape(base) + r"(/\S+)", text)
    assert match, f"no link in: {text!r}"
    return match.group(1)
