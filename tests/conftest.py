"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when DATABASE_URL says so),
the app, a client that fills in CSRF tokens like a browser, a real SMTP server on loopback,
signed-in users and the support desk. The helpers the tests call live in helpers.py.
"""
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from aiosmtpd.controller import Controller

os.environ.setdefault("KONTOR_TESTING", "1")

from helpers import (  # noqa: E402
    ON_POSTGRES,
    PG_URL,
    Inbox,
    KontorClient,
    free_port,
    make_user,
    sign_in,
    signed_in,
)
from support_helpers import customer  # noqa: E402

from app import create_app  # noqa: E402
from kontor import mail, migrate  # noqa: E402
from models import CaseCategory, CaseType, db  # noqa: E402


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


# --- the support desk ---------------------------------------------------------------------

@pytest.fixture
def desk(app, superuser, staff):
    """A customer, a category and a type of request, and the two users."""
    class Desk:
        pass
    d = Desk()
    d.superuser, d.staff = superuser, staff
    d.customer = customer()
    d.category = CaseCategory.create(name="Invoicing", position=1)
    d.type = CaseType.create(name="Question", position=1)
    return d


@pytest.fixture
def mila(app, desk):
    """A second staff user: neither requester nor owner of the cases here."""
    return make_user("mila@jansen.example", name="Mila Bos")


@pytest.fixture
def mila_client(app, mila):
    return signed_in(app, mila)
