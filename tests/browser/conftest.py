"""Real-browser fixtures: Debian's chromium through pytest-playwright, Kontor served by
`python app.py` (waitress, migrations, scheduler) in a subprocess, and a real SMTP server
(aiosmtpd) on loopback that the server's outbox job delivers to every second.

Servers:
- `live_server`: one Kontor for the whole session, set up once through the browser
  (`site`), shared by the stories that need a company and a superuser.
- `server_factory()`: a brand-new Kontor on an empty database (the setup story, the setup
  page's accessibility check).

Every server gets its own data folder and, when DATABASE_URL names PostgreSQL, its own
throw-away database, dropped at the end.
"""
import os
import queue
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from aiosmtpd.controller import Controller
from helpers import ON_POSTGRES, PASSWORD, PG_URL, Inbox, free_port

from .helpers import ADMIN, ROOT, fill_setup_form, sign_in

CHROMIUM = "/usr/bin/chromium"

SERVER_START_TIMEOUT = 30


# --- the browser ------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def chromium_available():
    """No chromium: fail on CI (a silently skipped browser suite proves nothing), else skip."""
    if not os.path.exists(CHROMIUM):
        message = (f"{CHROMIUM} is missing: install Debian's chromium "
                   "(apt-get install -y chromium, or `make browser`) to run the browser tests")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "locale": "en-GB"}


# --- mail -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def smtp():
    """One loopback SMTP server for every Kontor the session starts."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


# --- the server -------------------------------------------------------------------------

def compile_translations():
    """The server compiles nothing itself; the .mo files are build output (gitignored)."""
    translations = ROOT / "translations"
    if not list(translations.glob("*/LC_MESSAGES/*.po")):
        return
    done = subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "compile",
                           "-d", str(translations)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        print(f"pybabel compile failed:\n{done.stdout}{done.stderr}", file=sys.stderr)


class LiveServer:
    """`python app.py` in a subprocess, on its own port, data folder and database."""

    def __init__(self, data_dir, smtp_port, env=None):
        self.extra_env = dict(env or {})
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.smtp_port = smtp_port
        self.pg_name = None
        self.database_url = None
        self.setup_url = None
        self.output = []
        self.process = None

    # lifecycle
    def start(self):
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(KONTOR_DATA_DIR=str(self.data_dir), KONTOR_HOST="127.0.0.1",
                   KONTOR_PORT=str(self.port), KONTOR_BASE_URL=self.url,
                   SMTP_HOST="127.0.0.1", SMTP_PORT=str(self.smtp_port),
                   KONTOR_MAIL_INTERVAL="1", PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        env.pop("KONTOR_TESTING", None)
        if ON_POSTGRES:
            self.database_url = self._create_pg_database()
            env["DATABASE_URL"] = self.database_url
        else:
            self.database_url = f"sqlite:///{self.data_dir / 'kontor.db'}"
        self.process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        lines = queue.Queue()

        def pump():
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)
        threading.Thread(target=pump, daemon=True).start()

        deadline = time.monotonic() + SERVER_START_TIMEOUT
        setup_pattern = re.compile(re.escape(self.url) + r"/setup/\S+")
        while self.setup_url is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Kontor printed no setup URL:\n" + "".join(self.output))
            match = setup_pattern.search(line or "")
            if match:
                self.setup_url = match.group(0)
        while not self._accepts():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Kontor does not accept connections:\n"
                                   + "".join(self.output))
            time.sleep(0.05)
        return self

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.pg_name:
            self._drop_pg_database()

    # PostgreSQL: one throw-away database per server
    @staticmethod
    def _pg_admin():
        parts = urlsplit(PG_URL.replace("postgres://", "postgresql://", 1))
        conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
        conn.autocommit = True
        return conn, parts

    def _create_pg_database(self):
        conn, parts = self._pg_admin()
        self.pg_name = f"kontor_b_{uuid.uuid4().hex[:10]}"
        with conn.cursor() as cur:   # not `with conn`: that would open a transaction
            cur.execute(f'CREATE DATABASE "{self.pg_name}"')
        conn.close()
        return urlunsplit(parts._replace(path=f"/{self.pg_name}"))

    def _drop_pg_database(self):
        conn, _parts = self._pg_admin()
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        conn.close()
        self.pg_name = None

    # the server's database, seen from the test
    def sql(self, statement, params=()):
        """Run one statement on the server's database (`?` placeholders); rows or rowcount."""
        if ON_POSTGRES:
            conn = psycopg2.connect(self.database_url)
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(statement.replace("?", "%s"), params)
                    return cur.fetchall() if cur.description else cur.rowcount
            finally:
                conn.close()
        conn = sqlite3.connect(self.data_dir / "kontor.db", timeout=10)
        try:
            with conn:
                cur = conn.execute(statement, params)
                return cur.fetchall() if cur.description else cur.rowcount
        finally:
            conn.close()

    def timestamp(self, value):
        """A naive UTC datetime as the server's database stores it."""
        return value if ON_POSTGRES else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def make_user(self, email, name, password=PASSWORD, superuser=False, account=True):
        """An account with its employee (or, `account=False`, only the employee), made by
        Kontor's own models in a separate process."""
        code = (
            "import sys\n"
            "from kontor import passwords\n"
            "from models import Employee, User, db, open_database\n"
            "open_database(sys.argv[1])\n"
            "with db.connection_context():\n"
            "    person = Employee.create(name=sys.argv[3], email=sys.argv[2])\n"
            "    if sys.argv[6] == '1':\n"
            "        User.create(email=sys.argv[2], employee=person,\n"
            "                    is_superuser=sys.argv[5] == '1', language='en',\n"
            "                    password_hash=passwords.hash_password(sys.argv[4]))\n"
        )
        subprocess.run([sys.executable, "-c", code, self.database_url, email, name, password,
                        "1" if superuser else "0", "1" if account else "0"],
                       cwd=ROOT, check=True, timeout=60)


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory, smtp):
    """Start a new Kontor on an empty database: `server_factory()`, or with settings of its
    own: `server_factory(KONTOR_SYNC_SECONDS="3600")`."""
    compile_translations()
    started = []

    def start(**env):
        server = LiveServer(tmp_path_factory.mktemp("kontor"), smtp.port, env)
        started.append(server)
        return server.start()
    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def live_server(server_factory):
    return server_factory()


# --- user stories' building blocks --------------------------------------------------------


@pytest.fixture(scope="session")
def site(live_server, browser):
    """The shared Kontor, set up through its setup page: company and first superuser."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.goto(live_server.setup_url)
    fill_setup_form(page)
    page.get_by_role("button", name="Create company and sign in").click()
    assert page.url == live_server.url + "/admin/company", page.content()[:2000]
    context.close()
    return live_server


@pytest.fixture(scope="session")
def admin_state(site, browser):
    """A signed-in superuser's cookies, so that each test need not sign in again (the login
    form is rate-limited per address, and every test here comes from 127.0.0.1)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    sign_in(page, site.url, ADMIN["email"])
    assert page.url == site.url + "/", page.content()[:2000]
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def admin_page(browser, admin_state):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB",
                                  storage_state=admin_state)
    page = context.new_page()
    yield page
    context.close()


