"""Inviting registered employees and accepting the invitation (issue 3, rules 2, 3 and 5).

Only someone in the employee register can be invited, only by a superuser, and only once the
readiness checklist passes. The invitation goes through the outbox to a real SMTP server on
loopback (`mailbox`); its link works once, for 7 days, and creates exactly the invited
employee's account. Clocks move with time-machine; the race runs real threads against the
real database (SQLite, or PostgreSQL when DATABASE_URL says so).
"""
import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from helpers import (
    PASSWORD,
    body_of,
    database_text,
    link_in,
    make_company,
    make_user,
    sign_in,
    text_of,
)
from invitation_helpers import (
    NEW_PASSWORD,
    accept,
    assert_link_unusable,
    audit_events,
    choose_password,
    field_error,
    invitation_link,
    invite_choices,
    is_signed_in_as,
    open_link,
    register,
    send_invitation,
)
from peewee import IntegrityError

from kontor import invitations, tokens
from models import Employee, Invitation, OutboxMessage, User, db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SEVEN_DAYS = timedelta(days=7)


@pytest.fixture
def invitee(app):
    """The invited employee's own browser (neither the superuser's nor the staff user's)."""
    return app.test_client()


@pytest.fixture
def kees(app):
    return register("Kees Bakker", "kees@jansen.example", title="Installer",
                    department="Service")


@pytest.fixture
def second_admin(app):
    return make_user("bram@jansen.example", superuser=True, name="Bram Smit")


# --- rule 2: only when the readiness checklist passes ----------------------------------------

def test_while_the_company_details_are_incomplete_the_invite_page_shows_the_checklist(
        admin_client, kees):
    make_company(vat_number="", phone="")

    page = admin_client.get("/users/invite")
    assert page.status_code == 409
    text = text_of(page)
    assert "Before you can invite users" in text
    assert "VAT number is missing" in text
    assert "Company phone is missing" in text
    assert "Street and number is missing" not in text
    markup = page.get_data(as_text=True)
    assert 'href="/admin/company#vat_number"' in markup
    assert 'href="/admin/company#phone"' in markup
    assert 'name="employee"' not in markup

    # A direct POST is turned away the same way: nothing is sent.
    refused = send_invitation(admin_client, kees)
    assert refused.status_code == 409
    assert Invitation.select().count() == 0
    assert OutboxMessage.select().count() == 0

    # User management shows the checklist too, and offers no invitation.
    users = admin_client.get("/users")
    assert users.status_code == 200
    assert "VAT number is missing" in text_of(users)
    assert "/users/invite" not in users.get_data(as_text=True)

    make_company()   # the details are completed
    assert admin_client.get("/users/invite").status_code == 200


def test_a_superuser_not_linked_to_an_employee_sees_the_checklist(admin_client, superuser, kees):
    User.update(employee=None).where(User.id == superuser.id).execute()

    page = admin_client.get("/users/invite")
    assert page.status_code == 409
    assert "Your account is linked to an employee in the employee register" in text_of(page)
    assert 'href="/employees"' in page.get_data(as_text=True)
    assert send_invitation(admin_client, kees).status_code == 409
    assert Invitation.select().count() == 0


# --- rule 2: exactly the invitable employees, no free-text address ---------------------------

def test_the_drop_down_lists_exactly_the_invitable_employees(
        admin_client, superuser, staff, kees):
    inactive = register("Ingrid Inactief", "ingrid@jansen.example", active=False)
    no_email = register("Nora Zonderpost")
    invited = register("Ivo Uitgenodigd", "ivo@jansen.example")
    invitations.invite(invited.id, "en", superuser.id)
    withdrawn = register("Rik Ingetrokken", "rik@jansen.example")
    invitation, _raw = invitations.invite(withdrawn.id, "en", superuser.id)
    invitations.revoke(invitation.id)
    lapsed = register("Eva Verlopen", "eva@jansen.example")
    with time_machine.travel(datetime.now(UTC) - SEVEN_DAYS - timedelta(hours=1)):
        invitations.invite(lapsed.id, "en", superuser.id)

    choices = invite_choices(admin_client)

    assert set(choices) == {kees.id, withdrawn.id, lapsed.id}
    assert choices[kees.id] == "Kees Bakker <kees@jansen.example>"
    assert list(choices.values()) == sorted(choices.values())   # by name
    for left_out in (inactive, no_email, invited, staff.employee, superuser.employee):
        assert left_out.id not in choices


