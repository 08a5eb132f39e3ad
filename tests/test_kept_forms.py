"""Typed text is never lost (issue 10 items 5 and 7b): a form sent after the session timed out
is kept for its user, and after signing in again they are back on the form with what they
typed; the language switch on a form that came back with errors keeps what was typed too.
Never kept: passwords, tokens, files; never shown to anyone else."""
import hashlib
import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from helpers import PASSWORD, ago, database_text, error_beside, make_user, sign_in, text
from support_helpers import open_case
from werkzeug.datastructures import MultiDict

from kontor import config, contacts, jobs, kept_forms, sessions
from models import CaseMessage, Contact, KeptForm, NoteEntry, User, UserSession

NOTE = "Called Piet: the boiler is leaking again,\r\nhe wants a visit on Tuesday."


@pytest.fixture
def contact(app):
    return contacts.create({"name": "Jansen Installatie BV", "city": "Utrecht",
                            "phone": "+31 30 111"})


def session_row(client, app):
    sid = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return UserSession.get(UserSession.sid_hash == hashlib.sha256(sid.encode()).hexdigest())


def time_out(client, app, minutes=21):
    """The session's last request was `minutes` ago, as far as its record knows."""
    moved = UserSession.update(last_seen_at=ago(minutes=minutes)).where(
        UserSession.id == session_row(client, app).id).execute()
    assert moved == 1


def page_token(page):
    """The CSRF token of the page (every page's footer form carries it)."""
    return html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))


def field_value(page, field_id):
    """What the input or text area with id `field_id` holds in the HTML `page`."""
    area = re.search(rf'<textarea[^>]*\bid="{field_id}"[^>]*>(.*?)</textarea>', page, re.S)
    if area:
        return html.unescape(area.group(1)).removeprefix("\r\n").removeprefix("\n")
    tag = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', page)
    assert tag, f"no field {field_id}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def hidden_value(page, name):
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    return html.unescape(re.search(r'value="([^"]*)"', tag.group(0)).group(1))


def send_late(client, url, fields, token, referrer=None):
    """Send a form on a session that has timed out, with the token its page had."""
    headers = {"Referer": "http://localhost" + referrer} if referrer else {}
    return client.post(url, data={"csrf_token": token, **fields}, headers=headers)


def goes_to_login_and_back_to(response, page):
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [page]


def sign_in_again(client, email, page):
    response = sign_in(client, email, next_page=page)
    assert response.status_code == 302
    assert response.headers["Location"] == page
    return client.get(page)


# --- item 5: signed out mid-typing --------------------------------------------------------

def test_a_note_sent_without_a_referrer_is_kept_for_the_contact_page(
        app, admin_client, superuser, contact):
    """Found by a new user: a browser that sends no Referer lost the note; the edit page
    above the note's action address has the note form."""
    page = f"/contacts/{contact.id}/edit"
    token = page_token(text(admin_client.get(page)))
    time_out(admin_client, app)
    response = send_late(admin_client, f"/contacts/{contact.id}/notes",
                         {"note-text": NOTE, "note-submit": "Save text"}, token)
    goes_to_login_and_back_to(response, page)
    shown = text(sign_in_again(admin_client, superuser.email, page))
    assert field_value(shown, "note-text") == NOTE.replace("\r\n", "\n")
    assert NoteEntry.select().count() == 0


def test_a_note_sent_after_the_timeout_is_back_in_the_form_after_signing_in(
        app, admin_client, superuser, contact):
    edit = f"/contacts/{contact.id}/edit"
    token = page_token(text(admin_client.get(edit)))
    time_out(admin_client, app)
    response = send_late(admin_client, f"/contacts/{contact.id}/notes",
                         {"note-text": NOTE, "note-submit": "Save text"}, token, referrer=edit)
    goes_to_login_and_back_to(response, edit)
    assert NoteEntry.select().count() == 0
    login_page = text(admin_client.get(response.headers["Location"]))
    assert "What you typed is kept for 30 minutes" in login_page

    page = text(sign_in_again(admin_client, superuser.email, edit))
    assert field_value(page, "note-text") == NOTE.replace("\r\n", "\n")   # as a text area keeps it
    assert "It has not been saved yet" in page
    assert '<details class="add-text" open>' in page
    assert hidden_value(page, "note-form_key")      # a fresh one-time key to save with
    assert page_token(page) != token                  # and the new session's CSRF token
    assert KeptForm.select().count() == 0, "the kept copy is used once"

    saved = admin_client.form(f"/contacts/{contact.id}/notes", {
        "note-text": field_value(page, "note-text"),
        "note-form_key": hidden_value(page, "note-form_key")})
    assert saved.status_code == 302
    assert [entry.text for entry in NoteEntry.select()] == [NOTE.replace("\r\n", "\n")]
    assert field_value(text(admin_client.get(edit)), "note-text") == ""


