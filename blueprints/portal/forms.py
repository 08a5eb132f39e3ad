"""The portal's forms: create user, forgot password, new password, change password, the
customer's details, and the buttons (sign out, confirm the address, close the account)."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from blueprints.forms import (
    PASSWORD_MESSAGES,
    Form,
    NewPasswordForm,
    email_field,
    form_key_field,
)
from kontor import passwords
from kontor.countries import country_choices
from kontor.web_accounts import DETAIL_FIELDS


def details_fields(cls):
    """Add the customer's details (kontor.web_accounts.DETAIL_FIELDS) to a form class."""
    cls.company_name = StringField(_l("Company name"), validators=[DataRequired(),
                                                                   Length(max=200)],
                                   render_kw={"autocomplete": "organization"})
    cls.org_number = StringField(_l("Organisation number"),
                                 validators=[Optional(), Length(max=30)])
    cls.contact_person = StringField(_l("Contact person"), validators=[DataRequired(),
                                                                       Length(max=200)],
                                     render_kw={"autocomplete": "name"})
    cls.phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)],
                            render_kw={"autocomplete": "tel"})
    cls.street = StringField(_l("Street and number"), validators=[Optional(), Length(max=200)],
                             render_kw={"autocomplete": "street-address"})
    cls.postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=20)],
                               render_kw={"autocomplete": "postal-code"})
    cls.city = StringField(_l("City"), validators=[Optional(), Length(max=100)],
                           render_kw={"autocomplete": "address-level2"})
    cls.country = SelectField(_l("Country"), validators=[Optional()],
                              render_kw={"autocomplete": "country"})
    return cls


class DetailsFormBase(Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()

    def details(self):
        return {name: getattr(self, name).data or "" for name in DETAIL_FIELDS}


@details_fields
class DetailsForm(DetailsFormBase):
    """The signed-in customer's details; its one-time key makes a double click one update."""
    form_key = form_key_field()
    submit = SubmitField(_l("Send my changes"))


@details_fields
class RegisterForm(DetailsFormBase):
    """Create user: e-mail (the user name), password twice, details, consent; a one-time key
    (a double click registers once)."""
    form_key = form_key_field()
    email = email_field(_l("E-mail (your user name)"))
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             description=_l("12 to 128 characters. A few unrelated words make "
                                            "a good password."),
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "new-password"})
    consent = BooleanField(_l("I agree to the privacy statement"), validators=[
        DataRequired(message=_l("Please agree to the privacy statement to create a user."))])
    submit = SubmitField(_l("Create user"))

    def validate_password(self, field):
        problem = passwords.password_problem(field.data or "", self.email.data or "",
                                             self.company_name.data or "",
                                             self.contact_person.data or "")
        if problem:
            raise ValidationError(PASSWORD_MESSAGES[problem])

    def validate_confirm(self, field):
        if field.data != self.password.data:
            raise ValidationError(_l("The two passwords are not the same."))


class ForgotForm(Form):
    email = email_field(_l("E-mail"))
    submit = SubmitField(_l("Send reset link"))


class ResetForm(NewPasswordForm):
    submit = SubmitField(_l("Set new password"))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Change password"))


class ButtonForm(Form):
    """A CSRF token and a button."""
    submit = SubmitField(_l("Confirm"))
