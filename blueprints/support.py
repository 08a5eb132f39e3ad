"""Support → Requests: the case list, the "Create new" wizard, the case page with its thread
and files, "Was your question answered?", and the superuser's category and type lists.

The wizard keeps its draft in the (server-side) session, so every step works without
JavaScript and going back loses nothing that was typed.
"""
import platform
import sqlite3
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import fn
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, ValidationError

from blueprints.forms import ActionForm
from kontor import __version__, audit, emails, support, uploads
from kontor import contacts as register
from kontor.access import superuser_required
from kontor.paging import paginate
from kontor.web import content_disposition
from models import CaseCategory, CaseFile, CaseType, Contact, User, db, is_sqlite

bp = Blueprint("support", __name__, url_prefix="/support")

STATUS_LABELS = {"open": _l("Open"), "answered": _l("Answered"), "closed": _l("Closed")}
UPLOAD_PROBLEMS = {
    "type": _l("“%(name)s” is not a file type Kontor accepts (PDF, images, text, RTF, "
               "office documents, ZIP), or its name does not match its content."),
    "empty": _l("“%(name)s” is empty."),
    "too_large": _l("“%(name)s” is larger than %(mb)s MB."),
}


class DetailsForm(FlaskForm):
    category = SelectField(_l("Category"), coerce=int, validate_choice=False)
    type = SelectField(_l("Type of request"), coerce=int, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[DataRequired(),
                                                               Length(max=20000)])
    owner = SelectField(_l("Owner"), coerce=int, validate_choice=False,
                        description=_l("The case appears in the case list of its owner."))
    needs_files = BooleanField(_l("I need to upload documents"))
    back = SubmitField(_l("Back"))
    submit = SubmitField(_l("Next"))

    def validate_category(self, field):
        require_offered(field)

    def validate_type(self, field):
        require_offered(field)


def require_offered(field):
    """Category and type are required: one of those offered (active), when there are any."""
    offered = [key for key in field.choices if key]
    if offered and field.data not in offered:
        raise ValidationError(field.gettext("This field is required."))


class FilesForm(FlaskForm):
    files = MultipleFileField(_l("Add files"))
    upload = SubmitField(_l("Upload"))
    clear = SubmitField(_l("Clear list"))
    remove = HiddenField()
    back = SubmitField(_l("Back"))
    submit = SubmitField(_l("Next"))


class SummaryForm(FlaskForm):
    include_tech = BooleanField(_l("Include technical information below"), default=True)
    back = SubmitField(_l("Back"))
    submit = SubmitField(_l("Send"))


class AddInformationForm(FlaskForm):
    body = TextAreaField(_l("Add information"), validators=[DataRequired(), Length(max=20000)])
    files = MultipleFileField(_l("Files"))
    submit = SubmitField(_l("Add information"))


class FeedbackForm(FlaskForm):
    feedback = TextAreaField(_l("What is still missing?"),
                             validators=[DataRequired(_l("Tell us what is still missing, so "
                                                         "we can help."))])
    submit = SubmitField(_l("No, reopen the case"))


class OwnerForm(FlaskForm):
    owner = SelectField(_l("Owner"), coerce=int, validate_choice=False)
    submit = SubmitField(_l("Change owner"))


class ListItemForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Add"))


# --- helpers ----------------------------------------------------------------------------

def upload_folder():
    return Path(current_app.config["DATA_DIR"]) / "uploads"


def max_file_bytes():
    return int(current_app.config["UPLOAD_MAX_MB"]) * 1024 * 1024


