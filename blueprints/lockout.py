"""The end of too many wrong passwords, for every page that asks for one: the notice e-mail
and the signed-out page. A module of its own, importing no other view module, so that the
sign-in, the profile and the sync, backup and restore pages can all use it."""
from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import logout_user

from kontor import audit, config, emails


def send_lock_notice(user):
    """Tell the account's owner it is locked and that "Forgot password" opens it."""
    emails.queue("account_locked", user.email, emails.language_for(user), "notice",
                 failures=config.LOCK_AFTER_FAILURES,
                 link=emails.link(url_for("auth.forgot")))


def locked_out(user, outcome):
    """Too many wrong current passwords: the account is locked and every session ended.
    `outcome`: "locked_now" (this guess locked it: audited, the notice is sent) or "locked"."""
    if outcome == "locked_now":
        audit.record("account.locked", user=user, target=user.email, ip=request.remote_addr)
        send_lock_notice(user)
    logout_user()
    session.clear()
    session.regenerate()
    flash(_("Your account is locked after too many wrong passwords. \"Forgot password\" opens "
            "it again."), "error")
    return redirect(url_for("auth.login"))
