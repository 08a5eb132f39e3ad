"""Sign in, sign out, forgot password and reset (SPEC section 3)."""
import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_user, logout_user
from limits import parse_many
from wtforms import SubmitField

from blueprints import first_sync as first_sync_views
from blueprints.common import safe_next
from blueprints.forms import Form, LoginForm, NewPasswordForm, email_field, note_kept_forms
from blueprints.lockout import send_lock_notice
from kontor import audit, config, emails, staff_auth, tokens
from kontor.access import public
from kontor.extensions import limiter
from kontor.mail import InvalidAddress, normalise_email
from models import Token, User, db
from models.clock import utcnow

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


# Wrong passwords against one account, at sign-in and at "Change password", share one counter;
# a right password does not count (after a reset, the next sign-in must not get a 429).
GUESS_SCOPE = "password-guesses"


def guess_failed(_response):
    return g.get("password_guess_failed", False)


def guessing_limit(key_func):
    return limiter.shared_limit(limit("LOGIN_LIMIT_PER_EMAIL"), scope=GUESS_SCOPE,
                                methods=["POST"], key_func=key_func, deduct_when=guess_failed)


def forget_wrong_guesses(email):
    """Start the per-e-mail count of wrong passwords (sign-in and "Change password", the
    GUESS_SCOPE limit) for `email` again. Called when the account is opened: after a password
    reset and a superuser's unlock, the next right sign-in must not get a 429 for guesses made
    before (issue 10 items 13 and 21). The account's own lock (failed_logins, locked_at) is
    cleared by staff_auth.set_password and users.unlock."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    key = "email:" + normalise_email(email)
    for item in parse_many(current_app.config["LOGIN_LIMIT_PER_EMAIL"]):
        limiter.limiter.clear(item, *([prefix] if prefix else []), key, GUESS_SCOPE)


def login_page(form, next_page, status=200):
    return render_template("auth/login.html", form=form, next_page=next_page,
                           lock_after=config.LOCK_AFTER_FAILURES), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@guessing_limit(email_key)
@public
def login():
    """Sign in with e-mail and password; one answer for every kind of failure."""
    next_page = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_page or url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user, outcome = staff_auth.authenticate(form.email.data, form.password.data)
        refused = first_sync_views.sign_in_refused(user) if user is not None else None
        if refused is not None:
            return refused            # the first sync runs: only the sync owner signs in
        if user is not None:
            session.clear()
            session.regenerate()
            login_user(user)
            refresh()      # what this request still says is in the account's language
            note_kept_forms(user.id)   # a form they typed before a timeout is filled in again
            audit.record("login", user=user, ip=request.remote_addr)
            return redirect(next_page or url_for("main.home"))
        g.password_guess_failed = True
        # the audit log names the account, if any
        known = User.by_email(normalise_email(form.email.data))
        audit.record("login.failed", user=known, target=normalise_email(form.email.data),
                     detail=outcome, ip=request.remote_addr)
        if outcome == "locked_now":
            audit.record("account.locked", user=known,
                         target=normalise_email(form.email.data), ip=request.remote_addr)
            send_lock_notice(known)
        form.password.data = ""
        flash(_("Wrong e-mail or password."), "error")
    return login_page(form, next_page)


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
        send_reset_link(form.email.data)
        return render_template("auth/forgot_sent.html")
    return render_template("auth/forgot.html", form=form)


def send_reset_link(email):
    """Issue a reset token and queue the e-mail. For an unknown or deactivated address the same
    work is done and then rolled back to a savepoint; the audit entry is committed with it in
    one transaction either way, so both answers take the same time (issue 10, item 21)."""
    user = staff_auth.reset_candidate(email)
    address = user.email if user is not None else normalise_email(email)
    with db.atomic():
        with db.atomic() as work:
            raw = tokens.issue("reset", user=user) if user is not None else unsent_token()
            try:
                # an unknown address's message is never sent: any language does, no query
                language = emails.language_for(user) if user is not None else "en"
                emails.queue("reset", address, language, "reset",
                             link=emails.link(url_for("auth.reset_with_token", token=raw)),
                             minutes=config.RESET_LINK_LIFETIME // timedelta(minutes=1))
            except InvalidAddress:
                if user is not None:
                    raise
            if user is None:
                work.rollback()
        audit.record("password.reset_requested", user=user,
                     detail="" if user is not None else "unknown address",
                     ip=request.remote_addr)


def unsent_token():
    """What `tokens.issue` does, for nobody: the revoking query matches no row (user 0)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    with db.atomic():
        tokens.revoke_open("reset", user=0)
        Token.create(purpose="reset", token_hash=tokens.digest(raw), created_at=now,
                     expires_at=now + tokens.LIFETIMES["reset"])
    return raw


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
    if state == "ok" and (token.created_at < token.user.password_changed_at
                          or not token.user.is_active):   # deactivated: no way back in
        state = "revoked"
    if state != "ok":
        session.pop("reset_token_hash", None)
        return render_template("auth/token_problem.html", state=state, kind="reset"), 410 \
            if state != "unknown" else 404
    user = token.user
    form = ResetForm()
    form.context_email = user.email
    form.context_company = staff_auth.company_name()
    form.context_name = staff_auth.person_name(user)
    if form.validate_on_submit():
        if not tokens.consume(token):
            return render_template("auth/token_problem.html", state="used", kind="reset"), 410
        staff_auth.set_password(user, form.password.data, "password_reset")
        forget_wrong_guesses(user.email)
        session.pop("reset_token_hash", None)
        audit.record("password.reset", user=user, ip=request.remote_addr)
        emails.queue("password_changed", user.email, emails.language_for(user), "notice")
        flash(_("Your password is set. Sign in with your new password."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, email=user.email), \
        400 if form.errors else 200
