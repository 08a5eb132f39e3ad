"""Support requests at scale (issue 12 item 26; SPEC section 11): 20,000 cases, each with 2-4
messages and 2-4 history lines, beside bench/contacts.py's 100,000 contacts; server time of
the staff case list (first page, mine and all, a status filter, a deep page), a folded
search, a search by case number and one case page, next to a bare page of the same app
(same layout, same session handling, no data) measured in the same run.

    .venv/bin/python bench/support.py                 # SQLite in a temporary folder
    .venv/bin/python bench/support.py --database-url postgresql://postgres@127.0.0.1:5432/kontor_bench
    .venv/bin/python bench/support.py --requests 300 --keep /tmp/kontor-bench   # reuse the data

Like bench/contacts.py (whose data it builds first, and whose folder --keep may share): server
time is measured in-process around Flask's test client, and the planner's statistics are the
ones Kontor's own job keeps (issue 12 item 28), not an ANALYZE of the bench's. Targets: median
under 10 ms, and each at least 40 % of the bare page's throughput (the first search after a
change, which finds its matches afresh: median under 10 ms). Prints a table and the process's
resident memory; exits 1 if a target is missed.
"""
import argparse
import random
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # the project, for the imports below (bench/ may: E402)
sys.path.insert(0, str(ROOT / "bench"))
from contacts import TARGET_MS, measure, report, statistics_as_kontor_keeps_them
from contacts import build as build_contacts
from flask import render_template
from jinja2 import ChoiceLoader, DictLoader

from app import create_app
from kontor import migrate, passwords
from kontor.text import list_key, search_text
from models import (
    CaseCategory,
    CaseEvent,
    CaseMessage,
    CaseType,
    Contact,
    Employee,
    SupportCase,
    User,
    db,
    open_database,
)
from models.clock import utcnow

CASES = 20_000
STAFF = ["Kari Nordmann", "Jürgen Weiß", "Sofie de Vries", "Ødegård Strøm"]
CATEGORIES = ["Facturatie", "Lønn", "Buchhaltung", "Installation", "Hardware", "Web"]
TYPES = ["Vraag", "Feil", "Wunsch", "Question"]
SUBJECTS = [
    "Überweisung fehlgeschlagen", "Rechnung {n} doppelt gebucht", "Drucker im Büro offline",
    "Factuur {n} klopt niet", "Inloggen lukt niet meer", "Crème brûlée recept op de website",
    "Lønnskjøring feilet for {n} ansatte", "Får ikke åpnet rapporten", "Skjæringsdato på faktura",
    "Printer says offline", "Password reset e-mail never arrives",
    "Invoice {n} shows the wrong VAT",
    "Naïve question about the café module", "Backup niet gelukt", "Gebühren für März prüfen",
]
MESSAGES = ["Since Monday it does not work; see the attached screen.",
            "Wir haben es nochmal versucht, leider ohne Erfolg.",
            "Dank u, het werkt weer.", "Vi har sjekket innstillingene, se svaret under."]


def build_cases(database_url):
    """Add the support desk to the contacts' data: categories, types, four more staff users
    and CASES cases with their threads and histories, in bulk; returns one case's number with
    four messages and four history lines (for the case page)."""
    open_database(database_url)
    rng = random.Random(26)
    started = time.perf_counter()
    with db.connection_context():
        users = [User.get(User.email == "bench@bench.example").id]
        for i, name in enumerate(STAFF):
            employee = Employee.create(name=name, email=f"staff{i}@bench.example")
            users.append(User.create(email=f"staff{i}@bench.example", employee=employee,
                                     password_hash=passwords.hash_password(f"staff pw {i} 2026")
                                     ).id)
        categories = [CaseCategory.create(name=n, name_key=list_key(n), position=p).id
                      for p, n in enumerate(CATEGORIES)]
        types = [CaseType.create(name=n, name_key=list_key(n), position=p).id
                 for p, n in enumerate(TYPES)]
        first_contact = Contact.select(Contact.id).order_by(Contact.id).first().id
        contact_count = Contact.select().count()
        now = utcnow()
        shapes = []          # (messages, events) of each case, in id order
        for start in range(0, CASES, 2000):
            batch = []
            for i in range(start, min(CASES, start + 2000)):
                year, seq = (2025, i + 1) if i < CASES // 2 else (2026, i + 1 - CASES // 2)
                subject = rng.choice(SUBJECTS).format(n=rng.randint(1000, 99999))
                created = now - timedelta(days=730 * (CASES - i) / CASES, minutes=rng.random())
                updated = created + timedelta(hours=rng.randint(0, 200))
                status = rng.choices(("open", "answered", "closed"), (3, 3, 4))[0]
                rated = rng.choice((True, False, None)) if status == "closed" else None
                batch.append(dict(
                    year=year, seq=seq, contact=first_contact + rng.randrange(contact_count),
                    category=rng.choice(categories), type=rng.choice(types), subject=subject,
                    search_text=search_text(subject), owner=rng.choice(users),
                    requester_user=rng.choice(users), status=status, satisfied=rated,
                    created_at=created, updated_at=min(updated, now),
                    closed_at=updated if status == "closed" else None))
                shapes.append((rng.randint(2, 4), rng.randint(2, 4), rated, created))
            with db.atomic():
                SupportCase.insert_many(batch).execute()
        ids = [case_id for (case_id,) in SupportCase.select(SupportCase.id)
               .order_by(SupportCase.id).tuples()]
        messages, events = [], []
        for case_id, (n_messages, n_events, rated, created) in zip(ids, shapes, strict=True):
            for k in range(n_messages):
                messages.append(dict(case=case_id, author=rng.choice(users),
                                     author_name=rng.choice(STAFF), body=MESSAGES[k],
                                     created_at=created + timedelta(hours=k)))
            actions = ["created", "message", "status", "owner"][:n_events]
            if rated is not None:
                actions[-1] = "answered_yes" if rated else "answered_no"
            for k, action in enumerate(actions):
                events.append(dict(case=case_id, user=rng.choice(users), action=action,
                                   old="", new="", at=created + timedelta(hours=k)))
            if len(messages) >= 5000:
                with db.atomic():
                    CaseMessage.insert_many(messages).execute()
                    CaseEvent.insert_many(events).execute()
                messages, events = [], []
        with db.atomic():
            CaseMessage.insert_many(messages).execute()
            CaseEvent.insert_many(events).execute()
        full = next(case_id for case_id, shape in zip(ids, shapes, strict=True)
                    if shape[:2] == (4, 4))
        number = SupportCase.get_by_id(full).number
    print(f"built {CASES:,} cases with their messages and history in "
          f"{time.perf_counter() - started:.0f} s")
    return number


