"""Notes (SPEC section 6): every contact and contact person has a note; "Add text" appends an
entry stamped with date, time and author; entries are plain text, shown escaped with their line
breaks, and never edited or deleted online; the page shows the newest 50 entries and links to
the whole note. (The RTF download is in test_rtf.py.)"""
import re
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from flask_babel import format_datetime
from helpers import body
from markupsafe import escape

from kontor import config, contacts, notes
from models import NoteEntry
from models.clock import utcnow

ROOT = Path(__file__).resolve().parents[1]



@pytest.fixture
def contact(app):
    return contacts.create({"name": "Jansen Installatie BV", "city": "Utrecht"})


@pytest.fixture
def person(contact):
    return contacts.save_person(contact, None, {"name": "Piet Jansen", "active": True})


def note_section(page):
    """The note's card on a page: from its heading to the end of its section."""
    return page.split('id="note-heading"', 1)[1].split("</section>", 1)[0]


def shown_entries(page):
    return re.findall(r'<div class="note-text">(.*?)</div>', note_section(page), re.S)


def stamp_of(app, entry):
    """The stamp as the page shows it: the time in the company's zone and the reader's locale."""
    with app.test_request_context():
        when = format_datetime(entry.created_at.replace(tzinfo=UTC), "short")
    return f"{when} · {entry.author_name}"


# --- adding text ----------------------------------------------------------------------------

def test_adding_text_appends_an_entry_stamped_with_date_time_and_author(app, admin_client,
                                                                      superuser, contact):
    before = utcnow()
    response = admin_client.fill(f"/contacts/{contact.id}/notes",
                                 {"note-text": "Called about the boiler."})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/contacts/{contact.id}/edit#note")
    entry = NoteEntry.get()
    assert (entry.contact_id, entry.person_id, entry.text) == \
        (contact.id, None, "Called about the boiler.")
    assert (entry.author_id, entry.author_name) == (superuser.id, "Anna Jansen")
    assert before - timedelta(seconds=1) <= entry.created_at <= utcnow()
    stamp = stamp_of(app, entry)
    assert re.search(r"\d{2}/\d{2}/\d{4}, \d{2}:\d{2}", stamp)   # date and time
    for url in (f"/contacts/{contact.id}", f"/contacts/{contact.id}/edit"):
        section = note_section(body(admin_client.get(url)))
        assert f'<p class="stamp">{escape(stamp)}</p>' in section, url
        assert "Called about the boiler." in section


def test_entries_are_appended_in_the_order_they_were_written(admin_client, staff_client,
                                                            contact):
    admin_client.fill(f"/contacts/{contact.id}/notes", {"note-text": "First"})
    staff_client.fill(f"/contacts/{contact.id}/notes", {"note-text": "Second"})
    assert [(e.text, e.author_name) for e in notes.entries(contact)] == \
        [("First", "Anna Jansen"), ("Second", "Piet de Vries")]
    page = body(admin_client.get(f"/contacts/{contact.id}"))
    assert shown_entries(page) == ["First", "Second"]
    assert note_section(page).index("Anna Jansen") < note_section(page).index("Piet de Vries")


def test_add_text_is_in_edit_mode_as_a_details_element(admin_client, contact):
    edit = body(admin_client.get(f"/contacts/{contact.id}/edit"))
    details = re.search(r'<details class="add-text">(.*?)</details>', edit, re.S)
    assert details, "no closed <details> with the Add text box"
    assert "<summary" in details.group(1) and "Add text" in details.group(1)
    assert f'action="/contacts/{contact.id}/notes"' in details.group(1)
    assert 'name="note-text"' in details.group(1)
    # the view is read-only: the note is shown, nothing can be added there
    view = body(admin_client.get(f"/contacts/{contact.id}"))
    assert 'name="note-text"' not in view and "The note is empty." in view


