"""Administration → Websites (superusers): the firm's websites with their portal settings and
the e-mail texts each sends its customers (SPEC section 7, issue 13 item 1)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from blueprints.common import ask_first
from blueprints.forms import (
    ALREADY_SAVED,
    ActionForm,
    Form,
    database_id,
    email_field,
    form_key_field,
    language_field,
)
from blueprints.support.forms import owner_choices
from kontor import audit, form_keys, languages, versions, website_texts, websites
from kontor.access import superuser_required
from kontor.web import current_company
from models import Website

bp = Blueprint("websites", __name__, url_prefix="/admin/websites")

PROTECTION_LABELS = {"none": _l("None: the whole website is open"),
                     "prices": _l("Prices and ordering only"),
                     "site": _l("The whole website")}
APPROVAL_LABELS = {"automatic": _l("Automatic: new customers are approved at once"),
                   "manual": _l("Manual: new customers wait until staff approve them")}
TEXT_KIND_LABELS = {"registration_received": _l("Registration received"),
                    "approved": _l("Account approved"),
                    "rejected": _l("Account not approved"),
                    "password_reset": _l("Password reset"),
                    "order_confirmation": _l("Order confirmation"),
                    "order_status": _l("Order status changed")}
DUPLICATE_MESSAGES = {"slug": _l("Another website already has this address part."),
                      "host": _l("Another website already has this host name.")}


def placeholder_list(kind):
    return ", ".join("{" + name + "}" for name in website_texts.PLACEHOLDERS[kind])


class WebsiteForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Address part"), validators=[DataRequired()],
                       description=_l("With “shop” here, the portal is at /w/shop/. Small "
                                      "letters, digits and hyphens."))
    host = StringField(_l("Host name (optional)"), validators=[Length(max=253)],
                       description=_l("The website's own host name, such as "
                                      "“shop.example.com”, when the reverse proxy serves the "
                                      "portal there."))
    public_url = StringField(_l("Public address"), validators=[DataRequired(), Length(max=500)],
                             description=_l("The address your customers use, starting with "
                                            "https://. Links in the portal's e-mails are built "
                                            "from it."))
    language = language_field(_l("Default language"))
    protection = RadioField(_l("Password protection"), default="none", choices=[
        SelectChoice(code, label) for code, label in PROTECTION_LABELS.items()])
    self_registration = BooleanField(_l("Customers may create their own account"))
    register_link = BooleanField(_l("Show a “Create user” link in the portal's menu"),
                                 description=_l("Only when customers may create their own "
                                                "account."))
    approval = RadioField(_l("Approval of new users"), default="manual", choices=[
        SelectChoice(code, label) for code, label in APPROVAL_LABELS.items()])
    sender_name = StringField(_l("Sender name"), validators=[Length(max=200)])
    sender_email = email_field(_l("Sender address"), required=False)
    copy_email = email_field(_l("Send a copy of every e-mail to"), required=False)
    privacy_url = StringField(_l("Privacy statement (address)"),
                              validators=[Length(max=500)],
                              description=_l("Customers agree to it when they create a user."))
    customer_cases = BooleanField(_l("Customers may open support cases in the portal"),
                                  description=_l("Only customers whose account is linked to "
                                                 "a contact."))
    case_owner_id = SelectField(_l("Owner of the cases customers open"), coerce=database_id,
                                validate_choice=False,
                                description=_l("Gets an e-mail for each new case. Without an "
                                               "owner, new cases wait in the list of all "
                                               "cases."))
    version = HiddenField()
    submit = SubmitField(_l("Save website"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.case_owner_id.choices = {0: _("— nobody —")} | owner_choices()
        if self.case_owner_id.data is None:
            self.case_owner_id.data = 0

    def validate_slug(self, field):
        if websites.slug_problem(websites.normal_slug(field.data)):
            raise ValidationError(_l("Use small letters a–z, digits and hyphens only, at most "
                                     "50."))

    def validate_host(self, field):
        if websites.host_problem(websites.normal_host(field.data)):
            raise ValidationError(_l("Enter a host name such as “shop.example.com”, without "
                                     "https:// or a path."))

    def validate_public_url(self, field):
        if websites.public_url_problem(websites.normal_url(field.data)):
            raise ValidationError(_l("Enter an address starting with https:// or http://, "
                                     "such as “https://shop.example.com”."))

    def validate_privacy_url(self, field):
        url = websites.normal_url(field.data)
        if url and websites.public_url_problem(url, page=True):
            raise ValidationError(_l("Enter an address starting with https:// or http://, "
                                     "such as “https://shop.example.com”."))

    def validate_register_link(self, field):
        if field.data and not self.self_registration.data:
            raise ValidationError(_l("The link can only be shown when customers may create "
                                     "their own account."))


class NewWebsiteForm(WebsiteForm):
    form_key = form_key_field()


class WebsiteTextForm(Form):
    subject = StringField(_l("Subject"), validators=[
        DataRequired(), Length(max=website_texts.SUBJECT_MAX)])
    body = TextAreaField(_l("Text"), validators=[
        DataRequired(), Length(max=website_texts.BODY_MAX)], render_kw={"rows": 14})
    version = HiddenField()
    form_key = form_key_field()   # a double-click on Save is "saved already", not a conflict
    preview = SubmitField(_l("Preview"))
    submit = SubmitField(_l("Save text"))
    kind = None

    def _check_placeholders(self, field):
        for reason, name in website_texts.problems(field.data, self.kind):
            if reason == "unbalanced":
                raise ValidationError(_("A brace has no partner. Braces are only used around "
                                        "placeholders, such as {customer_name}."))
            raise ValidationError(_("There is no placeholder {%(name)s}. You can use: "
                                    "%(names)s.", name=name, names=placeholder_list(self.kind)))

    def validate_subject(self, field):
        self._check_placeholders(field)

    def validate_body(self, field):
        self._check_placeholders(field)


def get_website(website_id):
    return get_object_or_404(Website, Website.id == website_id)


def form_values(form):
    return {name: getattr(form, name).data for name in websites.FIELDS}


@bp.route("")
@superuser_required
def index():
    """Every website of the firm, active ones first."""
    return render_template("websites/list.html", sites=list(websites.listed()),
                           form=ActionForm())


def save_from_form(website, form):
    """Save the form's website; the page again with the problem beside its field, or a
    redirect to the list."""
    try:
        saved = websites.save(website, form_values(form),
                              versions.opened_version(form.version.data)
                              if website is not None else None,
                              form.form_key.data if website is None else None)
    except websites.Duplicate as duplicate:
        getattr(form, duplicate.reason).errors.append(DUPLICATE_MESSAGES[duplicate.reason])
        return render_template("websites/form.html", form=form, website=website), 400
    except form_keys.AlreadySaved:
        flash(ALREADY_SAVED, "info")
        return redirect(url_for("websites.index"))
    except versions.ChangedMeanwhile as clash:
        form.version.data = clash.current.version   # saving again now overwrites knowingly
        return render_template("websites/form.html", form=form, website=website,
                               conflict=clash.current, fields=websites.FIELDS), 409
    audit.record("website.created" if website is None else "website.updated",
                 user=current_user, target=f"{saved.name} ({saved.slug})",
                 detail=", ".join(getattr(saved, "changed", [])), ip=request.remote_addr)
    flash(_("Website %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("websites.index"))


@bp.route("/new", methods=["GET", "POST"])
@superuser_required
def new():
    """Add a website."""
    form = NewWebsiteForm()
    if request.method == "GET" and not form.language.data:
        company = current_company()
        form.language.data = company.language if company else languages.DEFAULT
    if form.validate_on_submit():
        return save_from_form(None, form)
    return render_template("websites/form.html", form=form, website=None), \
        400 if form.errors else 200


@bp.route("/<int:website_id>/edit", methods=["GET", "POST"])
@superuser_required
def edit(website_id):
    """Change a website's settings."""
    website = get_website(website_id)
    form = WebsiteForm(obj=website)
    if request.method == "GET":
        form.host.data = website.host or ""
    if form.validate_on_submit():
        return save_from_form(website, form)
    return render_template("websites/form.html", form=form, website=website), \
        400 if form.errors else 200


