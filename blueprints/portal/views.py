"""The portal's views (SPEC section 7, issue 13 item 2): home, create user and the address
confirmation, sign in and out, forgot password and the reset link, and the signed-in
customer's account: change password, their details, close the account. The language switch.
The rules are in kontor/web_accounts.py; these views parse, call and answer."""
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale, refresh
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from limits import parse_many

from blueprints.common import safe_next
from blueprints.forms import ALREADY_SAVED, LoginForm
from blueprints.portal.forms import (
    ButtonForm,
    ChangePasswordForm,
    DetailsForm,
    ForgotForm,
    RegisterForm,
    ResetForm,
)
from blueprints.portal.website import current_website
from kontor import audit, form_keys, languages, portal_mail, tokens, web_accounts
from kontor.access import portal_sign_in_required, public, signed_in_customer
from kontor.countries import country_name
from kontor.extensions import portal_limiter
from kontor.mail import normalise_email

bp = Blueprint("portal", __name__)

# the pages open to everyone also under "whole site" protection (issue 13 item 2)
OPEN_UNDER_PROTECTION = {"portal.login", "portal.logout", "portal.register",
                         "portal.confirm_with_token", "portal.confirm", "portal.forgot",
                         "portal.reset_with_token", "portal.reset", "portal.set_language"}


@bp.before_request
def find_the_website():
    """Every portal page belongs to a website; a request for none is not found. Under
    "whole site" protection, every page but signing in, creating a user and forgotten
    passwords needs a signed-in customer."""
    website = current_website()
    if website is None:
        abort(404)
    if website.protection == "site" and request.endpoint not in OPEN_UNDER_PROTECTION \
            and not signed_in_customer():
        return current_app.login_manager.unauthorized()
    return None


def limit(config_key):
    return lambda: current_app.config[config_key]


def email_key():
    """Rate-limit key: this website and the normalised e-mail posted ("A@x" = "a@x")."""
    return f"portal:{request.script_root}:" + normalise_email(request.form.get("email", ""))


def account_key():
    """Rate-limit key of the signed-in customer: the one their sign-in uses."""
    email = current_user.email if current_user.is_authenticated else ""
    return f"portal:{request.script_root}:{email}"


def guess_failed(_response):
    return g.get("password_guess_failed", False)


def forget_wrong_guesses(email):
    """Start the per-address count of wrong passwords on this website again, once a reset
    opened the account: the next right sign-in must not get a 429 for earlier guesses (as for
    staff, blueprints/auth.py)."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    key = f"portal:{request.script_root}:" + normalise_email(email)
    for item in parse_many(current_app.config["LOGIN_LIMIT_PER_EMAIL"]):
        portal_limiter.limiter.clear(item, *([prefix] if prefix else []), key, GUESS_SCOPE)


GUESS_SCOPE = "portal-guesses"


def guessing_limit(key_func):
    """Wrong passwords against one account (sign-in, change password) share one counter."""
    return portal_limiter.shared_limit(limit("LOGIN_LIMIT_PER_EMAIL"), scope=GUESS_SCOPE,
                                       methods=["POST"], key_func=key_func,
                                       deduct_when=guess_failed)


def page_language():
    """The language of the page being answered ("en", "nl", "nb", "de")."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in languages.CODES \
        else languages.DEFAULT


@bp.route("/")
@public
def home():
    """The website's portal home page."""
    return render_template("portal/home.html")


STATUS_MESSAGES = {
    "pending": lambda: _("Your account is waiting for approval. You will get an e-mail as "
                         "soon as you can sign in."),
    "rejected": lambda: _("Your account was not approved, so you cannot sign in. Reply to our "
                          "e-mail if you have questions."),
    "unconfirmed": lambda: _("Please confirm your e-mail address first: open the link in the "
                             "e-mail we sent you."),
}


