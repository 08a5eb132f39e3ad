"""The contact register: list and search, view mode and edit mode, contact persons,
CSV import and export, vCard. Open to every signed-in user."""
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from blueprints.common import get_contact, get_person
from blueprints.filters import per_request
from blueprints.forms import (
    ALREADY_SAVED,
    FILE_TOO_LARGE,
    ActionForm,
    Form,
    LocalDecimalField,
    NoteForm,
    country_field,
    email_field,
    form_key_field,
)
from kontor import (
    audit,
    config,
    contact_import,
    contact_io,
    contacts,
    form_keys,
    notes,
    paging,
    versions,
    web_accounts,
)
from kontor.contacts.register import has_at_most_two_decimals
from kontor.countries import country_name
from kontor.storage import DataFolder, write_private
from kontor.text import is_web_address, whole_number
from kontor.web import attachment
from models import Contact, ContactImport, ContactPerson

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

SORT_LABELS = {"name": _l("Name"), "number": _l("Customer number"), "city": _l("City")}
WEBSITE_MESSAGE = _l("Enter a website address such as www.example.nl or https://example.nl.")


class ContactForm(Form):
    kind = RadioField(_l("Type"), choices=[SelectChoice("company", _l("Company")),
                               SelectChoice("person", _l("Person"))],
                      default="company")
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    org_number = StringField(_l("Organisation number"), validators=[Length(max=30)])
    vat_number = StringField(_l("VAT number"), validators=[Length(max=30)])
    email = email_field(_l("E-mail"), required=False)
    phone = StringField(_l("Phone"), validators=[Length(max=50)],
                        render_kw={"autocomplete": "off", "type": "tel"})
    mobile = StringField(_l("Mobile"), validators=[Length(max=50)], render_kw={"type": "tel"})
    fax = StringField(_l("Fax"), validators=[Length(max=50)], render_kw={"type": "tel"})
    website = StringField(_l("Website"), validators=[Length(max=200)])
    street = StringField(_l("Street and number"), validators=[Length(max=200)])
    postcode = StringField(_l("Postcode"), validators=[Length(max=20)])
    city = StringField(_l("City"), validators=[Length(max=100)])
    country = country_field(_l("Country"), validate_choice=False)
    visit_street = StringField(_l("Street and number"), validators=[Length(max=200)])
    visit_postcode = StringField(_l("Postcode"), validators=[Length(max=20)])
    visit_city = StringField(_l("City"), validators=[Length(max=100)])
    visit_country = country_field(_l("Country"), validate_choice=False)
    discount = LocalDecimalField(_l("Customer discount (%)"), places=2, default=0,
                            validators=[Optional(), NumberRange(
                                min=0, max=100, message=_l("Enter a discount from 0 to 100."))])
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()
    confirm_duplicate = HiddenField(default="")
    submit = SubmitField(_l("Save"))

    def validate_website(self, field):
        if not is_web_address(field.data):
            raise ValidationError(WEBSITE_MESSAGE)

    def validate_discount(self, field):
        """At most two decimals: the register keeps cents of a percent, and rounding what was
        typed without a word is a silent change (issue 11 item 19)."""
        if field.data is not None and field.data.is_finite() and \
                not has_at_most_two_decimals(field.data):
            raise ValidationError(_("Use at most two decimals, for example 12.25."))

    def values(self):
        values = {name: getattr(self, name).data for name in contacts.FIELDS}
        values["discount"] = values["discount"] or 0
        values["email"] = values["email"] or ""
        return values


class PersonForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    title = StringField(_l("Title"), validators=[Length(max=100)])
    email = email_field(_l("E-mail"), required=False)
    phone = StringField(_l("Phone"), validators=[Length(max=50)], render_kw={"type": "tel"})
    mobile = StringField(_l("Mobile"), validators=[Length(max=50)], render_kw={"type": "tel"})
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()
    submit = SubmitField(_l("Save contact person"))


class NewContactForm(ContactForm):
    form_key = form_key_field()      # "Save" clicked twice on a new contact: one contact


class NewPersonForm(PersonForm):
    form_key = form_key_field()


