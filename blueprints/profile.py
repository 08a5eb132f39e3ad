"""The signed-in user's own settings: language and password."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired

from blueprints.forms import Form, NewPasswordForm, language_field
from kontor import audit, emails, passwords, staff_auth
from models import User

bp = Blueprint("profile", __name__, url_prefix="/profile")


class LanguageForm(Form):
    language = language_field(_l("Interface language"))
    submit = SubmitField(_l("Save language"))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Change password"))


def forms():
    language = LanguageForm(prefix="lang", language=current_user.language or "en")
    password = ChangePasswordForm(prefix="pw")
    password.context_email = current_user.email
    password.context_company = staff_auth.company_name()
    return language, password


@bp.route("")
def show():
    """Your account: login name, language, password."""
    language, password = forms()
    return render_template("profile/profile.html", language_form=language,
                           password_form=password)


@bp.route("/language", methods=["POST"])
def save_language():
    """Save the interface language."""
    language, password = forms()
    if language.validate_on_submit():
        User.update(language=language.language.data).where(User.id == current_user.id).execute()
        session["lang"] = language.language.data
        flash(_("Language saved."), "success")
        return redirect(url_for("profile.show"))
    return render_template("profile/profile.html", language_form=language,
                           password_form=password), 400


@bp.route("/password", methods=["POST"])
def change_password():
    """Change the password (needs the current one); ends your other sessions."""
    language, password = forms()
    if password.validate_on_submit():
        if staff_auth.change_password(current_user, password.current.data, password.password.data,
                                    keep_session_id=session.row_id):
            audit.record("password.changed", user=current_user, ip=request.remote_addr)
            emails.queue("password_changed", current_user.email,
                        emails.language_for(current_user), "notice")
            flash(_("Your password is changed. Your other sessions were signed out."), "success")
            return redirect(url_for("profile.show"))
        password.current.errors.append(_("The current password is not right."))
        audit.record("password.change_failed", user=current_user, ip=request.remote_addr)
    elif password.current.data and not password.current.errors and \
            not passwords.verify_password(current_user.password_hash, password.current.data):
        # say so now too, not only once the new password is acceptable
        password.current.errors.append(_("The current password is not right."))
    return render_template("profile/profile.html", language_form=language,
                           password_form=password), 400