def test_someone_whose_address_is_already_a_login_name_is_not_offered(admin_client, staff):
    """Piet's register address was corrected; his old one (still his login name) now belongs
    to a new employee. Inviting that employee could only fail, so the list leaves them out."""
    Employee.update(email="piet.devries@jansen.example").where(
        Employee.id == staff.employee_id).execute()
    newcomer = register("Pieter Post", "piet@jansen.example")

    assert newcomer.id not in invite_choices(admin_client)
    refused = send_invitation(admin_client, newcomer)
    assert refused.status_code == 400
    assert field_error(refused, "employee") == "This employee already has an account."
    assert Invitation.select().count() == 0


def test_there_is_no_free_text_address_and_the_page_says_how_to_add_someone(admin_client, kees):
    page = admin_client.get("/users/invite")
    markup = page.get_data(as_text=True)
    assert 'name="email"' not in markup and 'type="email"' not in markup
    text = text_of(page)
    assert "Someone is not in the list?" in text
    assert "Only employees in the employee register can be invited" in text
    assert '<a href="/employees">Go to the employee register</a>' in markup


@pytest.mark.parametrize("who", ["outsider", "unknown id", "inactive", "no e-mail", "nobody",
                                 "not a number"])
def test_someone_not_in_the_list_cannot_be_invited_by_a_direct_post(admin_client, kees, who):
    employee_id = {
        "outsider": lambda: 0,
        "unknown id": lambda: 987654,
        "inactive": lambda: register("Ingrid Inactief", "ingrid@jansen.example",
                                     active=False).id,
        "no e-mail": lambda: register("Nora Zonderpost").id,
        "nobody": lambda: "",
        "not a number": lambda: "kees@jansen.example",
    }[who]()

    refused = admin_client.form("/users/invite", {
        "employee": str(employee_id), "language": "en", "email": "outsider@elsewhere.example"})

    assert refused.status_code == 400
    assert field_error(refused, "employee")   # the error stands beside the field
    assert 'aria-invalid="true"' in refused.get_data(as_text=True)
    assert Invitation.select().count() == 0
    assert OutboxMessage.select().count() == 0
    assert not audit_events("invitation.sent")


def test_an_extra_email_field_changes_nothing(admin_client, kees, mailbox):
    sent = send_invitation(admin_client, kees, email="outsider@elsewhere.example")
    assert sent.status_code == 302

    assert [i.email for i in Invitation.select()] == ["kees@jansen.example"]
    assert [m.to_addr for m in OutboxMessage.select()] == ["kees@jansen.example"]
    mailbox.deliver()
    assert [m["To"] for m in mailbox.messages] == ["kees@jansen.example"]
    assert "outsider" not in body_of(mailbox.messages[0])


# --- rule 2: sending ------------------------------------------------------------------------

def test_sending_queues_an_invitation_mail_with_a_single_use_link_valid_for_seven_days(
        admin_client, superuser, kees, mailbox):
    with time_machine.travel(MONDAY, tick=False):
        sent = send_invitation(admin_client, kees)

        assert sent.status_code == 302
        assert urlsplit(sent.headers["Location"]).path == "/users"
        assert "Invitation sent to Kees Bakker (kees@jansen.example)." in text_of(
            admin_client.get("/users"))

    # Queued in the outbox first; only the delivery job talks to the SMTP server.
    queued = OutboxMessage.get()
    assert (queued.to_addr, queued.kind, queued.status) == \
        ("kees@jansen.example", "invitation", "queued")
    assert mailbox.messages == []

    link = invitation_link(mailbox, "kees@jansen.example")
    message = mailbox.to("kees@jansen.example")[0]
    assert message["Subject"] == "You are invited to Kontor at Jansen Installatie BV"
    body = body_of(message)
    assert "Hello Kees Bakker," in body
    assert "Anna Jansen invites you to Kontor, the web office of Jansen Installatie BV." in body
    assert "The link works once and expires on 9 March 2026" in body
    assert re.fullmatch(r"/invite/[A-Za-z0-9_-]{40,}", link)
    assert OutboxMessage.get().status == "sent"

    invitation = Invitation.get()
    assert invitation.employee_id == kees.id
    assert invitation.email == "kees@jansen.example"
    assert invitation.language == "en"
    assert invitation.invited_by_id == superuser.id
    assert invitation.created_at == MONDAY.replace(tzinfo=None)
    assert invitation.expires_at == invitation.created_at + SEVEN_DAYS
    raw = link.rsplit("/", 1)[1]
    assert invitation.token_hash == tokens.digest(raw) != raw   # only the hash is stored

    [event] = audit_events("invitation.sent")
    assert (event.user_id, event.target) == (superuser.id, "kees@jansen.example")