def test_a_contact_edit_sent_after_the_timeout_is_filled_in_again_with_its_version(
        app, admin_client, staff_client, superuser, contact):
    edit = f"/contacts/{contact.id}/edit"
    page = text(admin_client.get(edit))
    token, version = page_token(page), hidden_value(page, "version")
    time_out(admin_client, app)
    typed = {"kind": "company", "name": "Jansen Installatie B.V.", "phone": "+31 30 222",
             "city": "Utrecht", "country": "NL", "visit_country": "NL", "discount": "5",
             "version": version, "submit": "Save"}          # "active" unticked
    goes_to_login_and_back_to(send_late(admin_client, edit, typed, token), edit)
    assert Contact.get_by_id(contact.id).name == "Jansen Installatie BV"

    # meanwhile a colleague saves the contact
    colleague = text(staff_client.get(edit))
    staff_client.form(edit, {"kind": "company", "name": "Jansen Installatie BV",
                             "phone": "+31 30 333", "city": "Utrecht", "country": "NL",
                             "visit_country": "NL", "active": "y",
                             "version": hidden_value(colleague, "version")})

    page = text(sign_in_again(admin_client, superuser.email, edit))
    assert field_value(page, "name") == "Jansen Installatie B.V."
    assert field_value(page, "phone") == "+31 30 222"
    assert 'id="active"' in page and not re.search(r'<input[^>]*id="active"[^>]*checked', page)
    assert hidden_value(page, "version") == version, "the version the person had opened"
    # saving it now shows the colleague's change instead of silently overwriting it
    again = admin_client.form(edit, {**typed, "version": hidden_value(page, "version")})
    assert again.status_code == 409
    assert Contact.get_by_id(contact.id).phone == "+31 30 333"


