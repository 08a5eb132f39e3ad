"""First run: the one-time setup page (SPEC section 2). 404 for anyone without the token."""
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import login_user
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from blueprints.forms import CompanyForm, NewPasswordForm, email_field, language_field
from kontor import audit, languages, tokens
from kontor import company as company_rules
from kontor.access import public

bp = Blueprint("setup", __name__, url_prefix="/setup")


class SetupForm(CompanyForm, NewPasswordForm):
    language = language_field(_l("Default language"))
    admin_name = StringField(_l("Your full name"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "name"})
    admin_email = email_field(_l("Your e-mail (your login name)"))
    submit = SubmitField(_l("Create company and sign in"))


def valid_setup_token():
    if not company_rules.needs_setup():
        return None
    token, state = tokens.check_digest("setup", session.get("setup_token_hash"))
    return token if state == "ok" else None


@bp.route("/<token>")
@public
def with_token(token):
    """Move the token from the URL into the session."""
    if not company_rules.needs_setup():
        abort(404)
    session["setup_token_hash"] = tokens.digest(token)   # sessions are rows: keep no raw token
    return redirect(url_for("setup.start"))


@bp.route("", methods=["GET", "POST"])
@public
def start():
    """Company details and the first superuser; signs them in."""
    token = valid_setup_token()
    if token is None:
        abort(404)
    form = SetupForm()
    if request.method == "GET":
        form.language.data = languages.best_match(request.accept_languages) or languages.DEFAULT
    form.context_email = form.admin_email.data or ""
    form.context_company = form.name.data or ""
    form.context_name = form.admin_name.data or ""
    if form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in company_rules.COMPANY_FIELDS
                  if hasattr(form, name)}
        try:
            user = company_rules.perform_setup(fields, form.admin_name.data,
                                               form.admin_email.data, form.password.data)
        except company_rules.SetupAlreadyDone:
            abort(404)
        tokens.consume(token)
        session.clear()
        session.regenerate()
        login_user(user)
        refresh()      # the welcome below speaks the language just chosen
        audit.record("setup.done", user=user, target=fields["name"], ip=request.remote_addr)
        flash(_("Welcome to Kontor. Your company is set up and you are signed in."), "success")
        return redirect(url_for("admin.company"))
    return render_template("setup/setup.html", form=form), 400 if form.errors else 200