# what becomes of lines like contacts in the register (contact_io.EXISTING; issue 11 item 10)
EXISTING_CHOICES = [
    SelectChoice("new", _l("Create them as new contacts (a customer number that is taken is an "
                           "error)")),
    SelectChoice("skip", _l("Skip them")),
    SelectChoice("update", _l("Update the contact with the same customer number"))]


class ExistingForm(Form):
    """In the preview: choose again what becomes of lines like contacts you have, without
    uploading the file again."""
    choice = RadioField(_l("Lines like contacts you already have"),
                        choices=lambda: EXISTING_CHOICES)
    submit = SubmitField(_l("Show the preview again"))


class ImportForm(Form):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    existing = RadioField(_l("Lines like contacts you already have"), default="new",
                          choices=lambda: EXISTING_CHOICES)
    submit = SubmitField(_l("Show preview"))

    def validate_file(self, field):
        """A file over config.CSV_IMPORT_MAX_BYTES is an error beside the field (issue 10
        item 7); `field.raw` holds the bytes of one that is not."""
        field.raw = field.data.read(config.CSV_IMPORT_MAX_BYTES + 1)
        if len(field.raw) > config.CSV_IMPORT_MAX_BYTES:
            raise ValidationError(FILE_TOO_LARGE % {
                "name": field.data.filename,
                "mb": config.CSV_IMPORT_MAX_BYTES // (1024 * 1024)})


def page_number():
    number = whole_number(request.args.get("page"), maximum=paging.MAX_PAGE)
    return number or 1


@bp.route("")
def index():
    """All contacts, searchable over name, number, organisation number, e-mail, phone, city."""
    text = request.args.get("q", "")[:200]
    sort = request.args.get("sort", "name")
    if sort not in contacts.SORTS:
        sort = "name"
    include_inactive = request.args.get("inactive") == "1"
    cursor = {key: whole_number(request.args[key]) for key in ("after", "before")
              if whole_number(request.args.get(key)) is not None}
    at = [value[:200] for value in request.args.getlist("at")[:3]] or None
    result = contacts.search(text, sort, page_number(), include_inactive=include_inactive,
                             at=at, **cursor)
    return render_template("contacts/list.html", result=result, q=text, sort=sort,
                           sort_labels=SORT_LABELS, include_inactive=include_inactive)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Create a contact; warns about likely duplicates first."""
    form = NewContactForm()
    duplicates = []
    if form.validate_on_submit():
        if form_keys.used(form.form_key.data):
            # sent again (a second click, a reload): the contact it made would look like a
            # duplicate of itself, and "create anyway" would ask again and again
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("contacts.index"))
        values = form.values()
        duplicates = contacts.likely_duplicates(values)
        if not duplicates or form.confirm_duplicate.data == "1":
            try:
                contact = contacts.create(values, user=current_user.id,
                                          form_key=form.form_key.data)
            except form_keys.AlreadySaved:
                flash(ALREADY_SAVED, "info")
                return redirect(url_for("contacts.index"))
            audit.record("contact.created", user=current_user, target=contact.customer_number)
            flash(_("Contact %(name)s created with customer number %(number)s.",
                    name=contact.name, number=contact.customer_number), "success")
            return redirect(url_for("contacts.show", contact_id=contact.id))
        form.confirm_duplicate.data = "1"
    status = 400 if form.errors else (409 if duplicates else 200)
    return render_template("contacts/new.html", form=form, duplicates=duplicates), status


@bp.route("/<int:contact_id>")
def show(contact_id):
    """View mode: every field, the contact persons, the note and the timeline."""
    contact = get_contact(contact_id)
    persons = contacts.persons(contact)
    entries, total = note_for_page(contact)
    events, more = contacts.timeline(contact, current_user)
    return render_template("contacts/view.html", contact=contact, persons=persons,
                           entries=entries, note_total=total, timeline=events,
                           more_events=more, accounts=list(web_accounts.of_contact(contact)),
                           reset_form=ActionForm())


@bp.route("/<int:contact_id>/timeline")
def timeline(contact_id):
    """The contact's whole timeline, newest first, fifty events a page."""
    contact = get_contact(contact_id)
    page = page_number()
    events, more, page = contacts.timeline_page(contact, current_user, page)
    return render_template("contacts/timeline.html", contact=contact, timeline=events,
                           page=page, more_events=more)


def note_for_page(contact, person=None):
    """The whole note when asked for (?note=all), else its newest entries."""
    if request.args.get("note") == "all":
        entries = list(notes.entries(contact, person))
        return entries, len(entries)
    return notes.recent(contact, person)


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id):
    """Edit mode. Saving refuses to overwrite someone else's newer save and shows it."""
    contact = get_contact(contact_id)
    form = ContactForm(obj=contact)
    if request.method == "GET" and not form.restored:   # a kept form keeps the version it had
        form.version.data = contact.version
    conflict = None
    if form.validate_on_submit():
        opened = versions.opened_version(form.version.data)
        opened = contact.version if opened is None else opened
        try:
            contacts.update(contact.id, form.values(), opened, user=current_user.id)
        except contacts.EditConflict as clash:
            conflict = clash
            form.version.data = clash.current.version   # saving again now overwrites knowingly
        else:
            flash(_("Contact saved."), "success")
            return redirect(url_for("contacts.show", contact_id=contact.id))
    persons = contacts.persons(contact)
    entries, total = note_for_page(contact)
    status = 409 if conflict else (400 if form.errors else 200)
    return render_template("contacts/edit.html", contact=contact, form=form, persons=persons,
                           conflict=conflict, entries=entries, note_total=total,
                           note_form=NoteForm(prefix="note"),
                           labels=field_labels(form)), status


def field_labels(form):
    return {name: getattr(form, name).label.text for name in contacts.FIELDS}


@bp.route("/<int:contact_id>/persons/new", methods=["GET", "POST"])
def new_person(contact_id):
    """Add a contact person to a company."""
    contact = get_contact(contact_id)
    form = NewPersonForm()
    if form.validate_on_submit():
        try:
            person = contacts.save_person(contact, None, {k: getattr(form, k).data or ""
                                                          for k in contacts.PERSON_FIELDS
                                                          if k != "active"} | {"active": True},
                                          form_key=form.form_key.data)
        except form_keys.AlreadySaved:
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("contacts.edit", contact_id=contact.id) + "#persons")
        flash(_("Contact person %(name)s added.", name=person.name), "success")
        return redirect(url_for("contacts.edit", contact_id=contact.id) + "#persons")
    return render_template("contacts/person_form.html", contact=contact, person=None,
                           form=form), 400 if form.errors else 200


