"""Shared fixtures: for each test a database as the migrations leave it, migrated once per run
(SQLite, or PostgreSQL when DATABASE_URL says so), the app, a client that fills in CSRF tokens
like a browser, a real SMTP server on loopback, signed-in users and the support desk; and the
budget of the property-based tests. The helpers the tests call live in helpers.py.
"""
import os
import shutil
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from aiosmtpd.controller import Controller
from hypothesis import settings
from jinja2 import MemcachedBytecodeCache

os.environ.setdefault("KONTOR_TESTING", "1")

from helpers import (  # noqa: E402
    ON_POSTGRES,
    PG_URL,
    Inbox,
    KontorClient,
    free_port,
    make_company,
    make_user,
    sign_in,
    signed_in,
)
from support_helpers import category, customer, type_of_request  # noqa: E402
from sync_helpers import Business  # noqa: E402

from app import create_app  # noqa: E402
from kontor import mail, migrate, support  # noqa: E402
from models import db, open_database  # noqa: E402

# Property-based tests (hypothesis) run on a fixed budget. In CI (CI=true): 100 examples per
# property, derandomized, so that a run takes the same time and finds the same failures every
# time (at about 10 ms an example, a property costs about a second; 100 properties on two
# databases stay under 4 minutes). Elsewhere: 25 random examples, for a quick edit-test loop;
# HYPOTHESIS_PROFILE=ci reproduces the CI run. No deadline: a database round trip on a
# loaded machine is not a bug.
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev"))


# --- the database -------------------------------------------------------------------------
# Running every migration takes about a second per test, and more with every migration, so
# the schema is migrated once per run and each test starts from that state:
# - SQLite: the migrated file is copied for each test.
# - PostgreSQL: one migrated database for the run, put back before each test to the state the
#   migrations left (`PostgresSnapshot`). A copy per test (CREATE DATABASE ... TEMPLATE) is
#   quick to make, but DROP DATABASE waits for a checkpoint that writes out the whole copy:
#   0.6 to several seconds a test, more than migrating. Emptying the tables takes 30 ms.
# A test of the migrations themselves asks for an empty database with
# `@pytest.mark.empty_database`: a new file, or a new PostgreSQL database dropped afterwards.

def close_database():
    """Close every connection the pool of Kontor's database holds (the pool outlives an app)."""
    if db.obj is None:
        return
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


class PostgresServer:
    """The PostgreSQL server of DATABASE_URL, seen from its `postgres` database: creates and
    drops the test databases."""

    def __init__(self, url):
        self.parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
        self.conn = psycopg2.connect(urlunsplit(self.parts._replace(path="/postgres")))
        self.conn.autocommit = True    # CREATE and DROP DATABASE cannot run in a transaction

    def create(self, name):
        """A new, empty database `name`; its URL."""
        with self.conn.cursor() as cur:   # not `with self.conn`: that would open a transaction
            cur.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(self.parts._replace(path=f"/{name}"))

    def drop(self, name):
        with self.conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresSnapshot:
    """A PostgreSQL database and the rows and sequence values it has now, to put it back to
    this state before each test (its schema is the migrations' and no test changes it)."""

    def __init__(self, url):
        self.url = url
        self.conn = psycopg2.connect(url)
        with self.conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "ORDER BY tablename")
            self.tables = [name for (name,) in cur.fetchall()]
            self.rows = {}
            for table in self.tables:
                cur.execute(f'SELECT * FROM "{table}"')
                self.rows[table] = cur.fetchall()
            cur.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            self.sequences = {}
            for (name,) in cur.fetchall():
                cur.execute(f'SELECT last_value, is_called FROM "{name}"')
                self.sequences[name] = cur.fetchone()
        self.conn.commit()

    def restore(self):
        """End every other session on the database, empty every table, put back the rows it
        had and set every sequence where it was."""
        with self.conn, self.conn.cursor() as cur:   # one transaction, rolled back on error
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            # no foreign key checks while the tables are emptied and filled in any order
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("".join(f'DELETE FROM "{table}";' for table in self.tables))
            for table, rows in self.rows.items():
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    cur.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
            for name, (last_value, is_called) in self.sequences.items():
                cur.execute("SELECT setval(%s, %s, %s)", (f'"{name}"', last_value, is_called))

    def close(self):
        self.conn.close()