def test_the_invitation_is_in_the_companys_language_unless_another_is_chosen(
        admin_client, invitee, kees, mailbox):
    make_company(language="nl")
    lotte = register("Lotte de Boer", "lotte@jansen.example")

    page = admin_client.get("/users/invite")
    assert re.search(r'<option selected value="nl">Nederlands</option>',
                     page.get_data(as_text=True)), "the company's language is not preselected"

    assert send_invitation(admin_client, kees, language="nl").status_code == 302
    assert send_invitation(admin_client, lotte, language="de").status_code == 302
    mailbox.deliver()
    [dutch] = mailbox.to("kees@jansen.example")
    [german] = mailbox.to("lotte@jansen.example")
    assert dutch["Subject"] == "U bent uitgenodigd voor Kontor bij Jansen Installatie BV"
    assert german["Subject"] == "Sie sind zu Kontor bei Jansen Installatie BV eingeladen"

    # The account keeps the invitation's language.
    assert accept(invitee, link_in(body_of(german))).status_code == 302
    assert User.by_email("lotte@jansen.example").language == "de"


# --- rule 3: accepting ----------------------------------------------------------------------

def test_the_link_leads_to_a_token_free_page_that_shows_the_fixed_login_name(
        admin_client, invitee, kees, mailbox):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")

    page = open_link(invitee, link)

    assert page.status_code == 200
    markup = page.get_data(as_text=True)
    text = text_of(page)
    assert "Create your account" in text
    assert "Your login name kees@jansen.example" in text
    assert "It is fixed and cannot be changed." in text
    assert link.rsplit("/", 1)[1] not in markup            # the token left the address bar
    assert 'name="email"' not in markup                   # the e-mail is not a field
    assert 'name="password"' in markup and 'name="confirm"' in markup
    # The session row keeps no usable secret either: only the token's hash is stored anywhere.
    raw = link.rsplit("/", 1)[1]
    assert raw not in database_text()
    assert tokens.digest(raw) in database_text()


def test_choosing_a_password_activates_the_account_and_signs_in(
        admin_client, invitee, superuser, kees, mailbox, app):
    send_invitation(admin_client, kees, language="en")
    link = invitation_link(mailbox, "kees@jansen.example")

    done = accept(invitee, link)

    assert done.status_code == 302
    assert urlsplit(done.headers["Location"]).path == "/"
    home = invitee.get("/")
    assert "Welcome to Kontor, Kees Bakker. Your account is ready." in text_of(home)
    assert is_signed_in_as(invitee, "kees@jansen.example")

    account = User.by_email("kees@jansen.example")
    assert account.employee_id == kees.id
    assert account.is_active and not account.is_superuser
    assert account.last_login_at is not None
    invitation = Invitation.get()
    assert invitation.accepted_at is not None and invitation.user_id == account.id
    [event] = audit_events("invitation.accepted")
    assert (event.user_id, event.target) == (account.id, "kees@jansen.example")

    # The chosen password signs in from another browser, with the e-mail as login name.
    later = app.test_client()
    assert sign_in(later, "KEES@jansen.example", NEW_PASSWORD).status_code == 302
    assert is_signed_in_as(later, "kees@jansen.example")


@pytest.mark.parametrize("password, confirm, message", [
    ("eleven char", None, "Use at least 12 characters."),
    ("x" * 129, None, "Use at most 128 characters."),
    ("1qaz2wsx3edc", None, "This password is one of the most common ones; choose another."),
    ("kees@jansen.example", None,
     "Without your e-mail address, fewer than 8 characters are left. Add words of your own."),
    ("Jansen Installatie BV", None,
     "Without the company name, fewer than 8 characters are left. Add words of your own."),
    (NEW_PASSWORD, "quiet otter under the brigde", None),
    ("", "", None),
])
def test_a_password_that_breaks_the_rules_is_refused_and_the_link_still_works(
        admin_client, invitee, kees, mailbox, password, confirm, message):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")
    open_link(invitee, link)

    refused = choose_password(invitee, password, confirm)

    assert refused.status_code in (200, 400)
    assert field_error(refused, "password") or field_error(refused, "confirm")
    if message:
        assert field_error(refused, "password") == message
    if confirm:
        assert field_error(refused, "confirm") == "The two passwords are not the same."
    assert User.by_email("kees@jansen.example") is None
    assert Invitation.get().accepted_at is None
    assert not is_signed_in_as(invitee, "kees@jansen.example")

    # The same page, still open, takes a good password.
    assert choose_password(invitee, NEW_PASSWORD).status_code == 302
    assert User.by_email("kees@jansen.example") is not None


