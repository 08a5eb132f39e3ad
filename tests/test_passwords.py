"""Password rules, storage and changes (SECURITY.md items 1-4), told as user stories.

Every new-password rule is checked on both forms that set a password: the reset form
reached through a real "Forgot password" e-mail, and "Change password" in the profile.
"""
import re
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from helpers import PASSWORD, body_of, error_beside, link_in, make_user, sign_in

from models import User

TOO_SHORT = "Use at least 12 characters."
TOO_LONG = "Use at most 128 characters."
COMMON = "This password is one of the most common ones; choose another."
CONTEXT_COMPANY = ("Without the company name, fewer than 8 characters are left. "
                   "Add words of your own.")
CONTEXT_EMAIL = ("Without your e-mail address, fewer than 8 characters are left. "
                 "Add words of your own.")

ELEVEN = "Blåbær-tog1"                    # 11 characters, any Unicode is fine
TWELVE = "Blåbær-tog12"                   # 12
WITH_EMOJI = "🔑 ærøskøbing"              # 12, a character outside the BMP included
LONGEST = ("tulip lantern quarry " * 7)[:127] + "!"          # 128
TOO_LONG_PASSWORD = LONGEST + "x"                             # 129



def stored_hash(user):
    return User.get_by_id(user.id).password_hash


def open_reset_form(client, mailbox, email):
    """Ask for a reset link, take it from the real e-mail and open it, like the user would."""
    response = client.form("/forgot", {"email": email})
    assert response.status_code == 200
    mailbox.deliver()
    link = link_in(body_of(mailbox.to(email)[-1]))
    response = client.get(link)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "Set a new password" in page.get_data(as_text=True)


@pytest.fixture(params=["reset", "change"])
def new_password_form(request, client, other_client, staff, mailbox):
    """One of the two forms that set a new password, ready to submit for the staff user."""
    if request.param == "reset":
        open_reset_form(client, mailbox, staff.email)

        def submit(password, confirm=None):
            return client.form("/reset", {"password": password,
                                          "confirm": password if confirm is None else confirm})
        field = "password"
        done = "/login"
    else:
        assert sign_in(client, staff.email).status_code == 302

        def submit(password, confirm=None):
            return client.form("/profile/password", {
                "pw-current": PASSWORD, "pw-password": password,
                "pw-confirm": password if confirm is None else confirm})
        field = "pw-password"
        done = "/profile"
    return SimpleNamespace(kind=request.param, submit=submit, field=field, done=done,
                           user=staff, browser=other_client)


def assert_refused(form, response, message):
    before = stored_hash(form.user)
    assert response.status_code in (200, 400), response.status_code
    assert error_beside(response.get_data(as_text=True), form.field) == message
    assert stored_hash(form.user) == before


def assert_accepted(form, response, password):
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert response.headers["Location"] == form.done
    # the new password works in another browser; the old one no longer does
    assert sign_in(form.browser, form.user.email, password).status_code == 302


# --- SECURITY 1: length, no truncation, any Unicode ---------------------------------------

def test_eleven_character_password_is_refused_beside_the_field(new_password_form):
    assert len(ELEVEN) == 11
    before = stored_hash(new_password_form.user)
    response = new_password_form.submit(ELEVEN)
    assert_refused(new_password_form, response, TOO_SHORT)
    assert stored_hash(new_password_form.user) == before


@pytest.mark.parametrize("password", [TWELVE, WITH_EMOJI, LONGEST],
                         ids=["12-characters", "unicode-and-emoji", "128-characters"])
def test_twelve_to_128_characters_of_any_kind_are_accepted(new_password_form, password):
    assert 12 <= len(password) <= 128
    before = stored_hash(new_password_form.user)
    response = new_password_form.submit(password)
    assert_accepted(new_password_form, response, password)
    assert stored_hash(new_password_form.user) != before


def test_129_character_password_is_refused_beside_the_field(new_password_form):
    assert len(TOO_LONG_PASSWORD) == 129
    response = new_password_form.submit(TOO_LONG_PASSWORD)
    assert_refused(new_password_form, response, TOO_LONG)


def test_long_password_with_only_its_last_character_changed_does_not_sign_in(client, app):
    password = ("mountain kettle violin " * 5)[:99] + "a"
    assert len(password) == 100
    user = make_user("long@jansen.example", password=password)
    almost = password[:-1] + "b"

    response = sign_in(client, user.email, almost)
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/profile").status_code == 302

    assert sign_in(client, user.email, password).status_code == 302
    assert client.get("/profile").status_code == 200


