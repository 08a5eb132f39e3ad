"""The portal's forms for inquiries and support cases (issue 14 items 5 and 6). The files are
checked by the staff wizard's UploadField: the same limits and checks as staff cases."""
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from blueprints.forms import Form, database_id, form_key_field
from blueprints.support.forms import FeedbackForm, UploadField, require_offered
from kontor import config, inquiries


class InquiryForm(Form):
    """Send an inquiry: subject and message; its one-time key makes a double click one."""
    subject = StringField(_l("Subject"), validators=[DataRequired(),
                                                     Length(max=inquiries.SUBJECT_MAX)])
    message = TextAreaField(_l("Message"), validators=[DataRequired(),
                                                       Length(max=inquiries.MESSAGE_MAX)],
                            render_kw={"rows": 8})
    form_key = form_key_field()
    submit = SubmitField(_l("Send inquiry"))


class NewCaseForm(Form):
    """The customer's case wizard on one page: category and type (from the superuser's lists;
    required when any are offered), subject, description, files; Send once (one-time key)."""
    category = SelectField(_l("Category"), coerce=database_id, validate_choice=False)
    type = SelectField(_l("Type of request"), coerce=database_id, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[
        DataRequired(), Length(max=config.CASE_MESSAGE_MAX_LENGTH)], render_kw={"rows": 8})
    files = UploadField(_l("Files (optional)"))
    form_key = form_key_field()
    submit = SubmitField(_l("Send"))

    def validate_category(self, field):
        require_offered(field)

    def validate_type(self, field):
        require_offered(field)


class CustomerAddForm(Form):
    """Add information to a case from the portal: text and files."""
    body = TextAreaField(_l("Add information"), validators=[
        DataRequired(), Length(max=config.CASE_MESSAGE_MAX_LENGTH)])
    files = UploadField(_l("Files"))
    form_key = form_key_field()
    submit = SubmitField(_l("Add information"))


__all__ = ["CustomerAddForm", "FeedbackForm", "InquiryForm", "NewCaseForm"]