@pytest.fixture(scope="session")
def pg_server():
    """On PostgreSQL, the server the test databases live on; else None."""
    if not ON_POSTGRES:
        yield None
        return
    server = PostgresServer(PG_URL)
    yield server
    server.conn.close()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory, pg_server):
    """Once per run: a database with every migration applied. On SQLite the path of the file
    the tests copy; on PostgreSQL a `PostgresSnapshot` of it."""
    if ON_POSTGRES:
        name = f"kontor_t_{uuid.uuid4().hex[:10]}"
        url = pg_server.create(name)
        migrate.upgrade(open_database(url))
        close_database()
        snapshot = PostgresSnapshot(url)
        yield snapshot
        close_database()
        snapshot.close()
        pg_server.drop(name)
        return
    path = tmp_path_factory.mktemp("migrated") / "kontor.db"
    migrate.upgrade(open_database(f"sqlite:///{path}"))
    close_database()
    # Fold the write-ahead log into the file and leave WAL mode, so that the one file is the
    # whole database; each copy goes back to WAL when Kontor opens it.
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    assert not Path(f"{path}-wal").exists()
    yield path


@pytest.fixture
def database_url(request, tmp_path, pg_server):
    """The database of one test: as the migrations left it, or empty for a test marked
    `empty_database`."""
    close_database()   # the previous test's connections
    empty = request.node.get_closest_marker("empty_database") is not None
    if not ON_POSTGRES:
        path = tmp_path / "kontor.db"
        if not empty:
            shutil.copyfile(request.getfixturevalue("migrated_database"), path)
        yield f"sqlite:///{path}"
    elif empty:
        name = f"kontor_e_{uuid.uuid4().hex[:10]}"
        yield pg_server.create(name)
        close_database()
        pg_server.drop(name)
    else:
        snapshot = request.getfixturevalue("migrated_database")
        snapshot.restore()
        yield snapshot.url


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


class CompiledTemplates(dict):
    """Jinja's compiled templates, kept across the apps of a run (the `client` of a
    `MemcachedBytecodeCache`): each test builds a new app, and compiling the same templates
    again for each took about a third of a test's setup."""

    def set(self, key, value, timeout=None):
        self[key] = value


COMPILED_TEMPLATES = MemcachedBytecodeCache(CompiledTemplates())


@pytest.fixture
def app(request, app_config):
    """The app on a migrated database of its own."""
    application = create_app(app_config)
    application.test_client_class = KontorClient
    application.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    if request.node.get_closest_marker("empty_database"):
        migrate.upgrade(db.obj)
    with application.app_context():
        yield application
    close_database()


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
    d.category = category("Invoicing", position=1)
    d.type = type_of_request("Question", position=1)
    return d


@pytest.fixture
def own_cases_only(app):
    """The company setting "Staff see all support cases" off: staff see the cases they asked
    for or own, superusers all (SPEC section 9)."""
    make_company()
    support.set_staff_see_all(False)


@pytest.fixture
def mila(app, desk):
    """A second staff user: neither requester nor owner of the cases here."""
    return make_user("mila@jansen.example", name="Mila Bos")


@pytest.fixture
def mila_client(app, mila):
    return signed_in(app, mila)


# --- the sync's business database --------------------------------------------------------

# the business side on PostgreSQL too in the PostgreSQL run (CI runs both)
BUSINESS_DATABASES = ["sqlite", "postgresql"] if ON_POSTGRES else ["sqlite"]


@pytest.fixture(params=BUSINESS_DATABASES)
def firm(request, app, tmp_path, pg_server):
    """The business database (empty tables of the default layout): a SQLite file, and in the
    PostgreSQL run a PostgreSQL database as well."""
    if request.param == "sqlite":
        side = Business(f"sqlite:///{tmp_path / 'business.db'}")
        yield side
        side.database.close()
        return
    name = f"kontor_b_{uuid.uuid4().hex[:10]}"
    side = Business(pg_server.create(name))
    yield side
    side.database.close()
    pg_server.drop(name)