def test_a_contact_persons_note_is_their_own(admin_client, contact, person):
    response = admin_client.fill(f"/contacts/{contact.id}/persons/{person.id}/notes",
                                 {"note-text": "Prefers e-mail."})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/contacts/{contact.id}/persons/{person.id}/edit#note")
    entry = NoteEntry.get()
    assert (entry.contact_id, entry.person_id, entry.author_name) == \
        (contact.id, person.id, "Anna Jansen")
    assert shown_entries(body(admin_client.get(
        f"/contacts/{contact.id}/persons/{person.id}"))) == ["Prefers e-mail."]
    edit = body(admin_client.get(f"/contacts/{contact.id}/persons/{person.id}/edit"))
    assert f'action="/contacts/{contact.id}/persons/{person.id}/notes"' in edit
    assert shown_entries(edit) == ["Prefers e-mail."]
    # not in the company's own note, but on its timeline
    view = body(admin_client.get(f"/contacts/{contact.id}"))
    assert shown_entries(view) == []
    assert "Note on Piet Jansen" in view.split('id="timeline-heading"')[1]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \r\n\t "])
def test_empty_text_is_refused(admin_client, contact, person, text):
    for url in (f"/contacts/{contact.id}/notes",
                f"/contacts/{contact.id}/persons/{person.id}/notes"):
        response = admin_client.form(url, {"note-text": text})
        page = body(response)
        assert response.status_code == 400
        assert re.search(r'<p class="error" id="note-text-error">Write some text first.</p>',
                         page)
    assert NoteEntry.select().count() == 0


def test_a_missing_text_field_is_refused(admin_client, contact):
    response = admin_client.fill(f"/contacts/{contact.id}/notes", {})
    assert response.status_code == 400
    assert NoteEntry.select().count() == 0


def test_text_too_long_is_refused_and_kept(admin_client, contact):
    text = "x" * (config.NOTE_ENTRY_MAX_LENGTH + 1)
    response = admin_client.fill(f"/contacts/{contact.id}/notes", {"note-text": text})
    page = body(response)
    assert response.status_code == 400
    assert f"Field cannot be longer than {config.NOTE_ENTRY_MAX_LENGTH} characters." in page
    assert text in page            # what was typed is not lost
    assert NoteEntry.select().count() == 0
    ok = admin_client.fill(f"/contacts/{contact.id}/notes", {"note-text": text[:-1]})
    assert ok.status_code == 302 and len(NoteEntry.get().text) == config.NOTE_ENTRY_MAX_LENGTH


@pytest.mark.parametrize("line_end", ["\r\n", "\r"])
def test_a_note_as_long_as_the_browser_allows_is_kept_whatever_its_line_ends(
        admin_client, contact, line_end):
    """The browser counts a line break as one character for maxlength and sends it as CRLF:
    19,999 characters with a thousand line breaks were refused (issue 11 item 9)."""
    page = body(admin_client.get(f"/contacts/{contact.id}/edit"))
    assert re.search(rf'<textarea[^>]*maxlength="{config.NOTE_ENTRY_MAX_LENGTH}"', page)
    typed = "\n".join(["x" * 19] * 1000)
    assert len(typed) == config.NOTE_ENTRY_MAX_LENGTH - 1
    response = admin_client.fill(f"/contacts/{contact.id}/notes",
                                 {"note-text": typed.replace("\n", line_end)})
    assert response.status_code == 302
    assert NoteEntry.get().text == typed      # stored with LF line breaks
    too_long = typed + "\r\nxx"
    response = admin_client.fill(f"/contacts/{contact.id}/notes", {"note-text": too_long})
    assert response.status_code == 400
    assert NoteEntry.select().count() == 1


# --- plain text -----------------------------------------------------------------------------

