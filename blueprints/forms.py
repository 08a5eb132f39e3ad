"""Forms and form pieces shared by several blueprints."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from kontor import config, form_keys, languages, passwords
from kontor.countries import country_choices
from kontor.text import one_line, whole_number

PASSWORD_MESSAGES = {
    "too_short": _l("Use at least %(n)s characters.", n=passwords.MIN_LENGTH),
    "too_long": _l("Use at most %(n)s characters.", n=passwords.MAX_LENGTH),
    "common": _l("This password is one of the most common ones; choose another."),
    "context": _l("Without your name, your e-mail address, the company name and the word "
                  "“Kontor”, fewer than %(n)s characters are left. Add words of your own.",
                  n=passwords.MIN_OWN_LENGTH),
    "context_company": _l("Without the company name, fewer than %(n)s characters are left. "
                          "Add words of your own.", n=passwords.MIN_OWN_LENGTH),
    "context_name": _l("Without your name, fewer than %(n)s characters are left. "
                       "Add words of your own.", n=passwords.MIN_OWN_LENGTH),
    "context_email": _l("Without your e-mail address, fewer than %(n)s characters are left. "
                        "Add words of your own.", n=passwords.MIN_OWN_LENGTH),
    "context_kontor": _l("Without the word “Kontor”, fewer than %(n)s characters are left. "
                         "Add words of your own.", n=passwords.MIN_OWN_LENGTH),
    "sequence": _l("It is a run or a repeat of characters, like “123456” or “aaaa”; "
                   "choose something less predictable."),
    "keyboard": _l("It follows a row of keys on the keyboard, like “qwerty”; "
                   "choose something less predictable."),
    "date": _l("It leans on a year or a date, which are easy to guess; add words of your own."),
    "names": _l("It leans on a common first name or surname; add a few unrelated words."),
    "words": _l("It leans on one common word; add a few unrelated words."),
    "guessable": _l("This password is easy to guess; add a few unrelated words."),
}

PASSWORD_HINT = _l("12 to 128 characters. A few unrelated words make a good password.")

# why an employee cannot be invited (kontor.invitations.NotInvitable.reason)
NOT_INVITABLE = {
    "unknown": _l("Choose an employee from the list."),
    "inactive": _l("This employee is no longer active."),
    "no_email": _l("This employee has no e-mail address in the register."),
    "has_account": _l("This employee already has an account."),
    "already_invited": _l("This employee has just been invited by someone else."),
}


def _is_single_line(field_class):
    return issubclass(field_class, StringField) \
        and not issubclass(field_class, (TextAreaField, PasswordField))



class Form(FlaskForm):
    """The base of every Kontor form. Each single-line text field (a StringField, but not a
    text area or a password) gets the one_line filter: a line break pasted into a name or a
    subject becomes a space, so it cannot cut an e-mail subject or a vCard line short."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            if _is_single_line(unbound_field.field_class):
                filters = unbound_field.kwargs.get("filters", ())
                options = {**options, "filters": (*filters, one_line)}
            return super().bind_field(form, unbound_field, options)


