"""Superuser pages: company settings with the readiness checklist, who is signed in, the
outbox and the audit log."""
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN
from playhouse.flask_utils import get_object_or_404
from wtforms import HiddenField, SelectField, SubmitField

from blueprints.filters import AUDIT_ACTION_LABELS
from blueprints.forms import ActionForm, CompanyForm, language_field
from kontor import audit, mail, sessions, versions
from kontor import company as company_rules
from kontor.access import superuser_required
from kontor.config import links_stay_on_this_computer
from kontor.countries import TIMEZONES
from kontor.paging import paginate
from kontor.web import current_company
from models import AuditEvent, OutboxMessage, User, UserSession

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Readiness checklist items: what to show, and where to fix it.
READINESS_ITEMS = {
    "name": (_l("Company name"), "admin.company", "name"),
    "street": (_l("Street and number"), "admin.company", "street"),
    "postcode": (_l("Postcode"), "admin.company", "postcode"),
    "city": (_l("City"), "admin.company", "city"),
    "phone": (_l("Company phone"), "admin.company", "phone"),
    "email": (_l("Company e-mail"), "admin.company", "email"),
    "vat_number": (_l("VAT number"), "admin.company", "vat_number"),
    "employee_link": (_l("Your account is linked to an employee in the employee register"),
                      "employees.index", None),
}


@bp.app_context_processor
def readiness_context():
    """The checklist's items, and `local_base_url`: KONTOR_BASE_URL when links in e-mails
    would open only on this computer (issue 10 item 16), else None."""
    base_url = current_app.config["BASE_URL"]
    return {"readiness_items": READINESS_ITEMS,
            "local_base_url": base_url if links_stay_on_this_computer(base_url) else None}


class CompanySettingsForm(CompanyForm):
    language = language_field(_l("Default language for e-mails and new users"))
    timezone = SelectField(_l("Time zone"), choices={tz: tz for tz in TIMEZONES})
    currency = SelectField(_l("Currency of prices and orders"),
                           choices={code: code for code in company_rules.CURRENCIES},
                           description=_l("Changing it does not convert the prices: every "
                                          "price keeps its number in the new currency."))
    version = HiddenField()
    submit = SubmitField(_l("Save company details"))


@bp.route("/company", methods=["GET", "POST"])
@superuser_required
def company():
    """Company details and the readiness checklist."""
    company = current_company()
    form = CompanySettingsForm(obj=company)
    conflict = None
    if form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in company_rules.COMPANY_FIELDS}
        try:
            company_rules.update_company(company, fields,
                                         versions.opened_version(form.version.data))
        except versions.ChangedMeanwhile as clash:
            conflict = clash.current
            form.version.data = conflict.version   # saving again now overwrites knowingly
        else:
            audit.record("company.updated", user=current_user, target=fields["name"],
                         ip=request.remote_addr)
            flash(_("Company details saved."), "success")
            return redirect(url_for("admin.company"))
    missing = company_rules.missing_for_readiness(company, current_user)
    status = 409 if conflict else (400 if form.errors else 200)
    return render_template("admin/company.html", form=form, missing=missing,
                           conflict=conflict, fields=company_rules.COMPANY_FIELDS), status


@bp.route("/sessions")
@superuser_required
def signed_in():
    """Who is signed in now, with a button to end a session; 50 to a page."""
    page = paginate(UserSession.signed_in(), request.args.get("page"))
    return render_template("admin/sessions.html", page=page, rows=page.items, form=ActionForm(),
                           current_row_id=session.row_id)


@bp.route("/sessions/<int:row_id>/end", methods=["POST"])
@superuser_required
def end_session(row_id):
    """End someone's session: their next click lands on the login page."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    row = get_object_or_404(UserSession, UserSession.id == row_id,
                            UserSession.user.is_null(False), UserSession.realm == "staff")
    if sessions.end_session(row.id, "ended_by_admin"):
        audit.record("session.ended", user=current_user, target=row.user.email,
                     ip=request.remote_addr)
        flash(_("The session of %(email)s is ended.", email=row.user.email), "success")
    return redirect(url_for("admin.signed_in"))


OUTBOX_FILTERS = {"all": _l("All"), "queued": _l("Queued"), "sent": _l("Sent"),
                  "written": _l("Written to file"), "failed": _l("Failed")}


@bp.route("/outbox")
@superuser_required
def outbox():
    """Every e-mail Kontor sent, is about to send, or could not send, with the error."""
    status = request.args.get("status", "all")
    if status not in OUTBOX_FILTERS:
        status = "all"
    query = OutboxMessage.select().order_by(OutboxMessage.id.desc())
    if status == "queued":
        query = query.where(OutboxMessage.status.in_(("queued", "sending")))
    elif status != "all":
        query = query.where(OutboxMessage.status == status)
    page = paginate(query, request.args.get("page"))
    return render_template("admin/outbox.html", page=page, status=status,
                           filters=OUTBOX_FILTERS, backlog=OutboxMessage.backlog(),
                           form=ActionForm(), smtp=bool(current_app.config.get("SMTP_HOST")))


@bp.route("/outbox/<int:message_id>")
@superuser_required
def outbox_message(message_id):
    """One message of the outbox as its addressee gets it, with single-use links blanked."""
    message = get_object_or_404(OutboxMessage, OutboxMessage.id == message_id)
    audit.record("mail.read", user=current_user, target=message.to_addr,
                 detail=f"message {message.id}", ip=request.remote_addr)
    return render_template("admin/outbox_message.html", message=message,
                           body=mail.without_secrets(message.body), form=ActionForm())


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@superuser_required
def retry_message(message_id):
    """Queue a failed message again."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    message = get_object_or_404(OutboxMessage, OutboxMessage.id == message_id)
    if mail.retry(message.id):
        audit.record("mail.retry", user=current_user, target=message.to_addr,
                     ip=request.remote_addr)
        flash(_("The message is queued again."), "success")
    return redirect(url_for("admin.outbox", status="failed"))


@bp.route("/audit")
@superuser_required
def audit_log():
    """The audit log, newest first."""
    query = (AuditEvent.select(AuditEvent, User).join(User, JOIN.LEFT_OUTER)
             .order_by(AuditEvent.id.desc()))
    action = request.args.get("action", "").strip()
    if action in AUDIT_ACTION_LABELS:
        query = query.where(AuditEvent.action == action)
    elif action:        # a code from an older version, or a group such as "password."
        query = query.where(AuditEvent.action.startswith(action))
    page = paginate(query, request.args.get("page"), per_page=100)
    actions = sorted(((code, str(label)) for code, label in AUDIT_ACTION_LABELS.items()),
                     key=lambda pair: pair[1].casefold())
    return render_template("admin/audit.html", page=page, action=action, actions=actions,
                           known_actions=AUDIT_ACTION_LABELS)