@pytest.mark.parametrize("password", [
    "tulip kettle", "a quiet otter swims under the old stone bridge while seven green herons "
                    "watch the slow brown river carry autumn leaves to sea!!!"])
def test_twelve_and_a_hundred_and_twenty_eight_characters_are_accepted(
        admin_client, invitee, kees, mailbox, password):
    assert len(password) in (12, 128)
    send_invitation(admin_client, kees)
    assert accept(invitee, invitation_link(mailbox, "kees@jansen.example"),
                  password).status_code == 302
    assert is_signed_in_as(invitee, "kees@jansen.example")


def test_fields_added_to_the_form_cannot_point_the_account_elsewhere(
        admin_client, invitee, staff, kees, mailbox):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")

    done = accept(invitee, link, email="intruder@elsewhere.example",
                  employee=str(staff.employee_id), is_superuser="y", user=str(staff.id))

    assert done.status_code == 302
    account = User.by_email("kees@jansen.example")
    assert account.employee_id == kees.id and not account.is_superuser
    assert User.by_email("intruder@elsewhere.example") is None
    assert User.get_by_id(staff.id).employee_id == staff.employee_id
    assert User.select().count() == 3   # Anna, Piet and now Kees


def test_an_invitation_for_one_employee_never_activates_another(
        admin_client, app, kees, mailbox):
    lotte = register("Lotte de Boer", "lotte@jansen.example")
    send_invitation(admin_client, kees)
    send_invitation(admin_client, lotte)
    kees_link = invitation_link(mailbox, "kees@jansen.example")
    lotte_link = invitation_link(mailbox, "lotte@jansen.example")
    assert kees_link != lotte_link

    # Lotte gets hold of Kees's mail and uses his link: it makes Kees's account, nobody else's.
    lottes_browser = app.test_client()
    page = open_link(lottes_browser, kees_link)
    assert "kees@jansen.example" in text_of(page) and "lotte@" not in text_of(page)
    accept(lottes_browser, kees_link)   # (re-opening the link is harmless)
    assert User.by_email("lotte@jansen.example") is None
    assert User.get(User.employee == kees.id).email == "kees@jansen.example"
    assert not User.select().where(User.employee == lotte.id).exists()
    lotte_invitation = Invitation.get(Invitation.employee == lotte.id)
    assert lotte_invitation.accepted_at is None and lotte_invitation.user_id is None

    # Kees's link is spent; Lotte's own link still makes exactly her account.
    assert_link_unusable(open_link(app.test_client(), kees_link), "used")
    fresh = app.test_client()
    assert accept(fresh, lotte_link).status_code == 302
    account = User.by_email("lotte@jansen.example")
    assert account.employee_id == lotte.id
    assert is_signed_in_as(fresh, "lotte@jansen.example")


def test_a_used_link_cannot_be_used_again(admin_client, invitee, app, kees, mailbox):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")
    assert accept(invitee, link).status_code == 302

    again = open_link(app.test_client(), link)

    assert_link_unusable(again, "used")
    assert User.select().where(User.email == "kees@jansen.example").count() == 1


def test_a_revoked_link_says_it_was_withdrawn(admin_client, invitee, kees, mailbox):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")
    revoked = admin_client.form(f"/users/invitations/{Invitation.get().id}/revoke",
                                {"confirmed": "yes"})
    assert revoked.status_code == 302

    assert_link_unusable(open_link(invitee, link), "revoked")
    assert User.by_email("kees@jansen.example") is None


def test_a_link_expires_seven_days_after_it_was_sent(admin_client, invitee, app, kees, mailbox):
    with time_machine.travel(MONDAY, tick=False):
        send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")

    with time_machine.travel(MONDAY + SEVEN_DAYS - timedelta(seconds=1), tick=False):
        assert open_link(app.test_client(), link).status_code == 200   # the last second
    with time_machine.travel(MONDAY + SEVEN_DAYS + timedelta(seconds=1), tick=False):
        expired = open_link(invitee, link)
        assert_link_unusable(expired, "expired")
        # and the form cannot be posted past it either
        assert choose_password(invitee).status_code == 404
    assert User.by_email("kees@jansen.example") is None


