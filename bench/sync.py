"""The sync at scale (issue 16, "Speed"): a business database of 100,000 contacts, 200,000
contact persons and 300,000 note entries (a SQLite file in the default layout), synced into a
new Kontor by the first sync, then kept in step.

    .venv/bin/python bench/sync.py                         # 100,000 contacts, SQLite
    .venv/bin/python bench/sync.py --contacts 20000        # a quicker run
    .venv/bin/python bench/sync.py --database-url postgresql://postgres@127.0.0.1:5432/kontor_bench

In one run it measures, and prints as a table:
- the first sync, run as `flask --app app sync-now` in a process of its own: rows per second,
  and that process's peak resident memory (sampled from /proc every 0.1 s) and at the end;
- merely reading both sides' tables (every row of the four business tables and of Kontor's
  four), the baseline of a quiet cycle;
- a quiet cycle (nothing changed on either side): the first in this process, which passes
  over every table (as after a restart: the probes are kept in memory), and the next one,
  which finds every table's probe unchanged (SYNC.md step 2) as the sync job's cycles do;
- a cycle with 1,000 changes on each side (fax in the business database, phone in Kontor).
Each with its CPU seconds too (this process's, or the first sync's process's): the machine
may be shared. Targets: quiet cycle at most 2x the read; 1,000 changes under 5 s; the first
sync's process under 300 MB at its peak and under 200 MB at its end. Exits 1 if one is
missed.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # the project, for the imports below (bench/ may: E402)

from app import create_app
from kontor import migrate
from kontor.memory import resident_mb
from kontor.sync import business, demo, engine
from kontor.sync.layout import business_models, default_layout
from models import Contact, ContactPerson, Employee, NoteEntry, SyncState, User, db

PERSONS_PER_CONTACT = 2
NOTES_PER_CONTACT = 3


def build_business(path, contacts):
    """A business database file with `contacts` firms, 2 persons and 3 note entries each."""
    url = f"sqlite:///{path}"
    database = business.open_business(url, create=True)
    models = business_models(default_layout(), database)
    database.create_tables(list(models.values()))
    rows = demo.rows(contacts)
    persons, notes = [], []
    for contact in rows["contacts"]:
        key = contact["key"]
        for n in range(PERSONS_PER_CONTACT):
            persons.append(dict(key=len(persons) + 1, contact_id=key, name=f"Person {key}-{n}",
                                title="", email=f"p{key}.{n}@example.com", phone="", mobile="",
                                active=True))
        for n in range(NOTES_PER_CONTACT):
            notes.append(dict(key=len(notes) + 1, uid=f"bench-{key}-{n}", contact_id=key,
                              person_id=None, text=f"Notat {n} om kunde {key}.",
                              author="Bench", created_at=demo.EPOCH))
    rows["contact_persons"], rows["note_entries"] = persons, notes
    with database.atomic():
        for entity, model in models.items():
            for start in range(0, len(rows[entity]), 500):
                model.insert_many(rows[entity][start:start + 500]).execute()
    database.close()
    return url


def read_both_sides(business_url):
    """Seconds to read every row of the four business tables and Kontor's four."""
    started = time.perf_counter()
    database = business.open_business(business_url)
    for model in business_models(default_layout(), database).values():
        for _row in model.select().tuples().iterator():
            pass
    database.close()
    for model in (Employee, Contact, ContactPerson, NoteEntry):
        for _row in model.select().tuples().iterator():
            pass
    return time.perf_counter() - started


def first_sync_in_a_process(data_dir, database_url):
    """Run `flask sync-now` (the first sync) in a process of its own; sample its memory.
    Returns (seconds, its CPU seconds, peak MB, last MB, output)."""
    env = dict(os.environ, KONTOR_DATA_DIR=str(data_dir), DATABASE_URL=database_url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", str(ROOT / "app"),
                                "sync-now"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    peak, last = [0.0], [0.0]

    def sample():
        while process.poll() is None:
            rss = resident_mb(process.pid).get("total")
            if rss:
                peak[0], last[0] = max(peak[0], rss), rss
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output = process.communicate()[0]
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return time.perf_counter() - started, cpu, peak[0], last[0], output


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kontor-sync-bench-"))
    data_dir = folder / "data"
    database_url = args.database_url or f"sqlite:///{folder / 'kontor.db'}"
    print(f"building a business database of {args.contacts:,} contacts ...", flush=True)
    business_url = build_business(folder / "business.db", args.contacts)
    app = create_app({"DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
                      "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        migrate.upgrade(db.obj)
        user = User.create(email="bench@kontor.example", password_hash="x", is_superuser=True)
        with db.atomic():
            SyncState.insert(id=1, business_url=business_url, active=True,
                             owner=user.id).execute()
    db.close()
    seconds, first_cpu, peak, last, output = first_sync_in_a_process(data_dir, database_url)
    rows = args.contacts * (1 + PERSONS_PER_CONTACT + NOTES_PER_CONTACT) + 8
    print(output.strip())

    def timed(work):
        """(wall seconds, CPU seconds of this process, work's result)."""
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        return time.perf_counter() - wall, time.process_time() - cpu, result

    with app.app_context():
        read, read_cpu, _none = timed(lambda: read_both_sides(business_url))
        database = business.open_business(business_url)

        def cycle():
            run = engine.run_cycle(database, default_layout(), node="bench")
            assert run.status == "ok", run.error
            return run

        full, full_cpu, _run = timed(cycle)
        quiet, quiet_cpu, _run = timed(cycle)
        model = business_models(default_layout(), database)["contacts"]
        with database.atomic():
            for key in range(1, 1001):
                model.update(fax=f"+47 {key:08d}").where(model.key == key * 7).execute()
        ids = [i for (i,) in Contact.select(Contact.id).order_by(Contact.id.desc())
               .limit(1000).tuples()]
        with db.atomic():
            Contact.update(phone="+47 99 99 99 99", version=Contact.version + 1).where(
                Contact.id.in_(ids)).execute()
        busy, busy_cpu, busy_run = timed(cycle)
        database.close()
    print()
    print(f"{'measure':48} {'value':>10} {'CPU s':>8}  target")
    print(f"{'first sync: rows':48} {rows:>10,}")
    print(f"{'first sync: seconds':48} {seconds:>10.1f} {first_cpu:>8.1f}")
    print(f"{'first sync: rows per second':48} {rows / seconds:>10,.0f} "
          f"{rows / first_cpu:>8,.0f}  (per CPU second)")
    print(f"{'first sync: peak RSS of its process (MB)':48} {peak:>10.0f} {'':>8}  < 300")
    print(f"{'first sync: RSS at its end (MB)':48} {last:>10.0f} {'':>8}  < 200")
    print(f"{'read both sides (s)':48} {read:>10.2f} {read_cpu:>8.2f}  baseline")
    print(f"{'quiet cycle, first in a process (s)':48} {full:>10.2f} {full_cpu:>8.2f}  "
          f"({full / read:.2f}x read)")
    print(f"{'quiet cycle (s)':48} {quiet:>10.2f} {quiet_cpu:>8.2f}  <= 2x read "
          f"({quiet / read:.2f}x)")
    print(f"{'cycle with 1,000 changes each side (s)':48} {busy:>10.2f} {busy_cpu:>8.2f}  < 5 "
          f"(to business {busy_run.to_business}, to Kontor {busy_run.to_kontor})")
    missed = []
    if quiet > 2 * read:
        missed.append("quiet cycle")
    if busy > 5:
        missed.append("1,000 changes")
    if peak > 300 or last > 200:
        missed.append("first sync memory")
    print("targets missed: " + ", ".join(missed) if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
