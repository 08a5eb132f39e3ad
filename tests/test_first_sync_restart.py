"""The first sync survives a restart of Kontor (issue 17 item 1), with the real server: `python
app.py` starts the first sync in the background; stopped half-way (SIGTERM, as `systemctl
stop` does) it stops after the batch it is writing and lets go of the lease; started again,
it goes on where it stopped, and the progress it stored is kept, not begun anew. Meanwhile
the server answers others with the maintenance page (503, Retry-After)."""
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing

import psycopg2
from helpers import ON_POSTGRES, PASSWORD, free_port
from served import ROOT, PostgresDatabase, stop, wait_for_port

FIRMS = 3000
ACTIVATE = """
import sys
from app import create_app
from kontor.sync import service
from models import User, db
app = create_app()
with app.app_context(), db.connection_context():
    anna = User.get(User.email == "anna@jansen.example")
    service.save_settings(app.config["DATA_DIR"], sys.argv[1], "", "", service.state().version,
                          anna)
    service.activate(app.config["DATA_DIR"], anna, sys.argv[2])
"""


def run(env, *args):
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{args}:\n{done.stdout}{done.stderr}"
    return done.stdout


class Database:
    """Kontor's database, read from the test as another program would."""

    def __init__(self, url):
        self.url = url

    def rows(self, statement):
        if self.url.startswith("sqlite:///"):
            with closing(sqlite3.connect(self.url[len("sqlite:///"):], timeout=10)) as conn:
                return conn.execute(statement).fetchall()
        with closing(psycopg2.connect(self.url)) as conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()

    def progress(self):
        return dict(self.rows("SELECT entity, done FROM sync_first_progress"))

    def first_sync_done(self):
        return self.rows("SELECT first_sync_done_at FROM sync_state")[0][0] is not None


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def test_a_restart_of_kontor_goes_on_with_the_first_sync(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KONTOR_TESTING")}
    env.update(KONTOR_DATA_DIR=str(data_dir), KONTOR_HOST="127.0.0.1", KONTOR_PORT=str(port),
               KONTOR_BASE_URL=f"http://127.0.0.1:{port}", SMTP_HOST="", PYTHONUNBUFFERED="1",
               KONTOR_SETUP_PASSWORD=PASSWORD, PYTHONPATH=str(ROOT))
    pg = PostgresDatabase() if ON_POSTGRES else None
    if pg:
        env["DATABASE_URL"] = pg.create()
    url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'kontor.db'}"
    kontor = Database(url)
    flask = ["-m", "flask", "--app", "app"]
    process = None
    try:
        run(env, *flask, "setup", "--company", "Jansen Installatie BV", "--name", "Anna Jansen",
            "--email", "anna@jansen.example", "--street", "Dorpsstraat 1", "--postcode",
            "1234 AB", "--city", "Utrecht", "--country", "NL", "--phone", "+31 30 123 4567",
            "--company-email", "info@jansen.example", "--vat-number", "NL001234567B01",
            "--org-number", "12345678")
        firm = tmp_path / "firm.db"
        run(env, *flask, "business-demo", str(firm), "--contacts", str(FIRMS))
        with closing(sqlite3.connect(firm)) as conn:
            total = sum(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                        for table in ("employees", "contacts", "contact_persons",
                                      "note_entries"))
        run(env, "-c", ACTIVATE, f"sqlite:///{firm}", PASSWORD)

        log_path = tmp_path / "kontor.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                       stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        wait_for_port(port, process, log_path, "Kontor")
        wait_until(lambda: sum(kontor.progress().values()) > 1000, 60, "progress")
        # others get the maintenance page meanwhile
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/contacts", timeout=10)
            raise AssertionError("no maintenance page")
        except urllib.error.HTTPError as error:
            assert error.code == 503 and int(error.headers["Retry-After"]) >= 30
        # stopped half-way: promptly, after a batch
        started = time.monotonic()
        stop(process)
        assert time.monotonic() - started < 10
        done_then = kontor.progress()
        assert 1000 < sum(done_then.values()) < total and not kontor.first_sync_done()
        [(first_started,)] = kontor.rows("SELECT MIN(started_at) FROM sync_first_progress")

        # started again: it goes on, and finishes
        with open(log_path, "a") as log:
            process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                       stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        wait_for_port(port, process, log_path, "Kontor")
        wait_until(kontor.first_sync_done, 120, "end of the first sync")
        runs = kontor.rows("SELECT status, error, to_kontor FROM sync_run WHERE first "
                           + ("= 1" if not ON_POSTGRES else "") + " ORDER BY id")
        assert runs[0][0] == "error" and "interrupted" in runs[0][1]
        assert runs[-1][0] == "ok"
        # the second run wrote only what the first had not
        assert 0 < runs[-1][2] <= total - sum(done_then.values()) + 1
        assert kontor.rows("SELECT MIN(started_at) FROM sync_first_progress") == \
            [(first_started,)]
        assert kontor.rows("SELECT COUNT(*) FROM contact")[0][0] == FIRMS
        assert "the first sync stops for the shutdown" in log_path.read_text()
    finally:
        if process is not None:
            stop(process)
        if pg:
            pg.drop()