@bp.route("/login", methods=["GET", "POST"])
@portal_limiter.limit(limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@guessing_limit(email_key)
@public
def login():
    """Sign in to this website's portal; one answer for every failure but the status of an
    account whose right password was given (pending, rejected, unconfirmed)."""
    website = current_website()
    next_page = safe_next(request.args.get("next"))
    if next_page and not next_page.startswith(request.script_root + "/"):
        next_page = None
    if signed_in_customer():
        return redirect(next_page or url_for("portal.account"))
    form = LoginForm()
    if form.validate_on_submit():
        account, outcome = web_accounts.authenticate(website, form.email.data,
                                                     form.password.data)
        if account is not None:
            session.clear()
            session.regenerate()
            login_user(account)
            audit.record("portal.login", target=f"{website.slug}: {account.email}",
                         ip=request.remote_addr)
            return redirect(next_page or url_for("portal.account"))
        form.password.data = ""
        if outcome in STATUS_MESSAGES:
            flash(STATUS_MESSAGES[outcome](), "warning")
        else:
            g.password_guess_failed = True
            audit.record("portal.login_failed",
                         target=f"{website.slug}: {normalise_email(form.email.data)}",
                         detail=outcome, ip=request.remote_addr)
            if outcome == "locked_now":
                web_accounts.send_lock_notice(website, form.email.data)
            flash(_("Wrong e-mail or password."), "error")
    return render_template("portal/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Sign out: the session row ends, the old cookie is worthless."""
    if current_user.is_authenticated:
        logout_user()
    session.clear()
    session.regenerate()
    flash(_("You are signed out."), "info")
    return redirect(url_for("portal.login"))


@bp.route("/register", methods=["GET", "POST"])
@portal_limiter.limit(limit("REGISTER_LIMIT_PER_IP"), methods=["POST"])
@portal_limiter.limit(limit("REGISTER_LIMIT_PER_EMAIL"), methods=["POST"], key_func=email_key)
@public
def register():
    """Create user, when the website lets customers register. The answer is the same whether
    or not the address has an account here (the mail tells its owner which)."""
    website = current_website()
    if not website.self_registration:
        abort(404)
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            form_keys.claim(form.form_key.data)
        except form_keys.AlreadySaved:   # a double click or Back and send again: once
            return redirect(url_for("portal.registered"))
        web_accounts.register(website, form.email.data, form.password.data, form.details(),
                              page_language())
        return redirect(url_for("portal.registered"))   # a reload sends nothing again
    form.password.data = form.confirm.data = ""
    return render_template("portal/register.html", form=form), 400 if form.errors else 200


@bp.route("/register/sent")
@public
def registered():
    """After Create user: look in your e-mail (the same page whether or not the address had
    an account here)."""
    if not current_website().self_registration:
        abort(404)
    return render_template("portal/check_email.html", purpose="register")


@bp.route("/confirm/<token>")
@public
def confirm_with_token(token):
    """Take the token out of the address at once: keep its hash in the session."""
    session["portal_confirm_hash"] = tokens.digest(token)
    return redirect(url_for("portal.confirm"))


@bp.route("/confirm", methods=["GET", "POST"])
@public
def confirm():
    """Confirm the address with a button (a GET changes nothing); then say what comes next."""
    token_hash = session.get("portal_confirm_hash")
    form = ButtonForm()
    if request.method == "POST" and form.validate_on_submit():
        account, state = web_accounts.confirm(current_website(), token_hash,
                                              ip=request.remote_addr or "")
        session.pop("portal_confirm_hash", None)
        if account is None:
            return render_template("portal/token_problem.html", state=state), 410
        return render_template("portal/confirmed.html", account=account)
    _token, state = tokens.check_digest("portal_confirm", token_hash)
    if state != "ok":
        return render_template("portal/token_problem.html", state=state), \
            404 if state == "unknown" else 410
    return render_template("portal/confirm.html", form=form)


@bp.route("/forgot", methods=["GET", "POST"])
@portal_limiter.limit(limit("RESET_LIMIT_PER_IP"), methods=["POST"])
@portal_limiter.limit(limit("RESET_LIMIT_PER_EMAIL"), methods=["POST"], key_func=email_key)
@public
def forgot():
    """Send a reset link if the address has an account here; the same answer either way."""
    form = ForgotForm()
    if form.validate_on_submit():
        web_accounts.send_reset_link(current_website(), form.email.data)
        return render_template("portal/check_email.html", purpose="reset")
    return render_template("portal/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/reset/<token>")
@public
def reset_with_token(token):
    """Take the token out of the address at once: keep its hash in the session."""
    session["portal_reset_hash"] = tokens.digest(token)
    return redirect(url_for("portal.reset"))


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset():
    """Choose a new password with a reset link (or the link of access staff created)."""
    website = current_website()
    account, token, state = web_accounts.password_link(website, session.get("portal_reset_hash"))
    if state != "ok":
        session.pop("portal_reset_hash", None)
        return render_template("portal/token_problem.html", state=state, kind="reset"), \
            404 if state == "unknown" else 410
    form = ResetForm()
    form.context_email = account.email
    form.context_company = web_accounts.details_of(account)["company_name"]
    form.context_name = account.name
    if form.validate_on_submit():
        if not web_accounts.use_password_link(account, token, form.password.data):
            return render_template("portal/token_problem.html", state="used", kind="reset"), 410
        session.pop("portal_reset_hash", None)
        forget_wrong_guesses(account.email)
        audit.record("portal.password_reset", target=f"{website.slug}: {account.email}",
                     ip=request.remote_addr)
        portal_mail.send_notice(website, account.email,
                                portal_mail.language_of(website, account), "password_changed",
                                link=portal_mail.link(website, "/forgot"))
        flash(_("Your password is set. Sign in with your new password."), "success")
        return redirect(url_for("portal.login"))
    return render_template("portal/reset.html", form=form, email=account.email), \
        400 if form.errors else 200


@bp.route("/account")
@portal_sign_in_required
def account():
    """The signed-in customer's account: their details, password, signing out, closing."""
    details = web_accounts.details_of(current_user)
    return render_template("portal/account.html", details=details,
                           country=country_name(details["country"]) if details["country"]
                           else "")


@bp.route("/account/password", methods=["GET", "POST"])
@portal_limiter.limit(limit("LOGIN_LIMIT_PER_IP"), methods=["POST"])
@guessing_limit(account_key)
@portal_sign_in_required
def change_password():
    """Change the password (needs the current one); ends the customer's other sessions."""
    website = current_website()
    account_row = current_user._get_current_object()
    form = ChangePasswordForm()
    form.context_email = account_row.email
    form.context_company = web_accounts.details_of(account_row)["company_name"]
    form.context_name = account_row.name
    if request.method == "POST":
        valid = form.validate_on_submit()
        if form.current.data and not form.current.errors:
            outcome = web_accounts.check_current_password(account_row, form.current.data)
            if outcome != "ok":
                g.password_guess_failed = True
                if outcome != "wrong":
                    logout_user()
                    session.clear()
                    session.regenerate()
                    flash(_("Your account is locked after too many wrong passwords. "
                            "\"Forgot password\" opens it again."), "error")
                    return redirect(url_for("portal.login"))
                form.current.errors.append(_("The current password is not right."))
            elif valid:
                web_accounts.set_password(account_row, form.password.data, "password_changed",
                                          keep_session_id=session.row_id)
                portal_mail.send_notice(website, account_row.email,
                                        portal_mail.language_of(website, account_row),
                                        "password_changed",
                                        link=portal_mail.link(website, "/forgot"))
                flash(_("Your password is changed. Your other sessions were signed out."),
                      "success")
                return redirect(url_for("portal.account"))
        form.current.data = form.password.data = form.confirm.data = ""
    return render_template("portal/password.html", form=form), 400 if form.errors else 200


@bp.route("/account/details", methods=["GET", "POST"])
@portal_sign_in_required
def details():
    """The customer's details: a change is sent to the firm as an account update."""
    form = DetailsForm(data=web_accounts.details_of(current_user)
                       if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            web_accounts.update_details(current_user, form.details(),
                                        form_key=form.form_key.data)
        except form_keys.AlreadySaved:
            flash(ALREADY_SAVED, "info")
        else:
            flash(_("Thank you: your changes were sent to us."), "success")
        return redirect(url_for("portal.account"))
    return render_template("portal/details.html", form=form), 400 if form.errors else 200


@bp.route("/account/close", methods=["GET", "POST"])
@portal_sign_in_required
def close():
    """Close the account, after asking: signed out everywhere, no more sign-in."""
    form = ButtonForm()
    if form.validate_on_submit():
        web_accounts.close(current_user._get_current_object())
        logout_user()
        session.clear()
        session.regenerate()
        flash(_("Your account is closed."), "info")
        return redirect(url_for("portal.home"))
    return render_template("portal/close.html", form=form)


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the portal's language (and the signed-in customer's e-mail language); back to
    the page the switch was on."""
    choice = request.form.get("language", "")
    if choice in languages.LANGUAGES:
        session["lang"] = choice
        if signed_in_customer():
            web_accounts.set_language(current_user, choice)
            current_user.language = choice
        refresh()
    back = safe_next(request.form.get("next"))   # a path of this portal, after its root
    return redirect(request.script_root + back if back else url_for("portal.home"))