@bp.route("/<int:contact_id>/persons/<int:person_id>")
def show_person(contact_id, person_id):
    """A contact person in view mode, with their note."""
    contact = get_contact(contact_id)
    person = get_person(contact, person_id)
    entries, total = note_for_page(contact, person)
    return render_template("contacts/person_view.html", contact=contact, person=person,
                           entries=entries, note_total=total)


@bp.route("/<int:contact_id>/persons/<int:person_id>/edit", methods=["GET", "POST"])
def edit_person(contact_id, person_id):
    """Edit a contact person (unticking Active deactivates them); add to their note."""
    contact = get_contact(contact_id)
    person = get_person(contact, person_id)
    form = PersonForm(obj=person)
    conflict = None
    if form.validate_on_submit():
        try:
            contacts.save_person(contact, person, {k: getattr(form, k).data
                                                   for k in contacts.PERSON_FIELDS},
                                 versions.opened_version(form.version.data))
        except versions.ChangedMeanwhile as clash:
            conflict = clash.current
            form.version.data = conflict.version   # saving again now overwrites knowingly
        else:
            flash(_("Contact person %(name)s saved.", name=form.name.data), "success")
            return redirect(url_for("contacts.show_person", contact_id=contact.id,
                                    person_id=person.id))
    entries, total = note_for_page(contact, person)
    status = 409 if conflict else (400 if form.errors else 200)
    return render_template("contacts/person_form.html", contact=contact, person=person,
                           form=form, entries=entries, note_total=total, conflict=conflict,
                           note_form=NoteForm(prefix="note")), status


@bp.route("/<int:contact_id>/vcard")
def vcard(contact_id):
    """The contact (and its active persons) as a vCard file."""
    contact = get_contact(contact_id)
    persons = contact.persons.where(ContactPerson.active == True)  # noqa: E712
    return attachment(contact_io.vcard(contact, persons), "text/vcard",
                      f"{contact.customer_number}.vcf")