def accept_files(storages):
    """Check every uploaded file first, then store them all: nothing is half-saved.
    Returns ([(original, stored, size, content_type)], [error message])."""
    checked, errors = [], []
    for storage in storages or []:
        if not storage or not storage.filename:
            continue
        data = storage.read(max_file_bytes() + 1)
        try:
            checked.append(uploads.check(storage.filename, data, max_file_bytes()))
        except uploads.Refused as refused:
            if refused.reason == "too_large":
                abort(413)
            errors.append(UPLOAD_PROBLEMS[refused.reason] % {
                "name": refused.name, "mb": current_app.config["UPLOAD_MAX_MB"]})
    if errors:
        return [], errors
    return [(u.original_name, uploads.store(upload_folder(), u.data), len(u.data),
             u.content_type) for u in checked], []


def categories():
    return list(CaseCategory.select().where(CaseCategory.active == True)  # noqa: E712
                .order_by(CaseCategory.position, CaseCategory.name))


def types():
    return list(CaseType.select().where(CaseType.active == True)  # noqa: E712
                .order_by(CaseType.position, CaseType.name))


def owner_choices():
    return {u.id: f"{u.display_name} <{u.email}>" for u in support.staff_owners()}


def may_choose_owner():
    """The owner drop-down: superusers only, and only when other users exist."""
    return current_user.is_superuser and \
        User.select().where(User.is_active == True, User.id != current_user.id).exists()  # noqa


def technical_information():
    if is_sqlite():
        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        version = db.execute_sql("SHOW server_version").fetchone()[0]
        database = f"PostgreSQL {version}"
    lines = [(_("Browser"), request.user_agent.string[:300]), ("Kontor", __version__),
             (_("Server"), f"{platform.platform()}, Python {platform.python_version()}"),
             (_("Database"), database)]
    return "\n".join(f"{label}: {value}" for label, value in lines)


def draft():
    return session.get("case_draft") or {}


def save_draft(**values):
    current = dict(draft())
    current.update(values)
    session["case_draft"] = current


def get_case(number):
    parts = number.split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) < 8 for p in parts):
        abort(404)
    case = support.find(current_user, int(parts[0]), int(parts[1]))
    if case is None:
        abort(404)
    return case


def case_link(case):
    return emails.link(url_for("support.show", number=case.number))


def notify(user, template, case, **context):
    if user is None or not user.is_active:
        return
    emails.queue(template, user.email, emails.language_for(user), "case", case=case,
                link=case_link(case), **context)


# --- list -------------------------------------------------------------------------------

@bp.route("")
def index():
    """The case list: my cases or all I may see, by status, searchable."""
    mine = request.args.get("view", "mine") != "all"
    status = request.args.get("status", "")
    text = request.args.get("q", "")[:100]
    page = paginate(support.listing(current_user, mine, status, text), request.args.get("page"))
    yes, rated = support.satisfaction(current_user)
    return render_template("support/list.html", page=page, mine=mine, status=status, q=text,
                           statuses=STATUS_LABELS, yes=yes, rated=rated)


# --- the wizard -------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
def new():
    """Step 1: the customer (a contact) the case is for."""
    if request.method == "GET" and request.args.get("start"):
        discard_draft_files()
        session.pop("case_draft", None)
    form = ActionForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        chosen = request.form.get("contact_id", "")
        contact = Contact.get_or_none(Contact.id == int(chosen)) if chosen.isdigit() else None
        if contact is not None:
            save_draft(contact_id=contact.id)
            return redirect(url_for("support.details"))
        error = _("Choose the customer the case is for.")
    text = request.args.get("q", "")[:100]
    found = register.search(text, per_page=20).contacts if text else []
    chosen = Contact.get_or_none(Contact.id == draft().get("contact_id")) \
        if draft().get("contact_id") else None
    return render_template("support/new_customer.html", form=form, q=text, found=found,
                           chosen=chosen, error=error), 400 if error else 200