def test_a_case_reply_sent_after_the_timeout_is_back_on_the_case(
        app, admin_client, staff_client, superuser, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    case_page = f"/support/{number}"
    token = page_token(text(admin_client.get(case_page)))
    time_out(admin_client, app)
    response = send_late(admin_client, f"{case_page}/add",
                         {"body": "The part is ordered, we come on Friday.",
                          "submit": "Add information"}, token, referrer=case_page)
    goes_to_login_and_back_to(response, case_page)
    assert CaseMessage.select().count() == 1

    page = text(sign_in_again(admin_client, superuser.email, case_page))
    assert field_value(page, "body") == "The part is ordered, we come on Friday."
    assert "It has not been saved yet" in page
    assert KeptForm.select().count() == 0


def test_a_form_sent_from_a_second_tab_after_the_first_found_the_timeout_is_kept_too(
        app, staff_client, staff, contact):
    edit = f"/contacts/{contact.id}/edit"
    token = page_token(text(staff_client.get(edit)))
    time_out(staff_client, app)
    assert staff_client.get("/contacts").status_code == 302   # the other tab: to the login
    response = send_late(staff_client, f"/contacts/{contact.id}/notes", {"note-text": NOTE},
                         token, referrer=edit)
    goes_to_login_and_back_to(response, edit)
    page = text(sign_in_again(staff_client, staff.email, edit))
    assert field_value(page, "note-text") == NOTE.replace("\r\n", "\n")   # as a text area keeps it


def test_another_person_signing_in_on_that_browser_never_sees_it(
        app, staff_client, staff, superuser, contact):
    edit = f"/contacts/{contact.id}/edit"
    token = page_token(text(staff_client.get(edit)))
    time_out(staff_client, app)
    send_late(staff_client, f"/contacts/{contact.id}/notes", {"note-text": NOTE}, token,
              referrer=edit)

    page = text(sign_in_again(staff_client, superuser.email, edit))
    assert NOTE not in page and "It has not been saved yet" not in page
    assert [row.user_id for row in KeptForm.select()] == [staff.id]


def test_passwords_tokens_and_files_are_never_kept(app, staff_client, staff):
    token = page_token(text(staff_client.get("/profile")))
    time_out(staff_client, app)
    secret = "my current secret words 2026"
    response = send_late(staff_client, "/profile/password", {
        "current": secret, "password": secret + "x", "confirm": secret + "x",
        "api_token": "t0ken-value", "note-form_key": "k" * 30, "remark": "keep me"}, token,
        referrer="/profile")
    goes_to_login_and_back_to(response, "/profile")
    assert secret not in database_text() and "t0ken-value" not in database_text()
    [kept] = KeptForm.select()
    assert kept_forms.pairs_of(kept) == [("remark", "keep me")]


def test_keepable_leaves_out_secret_names_and_files():
    pairs = [("text", "a"), ("Password2", "b"), ("csrf_token", "c"), ("x-form_key", "d"),
             ("reset_token", "e"), ("note-confirm", "f"), ("files", object()), ("text", "g")]
    assert kept_forms.keepable(pairs, frozenset({"confirm"})) == [("text", "a"), ("text", "g")]


def test_a_form_without_the_ended_sessions_token_is_not_kept(app, staff_client, contact):
    edit = f"/contacts/{contact.id}/edit"
    time_out(staff_client, app)
    response = send_late(staff_client, f"/contacts/{contact.id}/notes",
                         {"note-text": "planted"}, token="forged", referrer=edit)
    goes_to_login_and_back_to(response, edit)
    assert KeptForm.select().count() == 0


@pytest.mark.parametrize("reason", ["password_reset", "deactivated", "ended_by_admin"])
def test_a_session_ended_on_purpose_keeps_nothing(app, staff_client, staff, contact, reason):
    edit = f"/contacts/{contact.id}/edit"
    token = page_token(text(staff_client.get(edit)))
    sessions.end_sessions_of(staff.id, reason)
    send_late(staff_client, f"/contacts/{contact.id}/notes", {"note-text": NOTE}, token,
              referrer=edit)
    assert KeptForm.select().count() == 0


def test_a_form_typed_for_an_hour_is_kept_one_sent_the_next_day_is_not(
        app, staff_client, contact):
    edit = f"/contacts/{contact.id}/edit"
    token = page_token(text(staff_client.get(edit)))
    row_id = session_row(staff_client, app).id
    # the per-minute job ended the session 40 minutes ago, while the person was still typing
    UserSession.update(ended_at=ago(minutes=40), end_reason="idle").where(
        UserSession.id == row_id).execute()
    response = send_late(staff_client, f"/contacts/{contact.id}/notes", {"note-text": NOTE},
                         token, referrer=edit)
    goes_to_login_and_back_to(response, edit)
    assert KeptForm.select().count() == 1

    KeptForm.delete().execute()
    UserSession.update(ended_at=ago(hours=13)).where(UserSession.id == row_id).execute()
    send_late(staff_client, f"/contacts/{contact.id}/notes", {"note-text": NOTE}, token,
              referrer=edit)
    assert KeptForm.select().count() == 0
    assert config.LATE_FORM_WINDOW == timedelta(hours=12)


def test_a_foreign_referrer_is_never_where_sign_in_leads(app, staff_client, contact):
    """A Referer of another site is ignored: sign-in leads to the nearest page of this site
    above the action address (see test_a_note_sent_without_a_referrer_is_kept_…)."""
    time_out(staff_client, app)
    foreign = staff_client.post(f"/contacts/{contact.id}/notes", data={"note-text": NOTE},
                                headers={"Referer": "https://evil.example/contacts/1/edit"})
    location = urlsplit(foreign.headers["Location"])
    assert location.path == "/login" and "evil" not in foreign.headers["Location"]
    assert parse_qs(location.query)["next"] == [f"/contacts/{contact.id}/edit"]


def test_kept_forms_expire_after_30_minutes(app, staff):
    other = make_user("mila@jansen.example", name="Mila Bos")
    with time_machine.travel(ago(minutes=31), tick=False):
        kept_forms.keep(staff.id, "/contacts/1/edit", [("note-text", "old")],
                        kept_forms.SIGNED_OUT)
    kept_forms.keep(other.id, "/contacts/1/edit", [("note-text", "new")], kept_forms.SIGNED_OUT)
    assert kept_forms.find(staff.id, "/contacts/1/edit") is None
    assert not kept_forms.waiting(staff.id) and kept_forms.waiting(other.id)
    assert config.KEPT_FORM_LIFETIME == timedelta(minutes=30)
    with time_machine.travel(ago(minutes=-31), tick=False):
        jobs.end_idle_sessions(app.config)
    assert KeptForm.select().count() == 0


def test_at_most_ten_kept_forms_per_person(app, staff):
    for number in range(12):
        kept_forms.keep(staff.id, f"/contacts/{number}/edit", [("name", str(number))],
                        kept_forms.SIGNED_OUT)
    assert KeptForm.select().count() == config.KEPT_FORMS_PER_USER
    assert kept_forms.find(staff.id, "/contacts/11/edit") is not None
    assert kept_forms.find(staff.id, "/contacts/0/edit") is None


# --- item 7b: the language switch after a form error -----------------------------------------

def language_form(page):
    """The footer's language form: its (name, value) pairs, as a browser would send them."""
    form = re.search(r'<form[^>]*class="language-switch".*?</form>', page, re.S).group(0)
    return [(html.unescape(name), html.unescape(value)) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)]


