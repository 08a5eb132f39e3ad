"""The exclusive first sync's pages (issue 17 item 1), on the sync's blueprint: its progress
(refreshing itself, no script), ending the sessions that stand in the way of activation, and
the maintenance page that everyone but the sync owner gets while the first sync runs (HTTP 503
with Retry-After, staff and portal alike, in the reader's language). The rules live in
kontor/sync/first_sync.py."""
from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from blueprints.forms import ActionForm
from blueprints.sync import ENTITY_LABELS, bp
from kontor import access, audit
from kontor.access import superuser_required
from kontor.sync import first_sync
from kontor.web import browser_parts
from models import User

# The progress page reloads itself this often while the first sync runs, and the maintenance
# page after its Retry-After, without script: by the HTTP header `Refresh`, which browsers
# treat as <meta http-equiv="refresh"> (HTML's "shared declarative refresh steps"). Not the
# meta tag itself: axe-core counts any timed meta refresh as a violation of WCAG 2.2.1 (Timing
# Adjustable). Each page has a link that stops the refreshing (`?refresh=off`), which is
# what 2.2.1 asks for.
REFRESH_SECONDS = 5
# what a staff visitor may still open while the first sync runs: the sign-in (the sync owner
# signs in there; anyone else is refused after their password, see `sign_in_refused`), the
# sign-out, and the health check of a monitor
OPEN_DURING_FIRST_SYNC = {"static", "auth.login", "auth.logout", "main.healthz"}


def timeouts():
    """The app's session timeouts: (IDLE_MINUTES, ABSOLUTE_HOURS)."""
    return current_app.config["IDLE_MINUTES"], current_app.config["ABSOLUTE_HOURS"]


def browser_label(user_agent):
    """"Firefox on Windows" from a User-Agent header (the header's start when it says
    neither)."""
    browser, system = browser_parts(user_agent)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or (user_agent or "")[:60] or _("Unknown browser")


def time_left(seconds):
    """The estimate of the time left in words."""
    if seconds is None:
        return _("estimating…")
    if seconds < 60:
        return _("less than a minute")
    minutes = (seconds + 59) // 60
    if minutes < 120:
        return ngettext("about %(num)s minute", "about %(num)s minutes", minutes)
    return ngettext("about %(num)s hour", "about %(num)s hours", (minutes + 59) // 60)


def tables_shown(shown):
    """(label, TableProgress) per table of a first_sync.Progress."""
    return [(ENTITY_LABELS.get(table.entity, table.entity), table) for table in shown.tables]


# --- the gate -------------------------------------------------------------------------------

def maintenance_gate(portal=False):
    """The before_request check of both apps while the first sync runs: None to let the
    request through (no first sync; a static file; on the staff side the sign-in, sign-out
    and health check, and every page for the sync owner), else the maintenance page."""
    if request.endpoint == "static" or (not portal
                                        and request.endpoint in OPEN_DURING_FIRST_SYNC):
        return None                 # before reading anything: /healthz reports a dead database
    current = first_sync.sync_state()
    if not first_sync.running(current):
        return None
    if not portal and access.signed_in_staff() and first_sync.may_work(current_user, current):
        return None
    return maintenance_page(current, portal=portal)


def maintenance_page(current, portal=False):
    """The maintenance page: 503, Retry-After the estimate of the time left, refreshing
    itself after as long, without script."""
    shown = first_sync.progress(current)
    seconds = first_sync.retry_after(shown)
    refresh = request.args.get("refresh") != "off"
    page = render_template("sync/maintenance.html", shown=shown, refresh=refresh,
                           time_left=time_left(shown.seconds_left),
                           sign_in_url=None if portal else url_for("auth.login"))
    response = make_response(page, 503)
    response.headers["Retry-After"] = str(seconds)
    if refresh:
        response.headers["Refresh"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    return response


def sign_in_refused(user):
    """At sign-in, after the right password: the maintenance page when the first sync runs and
    `user` is not the one who may work meanwhile (audited "login.refused"), else None."""
    current = first_sync.sync_state()
    if not first_sync.running(current) or first_sync.may_work(user, current):
        return None
    audit.record("login.refused", user=user, target=user.email, detail="first sync",
                 ip=request.remote_addr)
    return maintenance_page(current)


# --- the pages ------------------------------------------------------------------------------

@bp.route("/first")
@superuser_required
def progress():
    """The first sync's progress: records done of total per table and the time left; the page
    reloads itself every few seconds while the first sync runs."""
    current = first_sync.sync_state()
    shown = first_sync.progress(current)
    owner = User.get_or_none(User.id == current.owner_id) if current and current.owner_id \
        else None
    running = first_sync.running(current)
    refresh = running and request.args.get("refresh") != "off"
    response = make_response(render_template(
        "sync/progress.html", shown=shown, tables=tables_shown(shown), running=running,
        state=current, owner=owner, time_left=time_left(shown.seconds_left), refresh=refresh))
    if refresh:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@superuser_required
def end_session(session_id):
    """End one session that stands in the way of activating the sync."""
    if not ActionForm().validate_on_submit():
        abort(400)
    ended = first_sync.end_sessions(current_user, *timeouts(), session_id=session_id,
                                    ip=request.remote_addr)
    if not ended:
        abort(404)
    flash(_("The session of %(name)s is ended.", name=ended[0].name), "success")
    return redirect(url_for("sync.settings") + "#signed-in-heading")


@bp.route("/sessions/end", methods=["POST"])
@superuser_required
def end_sessions():
    """End every session that stands in the way of activating the sync."""
    if not ActionForm().validate_on_submit():
        abort(400)
    ended = first_sync.end_sessions(current_user, *timeouts(), ip=request.remote_addr)
    flash(ngettext("%(num)s session is ended.", "%(num)s sessions are ended.", len(ended)),
          "success")
    return redirect(url_for("sync.settings") + "#activate-heading")


SIGNED_IN_REFUSAL = _l("Others are signed in. The first sync needs Kontor to itself: ask them "
                       "to sign out, or end their sessions below.")


def signed_in_context():
    """What Sync settings shows of who else is signed in (before the sync is active)."""
    others = first_sync.others_signed_in(current_user.id, *timeouts())
    return {"others": others, "browser_label": browser_label, "end_form": ActionForm()}
