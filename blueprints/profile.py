"""The signed-in user's own settings: language, password, and the e-mail about new website
data (issue 15 item 5)."""
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user
from wtforms import BooleanField, PasswordField, SubmitField
from wtforms.validators import DataRequired

from blueprints.auth import guessing_limit, limit
from blueprints.forms import Form, NewPasswordForm, language_field
from blueprints.lockout import locked_out
from kontor import audit, emails, incoming_notice, staff_auth
from kontor.extensions import limiter
from models import User

bp = Blueprint("profile", __name__, url_prefix="/profile")


class LanguageForm(Form):
    language = language_field(_l("Interface language"))
    submit = SubmitField(_l("Save language"))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Change password"))


class NoticeForm(Form):
    notify_incoming = BooleanField(
        _l("E-mail me when new website data arrives"),
        description=_l("At most one e-mail an hour, with how many registrations, account "
                       "updates, inquiries and orders wait in Fetch website data."))
    submit = SubmitField(_l("Save e-mail setting"))


def forms():
    language = LanguageForm(prefix="lang", language=current_user.language or "en")
    password = ChangePasswordForm(prefix="pw")
    password.context_email = current_user.email
    password.context_company = staff_auth.company_name()
    password.context_name = staff_auth.person_name(current_user)
    return language, password


def render(language, password, notice=None, status=200):
    notice = notice or NoticeForm(prefix="notice",
                                  notify_incoming=current_user.notify_incoming)
    return render_template("profile/profile.html", language_form=language,
                           password_form=password, notice_form=notice), status


@bp.route("")
def show():
    """Your account: login name, language, password, the e-mail about new website data."""
    return render(*forms())


@bp.route("/notice", methods=["POST"])
def save_notice():
    """Switch the e-mail about new website data on or off."""
    notice = NoticeForm(prefix="notice")
    if not notice.validate_on_submit():
        return render(*forms(), notice=notice, status=400)
    on = bool(notice.notify_incoming.data)
    if incoming_notice.choose(current_user.id, on):
        audit.record("profile.incoming_notice", user=current_user.id,
                     detail="on" if on else "off", ip=request.remote_addr)
    flash(_("You will get an e-mail when new website data arrives (at most one an hour).")
          if on else _("You will get no e-mails about new website data."), "success")
    return redirect(url_for("profile.show"))


@bp.route("/language", methods=["POST"])
def save_language():
    """Save the interface language."""
    language, password = forms()
    if language.validate_on_submit():
        User.update(language=language.language.data).where(User.id == current_user.id).execute()
        session["lang"] = language.language.data
        # the rest of this request speaks the new language too: the message below is in it
        # (issue 11 item 19), not in the one the request started with
        current_user.language = language.language.data
        refresh()
        flash(_("Language saved."), "success")
        return redirect(url_for("profile.show"))
    return render(language, password, status=400)


def account_key():
    """Rate-limit key: the signed-in account's e-mail, the counter sign-in uses for it."""
    return "email:" + (current_user.email if current_user.is_authenticated else "")


@bp.route("/password", methods=["POST"])
@limiter.limit(limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@guessing_limit(account_key)
def change_password():
    """Change the password (needs the current one); ends your other sessions. Wrong current
    passwords count like wrong passwords at sign-in: rate limits, audit entries, lockout."""
    language, password = forms()
    valid = password.validate_on_submit()
    if password.current.data and not password.current.errors:
        user = current_user._get_current_object()
        outcome = staff_auth.check_current_password(user, password.current.data)
        if outcome != "ok":
            g.password_guess_failed = True
            audit.record("password.change_failed", user=user, detail=outcome,
                         ip=request.remote_addr)
            if outcome != "wrong":
                return locked_out(user, outcome)
            # said at once, not only once the new password is acceptable
            password.current.errors.append(_("The current password is not right."))
        elif valid:
            staff_auth.change_password(user, password.password.data,
                                       keep_session_id=session.row_id)
            audit.record("password.changed", user=user, ip=request.remote_addr)
            emails.queue("password_changed", user.email, emails.language_for(user), "notice")
            flash(_("Your password is changed. Your other sessions were signed out."), "success")
            return redirect(url_for("profile.show"))
    return render(language, password, status=400)
