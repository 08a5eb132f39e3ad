"""User management (superuser): every employee's access, and the actions on it."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404

from blueprints.auth import forget_wrong_guesses
from blueprints.common import ask_first, send_invitation
from blueprints.forms import NOT_INVITABLE, ActionForm
from kontor import audit, invitations, users
from kontor import company as company_rules
from kontor.access import superuser_required
from kontor.web import current_company
from models import Invitation, User

bp = Blueprint("users", __name__, url_prefix="/users")

REFUSALS = {
    "self": _l("You cannot deactivate your own account."),
    "last_superuser": _l("This is the last active administrator: make someone else "
                         "administrator first."),
}


@bp.route("")
@superuser_required
def index():
    """Every employee with the state of their access to Kontor."""
    text = request.args.get("q", "")
    rows = users.overview(text)
    missing = company_rules.missing_for_readiness(current_company(), current_user)
    return render_template("users/index.html", rows=rows, q=text, form=ActionForm(),
                           missing=missing, needs_reminder=invitations.needs_reminder)


def get_user(user_id):
    """The account with this id; 404 when there is none."""
    return get_object_or_404(User, User.id == user_id)


def checked_form():
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.route("/invitations/<int:invitation_id>/resend", methods=["POST"])
@superuser_required
def resend(invitation_id):
    """Send a new link; the old one stops working."""
    checked_form()
    try:
        invitation, raw = invitations.resend(invitation_id, current_user.id)
    except invitations.NotInvitable as refused:
        flash(NOT_INVITABLE[refused.reason], "error")
        return redirect(url_for("users.index"))
    if invitation is None:
        abort(404)
    send_invitation(invitation, raw)
    audit.record("invitation.resent", user=current_user, target=invitation.email,
                 ip=request.remote_addr)
    flash(_("A new invitation is on its way to %(email)s.", email=invitation.email), "success")
    return redirect(url_for("users.index"))


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@superuser_required
def revoke(invitation_id):
    """Withdraw an invitation: its link stops working."""
    checked_form()
    invitation = get_object_or_404(Invitation, Invitation.id == invitation_id)
    if invitation.accepted_at or invitation.revoked_at:
        abort(404)   # nothing to ask about: accepted or withdrawn already
    asked = ask_first(_("Revoke the invitation for %(email)s?", email=invitation.email),
                      _("The link in the e-mail stops working at once. You can invite them "
                        "again later."), _("Revoke"), url_for("users.index"))
    if asked:
        return asked
    if not invitations.revoke(invitation_id):
        abort(404)   # accepted or withdrawn a moment ago
    audit.record("invitation.revoked", user=current_user, target=invitation.email,
                 ip=request.remote_addr)
    flash(_("The invitation for %(email)s is withdrawn.", email=invitation.email), "success")
    return redirect(url_for("users.index"))


def account_action(user_id, action, done_message, audit_action, ask=None):
    """Do `action` to an account, after the confirmation step when `ask` gives one
    ((question, explanation, button), each with %(email)s)."""
    checked_form()
    user = get_user(user_id)
    if ask is not None:
        question, explanation, button = ask
        asked = ask_first(question % {"email": user.email},
                          explanation % {"email": user.email}, button, url_for("users.index"))
        if asked:
            return asked
    try:
        action(user)
    except users.AccountActionRefused as refused:
        flash(REFUSALS[refused.reason], "error")
        return redirect(url_for("users.index"))
    audit.record(audit_action, user=current_user, target=user.email, ip=request.remote_addr)
    flash(done_message % {"email": user.email}, "success")
    return redirect(url_for("users.index"))


@bp.route("/<int:user_id>/deactivate", methods=["POST"])
@superuser_required
def deactivate(user_id):
    """Deactivate an account: it can no longer sign in, and its sessions end at once."""
    return account_action(user_id, lambda u: users.deactivate(u, current_user),
                          _("%(email)s is deactivated and signed out."), "user.deactivated",
                          ask=(_("Deactivate %(email)s?"),
                               _("They can no longer sign in, and their open sessions end at "
                                 "once. You can reactivate the account later."),
                               _("Deactivate")))


@bp.route("/<int:user_id>/reactivate", methods=["POST"])
@superuser_required
def reactivate(user_id):
    """Let a deactivated account sign in again."""
    return account_action(user_id, users.reactivate, _("%(email)s can sign in again."),
                          "user.reactivated")


@bp.route("/<int:user_id>/grant-superuser", methods=["POST"])
@superuser_required
def grant_superuser(user_id):
    """Make an account administrator."""
    return account_action(user_id, lambda u: users.set_superuser(u, True, current_user),
                          _("%(email)s is now an administrator."), "user.superuser_granted")


@bp.route("/<int:user_id>/withdraw-superuser", methods=["POST"])
@superuser_required
def withdraw_superuser(user_id):
    """Take the administrator role away (never from the last active administrator)."""
    return account_action(user_id, lambda u: users.set_superuser(u, False, current_user),
                          _("%(email)s is no longer an administrator."),
                          "user.superuser_withdrawn")


@bp.route("/<int:user_id>/unlock", methods=["POST"])
@superuser_required
def unlock(user_id):
    """Reopen an account locked after too many wrong passwords."""
    def unlock_and_forget_guesses(user):
        users.unlock(user)
        forget_wrong_guesses(user.email)
    return account_action(user_id, unlock_and_forget_guesses, _("%(email)s is unlocked."),
                          "user.unlocked",
                          ask=(_("Unlock %(email)s?"),
                               _("The account was locked after too many wrong passwords. "
                                 "Unlock it when you know its owner made them; otherwise "
                                 "someone may be guessing."), _("Unlock")))
