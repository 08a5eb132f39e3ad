"""Notes on contacts and contact persons: add a stamped entry, download the note as RTF."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.common import get_contact, get_person
from blueprints.forms import ALREADY_SAVED, NoteForm
from kontor import form_keys, notes, rtf
from kontor.web import attachment, time_formatter

bp = Blueprint("notes", __name__, url_prefix="/contacts")


def add(contact, person, back):
    form = NoteForm(prefix="note")
    if form.validate_on_submit():
        try:
            notes.add_entry(contact, form.text.data, author=current_user, person=person,
                            form_key=form.form_key.data)
        except form_keys.AlreadySaved:
            flash(ALREADY_SAVED, "info")
        else:
            flash(_("Text added to the note."), "success")
        return redirect(back + "#note")
    return render_template("notes/add.html", contact=contact, person=person, form=form,
                           back=back), 400


@bp.route("/<int:contact_id>/notes", methods=["POST"])
def add_to_contact(contact_id):
    """Append a stamped entry to the contact's note."""
    contact = get_contact(contact_id)
    return add(contact, None, url_for("contacts.edit", contact_id=contact.id))


@bp.route("/<int:contact_id>/persons/<int:person_id>/notes", methods=["POST"])
def add_to_person(contact_id, person_id):
    """Append a stamped entry to a contact person's note."""
    contact = get_contact(contact_id)
    person = get_person(contact, person_id)
    return add(contact, person, url_for("contacts.edit_person", contact_id=contact.id,
                                        person_id=person.id))


def rtf_response(title, subtitle, rows, filename):
    """`rows`: the note's (created_at, author_name, text), oldest first."""
    unknown, stamp = _("unknown"), time_formatter()
    body = rtf.document(title, [(f"{stamp(at)} · {who or unknown}", text)
                                for at, who, text in rows], subtitle)
    return attachment(body, "application/rtf", filename)


@bp.route("/<int:contact_id>/notes.rtf")
def contact_rtf(contact_id):
    """The contact's whole note as an RTF document."""
    contact = get_contact(contact_id)
    return rtf_response(contact.name, _("Note, customer number %(number)s",
                                        number=contact.customer_number),
                        notes.entries(contact), f"{contact.name}.rtf")


@bp.route("/<int:contact_id>/persons/<int:person_id>/notes.rtf")
def person_rtf(contact_id, person_id):
    """A contact person's whole note as an RTF document."""
    contact = get_contact(contact_id)
    person = get_person(contact, person_id)
    return rtf_response(person.name, _("Note, contact person at %(company)s",
                                       company=contact.name),
                        notes.entries(contact, person), f"{person.name}.rtf")
