"""Kontor behind a real HTTPS reverse proxy (issue 10 item 20; SECURITY.md item 28).

One Kontor served by `python app.py` (waitress) in a subprocess, with
KONTOR_TRUSTED_PROXIES=127.0.0.1, and one Debian nginx in front of it, run as a foreground
process from a generated configuration (the one README.md shows) with a self-signed
certificate. Clients are told apart by real source addresses: Linux routes all of 127.0.0.0/8
to the loopback device, so a client socket bound to 127.0.0.2 reaches nginx as 127.0.0.2 and
nginx's `$remote_addr` differs per client. nginx itself connects to Kontor from 127.0.0.1.

Without nginx the module fails on CI (CI=true) and is skipped elsewhere.
"""
import html
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import textwrap
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from helpers import ON_POSTGRES, PASSWORD, free_port
from served import PostgresDatabase, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SUPERUSER = "anna@jansen.example"
STAFF = "piet@jansen.example"
PROXY_ADDRESS = "127.0.0.1"     # where nginx connects to Kontor from: the trusted proxy

# The site of README.md's "Running it behind HTTPS", with this test's ports and paths.
NGINX_SITE = """\
server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {certificate};
    ssl_certificate_key {key};
    location / {{
        proxy_pass http://127.0.0.1:{kontor_port};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Forwarded-Port $server_port;
        client_max_body_size 60m;
    }}
}}
"""

NGINX_CONF = """\
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{site}}}
"""

SEED = """\
import sys
from kontor import migrate, passwords
from models import Company, Employee, User, Website, db, open_database
migrate.upgrade(open_database(sys.argv[1]))
with db.connection_context():
    Company.create(name="Jansen Installatie BV", street="Dorpsstraat 1", postcode="1234 AB",
                   city="Utrecht", country="NL", phone="+31 30 123 4567",
                   email="info@jansen.example", vat_number="NL001234567B01", language="en")
    for email, name, superuser in (({superuser!r}, "Anna Jansen", True),
                                   ({staff!r}, "Piet de Vries", False)):
        person = Employee.create(name=name, email=email)
        User.create(email=email, employee=person, is_superuser=superuser, language="en",
                    password_hash=passwords.hash_password({password!r}))
    Website.create(name="Demo", slug="demo", public_url="https://shop.jansen.example",
                   host="shop.jansen.example")
"""