def database_id(value):
    """The `coerce` of a SelectField of ids: what cannot be a row's id ("²", a number past a
    database integer) is refused as a choice (a form error), never sent to the database."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    number = whole_number(value) if isinstance(value, str) else None
    if number is None:
        raise ValueError("not an id")
    return number


ALREADY_SAVED = _l("This was saved already; it has not been saved a second time.")
FORM_KEY_MISSING = _l("This was not saved: the form came without its one-time key (a page "
                      "from before an update, or sent twice). Check that it is not there "
                      "already, then send it again.")


class KeyInput(HiddenInput):
    """The hidden input of a form key, and its error beside it: the key is hidden, so its
    problem is shown where `form.hidden_tag()` puts the key, at the top of the form."""

    def __call__(self, field, **kwargs):
        markup = super().__call__(field, **kwargs)
        if field.errors:
            markup += Markup('<p class="error" role="alert" id="%s-error">%s</p>') % (
                field.id, " ".join(str(error) for error in field.errors))
        return markup


def key_present(form, field):
    """A form with a one-time key refuses a post without one (issue 10 item 2): such a post
    is not guarded against being stored twice. The form comes back with a fresh key, so
    sending it again works, and with everything typed. (A key left out of the post would
    otherwise be the field's default: a fresh key, which guards nothing.)"""
    posted = field.raw_data[0] if field.raw_data else None
    if form_keys.usable(posted) is None:
        field.data = form_keys.new_key()
        raise ValidationError(FORM_KEY_MISSING)


def form_key_field():
    """The one-time key of a form that appends something (kontor/form_keys.py): a new one each
    time the form is shown, the posted one when it comes back with errors; a post without a
    key is refused with FORM_KEY_MISSING. Only forms that claim their key carry one (an edit
    form is guarded by its version instead)."""
    return HiddenField(default=form_keys.new_key, validators=[key_present], widget=KeyInput())


class ActionForm(Form):


    """A CSRF token and a button: every state-changing link is one of these."""
    submit = SubmitField(_l("Confirm"))


def email_field(label, required=True):
    validators = [DataRequired(), Email(message=_l("Enter a valid e-mail address."))] \
        if required else [Optional(), Email(message=_l("Enter a valid e-mail address."))]
    return EmailField(label, validators=validators + [Length(max=254)],
                      render_kw={"autocomplete": "email"})


class LoginForm(Form):
    """E-mail and password: the staff sign-in and each website's portal sign-in."""
    email = email_field(_l("E-mail"))
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class NewPasswordForm(Form):
    """New password twice, checked against the rules. Set `context_email`, `context_company`
    and `context_name` (the person's name) before validating so the context-word rule can
    apply."""
    password = PasswordField(_l("New password"), validators=[DataRequired()],
                             description=PASSWORD_HINT,
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"})
    context_email = ""
    context_company = ""
    context_name = ""

    def validate_password(self, field):
        problem = passwords.password_problem(field.data or "", self.context_email,
                                             self.context_company, self.context_name)
        if problem:
            raise ValidationError(PASSWORD_MESSAGES[problem])


def language_field(label=None):
    return SelectField(label or _l("Language"), choices=languages.LANGUAGES)


class CompanyForm(Form):
    """The company details: the setup page and the company settings share these fields."""
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "organization"})
    street = StringField(_l("Street and number"), validators=[Length(max=200)],
                         render_kw={"autocomplete": "street-address"})
    postcode = StringField(_l("Postcode"), validators=[Length(max=20)],
                           render_kw={"autocomplete": "postal-code"})
    city = StringField(_l("City"), validators=[Length(max=100)],
                       render_kw={"autocomplete": "address-level2"})
    country = SelectField(_l("Country"), choices=country_choices)
    phone = StringField(_l("Phone"), validators=[Length(max=50)],
                        render_kw={"autocomplete": "tel"})
    email = email_field(_l("Company e-mail"), required=False)
    vat_number = StringField(_l("VAT number"), validators=[Length(max=30)])
    org_number = StringField(_l("Organisation number"), validators=[Length(max=30)])


class NoteForm(Form):
    """One entry for a contact's or a contact person's note (the contact pages show it, the
    notes blueprint takes it)."""
    text = TextAreaField(_l("Text"), validators=[DataRequired(_l("Write some text first.")),
                                                 Length(max=config.NOTE_ENTRY_MAX_LENGTH)])
    form_key = form_key_field()
    submit = SubmitField(_l("Save text"))


__all__ = ["Form", "database_id", "ActionForm", "NewPasswordForm", "NoteForm", "PasswordField",
           "StringField", "SubmitField", "CompanyForm", "email_field", "language_field",
           "NOT_INVITABLE", "ALREADY_SAVED", "FORM_KEY_MISSING", "form_key_field"]
