"""Configuration from environment variables, with the defaults documented in README.md.

Everything Kontor reads from the environment is read here, once, into a plain dict that
`create_app` puts into `app.config`. Tests pass their own values on top.
"""
import ipaddress
import os
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from kontor.storage import DataFolder

# --- limits and lifetimes: rules of the product, not settings of an installation ----------
# (SPEC and SECURITY.md name them; tests and templates read them from here.)
RESET_LINK_LIFETIME = timedelta(minutes=30)     # a "forgot password" link (SECURITY.md 8)
INVITATION_LIFETIME = timedelta(days=7)         # an invitation link (SPEC section 4)
PORTAL_CONFIRM_LIFETIME = timedelta(days=2)     # a customer's "confirm your address" link
INVITATION_REMIND_AFTER = timedelta(days=5)     # the user list flags it as nearly expired
SETUP_LINK_LIFETIME = timedelta(days=365)       # the one-time setup link printed at start
LOCK_AFTER_FAILURES = 5                         # wrong passwords in a row lock the account
CSV_IMPORT_MAX_BYTES = 10 * 1024 * 1024         # largest CSV file a contact import accepts
CSV_IMPORT_MAX_ROWS = 50_000                    # most rows one contact import takes
CSV_IMPORT_BATCH_ROWS = 1_000                   # contacts an import writes per transaction
CSV_IMPORT_BATCH_SECONDS = 0.25                 # a batch holding the write lock longer: smaller
CSV_IMPORT_MIN_BATCH_ROWS = 100                 # ...but not smaller than this
CSV_IMPORT_PAUSE_SECONDS = 0.1                  # between batches: every waiting writer gets in
CSV_IMPORT_ABANDONED_AFTER = timedelta(minutes=5)   # a running import this still is undone
CSV_IMPORT_REFRESH_SECONDS = 2                  # a running import's page reloads this often
CSV_IMPORT_SHOWN = 20                           # contacts a finished import's page lists
NOTE_ENTRY_MAX_LENGTH = 20_000                  # characters in one note entry
CASE_MESSAGE_MAX_LENGTH = 20_000                # characters in a case's description or message
ENDED_SESSION_KEPT = timedelta(days=30)         # ended sessions stay listed, then are deleted
JOB_STALE_AFTER = timedelta(minutes=5)          # /healthz calls a job stale after this
FORM_KEY_KEPT = timedelta(days=7)               # a used one-time form key refuses a repeat
KEPT_FORM_LIFETIME = timedelta(minutes=30)     # typed text kept over a sign-out (issue 10.5)
KEPT_FORMS_PER_USER = 10                        # at most this many kept forms per person
LATE_FORM_WINDOW = timedelta(hours=12)          # a form sent this long after a timeout is kept
RATE_LIMITS = {                                 # Flask-Limiter strings (SECURITY.md 5)
    "LOGIN_LIMIT_PER_IP": "30 per minute",
    "LOGIN_LIMIT_PER_EMAIL": "10 per 15 minutes",
    "RESET_LIMIT_PER_IP": "20 per hour",
    "RESET_LIMIT_PER_EMAIL": "3 per hour",
    # a portal's "Create user" (issue 13): as forgot password, it sends mail to an address
    "REGISTER_LIMIT_PER_IP": "20 per hour",
    "REGISTER_LIMIT_PER_EMAIL": "3 per hour",
}
STAFF_SESSION_COOKIE = "kontor_session"
PORTAL_SESSION_COOKIE = "kontor_portal"

# --- defaults of the settings read from the environment (README, "Configuration") ---------
DEFAULT_PORT = 8080
DEFAULT_SMTP_PORT = 25
DEFAULT_SMTP_TIMEOUT_SECONDS = 20
DEFAULT_IDLE_MINUTES = 20
DEFAULT_ABSOLUTE_HOURS = 12
DEFAULT_MAIL_INTERVAL_SECONDS = 5
DEFAULT_SYNC_SECONDS = 15          # SPEC section 8: the sync runs every 15 seconds
DEFAULT_SYNC_LEASE_SECONDS = 900   # issue 17: another computer takes the sync over after this
DEFAULT_SYNC_LOG_DAYS = 30         # issue 16 item 4: sync log lines are kept this many days
DEFAULT_THREADS = 8
DEFAULT_UPLOAD_MAX_MB = 20
DEFAULT_REQUEST_MAX_MB = 60
DEFAULT_BACKUP_DAYS = 14           # issue 17 item 5: backups are kept this many days
DEFAULT_BACKUP_HOUR = 2            # the nightly backup runs after this hour (UTC)
DEFAULT_RESTORE_UPLOAD_MAX_MB = 1024   # waitress's own limit for a request body is 1 GB


