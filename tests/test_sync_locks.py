"""A business database locked by another program never holds Kontor's own write lock (the
tester's fault: BEGIN EXCLUSIVE held on the business file made a staff user's save wait 9 s and
the sync log page fail with "database is locked"): the sync takes the business side's lock
before Kontor's write transaction, and a business database that stays locked is an Error line
saying so; the next cycle syncs."""
import json
import sqlite3
import threading
import time

import psycopg2
import pytest
from sync_helpers import bound_contact

from blueprints.sync import problem_message
from kontor.contacts import saving
from kontor.sync import engine
from models import Contact

FIRM = dict(customer_number=20001, kind="company", name="Fjord Rør AS", phone="+47 22 33 44 55",
            fax="", email="post@fjordror.example", city="Oslo", country="NO", active=True)


def test_a_locked_business_database_does_not_block_kontor_writes(firm, monkeypatch):
    if not firm.url.startswith("sqlite"):
        pytest.skip("a second connection holding BEGIN EXCLUSIVE: the SQLite business file")
    monkeypatch.setattr(engine, "BUSINESS_LOCK_SECONDS", 3.0)
    key = firm.add("contacts", **FIRM)
    assert firm.cycle(first=True).status == "ok"
    contact = bound_contact(firm, key)
    other = saving.create({"name": "Jansen B.V.", "city": "Utrecht", "country": "NL"})
    assert firm.cycle().status == "ok"
    # a change pending on Kontor's side, then the desktop program locks its database
    saving.update(contact.id, {"phone": "+47 99 88 77 66"},
                  Contact.get_by_id(contact.id).version)
    holder = sqlite3.connect(firm.url[len("sqlite:///"):], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    result = {}
    cycle = threading.Thread(target=lambda: result.update(run=firm.cycle()))
    try:
        cycle.start()
        time.sleep(0.5)            # the cycle waits for the business database's lock now
        started = time.monotonic()
        saving.update(other.id, {"phone": "+31 30 123 45 67"},
                      Contact.get_by_id(other.id).version)
        waited = time.monotonic() - started
        cycle.join(20)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert waited < 2.0, f"a Kontor save waited {waited:.1f} s for the sync"
    run = result["run"]
    assert run.status == "error"
    assert json.loads(run.error)["code"] == "business_locked"
    # nothing half-written: the business row unchanged, Kontor's change still pending
    assert firm.contact(key).phone == "+47 22 33 44 55"
    assert Contact.get_by_id(contact.id).phone == "+47 99 88 77 66"
    # the next cycle, the lock gone, syncs it
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert firm.contact(key).phone == "+47 99 88 77 66"


def test_the_locked_error_line_is_said_plainly(app):
    with app.test_request_context():
        text = problem_message("business_locked", {"seconds": 5})
    assert "locked by another program" in text and "the next run tries again" in text


def test_a_locked_postgresql_business_row_is_waited_for_briefly_outside_kontors_lock(
        firm, monkeypatch):
    if firm.url.startswith("sqlite"):
        pytest.skip("a row lock held by another connection: the PostgreSQL business database")
    monkeypatch.setattr(engine, "BUSINESS_LOCK_SECONDS", 3.0)
    key = firm.add("contacts", **FIRM)
    assert firm.cycle(first=True).status == "ok"
    contact = bound_contact(firm, key)
    other = saving.create({"name": "Jansen B.V.", "city": "Utrecht", "country": "NL"})
    assert firm.cycle().status == "ok"
    saving.update(contact.id, {"phone": "+47 99 88 77 66"},
                  Contact.get_by_id(contact.id).version)
    holder = psycopg2.connect(firm.url)
    cursor = holder.cursor()
    cursor.execute("SELECT * FROM contacts WHERE id = %s FOR UPDATE", (key,))
    result = {}
    cycle = threading.Thread(target=lambda: result.update(run=firm.cycle()))
    try:
        cycle.start()
        time.sleep(0.5)
        started = time.monotonic()
        saving.update(other.id, {"phone": "+31 30 123 45 67"},
                      Contact.get_by_id(other.id).version)
        waited = time.monotonic() - started
        cycle.join(20)
    finally:
        holder.rollback()
        holder.close()
    assert waited < 2.0, f"a Kontor save waited {waited:.1f} s for the sync"
    run = result["run"]
    assert run.status == "error" and json.loads(run.error)["code"] == "business_locked"
    assert firm.contact(key).phone == "+47 22 33 44 55"
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert firm.contact(key).phone == "+47 99 88 77 66"