@bp.route("/<int:website_id>/deactivate", methods=["POST"])
@superuser_required
def deactivate(website_id):
    """Take a website's portal offline, after a confirmation."""
    website = get_website(website_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if website.active:
        asked = ask_first(
            _("Deactivate %(name)s?", name=website.name),
            _("Its portal stops answering at once and everyone signed in to it is signed out. "
              "Nothing is deleted: you can reactivate it later."),
            _("Deactivate"), url_for("websites.index"))
        if asked:
            return asked
    if websites.set_active(website, False):
        audit.record("website.deactivated", user=current_user,
                     target=f"{website.name} ({website.slug})", ip=request.remote_addr)
        flash(_("%(name)s is deactivated.", name=website.name), "success")
    else:
        flash(_("%(name)s was already deactivated.", name=website.name), "info")
    return redirect(url_for("websites.index"))


@bp.route("/<int:website_id>/reactivate", methods=["POST"])
@superuser_required
def reactivate(website_id):
    """Bring a deactivated website's portal back."""
    website = get_website(website_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if websites.set_active(website, True):
        audit.record("website.reactivated", user=current_user,
                     target=f"{website.name} ({website.slug})", ip=request.remote_addr)
        flash(_("%(name)s is active again.", name=website.name), "success")
    else:
        flash(_("%(name)s was already active.", name=website.name), "info")
    return redirect(url_for("websites.index"))


# --- the e-mail texts -------------------------------------------------------------------------

def known_text(kind, language):
    if kind not in website_texts.KINDS or language not in languages.CODES:
        abort(404)


@bp.route("/<int:website_id>/texts")
@superuser_required
def texts(website_id):
    """The website's e-mail texts, each kind in each language."""
    website = get_website(website_id)
    return render_template("websites/texts.html", website=website,
                           texts=website_texts.all_texts(website), kinds=TEXT_KIND_LABELS,
                           form=ActionForm())


@bp.route("/<int:website_id>/texts/<kind>/<language>", methods=["GET", "POST"])
@superuser_required
def edit_text(website_id, kind, language):
    """Write one of the website's e-mail texts, with a preview filled in with examples."""
    website = get_website(website_id)
    known_text(kind, language)
    current = website_texts.text_for(website, kind, language)
    form = WebsiteTextForm(obj=current)
    form.kind = kind
    preview, conflict = None, None
    if form.validate_on_submit():
        values = website_texts.sample_values(website, getattr(current_company(), "name", ""))
        if form.preview.data:
            preview = {"subject": website_texts.fill(form.subject.data, values),
                       "body": website_texts.fill(form.body.data, values)}
        else:
            try:
                website_texts.save_text(website, kind, language, form.subject.data,
                                        form.body.data,
                                        versions.opened_version(form.version.data),
                                        form.form_key.data)
            except form_keys.AlreadySaved:
                flash(ALREADY_SAVED, "info")
                return redirect(url_for("websites.texts", website_id=website.id))
            except versions.ChangedMeanwhile as clash:
                conflict = clash.current
                form.version.data = conflict.version if conflict.own else ""
            else:
                audit.record("website.text_changed", user=current_user,
                             target=f"{website.name} ({website.slug})",
                             detail=f"{kind} {language}", ip=request.remote_addr)
                flash(_("The text is saved."), "success")
                return redirect(url_for("websites.texts", website_id=website.id))
    status = 409 if conflict else (400 if form.errors else 200)
    return render_template("websites/text_form.html", website=website, form=form, kind=kind,
                           language=language, kind_label=TEXT_KIND_LABELS[kind],
                           placeholders=placeholder_list(kind), preview=preview,
                           conflict=conflict, own=current.own,
                           reset_form=ActionForm()), status


@bp.route("/<int:website_id>/texts/<kind>/<language>/reset", methods=["POST"])
@superuser_required
def reset_text(website_id, kind, language):
    """Go back to Kontor's text, after a confirmation."""
    website = get_website(website_id)
    known_text(kind, language)
    if not ActionForm().validate_on_submit():
        abort(400)
    asked = ask_first(_("Use Kontor's text again?"),
                      _("The text you wrote for “%(kind)s” (%(language)s) is replaced by the "
                        "text Kontor comes with.", kind=TEXT_KIND_LABELS[kind],
                        language=languages.LANGUAGES[language]),
                      _("Use Kontor's text"),
                      url_for("websites.edit_text", website_id=website.id, kind=kind,
                              language=language))
    if asked:
        return asked
    if website_texts.reset_text(website, kind, language):
        audit.record("website.text_reset", user=current_user,
                     target=f"{website.name} ({website.slug})", detail=f"{kind} {language}",
                     ip=request.remote_addr)
    flash(_("The text is Kontor's own again."), "success")
    return redirect(url_for("websites.texts", website_id=website.id))