@bp.route("/export.csv")
def export():
    """The (filtered) list as CSV, headed in your language."""
    query = contacts.filtered(request.args.get("q", "")[:200], request.args.get("sort", "name"),
                              include_inactive=request.args.get("inactive") == "1")
    language = get_locale().language if get_locale() else "en"
    audit.record("contacts.exported", user=current_user, detail=request.args.get("q", "")[:100])
    return attachment(stream_with_context(contact_io.export_csv(query, language)), "text/csv",
                      "contacts.csv")


def import_folder():
    """The folder where an uploaded CSV waits between preview and confirmation."""
    return DataFolder(current_app.config["DATA_DIR"]).folder("imports")


def stored_import():
    name = session.get("contact_import", "")
    if not name or not name.isalnum():
        return None
    path = import_folder() / f"{name}.csv"
    return path if path.exists() else None


def existing_choice():
    """What the person chose for lines like contacts in the register (contact_io.EXISTING)."""
    choice = session.get("contact_import_existing", "new")
    return choice if choice in contact_io.EXISTING else "new"


@bp.route("/import", methods=["GET", "POST"])
def import_contacts():
    """Upload a CSV file and see what would be created, which lines are wrong and which look
    like contacts the register has (the "New contact" duplicate rules; issue 11 item 10)."""
    form = ImportForm()
    preview = None
    if form.validate_on_submit():
        raw = form.file.raw
        preview = contact_io.parse(raw, form.existing.data)
        session["contact_import_existing"] = form.existing.data
        name = secrets.token_hex(16)
        write_private(import_folder() / f"{name}.csv", raw)
        old = stored_import()
        if old is not None:
            old.unlink(missing_ok=True)
        session["contact_import"] = name
    elif request.method == "GET" and stored_import() is not None and request.args.get("again"):
        preview = contact_io.parse(stored_import().read_bytes(), existing_choice())
        form.existing.data = preview.existing
    return render_template("contacts/import.html", form=form, preview=preview,
                           confirm_form=ActionForm(), columns=contact_io.COLUMNS,
                           existing_form=ExistingForm(choice=existing_choice())), \
        400 if form.errors else 200


@bp.route("/import/existing", methods=["POST"])
def choose_existing():
    """Keep the choice for lines like contacts in the register (ExistingForm) and show the
    preview of the file uploaded last again with it (issue 11 item 10)."""
    form = ExistingForm()
    if not form.validate_on_submit():
        abort(400)
    session["contact_import_existing"] = form.choice.data
    return redirect(url_for("contacts.import_contacts", again=1))