@bp.route("/new/details", methods=["GET", "POST"])
def details():
    """Step 2: category, type, subject, description, owner, "I need to upload documents"."""
    if not draft().get("contact_id"):
        return redirect(url_for("support.new"))
    form = DetailsForm(data={"category": draft().get("category_id", 0),
                             "type": draft().get("type_id", 0),
                             "subject": draft().get("subject", ""),
                             "description": draft().get("description", ""),
                             "owner": draft().get("owner_id", current_user.id),
                             "needs_files": draft().get("needs_files", False)}
                       if request.method == "GET" else None)
    form.category.choices = {0: "—"} | {c.id: c.name for c in categories()}
    form.type.choices = {0: "—"} | {t.id: t.name for t in types()}
    choose_owner = may_choose_owner()
    if choose_owner:
        form.owner.choices = owner_choices()
    else:   # an owner posted by someone who may not choose one is ignored (SECURITY.md 21)
        del form.owner
    if request.method == "POST":
        if not form.csrf_token.validate(form):
            abort(400)
        keep = dict(category_id=form.category.data or 0, type_id=form.type.data or 0,
                    subject=form.subject.data or "", description=form.description.data or "",
                    needs_files=bool(form.needs_files.data))
        keep["owner_id"] = form.owner.data if choose_owner and \
            form.owner.data in form.owner.choices else current_user.id
        # the later steps open only for a request that passed this step's checks
        save_draft(**keep, details_ok=False)
        if form.back.data:
            return redirect(url_for("support.new"))
        if form.validate():
            save_draft(details_ok=True)
            return redirect(url_for("support.files") if keep["needs_files"]
                            else url_for("support.summary"))
    contact = Contact.get_or_none(Contact.id == draft()["contact_id"])
    return render_template("support/new_details.html", form=form, contact=contact,
                           choose_owner=choose_owner), 400 if form.errors else 200


@bp.route("/new/files", methods=["GET", "POST"])
def files():
    """Step 3: add files, see the list, remove one or clear it."""
    if not draft().get("details_ok"):
        return redirect(url_for("support.details"))
    form = FilesForm()
    errors = []
    if request.method == "POST":
        if not form.csrf_token.validate(form):
            abort(400)
        listed = list(draft().get("files", []))
        if form.clear.data:
            discard_draft_files()
            listed = []
        elif form.remove.data and form.remove.data.isdigit():
            index = int(form.remove.data)
            if index < len(listed):
                uploads.path_of(upload_folder(), listed.pop(index)["stored"]).unlink(
                    missing_ok=True)
        else:
            stored, errors = accept_files(request.files.getlist(form.files.name))
            listed += [{"name": o, "stored": s, "size": n, "type": t} for o, s, n, t in stored]
        save_draft(files=listed)
        if not errors:
            if form.back.data:
                return redirect(url_for("support.details"))
            if form.submit.data:
                return redirect(url_for("support.summary"))
            return redirect(url_for("support.files"))
    return render_template("support/new_files.html", form=form, listed=draft().get("files", []),
                           errors=errors, max_mb=current_app.config["UPLOAD_MAX_MB"]), \
        400 if errors else 200


def discard_draft_files():
    for item in draft().get("files", []):
        uploads.path_of(upload_folder(), item["stored"]).unlink(missing_ok=True)


@bp.route("/new/summary", methods=["GET", "POST"])
def summary():
    """Step 4: everything at a glance, the technical information, and Send."""
    current = draft()
    if not current.get("details_ok") or not current.get("contact_id"):
        return redirect(url_for("support.details"))
    form = SummaryForm(data={"include_tech": current.get("include_tech", True)}
                       if request.method == "GET" else None)
    tech = technical_information()
    if request.method == "POST":
        if not form.csrf_token.validate(form):
            abort(400)
        save_draft(include_tech=bool(form.include_tech.data))
        if form.back.data:
            return redirect(url_for("support.files") if current.get("needs_files")
                            else url_for("support.details"))
        case = support.create(support.Draft(
            contact_id=current["contact_id"], category_id=current.get("category_id", 0),
            type_id=current.get("type_id", 0), subject=current["subject"],
            description=current["description"], owner_id=current.get("owner_id"),
            include_tech=bool(form.include_tech.data), tech_info=tech),
            current_user, [(f["name"], f["stored"], f["size"], f["type"])
                           for f in current.get("files", [])])
        session.pop("case_draft", None)
        if case.owner_id != current_user.id:
            notify(case.owner, "case_assigned", case)
        audit.record("case.created", user=current_user, target=case.number)
        flash(_("Case %(number)s is registered.", number=case.number), "success")
        return redirect(url_for("support.show", number=case.number))
    return render_template("support/new_summary.html", form=form, draft=current, tech=tech,
                           contact=Contact.get_or_none(Contact.id == current["contact_id"]),
                           category=CaseCategory.get_or_none(
                               CaseCategory.id == current.get("category_id")),
                           type_=CaseType.get_or_none(CaseType.id == current.get("type_id")),
                           owner=User.get_or_none(User.id == current.get("owner_id")))


