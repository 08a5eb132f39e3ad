"""The case list, the case page with its thread and files, and what can be done there: add
information, close, change the owner, answer "Was your question answered?", download a file.
"""
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.common import or_404
from blueprints.filters import CASE_STATUS_LABELS
from blueprints.forms import ALREADY_SAVED, ActionForm
from blueprints.support import bp
from blueprints.support.forms import (
    AddInformationForm,
    FeedbackForm,
    OwnerForm,
    owner_choices,
    store_files,
    upload_folder,
)
from blueprints.support.notices import notify, notify_requester
from kontor import form_keys, generations, portal_cases, support, uploads
from kontor.web import attachment


def get_case(number):
    """The case numbered `number` if the signed-in user may see it; else 404."""
    return or_404(support.find_by_number(current_user, number))


def may_manage(case):
    """Close it, change its owner: its owner or a superuser."""
    return current_user.is_superuser or case.owner_id == current_user.id


@bp.route("")
def index():
    """The case list: my cases or all I may see, by status, searchable."""
    mine = request.args.get("view", "mine") != "all"
    status = request.args.get("status", "")
    text = request.args.get("q", "")[:100]
    with generations.read_once():     # the search's kept ids and the satisfaction line
        page = support.listing(current_user, mine, status, text, request.args.get("page"))
        yes, rated = support.satisfaction(current_user)
    return render_template("support/list.html", page=page, mine=mine, status=status, q=text,
                           statuses=CASE_STATUS_LABELS, yes=yes, rated=rated)


@bp.route("/<number>")
def show(number):
    """The case: its thread and files, Add information, and the owner's actions."""
    return render_case(get_case(number))


def render_case(case, add_form=None, feedback_form=None, status=200):
    """The case page; a form that came back with errors is shown with them. The forms of
    the question and the owner's actions are made only for those who see them (a form with
    its CSRF token costs as much as a query; issue 12 item 26)."""
    ask = support.needs_answer_question(current_user, case)
    manages = may_manage(case)
    owner_form = None
    if manages:
        owner_form = OwnerForm(owner=case.owner_id)
        owner_form.owner.choices = owner_choices()
    return render_template(
        "support/case.html", case=case, thread=support.thread(case),
        history=support.history(case), add_form=add_form or AddInformationForm(), ask=ask,
        feedback_form=(feedback_form or FeedbackForm()) if ask else None,
        action_form=ActionForm() if ask or manages else None, owner_form=owner_form,
        may_manage=manages,
        statuses=CASE_STATUS_LABELS, max_mb=current_app.config["UPLOAD_MAX_MB"]), status


@bp.route("/<number>/add", methods=["POST"])
def add(number):
    """Add information (text and files) at any time; a closed case reopens."""
    case = get_case(number)
    form = AddInformationForm()
    if form.validate_on_submit():   # a refused file is an error beside its field
        stored = store_files(form.files)
        was = case.status
        try:
            _message, status = support.add_information(case, current_user, form.body.data,
                                                       stored, form.form_key.data)
        except form_keys.AlreadySaved:
            uploads.discard(upload_folder(), [s.stored_name for s in stored])
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("support.show", number=case.number) + "#thread")
        if status == "answered":
            notify_requester(case, "case_answered")
        elif case.owner_id != current_user.id:
            notify(case.owner, "case_updated", case, reopened=was == "closed")
        flash(_("Your information is added to case %(number)s.", number=case.number),
              "success")
        return redirect(url_for("support.show", number=case.number) + "#thread")
    return render_case(case, add_form=form, status=400)


@bp.route("/<number>/close", methods=["POST"])
def close(number):
    """Close the case (its owner or a superuser)."""
    case = get_case(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not may_manage(case):
        abort(403)
    if not support.close(case, current_user):
        flash(_("Case %(number)s was closed already.", number=case.number), "info")
        return redirect(url_for("support.show", number=case.number))
    if case.requester_user_id != current_user.id:
        notify_requester(case, "case_closed")
    flash(_("Case %(number)s is closed.", number=case.number), "success")
    return redirect(url_for("support.show", number=case.number))


@bp.route("/<number>/customer-visible", methods=["POST"])
def customer_visible(number):
    """Show a staff-opened case to the customer in the portal, or stop showing it (its owner
    or a superuser; issue 14 item 6). A case opened from the portal is always shown."""
    case = get_case(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not may_manage(case):
        abort(403)
    visible = request.form.get("visible")
    if visible not in ("yes", "no") or case.requester_account_id is not None:
        abort(400)
    if portal_cases.set_customer_visible(case, current_user, visible == "yes"):
        flash(_("The customer now sees case %(number)s in the portal.", number=case.number)
              if visible == "yes" else
              _("Case %(number)s is internal again: the customer no longer sees it.",
                number=case.number), "success")
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
    new_owner = support.staff_owner(form.owner.data)
    if new_owner is None:
        abort(400)
    if support.change_owner(case, current_user, new_owner):
        if new_owner.id != current_user.id:
            notify(new_owner, "case_assigned", case)
        flash(_("%(name)s now owns case %(number)s.", name=new_owner.display_name,
                number=case.number), "success")
    elif new_owner.id == case.owner_id:
        flash(_("%(name)s owns case %(number)s already.", name=new_owner.display_name,
                number=case.number), "info")
    else:   # someone changed it between this page and this click: say so, change nothing
        flash(_("The owner of case %(number)s was changed meanwhile; nothing was changed.",
                number=case.number), "warning")
    return redirect(url_for("support.show", number=case.number))


@bp.route("/<number>/answered", methods=["POST"])
def answered(number):
    """"Was your question answered?" — Yes."""
    case = get_case(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not support.needs_answer_question(current_user, case):
        abort(409)
    if not support.answered_yes(case, current_user):
        abort(409)
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
        if not support.answered_no(case, current_user, form.feedback.data):
            abort(409)
        notify(case.owner, "case_reopened", case, feedback=form.feedback.data)
        flash(_("Case %(number)s is open again; the owner has been told.",
                number=case.number), "success")
        return redirect(url_for("support.show", number=case.number))
    return render_case(case, feedback_form=form, status=400)


@bp.route("/<number>/files/<int:file_id>")
def download(number, file_id):
    """A file of the case, always as a download with a safe name (SECURITY.md 31)."""
    case = get_case(number)
    stored = or_404(support.case_file(case, file_id))
    try:
        data = uploads.read(upload_folder(), stored.stored_name)
    except FileNotFoundError:
        abort(404)
    return attachment(data, "application/octet-stream", stored.original_name)