@bp.route("/import/confirm", methods=["POST"])
def confirm_import():
    """Import every line of the previewed file, or nothing when a line is wrong. A file of
    one batch is imported within the request; a larger one in the background, with a page
    that shows its progress (issue 10 item 1)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    path = stored_import()
    claimed = path.with_suffix(".importing") if path is not None else None
    try:
        path.rename(claimed)    # one of two racing confirmations gets the file
    except (AttributeError, FileNotFoundError):
        flash(_("Upload the file again: the preview is no longer available."), "error")
        return redirect(url_for("contacts.import_contacts"))
    raw = claimed.read_bytes()
    if contact_import.lines_in(raw) > config.CSV_IMPORT_BATCH_ROWS:
        # read and written in the background: this request answers at once
        claimed.unlink(missing_ok=True)
        session.pop("contact_import", None)
        record = contact_import.start_file(contact_import.lines_in(raw), user=current_user.id)
        contact_import.start_in_background(record.id, raw, user=current_user.id,
                                           existing=existing_choice())
        return redirect(url_for("contacts.import_progress", import_id=record.id))
    preview = contact_io.parse(raw, existing_choice())
    if not preview.ok:
        claimed.rename(path)
        flash(_("Nothing was imported: the file has errors."), "error")
        return redirect(url_for("contacts.import_contacts", again=1))
    claimed.unlink(missing_ok=True)
    session.pop("contact_import", None)
    record = contact_import.start(preview, user=current_user.id)
    try:
        count = contact_import.run(record.id, preview, user=current_user.id)
    except contact_import.ImportFailed:
        return redirect(url_for("contacts.import_progress", import_id=record.id))
    flash(ngettext("%(num)s contact imported.", "%(num)s contacts imported.", count), "success")
    return redirect(url_for("contacts.index"))


@bp.route("/import/<int:import_id>")
def import_progress(import_id):
    """How far an import got (it refreshes itself while it runs), then its result: the
    contacts imported, or why nothing was. Only for whoever started it and superusers."""
    record = ContactImport.get_or_none(ContactImport.id == import_id)
    if not contact_import.visible_to(record, current_user):
        abort(404)
    imported = []
    if record.status == contact_import.DONE:
        imported = list(Contact.select(Contact.id, Contact.name, Contact.customer_number)
                        .where(Contact.contact_import == record.id)
                        .order_by(Contact.customer_number).limit(config.CSV_IMPORT_SHOWN))
    return render_template("contacts/import_progress.html", record=record, imported=imported,
                           refresh_seconds=config.CSV_IMPORT_REFRESH_SECONDS,
                           failure=IMPORT_FAILURES.get(record.failure, IMPORT_FAILURES["failed"])
                           % {"detail": record.detail})


IMPORT_FAILURES = {
    "number_taken": _l("Customer number %(detail)s was given to another contact while the "
                       "import ran."),
    "interrupted": _l("The import was interrupted (the server stopped)."),
    "failed": _l("The import failed because of an error in the database."),
    "file_errors": _l("The file has errors now (a customer number may have been taken since "
                      "the preview). Upload it again to see which lines."),
}


FIELD_LABELS = {
    "kind": _l("Type"), "name": _l("Name"), "org_number": _l("Organisation number"),
    "vat_number": _l("VAT number"), "email": _l("E-mail"), "phone": _l("Phone"),
    "mobile": _l("Mobile"), "fax": _l("Fax"), "website": _l("Website"),
    "street": _l("Street and number"), "postcode": _l("Postcode"), "city": _l("City"),
    "country": _l("Country"), "visit_street": _l("Visiting address"),
    "visit_postcode": _l("Visiting postcode"), "visit_city": _l("Visiting city"),
    "visit_country": _l("Visiting country"), "discount": _l("Customer discount (%)"),
    "active": _l("Active"),
}

IMPORT_PROBLEMS = {
    "empty": _l("The file is empty."),
    "no_name_column": _l("The first line must name the columns, and one of them must be Name."),
    "same_field": _l("The columns %(detail)s are the same field: keep one of them."),
    "extra_cells": _l("This line has more values than the first line has column names "
                      "(values:columns %(detail)s)."),
    "unclosed_quote": _l("A quote opened on this line is never closed: the rest of the file "
                         "would be read as one value."),
    "too_many": _l("Too many lines: at most %(detail)s per file."),
    "name_missing": _l("The name is missing."),
    "too_long": _l("A value is too long."),
    "bad_kind": _l("Unknown type “%(detail)s”: use company or person."),
    "bad_email": _l("“%(detail)s” is not a valid e-mail address."),
    "bad_discount": _l("“%(detail)s” is not a discount from 0 to 100."),
    "discount_decimals": _l("“%(detail)s” has more than two decimals."),
    "bad_number": _l("“%(detail)s” is not a valid customer number."),
    "number_twice": _l("Customer number %(detail)s appears twice in the file (number:line)."),
    "number_taken": _l("Customer number %(detail)s is taken by an existing contact."),
    "bad_country": _l("“%(detail)s” is not a country: give its code (NL) or its name."),
    "bad_website": _l("“%(detail)s” is not a website address (http:// or https://)."),
}


@bp.app_template_filter("field_label")
@per_request
def field_label(name):
    return FIELD_LABELS.get(name, name)


@bp.app_template_filter("import_problem")
@per_request
def import_problem(code, detail=""):
    return IMPORT_PROBLEMS.get(code, code) % {"detail": detail}


@bp.app_template_filter("country_name")
@per_request
def country_name_filter(code):
    return country_name(code)


@bp.app_template_filter("decimal")
@per_request
def decimal_filter(value):
    return format_decimal(value or 0, format="#,##0.00")