def switch_language(client, page, language):
    return client.post("/language", data=MultiDict(language_form(page) + [("language", language)]))


def test_switching_language_after_a_note_error_keeps_the_text_and_the_error(
        app, staff_client, staff, contact):
    edit = f"/contacts/{contact.id}/edit"
    too_long = "x" * (config.NOTE_ENTRY_MAX_LENGTH + 1)
    refused = staff_client.form(f"/contacts/{contact.id}/notes", {"note-text": too_long},
                                headers={"Referer": "http://localhost" + edit})
    assert refused.status_code == 400
    fields = dict(language_form(text(refused)))
    assert fields["next"] == edit and fields["kept-note-text"] == too_long
    assert not any("csrf" in name or "form_key" in name for name in fields
                   if name.startswith("kept-"))

    switched = switch_language(staff_client, text(refused), "nl")
    assert switched.status_code == 302 and switched.headers["Location"] == edit
    page = text(staff_client.get(edit))
    assert '<html lang="nl">' in page
    assert field_value(page, "note-text") == too_long
    assert error_beside(page, "note-text") == "Veld mag niet langer zijn dan 20000 karakters."
    assert User.get_by_id(staff.id).language == "nl"


def test_switching_language_after_a_contact_error_keeps_what_was_typed(
        app, staff_client, contact):
    edit = f"/contacts/{contact.id}/edit"
    version = hidden_value(text(staff_client.get(edit)), "version")
    refused = staff_client.form(edit, {"kind": "company", "name": "Jansen Installatie B.V.",
                                       "email": "not an address", "phone": "+31 30 999",
                                       "country": "NL", "visit_country": "NL",
                                       "version": version, "active": "y"})
    assert refused.status_code == 400
    switched = switch_language(staff_client, text(refused), "de")
    assert switched.headers["Location"] == edit
    page = text(staff_client.get(edit))
    assert field_value(page, "name") == "Jansen Installatie B.V."
    assert field_value(page, "email") == "not an address"
    assert field_value(page, "phone") == "+31 30 999"
    assert error_beside(page, "email") == "Geben Sie eine gültige E-Mail-Adresse ein."
    assert '<html lang="de">' in page
    assert Contact.get_by_id(contact.id).name == "Jansen Installatie BV"


def test_the_language_switch_never_copies_passwords_into_the_page(app, staff_client):
    secret = "my current secret words 2026"
    refused = staff_client.form("/profile/password", {"current": secret, "password": "short",
                                                      "confirm": "short"},
                                headers={"Referer": "http://localhost/profile"})
    page = text(refused)
    assert secret not in page
    assert dict(language_form(page))["next"] == "/profile"


def test_signed_out_visitors_switch_language_without_anything_kept(client, app):
    refused = client.form("/login", {"email": "nobody@jansen.example", "password": "wrong"})
    fields = dict(language_form(text(refused)))
    assert fields["next"] == "/login" and not any(k.startswith("kept-") for k in fields)
    assert PASSWORD not in text(refused)


def test_a_new_contact_restored_after_a_language_switch_has_a_fresh_key_and_no_key_error(
        app, staff_client):
    """Found by a new user: after the switch, the restored form also said it "came without its
    one-time key" (the kept copy has no key, by design): the page gets a fresh one instead."""
    refused = staff_client.fill("/contacts/new", {"kind": "company", "name": "Fjord AS",
                                                  "website": "ftp://fjord.example"})
    assert refused.status_code == 400
    switched = switch_language(staff_client, text(refused), "nl")
    assert switched.headers["Location"] == "/contacts/new"
    page = text(staff_client.get("/contacts/new"))
    assert field_value(page, "name") == "Fjord AS"
    assert "eenmalige sleutel" not in page and error_beside(page, "website")
    key = hidden_value(page, "form_key")
    sent = staff_client.form("/contacts/new", {"kind": "company", "name": "Fjord AS",
                                               "form_key": key})
    assert sent.status_code == 302
    assert Contact.select().where(Contact.name == "Fjord AS").count() == 1
