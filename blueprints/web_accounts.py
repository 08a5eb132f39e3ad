"""The staff side of customers' web accounts (SPEC section 7; issue 13 items 4 and 5): the
contact's Website section (its web accounts per website), Create access, Edit (correct the
e-mail, set the status), Send password reset link, and "Web accounts awaiting approval" per
website with approve / reject in place. Staff never see or set a password. The rules are in
kontor/web_accounts.py."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import fn
from wtforms import HiddenField, RadioField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice

from blueprints.common import get_contact, or_404
from blueprints.filters import per_request
from blueprints.forms import (
    ALREADY_SAVED,
    ActionForm,
    Form,
    database_id,
    email_field,
    form_key_field,
)
from kontor import form_keys, web_accounts
from kontor.access import signed_in_staff
from kontor.errors import Refused
from kontor.mail import InvalidAddress
from kontor.versions import ChangedMeanwhile, opened_version
from models import WebAccount, Website

bp = Blueprint("web_accounts", __name__)

STATUS_LABELS = {"pending": _l("Pending"), "approved": _l("Approved"),
                 "rejected": _l("Rejected")}


@bp.app_template_filter("web_account_status")
@per_request
def web_account_status(status):
    """A web account's status in the reader's language."""
    return STATUS_LABELS.get(status, status)


@bp.app_context_processor
def awaiting_approval_count():
    """The number of web accounts awaiting approval, for the staff navigation."""
    if not signed_in_staff():
        return {}
    if "awaiting_counts" not in g:
        g.awaiting_counts = web_accounts.awaiting_counts()
    return {"awaiting_approval": sum(g.awaiting_counts.values())}


class AccessForm(Form):
    website = SelectField(_l("Website"), coerce=database_id)
    email = email_field(_l("E-mail (user name)"))
    form_key = form_key_field()
    submit = SubmitField(_l("Create access"))


class EditAccountForm(Form):
    email = email_field(_l("E-mail (user name)"))
    status = RadioField(_l("Status"), choices=[
        SelectChoice(code, label) for code, label in STATUS_LABELS.items()])
    version = HiddenField()
    submit = SubmitField(_l("Save"))


def get_account(account_id):
    """The web account with this id and its website; 404 when there is none."""
    return or_404(WebAccount.select(WebAccount, Website).join(Website)
                  .where(WebAccount.id == account_id).first())


def back_to(account):
    """Where a change of `account` leads back to: its contact's page, else the awaiting
    page of its website."""
    if account.contact_id:
        return url_for("contacts.show", contact_id=account.contact_id) + "#website"
    return url_for("web_accounts.awaiting", website=account.website_id)


REFUSALS = {
    "email_taken": _l("This website already has an account with this e-mail address (linked "
                      "to a contact, or not confirmed yet)."),
    "unconfirmed": _l("The customer has not confirmed this e-mail address yet, so the account "
                      "cannot be approved."),
    "closed": _l("The customer closed this account, so its status cannot change."),
    "decided": _l("This account was no longer awaiting approval: someone decided meanwhile. "
                  "Nothing was changed."),
    "website_inactive": _l("The website of this account is deactivated: reactivate it "
                           "first (Administration → Websites)."),
}


@bp.route("/contacts/<int:contact_id>/web-accounts/new", methods=["GET", "POST"])
def create_access(contact_id):
    """Create access: a web account of the contact on a website; the customer is mailed a
    link to choose their own password."""
    contact = get_contact(contact_id)
    form = AccessForm()
    sites = list(Website.select().where(Website.active == True)  # noqa: E712
                 .order_by(fn.LOWER(Website.name)))
    form.website.choices = [(site.id, site.name) for site in sites]
    if not sites:
        flash(_("There is no active website yet."), "info")
    if form.validate_on_submit():
        website = next(site for site in sites if site.id == form.website.data)
        try:
            _account, outcome = web_accounts.create_access(
                website, form.email.data, contact, current_user.id, ip=request.remote_addr,
                form_key=form.form_key.data)
        except form_keys.AlreadySaved:
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("contacts.show", contact_id=contact.id) + "#website")
        except (web_accounts.Duplicate, InvalidAddress) as refused:
            form.email.errors.append(REFUSALS.get(getattr(refused, "reason", ""),
                                                  _("Enter a valid e-mail address.")))
        else:
            flash(_("Access created. The customer was sent a link to choose a password.")
                  if outcome == "created" else
                  _("The customer's own web account on this website is now linked to this "
                    "contact."), "success")
            return redirect(url_for("contacts.show", contact_id=contact.id) + "#website")
    return render_template("web_accounts/new.html", contact=contact, form=form), \
        400 if form.errors else 200


@bp.route("/web-accounts/<int:account_id>/edit", methods=["GET", "POST"])
def edit(account_id):
    """Correct the e-mail (user name) and set the status; a status change mails the
    customer, rejecting ends their sessions at once."""
    account = get_account(account_id)
    form = EditAccountForm(obj=account if request.method == "GET" else None)
    conflict = None
    if form.validate_on_submit():
        try:
            changed = web_accounts.change(account, current_user.id, email=form.email.data,
                                          status=form.status.data,
                                          opened_version=opened_version(form.version.data),
                                          ip=request.remote_addr)
        except ChangedMeanwhile as clash:
            conflict = clash.current
            form.version.data = str(conflict.version)
        except (web_accounts.Duplicate, InvalidAddress) as refused:
            form.email.errors.append(REFUSALS.get(getattr(refused, "reason", ""),
                                                  _("Enter a valid e-mail address.")))
        except Refused as refused:
            form.status.errors.append(REFUSALS.get(refused.reason, str(refused)))
        else:
            if "status" in changed:
                flash(_("Saved. The customer was e-mailed about the new status."), "success")
            else:
                flash(_("Saved."), "success")
            return redirect(back_to(account))
    contact = web_accounts.contact_of(account)
    details = web_accounts.details_of(account)
    status = 409 if conflict is not None else 400 if form.errors else 200
    unlinked = "" if contact else web_accounts.unlinked_from([account.id]).get(account.id, "")
    return render_template("web_accounts/edit.html", account=account, form=form,
                           contact=contact, details=details, conflict=conflict,
                           unlinked_from=unlinked, reset_form=ActionForm()), status


@bp.route("/web-accounts/<int:account_id>/reset-link", methods=["POST"])
def send_reset_link(account_id):
    """Mail the customer a link to choose a new password (staff never see it)."""
    account = get_account(account_id)
    if ActionForm().validate_on_submit():
        try:
            web_accounts.staff_reset_link(account, current_user.id, ip=request.remote_addr)
        except Refused as refused:
            flash(REFUSALS.get(refused.reason, str(refused)), "error")
        else:
            flash(_("A link to choose a new password was sent to %(email)s.",
                    email=account.email), "success")
    return redirect(url_for("web_accounts.edit", account_id=account.id))


@bp.route("/web-accounts/awaiting")
def awaiting():
    """Web accounts awaiting approval, per website, with approve and reject in place."""
    sites = list(Website.select().where(Website.active == True)  # noqa: E712
                 .order_by(fn.LOWER(Website.name)))
    chosen = request.args.get("website", type=int)
    if chosen is not None:
        sites = [site for site in sites if site.id == chosen]
        if not sites:
            abort(404)
    groups = [(site, web_accounts.awaiting(site)) for site in sites]
    return render_template("web_accounts/awaiting.html", groups=groups, form=ActionForm())


@bp.route("/web-accounts/<int:account_id>/approve", methods=["POST"])
def approve(account_id):
    """Approve a pending account from the awaiting page; the customer is mailed."""
    return decide(account_id, "approved")


@bp.route("/web-accounts/<int:account_id>/reject", methods=["POST"])
def reject(account_id):
    """Reject a pending account from the awaiting page; the customer is mailed."""
    return decide(account_id, "rejected")


def decide(account_id, status):
    """Set the status of a pending account to `status` (a double click changes it once)."""
    account = get_account(account_id)
    if ActionForm().validate_on_submit():
        try:
            changed = web_accounts.change(account, current_user.id, status=status,
                                          ip=request.remote_addr, only_from="pending")
        except Refused as refused:
            flash(REFUSALS.get(refused.reason, str(refused)),
                  "info" if refused.reason == "decided" else "error")
            if refused.reason == "website_inactive":
                return redirect(url_for("web_accounts.awaiting"))
        else:
            if changed:
                flash(_("%(email)s: approved and e-mailed.", email=account.email)
                      if status == "approved"
                      else _("%(email)s: rejected and e-mailed.", email=account.email),
                      "success")
    return redirect(url_for("web_accounts.awaiting", website=account.website_id))
