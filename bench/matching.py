"""The import queue's matching at scale (issue 15, "Speed"): 100,000 contacts (with persons,
e-mails, phones, addresses; nl/nb/de names) and 10,000 queued registrations (a mix of exact
matches, probable ones and new customers, with typos in case and accents); in one run it
classifies the whole queue (kontor.incoming.classify_queue, a chunk of items at a time) and
prints the time next to a naive scan of the same items over the same contacts (a sample of
items, extrapolated) and next to a bare read of the contact table; then the queue page's server
time (median and p95; and right after a colleague saved a contact, when the page classifies its
items afresh). Wall and CPU time (process_time) side by side: the machine may be shared.

    .venv/bin/python bench/matching.py                 # SQLite in a temporary folder
    .venv/bin/python bench/matching.py --database-url postgresql://postgres@127.0.0.1:5432/kontor_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1/kontor_bench .venv/bin/python bench/matching.py
    .venv/bin/python bench/matching.py --database-url sqlite:////tmp/m.db --reuse  # built before
    .venv/bin/python bench/matching.py --contacts 20000 --items 2000   # smaller

Targets: the whole queue under 2 s; the queue page under 50 ms median. Prints a table; exits 1
if a target is missed.
"""
import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # the project, for the imports below (bench/ may: E402)
from app import create_app
from kontor import contacts, incoming, jobs, migrate, passwords
from kontor.matching import (
    address_key,
    contact_keys,
    normalise_name,
    number_key,
    person_keys,
    phone_key,
)
from models import (
    Company,
    Contact,
    ContactPerson,
    Employee,
    IncomingItem,
    User,
    WebAccount,
    Website,
    db,
    open_database,
)
from models.clock import utcnow
from models.db import is_sqlite

SURNAMES = ["Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
            "de Boer", "Mulder", "Hansen", "Johansen", "Olsen", "Larsen", "Nilsen", "Søren",
            "Ødegård", "Æsøy", "Strøm", "Müller", "Schmidt", "Schneider", "Fischer", "Weber",
            "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer", "Björk", "Lindqvist"]
FIRST = ["Anna", "Piet", "Kari", "Ola", "Jan", "Eva", "Lars", "Ingrid", "Klaus", "Sabine",
         "Sofie", "Emma", "Noah", "Lucas", "Mette", "Henrik", "Jürgen", "Liv", "Åse", "Jörg"]
TRADES = ["Installatie", "Bouw", "Transport", "Consult", "Elektro", "Rørlegger", "Bygg",
          "Handel", "Technik", "Services", "Holding", "Logistikk", "Advies", "Design"]
FORMS = ["B.V.", "AS", "GmbH", "Ltd", "ASA", "N.V.", "AG", ""]
CITIES = [("NL", "Utrecht"), ("NL", "Zwolle"), ("NO", "Oslo"), ("NO", "Bergen"),
          ("NO", "Tromsø"), ("DE", "Berlin"), ("DE", "München"), ("DE", "Köln")]
STREETS = ["Dorpsstraat", "Kerkstraat", "Storgata", "Kirkegata", "Hauptstraße", "Bahnhofstraße"]


def company_name(rng, i):
    return f"{rng.choice(SURNAMES)} {rng.choice(TRADES)} {i} {rng.choice(FORMS)}".strip()


