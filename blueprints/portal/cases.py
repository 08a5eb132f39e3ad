"""The portal's support cases (issue 14 item 6; seed 004): the list of the contact's cases,
the short wizard, the case page with its thread, Add information, "Was your question
answered?" and the files. The rules are in kontor/portal_cases.py and kontor/support.py.

A website that does not offer cases answers 404 on every page here; an account that is not
linked to a contact yet is told so."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.forms import ALREADY_SAVED, ActionForm
from blueprints.portal.support_forms import CustomerAddForm, FeedbackForm, NewCaseForm
from blueprints.portal.views import bp
from blueprints.portal.website import current_website
from blueprints.support.forms import store_files, upload_folder
from blueprints.support.notices import notify
from kontor import form_keys, portal_cases, support, uploads
from kontor.access import portal_sign_in_required
from kontor.web import attachment


def refused():
    """None when the signed-in customer may use cases here; else the answer: 404 when the
    website does not offer cases, the explanation when the account is not linked."""
    reason = portal_cases.refusal(current_website(), current_user)
    if reason is None:
        return None
    if reason == "off":
        abort(404)
    return render_template("portal/cases_unlinked.html"), 403 \
        if request.method == "POST" else 200


def get_case(number):
    """The case `number` if the customer sees it; else 404."""
    case = portal_cases.find(current_user, number)
    if case is None:
        abort(404)
    return case


def max_mb():
    """The per-file upload limit in MB (UPLOAD_MAX_MB), for the forms' hint."""
    return current_app.config["UPLOAD_MAX_MB"]


@bp.route("/cases")
@portal_sign_in_required
def case_list():
    """My cases: the contact's cases from the portal and those staff showed them."""
    answer = refused()
    if answer:
        return answer
    page = portal_cases.listing(current_user, request.args.get("page"))
    return render_template("portal/cases.html", page=page)


@bp.route("/cases/new", methods=["GET", "POST"])
@portal_sign_in_required
def new_case():
    """The short wizard: category, type, subject, description, files; Send."""
    answer = refused()
    if answer:
        return answer
    form = NewCaseForm()
    form.category.choices = {0: "—"} | {c.id: c.name for c in support.active_categories()}
    form.type.choices = {0: "—"} | {t.id: t.name for t in support.active_types()}
    if form.validate_on_submit():
        stored = store_files(form.files)
        try:
            case = portal_cases.open_case(
                current_website(), current_user._get_current_object(),
                portal_cases.offered_category(form.category.data or 0),
                portal_cases.offered_type(form.type.data or 0), form.subject.data,
                form.description.data, stored, form_key=form.form_key.data)
        except form_keys.AlreadySaved:
            uploads.discard(upload_folder(), [s.stored_name for s in stored])
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("portal.case_list"))
        if case.owner is not None:
            notify(case.owner, "case_assigned", case)
        flash(_("Thank you: your case %(number)s is registered. We will answer you by "
                "e-mail and here.", number=case.number), "success")
        return redirect(url_for("portal.case", number=case.number))
    return render_template("portal/case_new.html", form=form, max_mb=max_mb()), \
        400 if form.errors else 200


def render_case(case, add_form=None, feedback_form=None, status=200):
    """The customer's case page (a form that came back with errors shown with them): the
    thread without staff-internal kinds, Add information, and the closing question when it
    is asked (portal_cases.needs_answer_question)."""
    ask = portal_cases.needs_answer_question(current_user, case)
    return render_template(
        "portal/case.html", case=case, thread=portal_cases.thread(case), ask=ask,
        add_form=add_form or CustomerAddForm(),
        feedback_form=(feedback_form or FeedbackForm()) if ask else None,
        action_form=ActionForm() if ask else None, max_mb=max_mb()), status


@bp.route("/cases/<number>")
@portal_sign_in_required
def case(number):
    """The case: its thread and files, Add information, and when it is closed and unrated
    "Was your question answered?"."""
    answer = refused()
    if answer:
        return answer
    return render_case(get_case(number))


def tell_owner(case, template, **context):
    """Mail the case's owner (if any, and active) about the customer's change."""
    if case.owner_id:
        owner = support.staff_owner(case.owner_id)
        if owner is not None:
            notify(owner, template, case, **context)


@bp.route("/cases/<number>/add", methods=["POST"])
@portal_sign_in_required
def add_to_case(number):
    """Add information (text and files) at any time; a closed case opens again."""
    answer = refused()
    if answer:
        return answer
    case = get_case(number)
    form = CustomerAddForm()
    if form.validate_on_submit():
        stored = store_files(form.files)
        was = case.status
        try:
            support.add_information(case, current_user._get_current_object(), form.body.data,
                                    stored, form.form_key.data)
        except form_keys.AlreadySaved:
            uploads.discard(upload_folder(), [s.stored_name for s in stored])
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("portal.case", number=case.number) + "#thread")
        tell_owner(case, "case_updated", reopened=was == "closed")
        flash(_("Your information is added to case %(number)s.", number=case.number),
              "success")
        return redirect(url_for("portal.case", number=case.number) + "#thread")
    return render_case(case, add_form=form, status=400)


@bp.route("/cases/<number>/answered", methods=["POST"])
@portal_sign_in_required
def case_answered(number):
    """"Was your question answered?" — Yes."""
    answer = refused()
    if answer:
        return answer
    case = get_case(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not portal_cases.needs_answer_question(current_user, case) or \
            not support.answered_yes(case, current_user._get_current_object()):
        flash(_("Thank you, your answer was recorded already."), "info")
        return redirect(url_for("portal.case", number=case.number))
    flash(_("Thank you. We are glad your question was answered."), "success")
    return redirect(url_for("portal.case", number=case.number))


@bp.route("/cases/<number>/not-answered", methods=["POST"])
@portal_sign_in_required
def case_not_answered(number):
    """"Was your question answered?" — No: feedback (required) reopens the case and tells
    its owner."""
    answer = refused()
    if answer:
        return answer
    case = get_case(number)
    if not portal_cases.needs_answer_question(current_user, case):
        flash(_("Thank you, your answer was recorded already."), "info")
        return redirect(url_for("portal.case", number=case.number))
    form = FeedbackForm()
    if form.validate_on_submit():
        if support.answered_no(case, current_user._get_current_object(), form.feedback.data):
            tell_owner(case, "case_reopened", feedback=form.feedback.data)
            flash(_("Case %(number)s is open again; we will contact you.",
                    number=case.number), "success")
        else:
            flash(_("Thank you, your answer was recorded already."), "info")
        return redirect(url_for("portal.case", number=case.number))
    return render_case(case, feedback_form=form, status=400)


@bp.route("/cases/<number>/files/<int:file_id>")
@portal_sign_in_required
def case_download(number, file_id):
    """A file of the case, always as a download with a safe name (SECURITY.md 31)."""
    answer = refused()
    if answer:
        return answer
    case = get_case(number)
    stored = portal_cases.case_file(case, file_id)
    if stored is None:
        abort(404)
    try:
        data = uploads.read(upload_folder(), stored.stored_name)
    except FileNotFoundError:
        abort(404)
    return attachment(data, "application/octet-stream", stored.original_name)
