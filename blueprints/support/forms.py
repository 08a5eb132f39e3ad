"""The support forms, the owner choices they offer, and turning a form's files into stored
files or messages saying why not."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from blueprints.forms import FILE_TOO_LARGE, Form, database_id, form_key_field
from kontor import config, support, uploads

UPLOAD_PROBLEMS = {
    "type": _l("“%(name)s” is not a file type Kontor accepts (PDF, images, text, RTF, "
               "office documents, ZIP), or its name does not match its content."),
    "empty": _l("“%(name)s” is empty."),
    "too_large": FILE_TOO_LARGE,
}


class UploadField(MultipleFileField):
    """Files checked when the form is validated, one by one (issue 10 item 7): a file Kontor
    does not take (its type, empty, over the per-file limit UPLOAD_MAX_MB) is a message
    beside the field, and the rest of the form keeps what was typed. Only a request over the
    total limit (MAX_CONTENT_LENGTH) is refused as a whole, with the 413 page. The files that
    passed are in `checked` until `store_files` stores them."""
    checked = ()

    def pre_validate(self, form):
        limit_mb = current_app.config["UPLOAD_MAX_MB"]
        max_bytes = int(limit_mb) * 1024 * 1024
        files = [(storage.filename, storage.read(max_bytes + 1)) for storage in self.data or []
                 if getattr(storage, "filename", None)]
        self.checked, refused = uploads.check_all(files, max_bytes)
        self.errors.extend(UPLOAD_PROBLEMS[refusal.reason] % {"name": refusal.name,
                                                               "mb": limit_mb}
                           for refusal in refused)


class DetailsForm(Form):
    category = SelectField(_l("Category"), coerce=database_id, validate_choice=False)
    type = SelectField(_l("Type of request"), coerce=database_id, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[DataRequired(),
                                                               Length(max=config.CASE_MESSAGE_MAX_LENGTH)])
    owner = SelectField(_l("Owner"), coerce=database_id, validate_choice=False,
                        description=_l("The case appears in the case list of its owner."))
    needs_files = BooleanField(_l("I need to upload documents"))
    back = SubmitField(_l("Back"))
    submit = SubmitField(_l("Next"))

    def validate_category(self, field):
        require_offered(field)

    def validate_type(self, field):
        require_offered(field)


def require_offered(field):
    """Category and type are required: one of those offered (active), when there are any."""
    offered = [key for key in field.choices if key]
    if offered and field.data not in offered:
        raise ValidationError(field.gettext("This field is required."))


class FilesForm(Form):
    files = UploadField(_l("Add files"))
    upload = SubmitField(_l("Upload"))
    clear = SubmitField(_l("Clear list"))
    remove = HiddenField()
    back = SubmitField(_l("Back"))
    submit = SubmitField(_l("Next"))


class SummaryForm(Form):
    include_tech = BooleanField(_l("Include technical information below"), default=True)
    form_key = form_key_field()
    back = SubmitField(_l("Back"))
    submit = SubmitField(_l("Send"))


class AddInformationForm(Form):
    body = TextAreaField(_l("Add information"), validators=[DataRequired(),
                                                            Length(max=config.CASE_MESSAGE_MAX_LENGTH)])
    files = UploadField(_l("Files"))
    form_key = form_key_field()
    submit = SubmitField(_l("Add information"))


class FeedbackForm(Form):
    feedback = TextAreaField(_l("What is still missing?"),
                             validators=[DataRequired(_l("Tell us what is still missing, so "
                                                         "we can help.")),
                                         Length(max=config.CASE_MESSAGE_MAX_LENGTH)])
    submit = SubmitField(_l("No, reopen the case"))


class OwnerForm(Form):
    owner = SelectField(_l("Owner"), coerce=database_id, validate_choice=False)
    submit = SubmitField(_l("Change owner"))


class ListItemForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")),
                                               Length(max=100)])
    form_key = form_key_field()
    submit = SubmitField(_l("Add"))


class RenameForm(Form):
    """A new name for a category or type (one form per item, its prefix "<kind>-<id>")."""
    name = StringField(_l("New name"), validators=[DataRequired(_l("Enter a name.")),
                                                   Length(max=100)])
    submit = SubmitField(_l("Rename"))


class CaseVisibilityForm(Form):
    """The company setting "Staff see all support cases" (issue 11 item 19)."""
    visibility = RadioField(_l("Who sees which support cases"), choices=[
        SelectChoice("all", _l("Every staff member sees all support cases")),
        SelectChoice("own", _l("Own cases only: staff see the cases they asked for or own; "
                               "administrators see all"))], validators=[DataRequired()])
    submit = SubmitField(_l("Save"))


def owner_choices():
    """The owner drop-down's choices: every active account, {id: "Name <e-mail>"}."""
    return {u.id: f"{u.display_name} <{u.email}>" for u in support.staff_owners()}


def upload_folder():
    """This app's upload folder (inside its data folder)."""
    return uploads.folder(current_app.config["DATA_DIR"])


def store_files(field):
    """Store the files an UploadField passed in validation (all of them, or none when the
    folder cannot be written: OSError); returns their StoredFiles."""
    return uploads.store_all(upload_folder(), field.checked)