def build(url, count, items):
    """Fill an empty Kontor database with `count` contacts and `items` queued items."""
    migrate.upgrade(open_database(url))
    rng = random.Random(15)
    started = time.perf_counter()
    with db.connection_context():
        Company.create(name="Bench AS", country="NO", email="post@bench.example")
        employee = Employee.create(name="Bench User", email="bench@bench.example")
        User.create(email="bench@bench.example", employee=employee, is_superuser=True,
                    password_hash=passwords.hash_password("bench password 2026"))
        rows = []
        for i in range(count):
            country, city = rng.choice(CITIES)
            rows.append((10001 + i, {
                "name": company_name(rng, i), "org_number": str(900_000_000 + i),
                "email": f"post{i}@firma{i}.example", "phone": f"+47 2{i:07d}",
                "street": f"{rng.choice(STREETS)} {i % 300 + 1}",
                "postcode": f"{1000 + i % 8999}", "city": city, "country": country}))
        with db.atomic():
            for start in range(0, len(rows), 5000):
                contacts.create_many(rows[start:start + 5000])
        ids = dict(Contact.select(Contact.customer_number, Contact.id).tuples())
        persons = []
        for number, _values in rows:
            name = f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}"
            person = {"name": name, "email": f"{number}@person.example",
                      "mobile": f"+47 9{number:07d}"}
            persons.append(dict(person, contact=ids[number], **person_keys(person, "NO")))
        with db.atomic():
            for start in range(0, len(persons), 2000):
                ContactPerson.insert_many(persons[start:start + 2000]).execute()
        site = Website.create(name="Bench shop", slug="bench", public_url="https://b.example")
        accounts, queued = [], []
        for n in range(items):
            kind = n % 3          # 0 exact, 1 probable, 2 new
            i = rng.randrange(count)
            number, values = rows[i]
            if kind == 0:
                name = values["name"].upper() if n % 2 else values["name"].replace(
                    "ø", "o").replace("ü", "u")
                detail = {"company_name": name, "org_number": "", "phone": values["phone"]}
            elif kind == 1:
                detail = {"company_name": f"Other {n} AS", "org_number": "",
                          "phone": values["phone"].replace("+47 ", "0047 ")}
            else:
                detail = {"company_name": f"Brand New {n} {rng.choice(TRADES)} AS",
                          "org_number": str(800_000_000 + n), "phone": f"+47 3{n:07d}"}
            detail.update(contact_person=f"{rng.choice(FIRST)} Ny{n}", street="", postcode="",
                          city="Oslo", country="NO")
            accounts.append({"website": site.id, "email": f"user{n}@bench.example",
                             "status": "pending", "email_confirmed_at": utcnow()})
            queued.append(detail)
        with db.atomic():
            for start in range(0, len(accounts), 2000):
                WebAccount.insert_many(accounts[start:start + 2000]).execute()
            account_ids = [a for (a,) in WebAccount.select(WebAccount.id)
                           .order_by(WebAccount.id).tuples()]
            items_rows = [{"website": site.id, "web_account": account_id, "kind": "registration",
                           "values": json.dumps(detail)}
                          for account_id, detail in zip(account_ids, queued, strict=True)]
            for start in range(0, len(items_rows), 2000):
                IncomingItem.insert_many(items_rows[start:start + 2000]).execute()
    print(f"built {count:,} contacts, {count:,} persons, {items:,} items in "
          f"{time.perf_counter() - started:.1f} s")


def naive(items, sample):
    """Each of `sample` items compared with every contact and person in Python (keys made on
    the fly, as a scan without indexed keys must): (wall, CPU) seconds per item."""
    contacts_all = list(Contact.select(Contact.id, Contact.name, Contact.org_number,
                                       Contact.vat_number, Contact.email, Contact.phone,
                                       Contact.mobile, Contact.street, Contact.postcode,
                                       Contact.country).tuples())
    started, cpu = time.perf_counter(), time.process_time()
    for item in items[:sample]:
        values = incoming.values_of(item, item.web_account)
        name, org = normalise_name(values["name"]), number_key(values["org_number"])
        phone = phone_key(values["phone"], "NO")
        address = address_key(values["street"], values["postcode"])
        for (_cid, cname, corg, cvat, cemail, cphone, cmobile, cstreet, cpostcode,
             ccountry) in contacts_all:
            keys = contact_keys({"org_number": corg, "vat_number": cvat, "phone": cphone,
                                 "mobile": cmobile, "street": cstreet, "postcode": cpostcode,
                                 "country": ccountry}, "NO")
            _hit = (normalise_name(cname) == name or (org and keys["org_key"] == org)
                    or cemail == values["email"] or (phone and keys["phone_key"] == phone)
                    or (address and keys["address_key"] == address))
    return ((time.perf_counter() - started) / sample, (time.process_time() - cpu) / sample)