def test_new_password_and_its_repetition_must_match(new_password_form):
    before = stored_hash(new_password_form.user)
    response = new_password_form.submit(TWELVE, confirm=TWELVE + "x")
    assert response.status_code in (200, 400)
    confirm_id = "confirm" if new_password_form.kind == "reset" else "pw-confirm"
    assert error_beside(response.get_data(as_text=True), confirm_id) == \
        "The two passwords are not the same."
    assert stored_hash(new_password_form.user) == before


# --- SECURITY 2: common passwords and context words ---------------------------------------

@pytest.mark.parametrize("password", ["password1234", "qwerty123456", "Sunshine2026!"],
                         ids=["password1234", "list-entry", "list-word-with-suffix"])
def test_common_password_is_refused(new_password_form, password):
    response = new_password_form.submit(password)
    assert_refused(new_password_form, response, COMMON)


@pytest.mark.parametrize("password, message", [
    ("Jansen Installatie BV", CONTEXT_COMPANY), ("jansen installatie bv 2026", CONTEXT_COMPANY),
    ("piet@jansen.example", CONTEXT_EMAIL), ("Piet2024!!!!", CONTEXT_EMAIL),
    # what is left once "piet" is out is a common password
    ("PIET12345678", COMMON)],
    ids=["company-name", "company-name-with-year", "whole-e-mail", "local-part-with-suffix",
         "local-part-upper-case"])
def test_password_made_of_company_name_or_own_e_mail_is_refused(new_password_form, password,
                                                                message):
    # the staff user is piet@jansen.example at "Jansen Installatie BV"
    response = new_password_form.submit(password)
    assert_refused(new_password_form, response, message)


# --- SECURITY 3: argon2id with OWASP parameters, rehash when outdated ---------------------

def argon2_parameters(encoded):
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)"
                         r"\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+", encoded)
    assert match, f"not an argon2id hash: {encoded[:30]}"
    return dict(zip("mtp", map(int, match.groups()), strict=True))


def test_new_password_is_stored_as_argon2id_with_owasp_parameters(new_password_form):
    assert_accepted(new_password_form, new_password_form.submit(TWELVE), TWELVE)
    encoded = stored_hash(new_password_form.user)
    assert encoded.startswith("$argon2id$")
    params = argon2_parameters(encoded)
    assert params["m"] >= 19456 and params["t"] >= 2 and params["p"] >= 1
    assert TWELVE not in encoded


def test_outdated_hash_is_replaced_on_successful_sign_in(client, app):
    old_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user = make_user("old@jansen.example")
    old_hash = old_hasher.hash(PASSWORD)
    User.update(password_hash=old_hash).where(User.id == user.id).execute()

    assert sign_in(client, user.email).status_code == 302

    new_hash = stored_hash(user)
    assert new_hash != old_hash
    params = argon2_parameters(new_hash)
    assert params["m"] >= 19456 and params["t"] >= 2
    # and the same password still works with the new hash
    client.form("/logout")
    assert sign_in(client, user.email).status_code == 302


def test_outdated_hash_stays_when_the_password_is_wrong(client, app):
    user = make_user("old@jansen.example")
    old_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    User.update(password_hash=old_hash).where(User.id == user.id).execute()

    assert sign_in(client, user.email, "not the password at all").status_code == 200
    assert stored_hash(user) == old_hash


# --- SECURITY 4: changing needs the current password --------------------------------------

def test_wrong_current_password_changes_nothing_and_says_so_beside_the_field(
        staff_client, staff, client):
    before = stored_hash(staff)
    response = staff_client.form("/profile/password", {
        "pw-current": "not my password at all", "pw-password": TWELVE, "pw-confirm": TWELVE})
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), "pw-current") == \
        "The current password is not right."
    assert stored_hash(staff) == before
    # the old password still signs in, the proposed one does not
    assert sign_in(client, staff.email, TWELVE).status_code == 200
    assert sign_in(client, staff.email, PASSWORD).status_code == 302
    # and the session that tried is still signed in
    assert staff_client.get("/profile").status_code == 200


def test_password_change_sends_a_notice_without_the_password(staff_client, staff, mailbox):
    response = staff_client.form("/profile/password", {
        "pw-current": PASSWORD, "pw-password": TWELVE, "pw-confirm": TWELVE})
    assert response.status_code == 302
    mailbox.deliver()
    notices = mailbox.to(staff.email)
    assert len(notices) == 1
    text = body_of(notices[0])
    assert "password" in notices[0]["Subject"].lower()
    assert TWELVE not in text and PASSWORD not in text
    assert TWELVE not in notices[0].as_string()