def resident_kb():
    """This process's resident memory (VmRSS) in kB, or 0 where /proc has none."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", default="", help="data folder to build once and reuse")
    parser.add_argument("--build-only", action="store_true",
                        help="build (or bring up to date) the data and stop (bench/memory.py)")
    args = parser.parse_args()

    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="kontor-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{data_dir / 'kontor.db'}"
    contacts_built, cases_built = data_dir / "built", data_dir / "built-support"
    if args.keep and contacts_built.exists():
        migrate.upgrade(open_database(url))   # kept by an older Kontor: bring its schema up
    else:
        contacts_built.write_text(str(build_contacts(url, data_dir)))
    if args.keep and cases_built.exists():
        number = cases_built.read_text()
    else:
        number = build_cases(url)
        cases_built.write_text(number)
    if args.build_only:
        return 0

    app = create_app({"DATA_DIR": str(data_dir), "DATABASE_URL": url,
                      "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    statistics_as_kontor_keeps_them(app)
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "bench_bare.html": '{% extends "base.html" %}{% block content %}<h1>Bare</h1>'
                           '{% endblock %}'}), app.jinja_env.loader])

    @app.route("/bench/bare")
    def bare():
        """The same layout, session and sign-in check with no data: the baseline."""
        return render_template("bench_bare.html")

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"email": "bench@bench.example",
                                            "password": "bench password 2026",
                                            "csrf_token": token})
    assert signed_in.status_code == 302, "sign-in failed"
    with app.app_context(), db.connection_context():
        total = SupportCase.select().count()
    deep = total // 50 // 2
    cases = [
        ("bare page (baseline)", "/bench/bare"),
        ("case list, my cases", "/support"),
        ("case list, all, first page", "/support?view=all"),
        ("case list, all, status open", "/support?view=all&status=open"),
        (f"case list, all, page {deep}", f"/support?view=all&page={deep}"),
        ("search \"uberweisung\"", "/support?view=all&q=uberweisung"),
        ("search \"lønn feilet\"", "/support?view=all&q=l%C3%B8nn+feilet"),
        (f"search case number {number}", f"/support?view=all&q={number}"),
        (f"case page {number}", f"/support/{number}"),
    ]
    for _name, path in cases:     # warm caches and the connection pool
        measure(client, path, 3)
    results = {name: measure(client, path, args.requests) for name, path in cases}

    # A search keeps its ordered ids until a case or a contact changes (kontor/support.py,
    # search_ids); the rows above reuse them. These rows measure the first search after a
    # change: a case is edited (untimed) before each.
    def someone_edits_a_case():
        with app.app_context(), db.connection_context():
            SupportCase.update(updated_at=utcnow()).where(
                SupportCase.year == int(number[:4]), SupportCase.seq == int(number[5:])
            ).execute()
    first_after_a_change = [
        ("search \"uberweisung\", first after a change", "/support?view=all&q=uberweisung"),
        ("search \"lønn feilet\", first after a change",
         "/support?view=all&q=l%C3%B8nn+feilet"),
    ]
    for name, path in first_after_a_change:
        results[name] = measure(client, path, max(20, args.requests // 5), someone_edits_a_case)
    cold = {name for name, _path in first_after_a_change}

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nKontor support at scale on {database}: {total:,} cases, "
          f"{args.requests} requests each (server time)\n")
    failed = not report(results, cases[0][0], cold, TARGET_MS)
    print(f"resident memory of this process at the end: {resident_kb() / 1024:.0f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