def test_a_link_that_expires_while_the_form_is_open_is_refused_clearly(
        admin_client, invitee, kees, mailbox):
    with time_machine.travel(MONDAY, tick=False):
        send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")

    with time_machine.travel(MONDAY + SEVEN_DAYS - timedelta(minutes=5), tick=False) as clock:
        assert open_link(invitee, link).status_code == 200
        clock.shift(timedelta(minutes=5, seconds=1))
        refused = choose_password(invitee)

    assert_link_unusable(refused, "expired")
    assert User.by_email("kees@jansen.example") is None


def test_a_resent_invitation_replaces_the_old_link(admin_client, invitee, app, kees, mailbox):
    send_invitation(admin_client, kees)
    old_link = invitation_link(mailbox, "kees@jansen.example")
    assert admin_client.form(f"/users/invitations/{Invitation.get().id}/resend").status_code \
        == 302
    new_link = invitation_link(mailbox, "kees@jansen.example")
    assert new_link != old_link

    assert_link_unusable(open_link(invitee, old_link), "revoked")
    assert accept(app.test_client(), new_link).status_code == 302


@pytest.mark.parametrize("path", ["/invite/not-a-real-token", "/invite/" + "x" * 43, "/invite"])
def test_an_unknown_link_is_a_404_page_not_an_error(invitee, app, path):
    page = invitee.get(path, follow_redirects=True)
    assert_link_unusable(page, "unknown")


def test_two_browsers_with_the_same_link_make_one_account(admin_client, app, kees, mailbox):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, "kees@jansen.example")
    first, second = app.test_client(), app.test_client()
    open_link(first, link)
    open_link(second, link)

    assert choose_password(first).status_code == 302
    late = choose_password(second, "another fine password here")

    assert_link_unusable(late, "used")
    assert User.select().where(User.email == "kees@jansen.example").count() == 1
    assert is_signed_in_as(first, "kees@jansen.example")
    assert not is_signed_in_as(second, "kees@jansen.example")


# --- two superusers, one employee, the same moment -------------------------------------------

