"""Alert e-mails to the superusers (issue 17 item 6): the sync has had no OK run for 15
minutes (it keeps failing, or it does not run), and another computer took the sync over. At
most one e-mail per kind per hour (`alert_sent`), through the outbox (kontor/mail.py), each
in the recipient's language. Nothing here imports Flask: jobs call it from the scheduler's
threads, where there is no application context, so the texts are translated with Babel's
catalogues directly.
"""
import logging
from datetime import timedelta
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from peewee import IntegrityError

from kontor import mail
from models import AlertSent, Company, SyncRun, SyncState, User, db
from models.clock import utcnow

log = logging.getLogger("kontor.alerts")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
EVERY = timedelta(hours=1)            # at most one alert of a kind this often
SYNC_QUIET_LIMIT = timedelta(minutes=15)


def _l(text):
    """Mark `text` for translation (extracted as `_l`); translated per recipient later."""
    return text


@cache
def _catalogue(language):
    if not language or language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language])


def _language(user, company):
    return user.language or (company.language if company and company.language else "en")


def _claim(kind, now) -> bool:
    """Take the right to send `kind` now: no alert of it in the last hour. Call inside the
    transaction that queues the e-mails."""
    taken = (AlertSent.update(sent_at=now)
             .where(AlertSent.kind == kind, AlertSent.sent_at <= now - EVERY).execute())
    if taken:
        return True
    try:
        with db.atomic():
            AlertSent.create(kind=kind, sent_at=now)
        return True
    except IntegrityError:
        return False


def send_alert(kind, subject, body_lines, now=None, **params) -> bool:
    """Queue the alert `kind` to every active superuser, unless one of this kind went out in
    the last hour. `subject` and `body_lines` are English texts marked with `_l`, translated
    into each recipient's language and filled in with `params` (%(name)s). Returns whether
    it was queued. Addresses the outbox refuses are skipped (logged)."""
    now = now or utcnow()
    company = Company.current()
    with db.atomic():
        if not _claim(kind, now):
            return False
        for user in User.select().where(User.is_superuser, User.is_active):
            words = _catalogue(_language(user, company))

            def said(text, words=words):
                translated = words.gettext(text)
                return translated % params if params else translated
            body = "\n\n".join(said(line) for line in body_lines) + "\n"
            try:
                mail.enqueue(user.email, said(subject), body, kind=f"alert:{kind}")
            except mail.InvalidAddress:
                log.warning("alert %s: no usable address for user %s", kind, user.id)
    log.warning("alert %s queued for the superusers", kind)
    return True


def sync_computer_changed(former, node, now=None):
    """Another computer took the sync over (kontor/sync/nodes.py): `former` and `node` as
    node labels."""
    return send_alert(
        "sync_computer", _l("Kontor: the sync moved to another computer"),
        [_l("The computer %(former)s stopped renewing the sync's lease, so %(node)s has "
            "taken over the sync."),
         _l("If %(former)s should sync, check that Kontor runs there, then choose it again "
            "under Administration, Sync, Settings.")],
        now=now, former=former, node=node)


def sync_problem(now=None, limit=SYNC_QUIET_LIMIT):
    """What is wrong with the active sync, or None: "failed" when the newest line of the sync
    log is an Error and no run ended OK within `limit`, "stopped" when no run ended at all
    within `limit`. A run under way (started less than `limit` ago: a long first sync) and
    a sync activated less than `limit` ago are no problem."""
    now = now or utcnow()
    state = SyncState.get_or_none(SyncState.id == 1)
    if state is None or not state.active:
        return None
    since = now - limit
    if state.activated_at is not None and state.activated_at > since:
        return None
    if SyncRun.select().where(SyncRun.status == "ok", SyncRun.finished_at >= since).exists():
        return None
    if SyncRun.select().where(SyncRun.status == "running",
                              SyncRun.started_at >= since).exists():
        return None
    newest = SyncRun.select().order_by(SyncRun.id.desc()).first()
    return "failed" if newest is not None and newest.status == "error" else "stopped"


def check_sync(now=None):
    """Send the sync alert when `sync_problem` finds one (once an hour at most). Returns the
    problem found, or None."""
    problem = sync_problem(now)
    if problem == "failed":
        send_alert("sync_failed", _l("Kontor: the sync keeps failing"),
                   [_l("The sync with the business database has not ended OK for 15 "
                       "minutes: its runs end with an error."),
                    _l("See the sync log under Administration, Sync for the message and "
                       "what to do.")], now=now)
    elif problem == "stopped":
        send_alert("sync_stopped", _l("Kontor: the sync has not run for 15 minutes"),
                   [_l("The sync with the business database is active, but no sync has "
                       "run for 15 minutes, so changes are not passed on."),
                    _l("Check that the sync computer is switched on and Kontor runs there; "
                       "the sync log under Administration, Sync has a Restart button.")],
                   now=now)
    return problem


def sync_alert_job(config):
    """The job's body (every minute, under a lease): check the sync and alert."""
    check_sync()
