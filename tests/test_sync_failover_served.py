"""SYNC.md test 11 and issue 17's failover test: two Kontor processes (`python app.py`, waitress
and the jobs, as an install runs it) serve one PostgreSQL database; only the lease holder
syncs. The syncing one is stopped without a goodbye (kill -9); with a lease time of a few
seconds (KONTOR_SYNC_LEASE_SECONDS) the other takes over, the takeover is recorded, and the
sync goes on from there. Needs PostgreSQL: two processes on one SQLite file are the same
computer's business, not a failover (CI runs the PostgreSQL suite)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import psycopg2
import pytest
from conftest import ON_POSTGRES
from helpers import free_port
from served import ROOT, PostgresDatabase, stop, wait_for_port
from sync_helpers import Business

pytestmark = pytest.mark.skipif(not ON_POSTGRES,
                                reason="needs the PostgreSQL server of the PostgreSQL run")

LEASE_SECONDS = 4
SEED = """\
import sys
from datetime import datetime, UTC
from kontor import migrate
from models import Company, SyncState, db, open_database
migrate.upgrade(open_database(sys.argv[1]))
with db.connection_context():
    Company.create(name="Jansen Installatie BV", street="Dorpsstraat 1", postcode="1234 AB",
                   city="Utrecht", country="NL", phone="+31 30 123 4567",
                   email="info@jansen.example", vat_number="NL001234567B01", language="en")
    SyncState.create(id=1, business_url=sys.argv[2], active=True,
                     activated_at=datetime.now(UTC).replace(tzinfo=None))
"""


def wait_until(what, check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}")


class Kontor:
    """One served Kontor process on the shared database."""

    def __init__(self, folder, name, database_url):
        self.data_dir = folder / name
        self.data_dir.mkdir(mode=0o700)
        self.port = free_port()
        self.log_path = folder / f"{name}.log"
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "KONTOR_TESTING", "KONTOR_THREADS")}
        env.update(KONTOR_DATA_DIR=str(self.data_dir), KONTOR_HOST="127.0.0.1",
                   KONTOR_PORT=str(self.port), KONTOR_BASE_URL=f"http://127.0.0.1:{self.port}",
                   SMTP_HOST="", PYTHONUNBUFFERED="1", DATABASE_URL=database_url,
                   KONTOR_SYNC_SECONDS="1", KONTOR_SYNC_LEASE_SECONDS=str(LEASE_SECONDS))
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                            stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, self.log_path, f"Kontor {name}")

    @property
    def pid(self):
        return self.process.pid


def query(url, sql, params=()):
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def node_of(url, pid):
    rows = query(url, "SELECT node_id FROM sync_node WHERE pid = %s", (pid,))
    return rows[0][0] if rows else None


def lease(url):
    rows = query(url, "SELECT holder, epoch FROM job_lease WHERE name = 'sync'")
    return rows[0] if rows else ("", 0)


def test_only_the_lease_holder_syncs_and_the_other_takes_over_after_kill_9(tmp_path):
    database = PostgresDatabase()
    url = database.create()
    business_url = f"sqlite:///{tmp_path / 'business.db'}"
    firm = Business(business_url)
    firm.add("contacts", customer_number=20001, name="Bakker Techniek B.V.")
    firm.database.close()
    first = second = None
    try:
        seeded = subprocess.run([sys.executable, "-c", SEED, url, business_url], cwd=ROOT,
                                capture_output=True, text=True)
        assert seeded.returncode == 0, f"seeding failed:\n{seeded.stdout}{seeded.stderr}"
        first = Kontor(tmp_path, "first", url)
        first_node = wait_until("the first process to register", lambda: node_of(url, first.pid))
        wait_until("the first sync", lambda: query(
            url, "SELECT 1 FROM contact WHERE name = 'Bakker Techniek B.V.'"))
        second = Kontor(tmp_path, "second", url)
        second_node = wait_until("the second process to register",
                                 lambda: node_of(url, second.pid))
        # both serve; only the lease holder syncs, and nobody takes its lease
        holder, epoch = lease(url)
        assert holder == first_node
        with closing(sqlite3.connect(tmp_path / "business.db")) as conn:
            conn.execute("INSERT INTO contacts (customer_number, name) VALUES (20002, 'Fjord')")
            conn.commit()
        wait_until("the new contact", lambda: query(url, "SELECT 1 FROM contact WHERE "
                                                         "name = 'Fjord'"))
        for _ in range(10):
            assert lease(url) == (first_node, epoch)
            time.sleep(0.3)
        nodes_seen = {node for (node,) in query(url, "SELECT DISTINCT node FROM sync_run")}
        assert nodes_seen == {first_node}

        # the syncing one dies without a goodbye
        os.kill(first.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        killed_at = time.monotonic()
        wait_until("the takeover", lambda: lease(url)[0] == second_node,
                   seconds=LEASE_SECONDS + 20)
        assert time.monotonic() - killed_at >= LEASE_SECONDS - 1.5   # not before the lease ran out
        assert lease(url)[1] == epoch + 1
        with closing(sqlite3.connect(tmp_path / "business.db")) as conn:
            conn.execute("INSERT INTO contacts (customer_number, name) VALUES (20003, 'Vogel')")
            conn.commit()
        wait_until("the contact synced by the second", lambda: query(
            url, "SELECT 1 FROM contact WHERE name = 'Vogel'"))
        assert query(url, "SELECT taken_over_from FROM sync_state") == [(first_node,)]
        assert query(url, "SELECT count(*) FROM audit_event "
                          "WHERE action = 'sync.node.takeover'") == [(1,)]
        lines = query(url, "SELECT node, status FROM sync_run ORDER BY id")
        assert (second_node, "ok") in lines
        assert query(url, "SELECT count(*) FROM contact") == [(3,)]    # nothing twice
    finally:
        for kontor in (first, second):
            if kontor is not None:
                stop(kontor.process)
        database.drop()
