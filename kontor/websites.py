"""The firm's websites (SPEC section 7, issue 13 item 1): the rules of a website's settings,
saving them, deactivating and reactivating, and finding the active website a portal request
is for. Plain functions, no Flask: the views, the CLI and the tests share them."""
import re
import threading
import time
from urllib.parse import urlsplit

from peewee import IntegrityError, PeeweeException, fn

from kontor import form_keys, languages
from kontor.errors import Refused
from kontor.mail import normalise_email
from kontor.versions import update_if_unchanged
from models import User, UserSession, Website, db
from models.clock import utcnow
from models.portal import APPROVALS, PROTECTIONS

FIELDS = ("name", "slug", "host", "public_url", "language", "protection", "self_registration",
          "register_link", "approval", "sender_name", "sender_email", "copy_email",
          "privacy_url", "customer_cases", "case_owner_id")
# the address part of /w/<slug>/: what the portal's dispatcher in app.py accepts
SLUG = re.compile(r"(?=[a-z0-9-]*[a-z0-9])[a-z0-9-]{1,50}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
ENDED_REASON = "website_inactive"   # a portal session ended because its website was
HOSTS_TTL_SECONDS = 5.0   # how long a process trusts its table of host names (other processes)


class Duplicate(Refused):
    """Another website has this slug or host name (`reason`: "slug" or "host")."""


def normal_slug(value):
    """A slug as it is stored: without surrounding space, lower-case ("Shop " → "shop")."""
    return (value or "").strip().lower()


def slug_problem(slug):
    """None for a usable slug (after `normal_slug`), else "shape"."""
    return None if SLUG.fullmatch(slug or "") else "shape"


def normal_host(value):
    """A host name as it is stored: lower-case, without a final dot, international names in
    their ASCII form ("Bäcker.example" → "xn--bcker-gra.example"); "" when none is given;
    unchanged (and refused by `host_problem`) when it cannot be converted."""
    host = (value or "").strip().rstrip(".").lower()
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    return host


def host_problem(host):
    """None for "" or a usable host name (after `normal_host`), else "shape"."""
    if not host:
        return None
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return "shape"
    return None


def normal_url(value):
    """A public address as it is stored: without surrounding space or a final slash."""
    return (value or "").strip().rstrip("/")


def public_url_problem(url, page=False):
    """None for an http or https address with a host name and nothing else odd (no user
    name or password, spaces, control characters, query or fragment), else "shape". A
    `page` (the privacy statement) may have a query and a fragment: "/?page_id=3#nl" is how
    many sites address a page."""
    if not url or len(url) > 500 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "shape"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return "shape"
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok \
            or parts.username is not None or parts.password is not None \
            or (not page and (parts.query or parts.fragment)) or "\\" in url:
        return "shape"
    return None


def cleaned(values):
    """`values` (a dict of FIELDS, as a form gives them) in their stored form."""
    values = {name: values.get(name) for name in FIELDS}
    for name in ("name", "sender_name"):
        values[name] = (values[name] or "").strip()
    values["slug"] = normal_slug(values["slug"])
    values["host"] = normal_host(values["host"]) or None   # NULL: unique only when set
    values["public_url"] = normal_url(values["public_url"])
    values["privacy_url"] = normal_url(values["privacy_url"])
    for name in ("sender_email", "copy_email"):
        values[name] = normalise_email(values[name])
    values["self_registration"] = bool(values["self_registration"])
    # support cases from the portal (issue 14 item 6): their owner is an active staff user
    values["customer_cases"] = bool(values["customer_cases"])
    values["case_owner_id"] = _active_user_id(values["case_owner_id"])
    values["register_link"] = bool(values["register_link"]) and values["self_registration"]
    if values["language"] not in languages.CODES:
        values["language"] = languages.DEFAULT
    if values["protection"] not in PROTECTIONS:
        values["protection"] = PROTECTIONS[0]
    if values["approval"] not in APPROVALS:
        values["approval"] = "manual"
    return values


def _active_user_id(value):
    """`value` when it is the id of an active staff user (who may own cases), else None."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    active = User.select().where(User.id == value, User.is_active == True).exists()  # noqa: E712
    return value if active else None


def _taken(field, value, exclude_id):
    if value is None:
        return False
    query = Website.select().where(fn.LOWER(field) == value.lower())
    if exclude_id is not None:
        query = query.where(Website.id != exclude_id)
    return query.exists()


def _check_unique(values, exclude_id):
    if _taken(Website.slug, values["slug"], exclude_id):
        raise Duplicate("slug")
    if _taken(Website.host, values["host"], exclude_id):
        raise Duplicate("host")


def save(website, values, opened_version=None, form_key=None):
    """Add (website is None) or change a website with `values` (see `cleaned`); returns the
    saved Website (after a change, its `changed` lists the names of the fields that changed).
    Raises Duplicate("slug"/"host") when another website has the slug or host
    name (checked in the write transaction, and by the unique indexes when two saves race),
    versions.ChangedMeanwhile when someone saved it since `opened_version`, and
    form_keys.AlreadySaved when adding with a used `form_key`; then nothing is saved."""
    values = cleaned(values)
    exclude_id = website.id if website is not None else None
    try:
        with db.atomic():
            if website is None:   # first: a double submit is "saved already", no duplicate
                form_keys.claim(form_key)
            _check_unique(values, exclude_id)
            if website is None:
                saved = Website.create(**values)
            else:
                before = Website.get_by_id(website.id)
                update_if_unchanged(Website, website.id, opened_version, updated_at=utcnow(),
                                    **values)
                saved = Website.get_by_id(website.id)
                saved.changed = [name for name in FIELDS
                                 if getattr(before, name) != getattr(saved, name)]
        hosts.forget()   # a host name may have come or gone: the dispatcher reads them again
        return saved
    except IntegrityError:   # a racing save took the slug or host first
        _check_unique(values, exclude_id)
        raise


def set_active(website, active):
    """Deactivate or reactivate a website; whether that changed anything (doing it twice is
    harmless). A deactivated website's portal answers 404 and its portal sessions end."""
    with db.atomic():
        # not a new version: the edit form does not hold `active`, so an editor who opened
        # the website before is not in conflict with this
        changed = Website.update(active=active, updated_at=utcnow()).where(
            Website.id == website.id, Website.active == (not active)).execute()
        if changed and not active:
            UserSession.update(ended_at=utcnow(), end_reason=ENDED_REASON).where(
                UserSession.website == website.id, UserSession.ended_at.is_null()).execute()
    hosts.forget()
    return bool(changed)


class HostTable:
    """{host name: slug} of the websites that have a host name, read from the database
    at most every HOSTS_TTL_SECONDS (a change saved by another process shows within that
    time; one saved in this process at once, through `forget`). The dispatcher in app.py asks
    it for every request, so a request costs a dictionary look-up, not a query."""

    def __init__(self):
        self.lock = threading.Lock()
        self.table = {}
        self.read_at = None

    def forget(self):
        self.read_at = None

    def slug_for(self, host):
        """The slug of the website whose host name is `host` (as a Host header gives it: any
        case, maybe a port or a final dot), or None. A deactivated website keeps its host:
        its portal answers 404 there, and the staff pages are not served on it either."""
        host = normal_host((host or "").rsplit(":", 1)[0])
        if not host:
            return None
        now = time.monotonic()
        if self.read_at is None or now - self.read_at > HOSTS_TTL_SECONDS:
            with self.lock:
                if self.read_at is None or now - self.read_at > HOSTS_TTL_SECONDS:
                    self.table = self._read()
                    self.read_at = now
        return self.table.get(host)

    def _read(self):
        try:
            if db.is_closed():
                with db.connection_context():
                    return self._query()
            return self._query()
        except PeeweeException:   # the database is away: keep what was known
            return self.table

    @staticmethod
    def _query():
        return dict(Website.select(Website.host, Website.slug)
                    .where(Website.host.is_null(False)).tuples())


hosts = HostTable()


def active_by_slug(slug):
    """The active website with this slug, or None (also for anything that is no slug)."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        return None
    return Website.get_or_none(Website.slug == slug, Website.active == True)  # noqa: E712


def portal_link(website, path="/"):
    """An absolute link to `path` of the website's portal for an e-mail to its customers,
    built from the website's public address, never from a request's Host header."""
    return website.public_url.rstrip("/") + "/" + path.lstrip("/")


def listed():
    """Every website, active ones first, by name."""
    return Website.select().order_by(Website.active.desc(), fn.LOWER(Website.name), Website.id)