def test_entries_are_plain_text_shown_escaped_with_line_breaks(admin_client, contact):
    text = "<b>Not bold</b> & <script>alert(1)</script>\nSecond line\n\n  indented"
    admin_client.fill(f"/contacts/{contact.id}/notes", {"note-text": text.replace("\n", "\r\n")})
    assert NoteEntry.get().text == text          # stored as typed, line breaks as \n
    for url in (f"/contacts/{contact.id}", f"/contacts/{contact.id}/edit",
                f"/contacts/{contact.id}?note=all"):
        page = body(admin_client.get(url))
        assert "<script>alert(1)" not in page and "<b>Not bold" not in page
        assert shown_entries(page) == [str(escape(text))], url
    # … and the line breaks show: the entry's box keeps white space
    css = (ROOT / "static" / "kontor.css").read_text()
    rule = re.search(r"\.note-text\s*\{([^}]*)\}", css)
    assert rule and "white-space: pre-wrap" in rule.group(1)


def test_entries_cannot_be_edited_or_deleted(app, admin_client, contact):
    """No route changes or removes an entry: the note routes take new text or give the RTF."""
    note_rules = [r for r in app.url_map.iter_rules() if "note" in r.rule]
    assert sorted((r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in note_rules) == [
        ("/contacts/<int:contact_id>/notes", ["POST"]),
        ("/contacts/<int:contact_id>/notes.rtf", ["GET"]),
        ("/contacts/<int:contact_id>/persons/<int:person_id>/notes", ["POST"]),
        ("/contacts/<int:contact_id>/persons/<int:person_id>/notes.rtf", ["GET"]),
    ]
    for rule in app.url_map.iter_rules():
        assert not ({"PUT", "PATCH", "DELETE"} & rule.methods), rule.rule
        if "note" in rule.rule or rule.endpoint.startswith("notes."):
            assert not re.search(r"edit|delete|remove|entr", rule.rule), rule.rule
    admin_client.fill(f"/contacts/{contact.id}/notes", {"note-text": "Written once"})
    for method in ("put", "patch", "delete"):
        response = getattr(admin_client, method)(f"/contacts/{contact.id}/notes")
        assert response.status_code == 405
    assert [e.text for e in NoteEntry.select()] == ["Written once"]


# --- the newest 50 and the whole note -------------------------------------------------------

def write(contact, count, person=None):
    for n in range(1, count + 1):
        notes.add_entry(contact, f"entry-{n:03}", person=person)


@pytest.mark.parametrize("where", ["view", "edit", "person", "person-edit"])
def test_the_page_shows_the_newest_50_entries_and_links_the_whole_note(admin_client, contact,
                                                                       person, where):
    url = {"view": f"/contacts/{contact.id}", "edit": f"/contacts/{contact.id}/edit",
           "person": f"/contacts/{contact.id}/persons/{person.id}",
           "person-edit": f"/contacts/{contact.id}/persons/{person.id}/edit"}[where]
    write(contact, 55, person=person if where.startswith("person") else None)
    page = body(admin_client.get(url))
    assert shown_entries(page) == [f"entry-{n:03}" for n in range(6, 56)]
    assert "The newest 50 of 55 entries." in page
    assert '<a href="?note=all#note">Show the whole note</a>' in page
    whole = body(admin_client.get(url + "?note=all"))
    assert shown_entries(whole) == [f"entry-{n:03}" for n in range(1, 56)]
    assert "Show the whole note" not in whole


def test_a_short_note_needs_no_link(admin_client, contact):
    write(contact, 50)
    page = body(admin_client.get(f"/contacts/{contact.id}"))
    assert len(shown_entries(page)) == 50
    assert "Show the whole note" not in page


def test_recent_counts_the_whole_note(contact, person):
    write(contact, 51)
    write(contact, 3, person=person)
    shown, total = notes.recent(contact)
    assert (len(shown), total, shown[0].text, shown[-1].text) == (50, 51, "entry-002", "entry-051")
    shown, total = notes.recent(contact, person)
    assert ([e.text for e in shown], total) == (["entry-001", "entry-002", "entry-003"], 3)
