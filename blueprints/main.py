"""Home page, language switch and the health check."""

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from peewee import PeeweeException

from blueprints.common import safe_next
from blueprints.forms import keep_for_language
from kontor import company as company_rules
from kontor import config, jobs, languages
from kontor.access import public
from kontor.web import current_company
from models import OutboxMessage, User, db
from models.clock import utcnow

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    """The start page: what needs doing, and where to go."""
    missing = company_rules.missing_for_readiness(current_company(), current_user) \
        if current_user.is_superuser else []
    return render_template("main/home.html", missing=missing)


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the interface language (and remember it in the profile when signed in), and go
    back to the page, with what was typed into its form kept (issue 10 item 7; see
    blueprints.forms.language_return)."""
    choice = request.form.get("language", "")
    if choice in languages.LANGUAGES:
        session["lang"] = choice
        if current_user.is_authenticated:
            User.update(language=choice).where(User.id == current_user.id).execute()
    back = safe_next(request.form.get("next"))
    if back:
        keep_for_language(back, request.form.items(multi=True))
    return redirect(back or url_for("main.home"))


@bp.route("/healthz")
@public
def healthz():
    """Database, scheduler and outbox state, for monitoring. 503 when the database is down."""
    report = {"status": "ok"}
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")
            report["database"] = "ok"
            scheduler = current_app.extensions.get("kontor_scheduler")
            job_status = jobs.status()
            fresh = utcnow() - config.JOB_STALE_AFTER
            report["scheduler"] = {
                "this_process": "running" if scheduler is not None and scheduler.running
                else "not running",
                "jobs": {name: {"last_run_at": s["last_run_at"].isoformat() + "Z"
                                if s["last_run_at"] else None,
                                "stale": s["last_run_at"] is None or s["last_run_at"] < fresh,
                                "error": bool(s["last_error"])}
                         for name, s in job_status.items()},
            }
            report["outbox"] = OutboxMessage.backlog()
    except PeeweeException:
        report.update(status="error", database="unreachable")
        return jsonify(report), 503
    return jsonify(report)