# --- the case ---------------------------------------------------------------------------

@bp.route("/<number>")
def show(number):
    """The case: its thread and files, Add information, and the owner's actions."""
    return render_case(get_case(number))


def render_case(case, add_form=None, feedback_form=None, status=200):
    """The case page; a form that came back with errors is shown with them."""
    owner_form = OwnerForm(owner=case.owner_id)
    owner_form.owner.choices = owner_choices()
    return render_template(
        "support/case.html", case=case, thread=support.thread(case),
        history=support.history(case), add_form=add_form or AddInformationForm(),
        ask=support.needs_answer_question(current_user, case),
        feedback_form=feedback_form or FeedbackForm(), action_form=ActionForm(),
        owner_form=owner_form, may_manage=may_manage(case), statuses=STATUS_LABELS,
        max_mb=current_app.config["UPLOAD_MAX_MB"]), status


def may_manage(case):
    return current_user.is_superuser or case.owner_id == current_user.id


@bp.route("/<number>/add", methods=["POST"])
def add(number):
    """Add information (text and files) at any time; a closed case reopens."""
    case = get_case(number)
    form = AddInformationForm()
    if form.validate_on_submit():
        stored, errors = accept_files(request.files.getlist(form.files.name))
        if not errors:
            was = case.status
            _message, status = support.add_information(case, current_user, form.body.data,
                                                       stored)
            if status == "answered":
                notify(case.requester_user, "case_answered", case)
            elif case.owner_id != current_user.id:
                notify(case.owner, "case_updated", case, reopened=was == "closed")
            flash(_("Your information is added to case %(number)s.", number=case.number),
                  "success")
            return redirect(url_for("support.show", number=case.number) + "#thread")
        form.files.errors = errors
    return render_case(case, add_form=form, status=400)