def nginx_binary():
    """Debian's nginx (in /usr/sbin, outside a normal user's PATH), or None."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def require(tool, path):
    """No `tool`: fail on CI (a skipped proof proves nothing), skip elsewhere."""
    if path:
        return path
    message = f"{tool} is missing: install Debian's {tool} (.ci/run does) to run this test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class Site:
    """The served Kontor and the nginx in front of it."""

    def __init__(self, kontor_port, https_port):
        self.kontor_port = kontor_port
        self.https_port = https_port

    def browser(self, source):
        """A browser on the loopback address `source` that goes through nginx (HTTPS)."""
        return Browser(self.https_port, source, https=True)

    def direct(self, source):
        """A client on `source` that goes straight to waitress (plain HTTP), past the proxy."""
        return Browser(self.kontor_port, source, https=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Kontor (waitress, KONTOR_TRUSTED_PROXIES=127.0.0.1) with a company, a superuser and a
    staff user, and nginx terminating HTTPS in front of it; both stopped at the end."""
    nginx = require("nginx", nginx_binary())
    openssl = require("openssl", shutil.which("openssl"))
    folder = tmp_path_factory.mktemp("proxy")
    data_dir = folder / "data"
    kontor_port, https_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KONTOR_TESTING")}
    env.update(KONTOR_DATA_DIR=str(data_dir), KONTOR_HOST="127.0.0.1",
               KONTOR_PORT=str(kontor_port), KONTOR_TRUSTED_PROXIES=PROXY_ADDRESS,
               KONTOR_BASE_URL="https://kontor.jansen.example", SMTP_HOST="",
               PYTHONUNBUFFERED="1")
    database = PostgresDatabase() if ON_POSTGRES else None
    if database:
        env["DATABASE_URL"] = database.create()
    processes = []
    try:
        data_dir.mkdir(mode=0o700)
        url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'kontor.db'}"
        seed = SEED.format(superuser=SUPERUSER, staff=STAFF, password=PASSWORD)
        seeded = subprocess.run([sys.executable, "-c", seed, url], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        assert seeded.returncode == 0, f"seeding failed:\n{seeded.stdout}{seeded.stderr}"

        kontor_log = folder / "kontor.log"
        with open(kontor_log, "w") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "app.py"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT))
        wait_for_port(kontor_port, processes[-1], kontor_log, "Kontor")

        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(folder / "key.pem"),
                        "-out", str(folder / "cert.pem")], check=True, capture_output=True)
        site = NGINX_SITE.format(port=https_port, kontor_port=kontor_port,
                                 certificate=folder / "cert.pem", key=folder / "key.pem")
        # As root, nginx's workers would drop to "nobody", who cannot enter pytest's folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(NGINX_CONF.format(
            user=user, folder=folder, site=textwrap.indent(site, "    ")))
        nginx_log = folder / "nginx.out"
        with open(nginx_log, "w") as log:
            processes.append(subprocess.Popen(
                [nginx, "-p", str(folder), "-e", str(folder / "error.log"),
                 "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
        wait_for_port(https_port, processes[-1], nginx_log, "nginx")
        yield Site(kontor_port, https_port)
    finally:
        for process in reversed(processes):
            stop(process)
        if database:
            database.drop()


class Browser:
    """An HTTP client on its own source address that keeps cookies and sends forms with their
    CSRF token and, over HTTPS, a same-origin Referer (as a browser does). It follows no
    redirects."""

    def __init__(self, port, source, https):
        self.port, self.source, self.https = port, source, https
        self.origin = f"{'https' if https else 'http'}://127.0.0.1:{port}"
        self.cookies = {}

    def request(self, method, path, form=None, headers=None):
        """Send one request; the response, its body read into `.text`."""
        if self.https:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE   # the test's self-signed certificate
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                               source_address=(self.source, 0), context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                              source_address=(self.source, 0))
        sent = {"Referer": self.origin + path, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            response.text = response.read().decode()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def form(self, path, fields, headers=None):
        """Open the page at `path` and send its form with `fields` (and its CSRF token)."""
        page = self.get(path, headers=headers)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, f"no form on {path}: {page.status} {page.text[:300]}"
        return self.request("POST", path, {"csrf_token": html.unescape(token.group(1)),
                                           **fields}, headers=headers)

    def sign_in(self, email, password=PASSWORD, headers=None):
        return self.form("/login", {"email": email, "password": password}, headers=headers)


def session_cookie(response, name="kontor_session"):
    """The attributes of the session cookie `name` set by `response`, as a set of words."""
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith(f"{name}="):
            return {part.strip().split("=")[0] for part in header.split(";")}
    raise AssertionError(f"no session cookie in {response.headers.get_all('Set-Cookie')}")


def addresses_on(page):
    """Every IPv4 address in a table cell of an HTML page."""
    return set(re.findall(r"<td[^>]*>(\d{1,3}(?:\.\d{1,3}){3})</td>", page))


def recorded_addresses(site, source="127.0.0.9"):
    """The client addresses on the session list and in the audit log, as the superuser
    (signed in through the proxy from `source`) sees them."""
    admin = site.browser(source)
    assert admin.sign_in(SUPERUSER).status == 302
    sessions = admin.get("/admin/sessions")
    audit = admin.get("/admin/audit")
    assert sessions.status == audit.status == 200
    return addresses_on(sessions.text), addresses_on(audit.text)


# --- HTTPS at the proxy ---------------------------------------------------------------------

def test_https_at_the_proxy_gives_a_secure_session_cookie_and_hsts(site):
    response = site.browser("127.0.0.4").get("/login")
    assert response.status == 200
    assert "Secure" in session_cookie(response)
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")


def test_the_customer_portal_behind_the_proxy_is_https_too(site):
    response = site.browser("127.0.0.4").get("/w/demo/login")
    assert response.status == 200
    assert "Secure" in session_cookie(response, "kontor_portal")
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")


def test_signing_in_through_the_proxy_passes_the_https_referrer_check(site):
    """Over HTTPS the CSRF check wants the Referer on Kontor's own origin: Kontor must see the
    address the browser used (https, the proxy's host and port), not its own."""
    browser = site.browser("127.0.0.4")
    response = browser.sign_in(STAFF)
    assert response.status == 302, response.text[:500]
    assert browser.get("/").status == 200


# --- the client's own address ---------------------------------------------------------------

def test_the_session_list_and_the_audit_log_show_the_clients_own_address(site):
    piet = site.browser("127.0.0.2")
    # a header the client makes up is replaced by nginx with what it saw
    assert piet.sign_in(STAFF, headers={"X-Forwarded-For": "6.6.6.6"}).status == 302
    sessions, audit = recorded_addresses(site)
    assert "127.0.0.2" in sessions and "127.0.0.2" in audit
    assert PROXY_ADDRESS not in sessions | audit     # not the proxy's address
    assert "6.6.6.6" not in sessions | audit


def test_a_forged_forwarded_host_straight_to_kontor_reaches_no_portal(site):
    intruder = site.direct("127.0.0.5")
    page = intruder.get("/contacts", headers={"X-Forwarded-Host": "shop.jansen.example"})
    assert page.status == 302   # the staff app's sign-in: the header was not believed


def test_every_client_has_its_own_sign_in_rate_limit(site):
    """Thirty sign-in attempts a minute from one address must not lock out a colleague at
    another (before, every client was the proxy and shared one bucket)."""
    guesser = site.browser("127.0.0.2")
    token_page = guesser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page.text).group(1)
    statuses = []
    for attempt in range(40):   # a new e-mail each time: only the per-address limit counts
        response = guesser.request("POST", "/login", {
            "csrf_token": html.unescape(token), "email": f"guess{attempt}@example.com",
            "password": "wrong password, surely"})
        statuses.append(response.status)
        if response.status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert site.browser("127.0.0.3").sign_in(STAFF).status == 302
    assert guesser.sign_in(STAFF).status == 429     # the guesser's own bucket stays full


def test_a_websites_own_host_name_through_the_proxy_is_its_portal(site):
    """nginx passes the host the browser asked for: the website's host is its portal at /,
    with no staff page on it; Kontor's own address stays the staff app's (issue 13 item 2)."""
    customer = site.browser("127.0.0.6")
    home = customer.get("/", headers={"Host": "shop.jansen.example"})
    assert home.status == 200 and "Customer portal" in home.text
    assert "Secure" in session_cookie(home, "kontor_portal")
    assert customer.get("/contacts", headers={"Host": "shop.jansen.example"}).status == 404
    assert customer.get("/contacts").status == 302   # to the staff sign-in


# --- forged headers from anyone but the proxy -----------------------------------------------

def test_forged_forwarded_headers_straight_to_kontor_are_ignored(site):
    forged = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https",
              "X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "443"}
    intruder = site.direct("127.0.0.5")
    page = intruder.get("/login", headers=forged)
    assert page.status == 200
    assert "Secure" not in session_cookie(page)
    assert "Strict-Transport-Security" not in page.headers
    assert intruder.sign_in(STAFF, headers=forged).status == 302
    sessions, audit = recorded_addresses(site)
    assert "127.0.0.5" in sessions and "127.0.0.5" in audit
    assert "6.6.6.6" not in sessions | audit
