"""Alert e-mails to the superusers (issue 17 item 6): something needs a person's attention
(a nightly backup failed; the sync failed or has not run; the sync computer changed).

`send_alert(kind, …)` puts one e-mail per active superuser into the outbox (kontor/mail.py
delivers it), in each one's language, from the template `templates/email/alert_<kind>.txt`
(first line: the subject). At most one alert of a kind goes out per hour (THROTTLE), across
every process serving the database: the `alert_sent` row of the kind is claimed with one
conditional UPDATE (or INSERT), as a job lease is; an alert within the hour is held back and
counted, and the next one says how many were.

Jobs run outside any request: the templates need an application, so the app registers itself
with `init_app` (blueprints/backups.py does, when the app is built) and a job's alert is
written in an app context of its own.
"""
import logging
from contextlib import nullcontext
from datetime import timedelta

from flask import current_app, has_app_context
from flask_babel import force_locale
from peewee import IntegrityError

from kontor import emails, languages, mail
from kontor.mail import InvalidAddress
from models import AlertSent, Company, SyncRun, SyncState, User, db
from models.clock import utcnow

log = logging.getLogger("kontor.alerts")

THROTTLE = timedelta(hours=1)
_app = None


def init_app(app):
    """Remember `app` for alerts sent from the scheduler's threads (no app context there)."""
    global _app
    _app = app


def claim(kind, now) -> bool:
    """Whether an alert of `kind` may go out at `now` (naive UTC): none went out in the last
    THROTTLE; then it is recorded as sent now. Otherwise the held-back count goes up. One
    statement decides, so two processes never both send."""
    with db.atomic():
        claimed = (AlertSent.update(last_sent_at=now, held_back=0)
                   .where(AlertSent.kind == kind, AlertSent.last_sent_at <= now - THROTTLE)
                   .execute())
        if claimed:
            return True
        try:
            with db.atomic():
                AlertSent.create(kind=kind, last_sent_at=now)
            return True
        except IntegrityError:
            AlertSent.update(held_back=AlertSent.held_back + 1).where(
                AlertSent.kind == kind).execute()
            return False


def superusers():
    """The active superusers: who gets alerts."""
    return list(User.select().where(User.is_superuser == True, User.is_active == True)  # noqa: E712
                .order_by(User.id))


def send_alert(kind, template=None, clock=utcnow, **context) -> int:
    """E-mail the alert `kind` ("backup_failed", "sync_failed", "sync_not_run",
    "sync_computer_changed", …) to every active superuser, unless one of that kind went out
    within the last hour. `template`: the e-mail template's name (default `alert_<kind>`);
    `context`: its values (plain text; `held_back` is added: how many alerts of the kind
    were held back since the last one). Returns how many e-mails were queued (0 when held
    back). Never raises for an unusable address: that superuser is skipped and logged."""
    now = clock()
    held = AlertSent.get_or_none(AlertSent.kind == kind)
    held_back = held.held_back if held is not None else 0
    if not claim(kind, now):
        log.info("alert %s held back: one went out within the hour", kind)
        return 0
    if not has_app_context() and _app is None:
        log.error("alert %s cannot be written: no application", kind)
        return 0
    queued = 0
    app = current_app._get_current_object() if has_app_context() else _app
    with nullcontext() if has_app_context() else app.app_context():
        for user in superusers():
            try:
                _queue(app, template or f"alert_{kind}", user, kind,
                       dict(context, held_back=held_back))
                queued += 1
            except InvalidAddress:
                log.warning("alert %s not sent to user %s: unusable address", kind, user.id)
    log.warning("alert %s sent to %d superusers", kind, queued)
    return queued


def _queue(app, template, user, kind, context):
    """Render templates/email/<template>.txt (first line: the subject) in `user`'s language
    and put it in the outbox. Rendered from the app's Jinja environment, not through
    `render_template`: that runs the pages' context processors, which read the request a
    job does not have (and a request context of its own would close the job's database
    connection when it ends)."""
    company = Company.current()
    locale = languages.formatting_locale(emails.language_for(user),
                                         company.country if company else "")
    with force_locale(locale):
        text = app.jinja_env.get_template(f"email/{template}.txt").render(
            company=company, config=app.config, **context)
    subject, _, body = text.strip().partition("\n")
    return mail.enqueue(user.email, subject.strip(), body.strip() + "\n", kind=f"alert.{kind}")


# --- the sync's alerts (issue 17 item 6) --------------------------------------------------------

SYNC_QUIET_LIMIT = timedelta(minutes=15)


def sync_computer_changed(former, node, now=None):
    """Another computer took the sync over (kontor/sync/nodes.py): `former` and `node` as
    node labels ("PC-KONTOR (pid 1234)"). Returns how many e-mails were queued."""
    return send_alert("sync_computer", clock=lambda: now or utcnow(), former=former, node=node)


def sync_problem(now=None, limit=SYNC_QUIET_LIMIT):
    """What is wrong with the active sync at `now` (naive UTC), or None: "failed" when the
    newest line of the sync log is an Error and no run ended OK within `limit`, "stopped"
    when no run ended at all within `limit`. A run under way (started less than `limit` ago:
    a long first sync) and a sync activated less than `limit` ago are no problem."""
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


def check_sync(now=None, interval_seconds=None):
    """Send the sync alert ("sync_failed" or "sync_stopped") when `sync_problem` finds one,
    at most once an hour per kind. Returns the problem found, or None. The quiet limit is
    15 minutes, or three sync intervals (`interval_seconds`, KONTOR_SYNC_SECONDS) when
    that is longer."""
    limit = max(SYNC_QUIET_LIMIT, timedelta(seconds=3 * (interval_seconds or 0)))
    problem = sync_problem(now, limit)
    if problem is not None:
        send_alert(f"sync_{problem}", clock=lambda: now or utcnow())
    return problem


def sync_alert_job(config):
    """The job's body (every minute, under a lease): check the sync and alert."""
    check_sync(interval_seconds=config.get("SYNC_SECONDS"))
