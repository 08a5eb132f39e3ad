"""The "Create new" wizard: the customer, the details, the files, the summary and Send.

The draft lives in the (server-side) session, so every step works without JavaScript and going
back loses nothing that was typed. Files uploaded in step 3 are stored at once and listed in
the draft; the ones dropped from the list, or left by an abandoned wizard, are deleted.
"""
from flask import (
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
from flask_login import current_user

from blueprints.forms import ALREADY_SAVED, ActionForm
from blueprints.support import bp
from blueprints.support.forms import (
    DetailsForm,
    FilesForm,
    SummaryForm,
    owner_choices,
    store_files,
    upload_folder,
)
from blueprints.support.notices import notify
from kontor import audit, contacts, form_keys, support, uploads
from kontor.text import whole_number
from models import CaseCategory, CaseType, Contact, User


def draft():
    """The wizard's draft so far: a dict (empty before step 1)."""
    return session.get("case_draft") or {}


def save_draft(**values):
    """Put `values` into the draft, keeping the rest."""
    current = dict(draft())
    current.update(values)
    session["case_draft"] = current


def discard_draft_files():
    """Delete the files the draft lists (the wizard starts again or the list is cleared)."""
    uploads.discard(upload_folder(), [item["stored"] for item in draft().get("files", [])])


def may_choose_owner():
    """The owner drop-down: superusers only, and only when other users exist."""
    return current_user.is_superuser and support.others_may_own(current_user)


def technical_information():
    """The case's technical information: the browser, Kontor, the server, the database."""
    facts = support.server_facts()
    lines = [(_("Browser"), request.user_agent.string[:300]), ("Kontor", facts["kontor"]),
             (_("Server"), facts["server"]), (_("Database"), facts["database"])]
    return "\n".join(f"{label}: {value}" for label, value in lines)


@bp.route("/new/start-over", methods=["POST"])
def start_over():
    """Throw the draft and its files away and begin again at step 1 (a POST: a link on
    another site must not be able to do it)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    discard_draft_files()
    session.pop("case_draft", None)
    return redirect(url_for("support.new"))


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Step 1: the customer (a contact) the case is for."""
    form = ActionForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        chosen = request.form.get("contact_id", "")
        contact = Contact.get_or_none(Contact.id == whole_number(chosen)) \
            if whole_number(chosen) is not None else None
        if contact is not None:
            save_draft(contact_id=contact.id)
            return redirect(url_for("support.details"))
        error = _("Choose the customer the case is for.")
    text = request.args.get("q", "")[:100]
    found = contacts.search(text, per_page=20).contacts if text else []
    chosen = Contact.get_or_none(Contact.id == draft().get("contact_id")) \
        if draft().get("contact_id") else None
    return render_template("support/new_customer.html", form=form, q=text, found=found,
                           chosen=chosen, error=error, has_draft=bool(draft())), \
        400 if error else 200


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
    form.category.choices = {0: "—"} | {c.id: c.name for c in support.active_categories()}
    form.type.choices = {0: "—"} | {t.id: t.name for t in support.active_types()}
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
        elif whole_number(form.remove.data) is not None:
            index = whole_number(form.remove.data)
            if index < len(listed):
                uploads.discard(upload_folder(), [listed.pop(index)["stored"]])
        elif form.files.validate(form):   # a refused file is an error beside the field
            listed += [{"name": o, "stored": s, "size": n, "type": t}
                       for o, s, n, t in store_files(form.files)]
        else:
            errors = form.files.errors
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


def already_sent():
    """The answer to a second Send of the same summary: one case was made, not two."""
    session.pop("case_draft", None)   # its files belong to the case now: keep them
    flash(ALREADY_SAVED, "info")
    return redirect(url_for("support.index"))


@bp.route("/new/summary", methods=["GET", "POST"])
def summary():
    """Step 4: everything at a glance, the technical information, and Send."""
    current = draft()
    if request.method == "POST" and form_keys.used(request.form.get("form_key")):
        return already_sent()   # Send again from a stale tab, after the draft is gone
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
        if not form.form_key.validate(form):   # Send without the one-time key: not sent
            return summary_page(form, current, tech, 400)
        try:
            case = support.create(support.Draft(
                contact_id=current["contact_id"], category_id=current.get("category_id", 0),
                type_id=current.get("type_id", 0), subject=current["subject"],
                description=current["description"], owner_id=current.get("owner_id"),
                include_tech=bool(form.include_tech.data), tech_info=tech),
                current_user, [uploads.StoredFile(f["name"], f["stored"], f["size"], f["type"])
                               for f in current.get("files", [])], form.form_key.data)
        except form_keys.AlreadySaved:   # Send twice at once: the first request made the case
            return already_sent()
        session.pop("case_draft", None)
        if case.owner_id != current_user.id:
            notify(case.owner, "case_assigned", case)
        audit.record("case.created", user=current_user, target=case.number)
        flash(_("Case %(number)s is registered.", number=case.number), "success")
        return redirect(url_for("support.show", number=case.number))
    return summary_page(form, current, tech)


def summary_page(form, current, tech, status=200):
    """Step 4's page for the draft `current` with the technical information `tech`."""
    return render_template("support/new_summary.html", form=form, draft=current, tech=tech,
                           contact=Contact.get_or_none(Contact.id == current["contact_id"]),
                           category=CaseCategory.get_or_none(
                               CaseCategory.id == current.get("category_id")),
                           type_=CaseType.get_or_none(CaseType.id == current.get("type_id")),
                           owner=User.get_or_none(User.id == current.get("owner_id"))), status
