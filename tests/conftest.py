"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when DATABASE_URL says so),
the app, a client that fills in CSRF tokens like a browser, a real SMTP server on loopback,
and helpers that read like a user story (`make_user`, `sign_in`).
"""
import os
import re
import socket
import uuid
from email import message_from_bytes, policy
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from aiosmtpd.controller import Controller
from flask import g, has_app_context
from flask.testing import FlaskClient

from app import create_app
from kontor import mail

os.environ.setdefault("KONTOR_TESTING", "1")

from kontor import migrate, passwords  # noqa: E402
from models import Company, Employee, User, db  # noqa: E402

PG_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith(("postgres://", "postgresql://"))
PASSWORD = "correct horse battery staple"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_admin_connection():
    parts = urlsplit(PG_URL.replace("postgres://", "postgresql://", 1))
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    return conn, parts


@pytest.fixture(scope="session")
def pg_template():
    """On PostgreSQL: one throw-away database for the whole run, dropped at the end."""
    if not ON_POSTGRES:
        yield None
        return
    conn, parts = pg_admin_connection()
    name = f"kontor_t_{uuid.uuid4().hex[:10]}"
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def reset_postgres(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    conn.close()


@pytest.fixture
def database_url(tmp_path, pg_template):
    """A fresh, empty database for one test."""
    if pg_template:
        if db.obj is not None and hasattr(db.obj, "close_all"):
            db.obj.close_all()
        reset_postgres(pg_template)
        return pg_template
    return f"sqlite:///{tmp_path / 'kontor.db'}"


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


@pytest.fixture
def app_config(tmp_path, database_url):
    return {
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "BASE_URL": "http://kontor.test",
        "SMTP_HOST": "",
        "MAIL_FROM": "kontor@kontor.test",
        "RATELIMIT_STORAGE_URI": "memory://",
    }


@pytest.fixture
def app(app_config):
    """The app on a freshly migrated database."""
    application = create_app(app_config)
    application.test_client_class = KontorClient
    migrate.upgrade(db.obj)
    with application.app_context():
        yield application
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def other_client(app):
    """A second browser."""
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- people -------------------------------------------------------------------------------

def make_company(**fields):
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


def make_user(email="staff@jansen.example", password=PASSWORD, superuser=False, name=None,
              language="en", employee=True):
    """An account (and, by default, its employee) ready to sign in."""
    if Company.current() is None:
        make_company()
    person = Employee.create(name=name or email.split("@")[0].title(), email=email) \
        if employee else None
    return User.create(email=email.lower(), password_hash=passwords.hash_password(password),
                       is_superuser=superuser, employee=person, language=language)


def sign_in(client, email, password=PASSWORD, next_page=None):
    url = "/login" + (f"?next={next_page}" if next_page else "")
    return client.form(url, {"email": email, "password": password})


@pytest.fixture
def superuser(app):
    return make_user("anna@jansen.example", superuser=True, name="Anna Jansen")


@pytest.fixture
def staff(app):
    return make_user("piet@jansen.example", name="Piet de Vries")


@pytest.fixture
def admin_client(client, superuser):
    response = sign_in(client, superuser.email)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@pytest.fixture
def staff_client(other_client, staff):
    response = sign_in(other_client, staff.email)
    assert response.status_code == 302
    return other_client


# --- mail ---------------------------------------------------------------------------------

class Inbox:
    """What a real SMTP server on loopback received, parsed."""

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


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    inbox.controller = controller
    yield inbox
    controller.stop()


@pytest.fixture
def mailbox(app, smtp_server):
    """Point the app at the loopback SMTP server; `mailbox.deliver()` runs the outbox job."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port)
    smtp_server.deliver = lambda: mail.deliver_due(app.config)
    return smtp_server


def body_of(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(text, base="http://kontor.test"):
    match = re.search(re.escape(base) + r"(/\S+)", text)
    assert match, f"no link in: {text!r}"
    return match.group(1)
