"""Invite a registered employee (superuser, readiness checklist passed) and accept an
invitation (anyone holding the link)."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_user
from wtforms import SelectField, SubmitField

from blueprints.common import send_invitation
from blueprints.forms import NOT_INVITABLE, Form, NewPasswordForm, database_id, language_field
from kontor import audit, invitations, staff_auth, tokens
from kontor import company as company_rules
from kontor.access import public, superuser_required
from kontor.text import whole_number
from kontor.web import current_company

bp = Blueprint("invitations", __name__)


class InviteForm(Form):
    employee = SelectField(_l("Employee"), coerce=database_id, validate_choice=False)
    language = language_field(_l("Language of the invitation"))
    submit = SubmitField(_l("Send invitation"))


class AcceptForm(NewPasswordForm):
    submit = SubmitField(_l("Create my account"))


@bp.route("/users/invite", methods=["GET", "POST"])
@superuser_required
def invite():
    """Choose a registered employee and send them an invitation."""
    missing = company_rules.missing_for_readiness(current_company(), current_user)
    if missing:
        return render_template("invitations/not_ready.html", missing=missing), 409
    candidates = list(invitations.invitable_employees())
    form = InviteForm()
    form.employee.choices = {0: _("Choose an employee…")} | {
        e.id: f"{e.name} <{e.email}>" for e in candidates}
    if request.method == "GET":
        form.language.data = current_company().language or "en"
        if whole_number(request.args.get("employee")) is not None:
            form.employee.data = whole_number(request.args["employee"])
    if form.validate_on_submit():
        if form.employee.data not in {e.id for e in candidates}:
            # say why (e.g. another superuser invited them a moment ago), not just "choose"
            reason = invitations.why_not_invitable(form.employee.data)
            form.employee.errors.append(NOT_INVITABLE.get(reason, NOT_INVITABLE["unknown"]))
        else:
            try:
                invitation, raw = invitations.invite(form.employee.data, form.language.data,
                                                     current_user.id)
            except invitations.NotInvitable as refused:
                form.employee.errors.append(NOT_INVITABLE.get(refused.reason,
                                                              NOT_INVITABLE["unknown"]))
            else:
                send_invitation(invitation, raw)
                audit.record("invitation.sent", user=current_user, target=invitation.email,
                             ip=request.remote_addr)
                flash(_("Invitation sent to %(name)s (%(email)s).",
                        name=invitation.employee.name, email=invitation.email), "success")
                return redirect(url_for("users.index"))
    status = 400 if form.errors else 200
    return render_template("invitations/invite.html", form=form, candidates=candidates), status


@bp.route("/invite/<token>")
@public
def with_token(token):
    """Take the token out of the URL at once: keep its hash in the session, redirect."""
    session["invite_token_hash"] = tokens.digest(token)
    return redirect(url_for("invitations.accept"))


@bp.route("/invite", methods=["GET", "POST"])
@public
def accept():
    """Choose a password for the invited e-mail; the account is then active and signed in."""
    invitation, state = invitations.check_digest(session.get("invite_token_hash"))
    if state != "ok":
        session.pop("invite_token_hash", None)
        return render_template("auth/token_problem.html", state=state, kind="invite"), \
            404 if state == "unknown" else 410
    form = AcceptForm()
    form.context_email = invitation.email
    form.context_company = staff_auth.company_name()
    form.context_name = invitation.employee.name
    if form.validate_on_submit():
        try:
            user = invitations.accept(invitation, form.password.data)
        except invitations.InvitationUnusable as unusable:
            return render_template("auth/token_problem.html", state=unusable.state,
                                   kind="invite"), 410
        session.clear()
        session.regenerate()
        session["lang"] = user.language
        login_user(user)
        refresh()      # the welcome below speaks the account's language, not the page's
        audit.record("invitation.accepted", user=user, target=user.email, ip=request.remote_addr)
        flash(_("Welcome to Kontor, %(name)s. Your account is ready.", name=user.display_name),
              "success")
        return redirect(url_for("main.home"))
    return render_template("invitations/accept.html", form=form, invitation=invitation), \
        400 if form.errors else 200
