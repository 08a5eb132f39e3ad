"""Sign in, sign out, forgot password and reset (SPEC section 3)."""
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import SubmitField

from blueprints.common import safe_next
from blueprints.forms import Form, LoginForm, NewPasswordForm, email_field
from kontor import audit, config, emails, staff_auth, tokens
from kontor.access import public
from kontor.extensions import limiter
from kontor.mail import normalise_email
from models import User

bp = Blueprint("auth", __name__)


class ForgotForm(Form):
    email = email_field(_l("E-mail"))
    submit = SubmitField(_l("Send reset link"))


class ResetForm(NewPasswordForm):
    submit = SubmitField(_l("Set new password"))


def email_key():
    """Rate-limit key: the normalised e-mail posted, so "A@x" and "a@x" share one counter."""
    return "email:" + normalise_email(request.form.get("email", ""))


def limit(config_key):
    return lambda: current_app.config[config_key]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@limiter.limit(limit("LOGIN_LIMIT_PER_EMAIL"), methods=["POST"], key_func=email_key)
@public
def login():
    """Sign in with e-mail and password; one answer for every kind of failure."""
    next_page = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_page or url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user, outcome = staff_auth.authenticate(form.email.data, form.password.data)
        if user is not None:
            session.clear()
            session.regenerate()
            login_user(user)
            audit.record("login", user=user, ip=request.remote_addr)
            return redirect(next_page or url_for("main.home"))
        # the audit log names the account, if any
        known = User.by_email(normalise_email(form.email.data))
        audit.record("login.failed", user=known, target=normalise_email(form.email.data),
                     detail=outcome, ip=request.remote_addr)
        if outcome == "locked_now":
            audit.record("account.locked", user=known,
                         target=normalise_email(form.email.data), ip=request.remote_addr)
        form.password.data = ""
        flash(_("Wrong e-mail or password."), "error")
        return render_template("auth/login.html", form=form, next_page=next_page), 200
    return render_template("auth/login.html", form=form, next_page=next_page)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Sign out: end the session record, so the old cookie is worthless."""
    if current_user.is_authenticated:
        audit.record("logout", user=current_user, ip=request.remote_addr)
        logout_user()
    session.clear()
    session.regenerate()   # ends the session row (reason "logout"): the old cookie is worthless
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(limit("RESET_LIMIT_PER_IP"), methods=["POST"])
@limiter.limit(limit("RESET_LIMIT_PER_EMAIL"), methods=["POST"], key_func=email_key)
@public
def forgot():
    """Send a reset link if the account exists; answer the same way either way."""
    form = ForgotForm()
    if form.validate_on_submit():
        user = staff_auth.reset_candidate(form.email.data)
        if user is not None:
            raw = tokens.issue("reset", user=user)
            emails.queue("reset", user.email, emails.language_for(user), "reset",
                         link=emails.link(url_for("auth.reset_with_token", token=raw)),
                         minutes=config.RESET_LINK_LIFETIME // timedelta(minutes=1))
            audit.record("password.reset_requested", user=user, ip=request.remote_addr)
        return render_template("auth/forgot_sent.html")
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>")
@public
def reset_with_token(token):
    """Take the token out of the URL at once: keep its hash in the session, redirect."""
    session["reset_token_hash"] = tokens.digest(token)
    return redirect(url_for("auth.reset"))


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset():
    """Set a new password with a valid reset link; unlocks the account."""
    token, state = tokens.check_digest("reset", session.get("reset_token_hash"))
    if state == "ok" and token.created_at < token.user.password_changed_at:
        state = "revoked"
    if state != "ok":
        session.pop("reset_token_hash", None)
        return render_template("auth/token_problem.html", state=state, kind="reset"), 410 \
            if state != "unknown" else 404
    user = token.user
    form = ResetForm()
    form.context_email = user.email
    form.context_company = staff_auth.company_name()
    if form.validate_on_submit():
        if not tokens.consume(token):
            return render_template("auth/token_problem.html", state="used", kind="reset"), 410
        staff_auth.set_password(user, form.password.data, "password_reset")
        session.pop("reset_token_hash", None)
        audit.record("password.reset", user=user, ip=request.remote_addr)
        emails.queue("password_changed", user.email, emails.language_for(user), "notice")
        flash(_("Your password is set. Sign in with your new password."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, email=user.email), \
        400 if form.errors else 200