def _bool(value, default=False):
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(value, default):
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def load_secret_key(data_dir: Path) -> str:
    """Return SECRET_KEY from the environment, or the one generated once into the data folder.

    The generated file is created with owner-only permissions (0600) before anything is
    written into it, so the key is never readable by other local users.
    """
    from_env = os.environ.get("SECRET_KEY") or os.environ.get("KONTOR_SECRET_KEY")
    if from_env:
        return from_env
    path = DataFolder(data_dir).secret_key
    if not path.exists():
        DataFolder(data_dir).create()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    return path.read_text().strip()


WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")   # KONTOR_HOST values meaning "every interface"


def default_base_url(host: str, port: int, hostname=None) -> str:
    """The address for links in e-mails when KONTOR_BASE_URL is unset (issue 10 item 16).

    `host` and `port` are what waitress serves on (KONTOR_HOST, KONTOR_PORT). Served on every
    interface, it is this computer's network name (`hostname`, default
    `socket.gethostname()`, which needs no network, unlike `getfqdn()`), so that a colleague's
    browser on the intranet can open the link: "http://kontor-pc:8080". Served on one address,
    it is that address ("http://192.168.1.20:8080", "http://[fd00::5]:8080"). The scheme is
    http: behind an HTTPS proxy KONTOR_BASE_URL must be set anyway, and the readiness
    checklist says so when links would point at this computer only."""
    if host.strip() in WILDCARD_HOSTS:
        name = hostname or socket.gethostname() or "localhost"
    else:
        name = host.strip().strip("[]")
    if ":" in name:   # an IPv6 address
        name = f"[{name}]"
    return f"http://{name}:{port}"


def links_stay_on_this_computer(base_url: str) -> bool:
    """Whether links built from `base_url` (KONTOR_BASE_URL) open only on the computer Kontor
    runs on: localhost (and *.localhost), a loopback address (127.0.0.0/8, ::1), an unspecified
    one (0.0.0.0, ::), or no host at all. The readiness checklist warns then (issue 10 item
    16)."""
    try:
        host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    except ValueError:   # e.g. an unbalanced "[" in the address
        return True
    if not host or host in ("localhost", "localhost.localdomain") \
            or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:    # the short and number forms browsers also read: "127.1", "2130706433"
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return False
    if address.version == 6 and address.ipv4_mapped:      # "::ffff:127.0.0.1"
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def checked_base_url(base_url: str) -> str:
    """KONTOR_BASE_URL as given, when it is an http(s) address with a host ("https://kontor.
    example.nl", "http://kontor-pc:8080"); raises ValueError saying what is wrong otherwise
    ("ftp://…", "kontor-pc:8080" without a scheme), so that Kontor does not start and send
    e-mails with links nobody can open (found by a new user's try of issue 10 item 16)."""
    try:
        parts = urlsplit(base_url)
        parts.port   # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError:
        raise ValueError(f"KONTOR_BASE_URL: {base_url!r} is not a web address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"KONTOR_BASE_URL: {base_url!r} must start with http:// or https:// "
                         "and name a host, such as https://kontor.example.nl") from None
    return base_url


