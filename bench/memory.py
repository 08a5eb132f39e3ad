"""Memory of a served Kontor (issue 12 item 27; SPEC section 11): its resident set size at rest
and while 8 signed-in clients browse 100,000 contacts and 20,000 support cases for a minute.

Serves Kontor with waitress in a subprocess (`python app.py`, scheduler included, default
settings) on the data that bench/support.py builds (100,000 contacts, 200,000 contact persons,
300,000 note entries, 20,000 cases), then each client loops over pages that touch different
rows every time: contact list pages, searches for changing words, random contact pages, the
case list, case searches and random case pages. The server's RSS (VmRSS of /proc/PID/status,
split into anonymous and file-backed memory) is sampled every second. A bare static file from
the same server is timed alone before the load, as the throughput baseline.

    .venv/bin/python bench/memory.py --keep /tmp/kontor-bench        # build once, reuse
    .venv/bin/python bench/memory.py --keep /tmp/kontor-bench --database-url \
        postgresql://postgres@127.0.0.1:5432/kontor_bench

Target: the server's RSS stays below 200 MB at rest and under the load. Prints a table;
exits 1 if the target is missed or a request failed.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import load  # bench/load.py: free_port and the HTTP client with cookies

from kontor.memory import resident_mb

TARGET_MB = 200
EMAIL, PASSWORD = "bench@bench.example", "bench password 2026"   # bench/contacts.py's account
WORDS = ["jans", "vries", "bouw", "hansen", "oslo", "muller", "odegard", "bygg", "smith",
         "transport", "berg", "strom", "handel", "weber", "meijer", "olsen", "design", "koln"]
CASE_WORDS = ["uberweisung", "factuur", "faktura", "login", "printer", "passord", "rechnung",
              "export", "backup", "update"]


def rss(pid):
    """The process's resident memory in MB: (total, anonymous, file-backed)."""
    found = resident_mb(pid)
    return found.get("total", 0.0), found.get("anonymous", 0.0), found.get("file", 0.0)


def ensure_data(keep, database_url):
    """Build the benchmark's data once (bench/support.py's builder) unless `keep` has it."""
    data_dir = Path(keep or tempfile.mkdtemp(prefix="kontor-memory-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "bench" / "support.py"), "--keep", str(data_dir),
               "--build-only"]
    if database_url:
        command += ["--database-url", database_url]
    subprocess.run(command, cwd=ROOT, check=True)
    return data_dir


def sign_in(base):
    client = load.Client(base)
    _status, page = client.request("/login")
    status, _page = client.request("/login", {"email": EMAIL, "password": PASSWORD,
                                              "csrf_token": client.token(page)})
    if status != 302:
        raise SystemExit(f"sign-in answered {status}")
    return client


def run_client(number, base, until, ids, results, errors):
    """One browsing client: pages that each touch other rows than the last."""
    rng = random.Random(number)
    client = sign_in(base)
    contact_ids, case_numbers = ids
    while time.monotonic() < until:
        plan = [
            ("contact list, a random page", f"/contacts?page={rng.randint(1, 1500)}"),
            ("contact search", f"/contacts?q={rng.choice(WORDS)}+{rng.choice(WORDS)[:3]}"),
            ("contact page", f"/contacts/{rng.choice(contact_ids)}"),
            ("case list", "/support?view=all"),
            ("case list, a random page", f"/support?view=all&page={rng.randint(1, 300)}"),
            ("case search", f"/support?view=all&q={rng.choice(CASE_WORDS)}"),
        ]
        if case_numbers:
            plan.append(("case page", f"/support/{rng.choice(case_numbers)}"))
        for kind, path in plan:
            started = time.perf_counter()
            status, _page = client.request(path)
            results[kind].append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"{kind} {path}: {status}")


def sample(pid, stop, samples):
    while not stop.is_set():
        samples.append((time.monotonic(), *rss(pid)))
        stop.wait(1.0)


def known_ids(env):
    """Contact ids and case numbers to pick from, read once through the models."""
    code = ("import sys, json; sys.path.insert(0, '.');"
            "from models import open_database, db, Contact, SupportCase;"
            f"open_database({env['DATABASE_URL']!r});"
            "ids = [i for (i,) in Contact.select(Contact.id).tuples()];"
            "cases = [f'{y}-{s:04d}' for y, s in SupportCase.select(SupportCase.year, "
            "SupportCase.seq).tuples()];"
            "print(json.dumps([ids[::97], cases[::13]]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", default="", help="data folder to build once and reuse")
    args = parser.parse_args()

    data_dir = ensure_data(args.keep, args.database_url)
    port = load.free_port()
    url = args.database_url or f"sqlite:///{data_dir / 'kontor.db'}"
    env = dict(os.environ, KONTOR_DATA_DIR=str(data_dir), KONTOR_HOST="127.0.0.1",
               KONTOR_PORT=str(port), KONTOR_BASE_URL=f"http://127.0.0.1:{port}",
               KONTOR_SECRET_KEY="bench", DATABASE_URL=url, PYTHONUNBUFFERED="1")
    env.pop("KONTOR_THREADS", None)      # the default, as an install runs it
    env.pop("SMTP_HOST", None)
    ids = known_ids(env)
    log_path = data_dir / "memory-server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    samples, results, errors = [], defaultdict(list), []
    stop = threading.Event()
    try:
        for _ in range(300):
            try:
                load.socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        time.sleep(3)                       # the jobs' first run
        at_rest = rss(server.pid)
        sampler = threading.Thread(target=sample, args=(server.pid, stop, samples))
        sampler.start()
        load.run_baseline(base, time.monotonic() + 5, results)
        until = time.monotonic() + args.seconds
        threads = [threading.Thread(target=run_client,
                                    args=(i, base, until, ids, results, errors))
                   for i in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        time.sleep(2)
        after = rss(server.pid)
        stop.set()
        sampler.join()
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
    tracebacks = log_path.read_text().count("Traceback")

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nKontor memory: {args.clients} clients for {args.seconds:.0f} s on {database}, "
          f"{len(ids[0]) * 97:,} contacts and about {len(ids[1]) * 13:,} cases\n")
    print(f"{'request':30} {'count':>7} {'median ms':>10} {'p95 ms':>8}")
    print("-" * 58)
    for kind, times in results.items():
        ms = sorted(t * 1000 for t in times)
        p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
        print(f"{kind:30} {len(ms):7d} {statistics.median(ms):10.1f} {p95:8.1f}")
    total = sum(len(v) for k, v in results.items() if "baseline" not in k)
    baseline = results["bare static file (baseline)"]
    print("-" * 58)
    print(f"throughput under load: {total / elapsed:.0f} pages/s; the bare static file alone: "
          f"{len(baseline) / sum(baseline):.0f} requests/s")
    peak = max(samples, key=lambda s: s[1]) if samples else (0, *after)
    print(f"\n{'server RSS, MB':30} {'total':>8} {'anon':>8} {'file':>8}")
    print("-" * 58)
    for label, (total_mb, anon, file_mb) in (("at rest (after start)", at_rest),
                                              ("peak under load", peak[1:]),
                                              ("after the load", after)):
        print(f"{label:30} {total_mb:8.0f} {anon:8.0f} {file_mb:8.0f}")
    print(f"\nfailed requests: {len(errors)}; tracebacks in the server log: {tracebacks}")
    for error in errors[:10]:
        print("  ", error)
    missed = max(at_rest[0], peak[1], after[0]) >= TARGET_MB or errors or tracebacks
    print(f"target: RSS below {TARGET_MB} MB at rest and under load, no failed request: "
          + ("MISSED" if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
