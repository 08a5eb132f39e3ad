"""Load benchmark (SPEC section 11, "Load"): N signed-in clients read and write for a while.

Serves Kontor with waitress in a subprocess (as `python app.py` does, scheduler included) on a
fresh database, signs in one account per client, then each client loops over: the start page,
an employee search, the outbox, an employee edit (a write) and a language change (a write).
A bare static file from the same server is measured in the same run as the baseline.

    .venv/bin/python bench/load.py                      # 20 clients, 60 s, SQLite
    .venv/bin/python bench/load.py --clients 20 --seconds 60 \
        --database-url postgresql://postgres@127.0.0.1:5432/kontor_bench

Prints a table and the server's memory (RSS) before and after the load; exits non-zero if any
request failed or the server logged "database is locked".
"""
import argparse
import http.cookiejar
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from kontor.memory import resident_mb  # noqa: E402

PASSWORD = "load test password 2026"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(env, clients):
    """Migrate, set up the company and one account per client, directly through the models."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "setup", "--company",
                    "Bench BV", "--name", "Bench Admin", "--email", "admin@bench.example",
                    "--street", "Benchweg 1", "--postcode", "1000 AA", "--city", "Amsterdam",
                    "--phone", "020 1234567", "--company-email", "info@bench.example",
                    "--vat-number", "NL000000000B01"],
                   cwd=ROOT, env=dict(env, KONTOR_SETUP_PASSWORD=PASSWORD), check=True,
                   stdout=subprocess.DEVNULL)
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from models import open_database, db, Employee, User
from kontor import passwords
from kontor.employees import derived_fields
open_database({env.get('DATABASE_URL') or ''!r}
              or 'sqlite:///' + {env['KONTOR_DATA_DIR']!r} + '/kontor.db')
hashed = passwords.hash_password({PASSWORD!r})
with db.atomic():
    for i in range({clients}):
        person = dict(name=f"Load Client {{i}}", email=f"client{{i}}@bench.example")
        e = Employee.create(**person, **derived_fields(person))
        User.create(email=f"client{{i}}@bench.example", password_hash=hashed, employee=e,
                    is_superuser=True)
    for i in range(500):
        person = dict(name=f"Employee {{i:04d}}", email=f"e{{i}}@bench.example", title="Staff")
        Employee.create(**person, **derived_fields(person))   # with its folded search columns
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


class Client:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def request(self, path, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def token(self, html):
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
        return match.group(1) if match else ""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def run_client(number, base, until, results, errors):
    client = Client(base)
    status, page = client.request("/login")
    status, _ = client.request("/login", {"email": f"client{number}@bench.example",
                                          "password": PASSWORD,
                                          "csrf_token": client.token(page)})
    if status != 302:
        errors.append(f"client {number}: sign-in answered {status}")
        return
    employee_id = number + 2   # the setup's employee is 1
    step = 0
    while time.monotonic() < until:
        step += 1
        plan = [("home", "/", None), ("search", f"/employees?q=employee+{step % 50:02d}", None),
                ("outbox", "/admin/outbox", None)]
        if step % 3 == 0:
            plan.append(("edit employee (write)", f"/employees/{employee_id}/edit", "edit"))
        if step % 5 == 0:
            plan.append(("language (write)", "/language", "language"))
        for kind, path, write in plan:
            started = time.perf_counter()
            if write == "edit":
                status, page = client.request(path)
                data = {"csrf_token": client.token(page), "name": f"Load Client {number}",
                        "email": f"client{number}@bench.example", "phone": str(step),
                        "mobile": "", "title": "Tester", "department": "Bench", "active": "y"}
                status, page = client.request(path, data)
                ok = status == 302
            elif write == "language":
                status, page = client.request("/profile")
                status, page = client.request(path, {"csrf_token": client.token(page),
                                                     "language": "nl" if step % 2 else "en",
                                                     "next": "/"})
                ok = status == 302
            else:
                status, page = client.request(path)
                ok = status == 200
            results[kind].append(time.perf_counter() - started)
            if not ok:
                errors.append(f"{kind} {path}: {status}")


def run_baseline(base, until, results):
    client = Client(base)
    while time.monotonic() < until:
        started = time.perf_counter()
        status, _ = client.request("/static/favicon.svg")
        results["bare static file (baseline)"].append(time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="kontor-bench-")
    port = free_port()
    env = dict(os.environ, KONTOR_DATA_DIR=data_dir, KONTOR_HOST="127.0.0.1",
               KONTOR_PORT=str(port), KONTOR_BASE_URL=f"http://127.0.0.1:{port}",
               PYTHONUNBUFFERED="1")
    env.pop("KONTOR_THREADS", None)      # Kontor's default, as an install runs it
    env.pop("SMTP_HOST", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    prepare_database(env, args.clients)
    log_path = Path(data_dir) / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        rss_before = resident_mb(server.pid)
        results, errors = defaultdict(list), []
        # baseline alone first, then the load, so the baseline is not slowed by the load
        run_baseline(base, time.monotonic() + min(10, args.seconds / 3), results)
        until = time.monotonic() + args.seconds
        threads = [threading.Thread(target=run_client, args=(i, base, until, results, errors))
                   for i in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_after = resident_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    server_log = log_path.read_text()
    locked = server_log.count("database is locked")
    tracebacks = server_log.count("Traceback")

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nKontor load: {args.clients} clients for {args.seconds:.0f} s on {database}\n")
    print(f"{'request':34} {'count':>7} {'median ms':>10} {'p95 ms':>8}")
    print("-" * 62)
    for kind, times in results.items():
        times_ms = sorted(t * 1000 for t in times)
        p95 = times_ms[int(len(times_ms) * 0.95) - 1] if len(times_ms) > 1 else times_ms[0]
        print(f"{kind:34} {len(times):7d} {statistics.median(times_ms):10.1f} {p95:8.1f}")
    total = sum(len(v) for k, v in results.items() if "baseline" not in k)
    print("-" * 62)
    print(f"throughput under load: {total / elapsed:.0f} requests/s over {elapsed:.0f} s")
    print(f"server memory (RSS): {rss_before.get('total', 0):.0f} MB at rest, "
          f"{rss_after.get('total', 0):.0f} MB after the load")
    print(f"failed requests: {len(errors)}; 'database is locked' in server log: {locked}; "
          f"tracebacks: {tracebacks}")
    for error in errors[:10]:
        print("  ", error)
    return 1 if errors or locked or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