def proxy_networks(entries) -> list:
    """The reverse proxies to believe (KONTOR_TRUSTED_PROXIES), as `ipaddress` networks.

    `entries` are strings: addresses ("127.0.0.1", "::1") or networks ("10.0.0.0/24").
    Raises ValueError naming the entry that is neither, so that a typo stops Kontor at start
    instead of silently trusting nobody (issue 10 item 20)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"KONTOR_TRUSTED_PROXIES: {entry!r} is not an IP address or "
                             "network") from None
    return networks


def is_trusted_proxy(address, networks) -> bool:
    """Whether the peer `address` (a request's REMOTE_ADDR string, None when unknown) lies in
    one of `networks` (from `proxy_networks`). An address that does not parse is not."""
    try:
        peer = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    if peer.version == 6 and peer.ipv4_mapped:
        peer = peer.ipv4_mapped
    return any(peer in network for network in networks)


def from_environment(environ=None) -> dict:
    """Read Kontor's settings from environment variables (see README, "Configuration")."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("KONTOR_DATA_DIR") or "instance").resolve()
    port = _int(env.get("KONTOR_PORT"), DEFAULT_PORT)
    host = env.get("KONTOR_HOST") or "0.0.0.0"
    base_url = (env.get("KONTOR_BASE_URL") or default_base_url(host, port)).rstrip("/")
    proxies = [p.strip() for p in (env.get("KONTOR_TRUSTED_PROXIES") or "").split(",") if p.strip()]
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{DataFolder(data_dir).database}",
        "HOST": host,
        "PORT": port,
        "BASE_URL": base_url,
        "SMTP_HOST": env.get("SMTP_HOST") or "",
        "SMTP_PORT": _int(env.get("SMTP_PORT"), DEFAULT_SMTP_PORT),
        "SMTP_USER": env.get("SMTP_USER") or "",
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or "",
        "SMTP_STARTTLS": _bool(env.get("SMTP_STARTTLS")),
        "SMTP_TIMEOUT": _int(env.get("SMTP_TIMEOUT"), DEFAULT_SMTP_TIMEOUT_SECONDS),
        "MAIL_FROM": env.get("MAIL_FROM") or "kontor@localhost",
        "IDLE_MINUTES": _int(env.get("KONTOR_IDLE_MINUTES"), DEFAULT_IDLE_MINUTES),
        "ABSOLUTE_HOURS": _int(env.get("KONTOR_ABSOLUTE_HOURS"), DEFAULT_ABSOLUTE_HOURS),
        "TRUSTED_PROXIES": proxies,
        "MAIL_INTERVAL_SECONDS": _int(env.get("KONTOR_MAIL_INTERVAL"),
                                      DEFAULT_MAIL_INTERVAL_SECONDS),
        "SYNC_SECONDS": _int(env.get("KONTOR_SYNC_SECONDS"), DEFAULT_SYNC_SECONDS),
        "SYNC_LOG_DAYS": _int(env.get("KONTOR_SYNC_LOG_DAYS"), DEFAULT_SYNC_LOG_DAYS),
        # the sync's mass-delete safeguard: more than this many deletes of an entity's
        # synced records, and more than this per cent of them, wait for a confirmation
        "SYNC_MASS_DELETE_MIN": _int(env.get("KONTOR_SYNC_MASS_DELETE_MIN"), 20),
        "SYNC_MASS_DELETE_PERCENT": _int(env.get("KONTOR_SYNC_MASS_DELETE_PERCENT"), 10),
        "BACKUP_DAYS": _int(env.get("KONTOR_BACKUP_DAYS"), DEFAULT_BACKUP_DAYS),
        "BACKUP_HOUR": min(23, max(0, _int(env.get("KONTOR_BACKUP_HOUR"), DEFAULT_BACKUP_HOUR))),
        "RESTORE_UPLOAD_MAX_MB": _int(env.get("KONTOR_RESTORE_UPLOAD_MAX_MB"),
                                      DEFAULT_RESTORE_UPLOAD_MAX_MB),
        "SYNC_LEASE_SECONDS": _int(env.get("KONTOR_SYNC_LEASE_SECONDS"),
                                   DEFAULT_SYNC_LEASE_SECONDS),
        "THREADS": _int(env.get("KONTOR_THREADS"), DEFAULT_THREADS),
        "UPLOAD_MAX_MB": _int(env.get("KONTOR_UPLOAD_MAX_MB"), DEFAULT_UPLOAD_MAX_MB),
        "MAX_CONTENT_LENGTH": _int(env.get("KONTOR_REQUEST_MAX_MB"),
                                   DEFAULT_REQUEST_MAX_MB) * 1024 * 1024,
        "RATELIMIT_STORAGE_URI": env.get("KONTOR_RATELIMIT_STORAGE") or "memory://",
        "DEBUG": _bool(env.get("KONTOR_DEBUG")),
    }