def invite_at_once(employee_id, inviters):
    """Every inviter calls kontor.invitations.invite for the same employee at the same moment,
    each in its own thread with its own database connection; returns the outcomes."""
    barrier = threading.Barrier(len(inviters))
    outcomes = []

    def attempt(inviter_id):
        with db.connection_context():
            barrier.wait(timeout=10)
            try:
                invitation, _raw = invitations.invite(employee_id, "en", inviter_id)
                outcomes.append(("sent", invitation.id))
            except invitations.NotInvitable as refused:
                outcomes.append(("refused", refused.reason))
            except Exception as error:   # anything else is the bug this test looks for
                outcomes.append(("error", repr(error)))

    threads = [threading.Thread(target=attempt, args=(inviter,)) for inviter in inviters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_two_superusers_inviting_the_same_employee_at_once_make_one_invitation(
        app, superuser, second_admin):
    if not db.is_closed():
        db.close()   # the threads open their own connections
    people = [register(f"Employee {n}", f"employee{n}@jansen.example") for n in range(8)]
    if not db.is_closed():
        db.close()

    for person in people:
        outcomes = invite_at_once(person.id, [superuser.id, second_admin.id])
        assert sorted(kind for kind, _detail in outcomes) == ["refused", "sent"], outcomes
        assert ("refused", "already_invited") in outcomes
        assert Invitation.select().where(Invitation.employee == person.id).count() == 1


def test_two_superusers_resending_the_same_invitation_at_once_make_one_new_link(
        app, superuser, second_admin, kees):
    first, _raw = invitations.invite(kees.id, "en", superuser.id)
    if not db.is_closed():
        db.close()
    barrier = threading.Barrier(2)
    outcomes = []

    def resend(inviter_id):
        with db.connection_context():
            barrier.wait(timeout=10)
            try:
                invitation, _raw = invitations.resend(first.id, inviter_id)
                outcomes.append("resent" if invitation else "gone")
            except Exception as error:
                outcomes.append(repr(error))

    threads = [threading.Thread(target=resend, args=(who,))
               for who in (superuser.id, second_admin.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["gone", "resent"]
    assert Invitation.open().where(Invitation.employee == kees.id).count() == 1
    assert Invitation.get_by_id(first.id).revoked_at is not None


def test_the_database_holds_at_most_one_open_invitation_per_employee(app, superuser, kees):
    """Migration 0003's partial unique index: the last line of defence against the race."""
    now = datetime.now(UTC).replace(tzinfo=None)

    def row(**fields):
        return Invitation.create(employee=kees, email=kees.email, token_hash=tokens.digest(
            str(Invitation.select().count()) + repr(fields)), created_at=now,
            expires_at=now + SEVEN_DAYS, **fields)

    row(revoked_at=now)           # closed ones do not count
    row(accepted_at=now)
    row()                         # one open invitation
    with pytest.raises(IntegrityError):
        with db.atomic():
            row()                 # a second open one is refused by the database itself
    assert Invitation.open().where(Invitation.employee == kees.id).count() == 1


def test_a_second_invitation_for_the_same_employee_gets_an_error_beside_the_field(
        admin_client, app, second_admin, kees, mailbox):
    other_admin = app.test_client()
    assert sign_in(other_admin, second_admin.email).status_code == 302
    # Both superusers have the invite page open with Kees in the list.
    assert kees.id in invite_choices(admin_client)
    assert kees.id in invite_choices(other_admin)

    assert send_invitation(admin_client, kees).status_code == 302
    late = send_invitation(other_admin, kees)

    assert late.status_code == 400
    assert field_error(late, "employee") == "This employee has an open invitation already."
    assert Invitation.select().count() == 1
    assert OutboxMessage.select().count() == 1
    assert len(audit_events("invitation.sent")) == 1


# --- staff users -----------------------------------------------------------------------------

def test_staff_users_cannot_open_or_post_the_invite_page(staff_client, superuser, kees):
    assert staff_client.get("/users/invite").status_code == 403
    assert send_invitation(staff_client, kees).status_code == 403
    assert Invitation.select().count() == 0
    assert OutboxMessage.select().count() == 0
    assert [e.target for e in audit_events("access.denied")] == ["/users/invite"] * 2


def test_staff_users_do_not_see_user_management(staff_client):
    home = staff_client.get("/")
    assert 'href="/users"' not in home.get_data(as_text=True)
    assert staff_client.get("/users").status_code == 403


def test_an_invited_employee_can_sign_in_only_after_accepting(admin_client, app, kees, mailbox):
    send_invitation(admin_client, kees)
    stranger = app.test_client()
    refused = sign_in(stranger, "kees@jansen.example", PASSWORD)
    assert refused.status_code != 302
    assert "Wrong e-mail or password." in text_of(refused)


# --- the register changes after the invitation was sent ---------------------------------------

def test_an_employee_deactivated_in_the_register_can_no_longer_accept(
        admin_client, kees, invitee, mailbox):
    assert send_invitation(admin_client, kees).status_code == 302
    link = invitation_link(mailbox, kees.email)
    edited = admin_client.form(f"/employees/{kees.id}/edit", {
        "name": kees.name, "email": kees.email, "title": kees.title,
        "department": kees.department})          # "active" left unticked
    assert edited.status_code == 302
    assert invitee.get(link).status_code == 302
    assert_link_unusable(invitee.get("/invite"), "revoked")
    assert User.by_email(kees.email) is None


def test_resending_goes_to_the_corrected_address_and_refuses_an_inactive_employee(
        admin_client, kees, mailbox):
    assert send_invitation(admin_client, kees).status_code == 302
    Employee.update(email="kees.bakker@jansen.example").where(Employee.id == kees.id).execute()
    first = Invitation.get(Invitation.employee == kees.id)
    assert admin_client.form(f"/users/invitations/{first.id}/resend").status_code == 302
    newest = Invitation.open().where(Invitation.employee == kees.id).get()
    assert newest.email == "kees.bakker@jansen.example"
    assert invitation_link(mailbox, "kees.bakker@jansen.example").startswith("/invite/")

    Employee.update(active=False).where(Employee.id == kees.id).execute()
    refused = admin_client.form(f"/users/invitations/{newest.id}/resend")
    assert refused.status_code == 302
    page = admin_client.get(refused.headers["Location"])
    assert "This employee is no longer active." in text_of(page)
    assert Invitation.open().where(Invitation.employee == kees.id).count() == 1


def test_the_welcome_is_in_the_language_of_the_invitation(
        admin_client, invitee, superuser, kees, mailbox, app):
    # the tester's fault: accepted with language nb, the welcome came in English
    send_invitation(admin_client, kees, language="nb")
    link = invitation_link(mailbox, "kees@jansen.example")
    done = accept(invitee, link)
    assert done.status_code == 302
    home = text_of(invitee.get("/", headers={"Accept-Language": "en"}))
    assert "Velkommen til Kontor, Kees Bakker. Kontoen din er klar." in home