def server_cpu():
    """CPU seconds each PostgreSQL backend serving this database has used so far, by process
    id (read from /proc: the server runs on this machine); {} on SQLite (its work is in this
    process's CPU time) or without /proc."""
    if is_sqlite():
        return {}
    used = {}
    with db.connection_context():
        pids = [pid for (pid,) in db.execute_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()").fetchall()]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def server_cpu_since(before):
    """CPU seconds the backends used since `before` (a `server_cpu` reading): per backend
    alive now, what it used since then (all of it for a new one). A backend that ended
    meanwhile is not counted, so the figure is never negative (it was, when the backend that
    built the data ended between two readings)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in server_cpu().items())


def timed(work, server=True):
    """(result, wall seconds, CPU seconds) of `work()`: this process's CPU time and, on
    PostgreSQL, its backends' (`server_cpu_since`; `server=False`: this process's only). The
    CPU time shows what the figure is made of on a machine shared with other work, where the
    wall time waits for the CPU."""
    before = server_cpu() if server else {}
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, wall, cpu + (server_cpu_since(before) if server else 0.0)


def page_times(client, requests, before=None):
    """Wall and CPU seconds of `requests` GETs of the queue page (`before()` untimed before
    each). The CPU time is this process's, plus on PostgreSQL the mean of its backends'
    per request (/proc counts in ticks of 10 ms: too coarse for one request)."""
    walls, cpus, server = [], [], 0.0
    for _ in range(requests):
        if before is not None:
            before()
        started = server_cpu()
        response, wall, cpu = timed(lambda: client.get("/website-data/"), server=False)
        server += server_cpu_since(started)
        assert response.status_code == 200
        walls.append(wall)
        cpus.append(cpu)
    return walls, [cpu + server / requests for cpu in cpus]


def p95(values):
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="default: $DATABASE_URL, else SQLite in a temporary folder")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=3,
                        help="items the naive scan times (then extrapolated)")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reuse", action="store_true",
                        help="the database at --database-url is built already")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="kontor-bench-matching-"))
    url = args.database_url or f"sqlite:///{data_dir / 'kontor.db'}"
    if not args.database_url or not args.reuse:
        build(url, args.contacts, args.items)
    app = create_app({"DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False})
    with app.app_context():
        work, _every = jobs.JOBS["refresh_statistics"]
        jobs.run_job("refresh_statistics", work, app.config, holder="bench")
        with db.connection_context():
            incoming.classify_rows([])          # imports and first connections done
            rows, bare, bare_cpu = timed(
                lambda: db.execute_sql("SELECT * FROM contact").fetchall())
            matches, classified, classified_cpu = timed(
                lambda: incoming.classify_queue("contacts"))
            statuses = {}
            for match in matches.values():
                statuses[match.status] = statuses.get(match.status, 0) + 1
            items = list(incoming.unprocessed("contacts").limit(args.naive_sample))
            per_item, per_item_cpu = naive(items, args.naive_sample)
            someone = Contact.select(Contact.id, Contact.version).order_by(Contact.id).get()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": "bench@bench.example",
                                       "password": "bench password 2026",
                                       "csrf_token": token}).status_code == 302
    client.get("/website-data/")
    walls, cpus = page_times(client, args.requests)
    edits = iter(range(10**6))

    def edit_a_contact():
        """A colleague saves a contact's phone meanwhile: the page classifies afresh."""
        with app.app_context(), db.connection_context():
            current = Contact.get_by_id(someone.id)
            contacts.update(current.id, {"phone": f"+47 4{next(edits):07d}"}, current.version)
    cold_walls, cold_cpus = page_times(client, max(5, args.requests // 3), edit_a_contact)
    kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    count = len(matches)
    print(f"\n{kind}: {args.contacts:,} contacts, {count:,} queued items "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(statuses.items()))})")
    line = "{:<58} {:>12} {:>12}"
    print(line.format("what", "wall", "CPU" + (" (+server)" if kind == "PostgreSQL" else "")))
    print(line.format(f"bare read of the contact table ({len(rows):,} rows)",
                      f"{bare:.2f} s", f"{bare_cpu:.2f} s"))
    print(line.format(f"classify the whole queue ({count:,} items)",
                      f"{classified:.2f} s", f"{classified_cpu:.2f} s"))
    print(line.format(f"naive scan, extrapolated ({args.naive_sample} items timed)",
                      f"{per_item * count:,.0f} s", f"{per_item_cpu * count:,.0f} s"))
    for label, w, c in ((f"queue page, median of {len(walls)}", walls, cpus),
                        (f"queue page, p95 of {len(walls)}", walls, cpus),
                        (f"queue page after a contact change, median of {len(cold_walls)}",
                         cold_walls, cold_cpus)):
        pick = p95 if "p95" in label else statistics.median
        print(line.format(label, f"{pick(w) * 1000:.1f} ms", f"{pick(c) * 1000:.1f} ms"))
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")
    median = statistics.median(walls) * 1000
    missed = classified >= 2 or median >= 50
    print("targets: queue < 2 s, page < 50 ms median (wall):", "MISSED" if missed else "met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