@bp.route("/<number>/close", methods=["POST"])
def close(number):
    """Close the case (its owner or a superuser)."""
    case = get_case(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not may_manage(case):
        abort(403)
    support.close(case, current_user)
    if case.requester_user_id != current_user.id:
        notify(case.requester_user, "case_closed", case)
    flash(_("Case %(number)s is closed.", number=case.number), "success")
    return redirect(url_for("support.show", number=case.number))


@bp.route("/<number>/owner", methods=["POST"])
def change_owner(number):
    """Give the case to another user (its owner or a superuser)."""
    case = get_case(number)
    form = OwnerForm()
    form.owner.choices = owner_choices()
    if not form.validate_on_submit():
        abort(400)
    if not may_manage(case):
        abort(403)
    new_owner = User.get_or_none(User.id == form.owner.data, User.is_active == True)  # noqa
    if new_owner is None:
        abort(400)
    if new_owner.id != case.owner_id:
        support.change_owner(case, current_user, new_owner)
        if new_owner.id != current_user.id:
            notify(new_owner, "case_assigned", case)
        flash(_("%(name)s now owns case %(number)s.", name=new_owner.display_name,
                number=case.number), "success")
    return redirect(url_for("support.show", number=case.number))


@bp.route("/<number>/answered", methods=["POST"])
def answered(number):
    """"Was your question answered?" — Yes."""
    case = get_case(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not support.needs_answer_question(current_user, case):
        abort(409)
    support.answered_yes(case, current_user)
    flash(_("Thank you. We are glad your question was answered."), "success")
    return redirect(url_for("support.show", number=case.number))


@bp.route("/<number>/not-answered", methods=["POST"])
def not_answered(number):
    """"Was your question answered?" — No: feedback (required) reopens the case."""
    case = get_case(number)
    if not support.needs_answer_question(current_user, case):
        abort(409)
    form = FeedbackForm()
    if form.validate_on_submit():
        support.answered_no(case, current_user, form.feedback.data)
        notify(case.owner, "case_reopened", case, feedback=form.feedback.data)
        flash(_("Case %(number)s is open again; the owner has been told.",
                number=case.number), "success")
        return redirect(url_for("support.show", number=case.number))
    return render_case(case, feedback_form=form, status=400)


@bp.route("/<number>/files/<int:file_id>")
def download(number, file_id):
    """A file of the case, always as a download with a safe name (SECURITY.md 31)."""
    case = get_case(number)
    stored = CaseFile.get_or_none(CaseFile.id == file_id, CaseFile.case == case.id)
    if stored is None:
        abort(404)
    path = uploads.path_of(upload_folder(), stored.stored_name)
    if not path.exists():
        abort(404)
    response = Response(path.read_bytes(), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(stored.original_name)
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


# --- the lists the superuser keeps ------------------------------------------------------

LIST_MODELS = {"categories": CaseCategory, "types": CaseType}


@bp.route("/settings")
@superuser_required
def settings():
    """Categories and types of request."""
    return render_template("support/settings.html",
                           lists={key: list(model.select().order_by(model.position, model.name))
                                  for key, model in LIST_MODELS.items()},
                           forms={key: ListItemForm(prefix=key) for key in LIST_MODELS},
                           action_form=ActionForm())


@bp.route("/settings/<kind>", methods=["POST"])
@superuser_required
def add_list_item(kind):
    """Add a category or a type."""
    model = LIST_MODELS.get(kind) or abort(404)
    form = ListItemForm(prefix=kind)
    if form.validate_on_submit():
        position = (model.select(fn.MAX(model.position)).scalar() or 0) + 1
        model.create(name=form.name.data.strip(), position=position)
        audit.record(f"support.{kind}.added", user=current_user, target=form.name.data)
        flash(_("“%(name)s” added.", name=form.name.data.strip()), "success")
    else:
        flash(_("Enter a name."), "error")
    return redirect(url_for("support.settings"))


@bp.route("/settings/<kind>/<int:item_id>/toggle", methods=["POST"])
@superuser_required
def toggle_list_item(kind, item_id):
    """Take a category or type out of the drop-down, or put it back."""
    model = LIST_MODELS.get(kind) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    item = model.get_or_none(model.id == item_id) or abort(404)
    model.update(active=not item.active).where(model.id == item.id).execute()
    return redirect(url_for("support.settings"))



EVENT_LABELS = {
    "created": _l("Case registered"),
    "status": _l("Status changed from %(old)s to %(new)s"),
    "owner": _l("Owner changed to %(new)s"),
    "message": _l("Information added"),
    "answered_yes": _l("The requester says the question was answered"),
    "answered_no": _l("The requester says the question was not answered, and gave feedback"),
}


@bp.app_template_filter("case_status")
def case_status_filter(status):
    return STATUS_LABELS.get(status, status)


@bp.app_template_filter("case_event")
def case_event(action, old="", new=""):
    label = EVENT_LABELS.get(action, action)
    return label % {"old": STATUS_LABELS.get(old, old) if old else "—",
                    "new": STATUS_LABELS.get(new, new) if new else "—"}


@bp.app_template_filter("percent")
def percent(value):
    return format_percent(value)
