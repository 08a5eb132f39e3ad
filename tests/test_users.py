"""The employee register and user management (issue 3, rules 1, 4 and 5).

The superuser keeps the register (staff may look) and manages everyone's access from /users:
invite, resend, revoke, deactivate and reactivate, the administrator role, unlock. Each action
is audited; the last active administrator and one's own account are protected. Mail goes
through the real outbox to a real SMTP server on loopback; clocks move with time-machine.
"""
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from helpers import make_user, sign_in, text_of
from invitation_helpers import (
    accept,
    assert_link_unusable,
    audit_events,
    field_error,
    invitation_link,
    invite_choices,
    is_signed_in_as,
    open_link,
    register,
    send_invitation,
)

from kontor import invitations
from kontor import users as user_rules
from models import AuditEvent, Employee, Invitation, OutboxMessage, User, UserSession

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LAST_ADMIN = "This is the last active administrator: make someone else administrator first."


@dataclass
class Row:
    classes: str
    markup: str
    text: str

    @property
    def buttons(self):
        # the visible label; a visually hidden "— <name>" says whose row it acts on
        return re.findall(r'<button type="submit"[^>]*>([^<]*)(?:<span class="visually-hidden">'
                          r'[^<]*</span>)?</button>', self.markup)

    def has_action(self, path):
        return f'action="{path}"' in self.markup


def row_of(page, name):
    """The /users table row of the employee called `name`."""
    assert page.status_code == 200, text_of(page)[:300]
    for attrs, body in re.findall(r"<tr([^>]*)>(.*?)</tr>", page.get_data(as_text=True), re.S):
        if re.search(rf"<td[^>]*>{re.escape(name)}", body):
            classes = re.search(r'class="([^"]*)"', attrs)
            return Row(classes.group(1) if classes else "", body, text_of(body))
    raise AssertionError(f"no row for {name} on {page.request.path}")


def flashes(page):
    return [text_of(m) for m in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>',
                                           page.get_data(as_text=True), re.S)]


def post_and_look(client, path):
    """Press an action button on /users; return the page it leads back to."""
    done = client.form(path, {"confirmed": "yes"})    # the confirmation page's answer
    assert done.status_code == 302, text_of(done)[:300]
    assert urlsplit(done.headers["Location"]).path == "/users"
    return client.get("/users")


def lock_out(app, email):
    """Five wrong passwords from some browser lock the account."""
    browser = app.test_client()
    for attempt in range(5):
        sign_in(browser, email, f"not the password {attempt}")
    assert User.by_email(email).is_locked


def signed_in_admin(app, email="anna@jansen.example"):
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 302
    return browser


@pytest.fixture
def kees(app):
    return register("Kees Bakker", "kees@jansen.example", phone="+31 30 765 4321",
                    mobile="06 1234 5678", title="Installer", department="Service")


@pytest.fixture
def bram(app):
    return make_user("bram@jansen.example", superuser=True, name="Bram Smit")


# --- rule 1: the employee register ------------------------------------------------------------

def test_staff_may_view_and_search_the_register_but_not_change_it(staff_client, superuser, kees):
    register("Lotte de Boer", "lotte@jansen.example", title="Planner", department="Office")

    everyone = staff_client.get("/employees")
    assert everyone.status_code == 200
    assert {"Kees Bakker", "Lotte de Boer", "Piet de Vries"} <= set(
        re.findall(r"<td[^>]*>([A-Z][a-z]+ (?:de )?[A-Z][a-z]+)", everyone.get_data(as_text=True)))
    assert "Add employee" not in text_of(everyone)
    assert "/employees/new" not in everyone.get_data(as_text=True)

    for query, expected in (("service", "Kees Bakker"), ("LOTTE@", "Lotte de Boer"),
                            ("1234 5678", "Kees Bakker"), ("planner", "Lotte de Boer")):
        found = text_of(staff_client.get("/employees", query_string={"q": query}))
        assert expected in found, query
        other = ({"Kees Bakker", "Lotte de Boer"} - {expected}).pop()
        assert other not in found, query

    assert staff_client.get("/employees/new").status_code == 403
    assert staff_client.form("/employees/new", {"name": "Sneaky Entry"}).status_code == 403
    assert staff_client.get(f"/employees/{kees.id}/edit").status_code == 403
    assert staff_client.form(f"/employees/{kees.id}/edit",
                             {"name": "Renamed", "email": "kees@jansen.example"}
                             ).status_code == 403
    assert not Employee.select().where(Employee.name.in_(["Sneaky Entry", "Renamed"])).exists()
    assert Employee.get_by_id(kees.id).version == 1


def test_a_superuser_adds_an_employee_with_all_details(admin_client, superuser):
    added = admin_client.fill("/employees/new", {
        "name": "Sanne Visser", "email": "Sanne.Visser@Jansen.example", "phone": "+31 30 111 2222",
        "mobile": "06 9876 5432", "title": "Bookkeeper", "department": "Office", "active": "y"})

    assert added.status_code == 302
    sanne = Employee.get(Employee.name == "Sanne Visser")
    assert (sanne.email, sanne.phone, sanne.mobile, sanne.title, sanne.department, sanne.active) \
        == ("sanne.visser@jansen.example", "+31 30 111 2222", "06 9876 5432", "Bookkeeper",
            "Office", True)
    assert "Employee Sanne Visser saved." in text_of(admin_client.get("/employees"))
    [event] = audit_events("employee.created")
    assert (event.user_id, event.target) == (superuser.id, "Sanne Visser")


def test_an_employee_without_an_e_mail_may_be_registered_but_not_invited(admin_client):
    assert admin_client.fill("/employees/new", {"name": "Nora Zonderpost", "active": "y"}
                             ).status_code == 302
    nora = Employee.get(Employee.name == "Nora Zonderpost")
    assert nora.email == ""
    assert nora.id not in invite_choices(admin_client)
    assert "no e-mail address" in row_of(admin_client.get("/users"), "Nora Zonderpost").text


@pytest.mark.parametrize("address", ["not an address", "kees@", "kees.jansen.example",
                                     "kees@jansen.example\r\nBcc: all@jansen.example"])
def test_the_e_mail_is_validated(admin_client, address):
    refused = admin_client.fill("/employees/new", {"name": "Kees Bakker", "email": address,
                                                   "active": "y"})
    assert refused.status_code == 400
    assert field_error(refused, "email") == "Enter a valid e-mail address."
    assert not Employee.select().where(Employee.name == "Kees Bakker").exists()


def test_two_employees_cannot_share_an_e_mail_whatever_its_letter_case(admin_client, kees):
    lotte = register("Lotte de Boer", "lotte@jansen.example")

    refused = admin_client.fill("/employees/new", {"name": "Kees Bakker Jr",
                                                   "email": "KEES@Jansen.Example", "active": "y"})
    assert refused.status_code == 400
    assert field_error(refused, "email") == "Another employee already has this e-mail address."
    assert not Employee.select().where(Employee.name == "Kees Bakker Jr").exists()

    refused = admin_client.form(f"/employees/{lotte.id}/edit", {
        "name": "Lotte de Boer", "email": "Kees@jansen.example", "active": "y"})
    assert refused.status_code == 400
    assert field_error(refused, "email") == "Another employee already has this e-mail address."
    assert Employee.get_by_id(lotte.id).email == "lotte@jansen.example"

    # Keeping one's own address (in other letters) is fine.
    kept = admin_client.form(f"/employees/{kees.id}/edit", {
        "name": "Kees Bakker", "email": "Kees@Jansen.example", "active": "y"})
    assert kept.status_code == 302
    assert Employee.get_by_id(kees.id).email == "kees@jansen.example"


def test_a_superuser_edits_and_deactivates_an_employee(admin_client, superuser, kees):
    edited = admin_client.form(f"/employees/{kees.id}/edit", {
        "name": "Kees Bakker", "email": "kees@jansen.example", "phone": kees.phone,
        "mobile": kees.mobile, "title": "Head of service", "department": "Service"})
    # ("active" left unticked)

    assert edited.status_code == 302
    kees = Employee.get_by_id(kees.id)
    assert kees.title == "Head of service" and not kees.active
    assert kees.version == 2
    listed = admin_client.get("/employees", query_string={"q": "kees"})
    assert "Head of service" in text_of(listed) and "Inactive" in text_of(listed)
    [event] = audit_events("employee.updated")
    assert (event.user_id, event.target) == (superuser.id, "Kees Bakker")

    # An inactive employee cannot be invited; active again, they can.
    assert kees.id not in invite_choices(admin_client)
    assert "inactive employee" in row_of(admin_client.get("/users"), "Kees Bakker").text
    admin_client.form(f"/employees/{kees.id}/edit", {
        "name": "Kees Bakker", "email": "kees@jansen.example", "active": "y"})
    assert kees.id in invite_choices(admin_client)


def test_an_employee_needs_a_name(admin_client):
    refused = admin_client.fill("/employees/new", {"name": "  ", "email": "x@jansen.example"})
    assert refused.status_code == 400
    assert field_error(refused, "name")
    assert not Employee.select().where(Employee.email == "x@jansen.example").exists()


# --- rule 4: every employee with the state of their access -------------------------------------

def test_user_management_shows_every_employee_with_the_state_of_their_access(
        app, superuser, staff, kees):
    lotte = register("Lotte de Boer", "lotte@jansen.example")
    eva = register("Eva Verlopen", "eva@jansen.example")
    register("Ingrid Inactief", "ingrid@jansen.example", active=False)
    register("Nora Zonderpost")
    sanne = make_user("sanne@jansen.example", name="Sanne Visser")
    daan = make_user("daan@jansen.example", name="Daan Mulder")
    User.update(is_active=False).where(User.id == daan.id).execute()
    make_user("wim@jansen.example", name="Wim Vos")   # has never signed in

    with time_machine.travel(MONDAY - timedelta(days=8), tick=False):
        invitations.invite(eva.id, "en", superuser.id)
    with time_machine.travel(MONDAY, tick=False) as clock:
        invitations.invite(lotte.id, "en", superuser.id)
        clock.shift(timedelta(days=1))
        piet = app.test_client()
        assert sign_in(piet, staff.email).status_code == 302   # Piet is at work right now
        lock_out(app, sanne.email)
        admin = signed_in_admin(app)
        page = admin.get("/users")

    kees_row = row_of(page, "Kees Bakker")
    assert "Not invited" in kees_row.text
    assert f'href="/users/invite?employee={kees.id}"' in kees_row.markup

    lotte_row = row_of(page, "Lotte de Boer")
    assert "Invited Sent 02/03/2026, 10:00, expires 09/03/2026, 10:00" in lotte_row.text
    assert lotte_row.buttons == ["Resend", "Revoke"]
    assert "lotte@jansen.example" in lotte_row.text
    assert "row-attention" not in lotte_row.classes

    eva_row = row_of(page, "Eva Verlopen")
    assert "Invitation expired Expired 01/03/2026, 10:00" in eva_row.text
    assert eva_row.buttons == ["Resend"]       # an expired link cannot be revoked, only renewed
    assert "row-attention" not in eva_row.classes

    piet_row = row_of(page, "Piet de Vries")
    assert "Active signed in now Last sign-in: 03/03/2026, 10:00" in piet_row.text
    assert "Staff user" in piet_row.text
    assert piet_row.buttons == ["Deactivate", "Make administrator"]

    wim_row = row_of(page, "Wim Vos")
    assert "Active Last sign-in: never" in wim_row.text
    assert "signed in now" not in wim_row.text

    sanne_row = row_of(page, "Sanne Visser")
    assert "Locked Too many wrong passwords, 03/03/2026, 10:00" in sanne_row.text
    assert "Unlock" in sanne_row.buttons

    daan_row = row_of(page, "Daan Mulder")
    assert "Deactivated" in daan_row.text
    assert daan_row.buttons == ["Reactivate"]

    anna_row = row_of(page, "Anna Jansen")
    assert "Active signed in now" in anna_row.text and "Administrator" in anna_row.text
    assert "Deactivate" not in anna_row.buttons   # nobody deactivates themselves

    ingrid_row = row_of(page, "Ingrid Inactief")
    assert "inactive employee" in ingrid_row.text and "Not invited" in ingrid_row.text
    assert "/users/invite" not in ingrid_row.markup
    nora_row = row_of(page, "Nora Zonderpost")
    assert "no e-mail address" in nora_row.text and "/users/invite" not in nora_row.markup


def test_invitations_pending_for_more_than_five_days_are_highlighted(app, superuser, kees):
    with time_machine.travel(MONDAY, tick=False) as clock:
        invitations.invite(kees.id, "en", superuser.id)

        clock.shift(timedelta(days=5))
        row = row_of(signed_in_admin(app).get("/users"), "Kees Bakker")
        assert "row-attention" not in row.classes
        assert "send a reminder" not in row.text

        clock.shift(timedelta(seconds=1))
        row = row_of(signed_in_admin(app).get("/users"), "Kees Bakker")
        assert row.classes == "row-attention"
        assert "Pending for more than 5 days: send a reminder?" in row.text

        clock.shift(timedelta(days=2))   # 7 days and 1 s: expired, no longer a reminder
        row = row_of(signed_in_admin(app).get("/users"), "Kees Bakker")
        assert "row-attention" not in row.classes
        assert "Invitation expired" in row.text


def test_the_user_list_can_be_searched(admin_client, staff, kees):
    found = admin_client.get("/users", query_string={"q": "KEES"})
    assert "Kees Bakker" in text_of(found) and "Piet de Vries" not in text_of(found)
    found = admin_client.get("/users", query_string={"q": "piet@"})
    assert "Piet de Vries" in text_of(found) and "Kees Bakker" not in text_of(found)
    assert "No employees found." in text_of(admin_client.get("/users", query_string={"q": "zz"}))


def test_the_user_list_search_folds_accents_and_apostrophes(admin_client, kees):
    """One folding for every search (issue 11 item 8), as the register's search folds."""
    register("Jörg Müller", "joerg@jansen.example")
    register("Søren Østergaard", "soren@jansen.example")
    register("Siobhán O'Brien", "siobhan@jansen.example")
    register("Seán O’Neill", "sean@jansen.example")
    for query, name in (("muller", "Jörg Müller"), ("Østergaard", "Søren Østergaard"),
                        ("O’Brien", "Siobhán O'Brien"), ("o'neill", "Seán O’Neill")):
        found = text_of(admin_client.get("/users", query_string={"q": query}))
        assert name in found, query
        assert "Kees Bakker" not in found, query


def test_a_corrected_register_e_mail_leaves_the_login_name_and_both_are_shown(
        admin_client, app, staff):
    corrected = admin_client.form(f"/employees/{staff.employee_id}/edit", {
        "name": "Piet de Vries", "email": "piet.devries@jansen.example", "active": "y"})
    assert corrected.status_code == 302

    assert User.get_by_id(staff.id).email == "piet@jansen.example"
    row = row_of(admin_client.get("/users"), "Piet de Vries")
    assert "piet.devries@jansen.example" in row.text      # the register
    assert "piet@jansen.example The register now says piet.devries@jansen.example; " \
           "the login name stays as it was." in row.text
    assert "The register now says" not in row_of(admin_client.get("/users"), "Anna Jansen").text

    # Piet still signs in with his login name, not with the new address.
    assert sign_in(app.test_client(), "piet@jansen.example").status_code == 302
    assert sign_in(app.test_client(), "piet.devries@jansen.example").status_code != 302


def test_an_accepted_invitations_login_name_outlives_a_register_correction(
        admin_client, app, kees, mailbox):
    send_invitation(admin_client, kees)
    assert accept(app.test_client(), invitation_link(mailbox, kees.email)).status_code == 302

    admin_client.form(f"/employees/{kees.id}/edit", {
        "name": "Kees Bakker", "email": "k.bakker@jansen.example", "active": "y"})

    assert User.get(User.employee == kees.id).email == "kees@jansen.example"
    row = row_of(admin_client.get("/users"), "Kees Bakker")
    assert "The register now says k.bakker@jansen.example" in row.text
    assert "Active" in row.text


# --- rule 4: the actions ---------------------------------------------------------------------

def test_resending_sends_a_new_link_for_seven_more_days_and_the_old_one_stops(
        app, superuser, kees, mailbox):
    with time_machine.travel(MONDAY, tick=False) as clock:
        admin = signed_in_admin(app)
        send_invitation(admin, kees)
        first = Invitation.get()
        clock.shift(timedelta(days=8))   # expired in the meantime: a resend renews it
        admin = signed_in_admin(app)
        page = post_and_look(admin, f"/users/invitations/{first.id}/resend")
        assert "A new invitation is on its way to kees@jansen.example." in flashes(page)
        row = row_of(page, "Kees Bakker")
        assert "Invited Sent 10/03/2026, 10:00, expires 17/03/2026, 10:00" in row.text

    second = Invitation.get(Invitation.id != first.id)
    assert Invitation.get_by_id(first.id).revoked_at is not None
    assert second.expires_at - second.created_at == timedelta(days=7)
    assert second.email == "kees@jansen.example"
    [event] = audit_events("invitation.resent")
    assert (event.user_id, event.target) == (superuser.id, "kees@jansen.example")

    mailbox.deliver()
    links = [re.search(r"http://kontor\.test(/invite/\S+)", m.get_body().get_content()).group(1)
             for m in mailbox.to("kees@jansen.example")]
    assert len(links) == 2 == OutboxMessage.select().where(
        OutboxMessage.kind == "invitation").count()
    with time_machine.travel(MONDAY + timedelta(days=9), tick=False):
        assert_link_unusable(open_link(app.test_client(), links[0]), "revoked")
        assert accept(app.test_client(), links[1]).status_code == 302


def test_revoking_withdraws_the_invitation(admin_client, app, superuser, kees, mailbox):
    send_invitation(admin_client, kees)
    link = invitation_link(mailbox, kees.email)
    invitation = Invitation.get()

    page = post_and_look(admin_client, f"/users/invitations/{invitation.id}/revoke")

    assert "The invitation for kees@jansen.example is withdrawn." in flashes(page)
    row = row_of(page, "Kees Bakker")
    assert "Not invited" in row.text and f"/users/invite?employee={kees.id}" in row.markup
    [event] = audit_events("invitation.revoked")
    assert (event.user_id, event.target) == (superuser.id, "kees@jansen.example")
    assert_link_unusable(open_link(app.test_client(), link), "revoked")
    # Withdrawn once is withdrawn: neither a second revoke nor a resend finds it.
    assert admin_client.form(f"/users/invitations/{invitation.id}/revoke").status_code == 404
    assert admin_client.form(f"/users/invitations/{invitation.id}/resend").status_code == 404
    assert len(audit_events("invitation.revoked")) == 1
    assert kees.id in invite_choices(admin_client)   # and they can be invited again


def test_deactivating_an_account_signs_its_user_out_at_once(
        admin_client, staff_client, app, superuser, staff):
    assert is_signed_in_as(staff_client, staff.email)

    page = post_and_look(admin_client, f"/users/{staff.id}/deactivate")

    assert "piet@jansen.example is deactivated and signed out." in flashes(page)
    row = row_of(page, "Piet de Vries")
    assert "Deactivated" in row.text and row.buttons == ["Reactivate"]
    assert not UserSession.select().where(UserSession.user == staff.id,
                                          UserSession.ended_at.is_null()).exists()
    [event] = audit_events("user.deactivated")
    assert (event.user_id, event.target) == (superuser.id, staff.email)

    # Piet's open browser is signed out on its very next request, and told why.
    bounced = staff_client.get("/profile")
    assert bounced.status_code == 302
    assert urlsplit(bounced.headers["Location"]).path == "/login"
    assert "Your account was deactivated." in text_of(staff_client.get("/login"))
    assert sign_in(app.test_client(), staff.email).status_code != 302

    page = post_and_look(admin_client, f"/users/{staff.id}/reactivate")
    assert "piet@jansen.example can sign in again." in flashes(page)
    assert "Active" in row_of(page, "Piet de Vries").text
    [event] = audit_events("user.reactivated")
    assert (event.user_id, event.target) == (superuser.id, staff.email)
    assert sign_in(app.test_client(), staff.email).status_code == 302


def test_granting_and_withdrawing_the_administrator_role(
        admin_client, staff_client, superuser, staff):
    assert staff_client.get("/users").status_code == 403

    page = post_and_look(admin_client, f"/users/{staff.id}/grant-superuser")
    assert "piet@jansen.example is now an administrator." in flashes(page)
    assert "Administrator" in row_of(page, "Piet de Vries").text
    assert User.get_by_id(staff.id).is_superuser
    assert staff_client.get("/users").status_code == 200   # at once, in the same session

    page = post_and_look(admin_client, f"/users/{staff.id}/withdraw-superuser")
    assert "piet@jansen.example is no longer an administrator." in flashes(page)
    assert "Staff user" in row_of(page, "Piet de Vries").text
    assert staff_client.get("/users").status_code == 403

    assert [(e.user_id, e.target) for e in audit_events("user.superuser_granted")] == \
        [(superuser.id, staff.email)]
    assert [(e.user_id, e.target) for e in audit_events("user.superuser_withdrawn")] == \
        [(superuser.id, staff.email)]


def test_unlocking_a_locked_account(admin_client, app, superuser, staff):
    lock_out(app, staff.email)
    assert sign_in(app.test_client(), staff.email).status_code != 302   # even the right one

    page = post_and_look(admin_client, f"/users/{staff.id}/unlock")

    assert "piet@jansen.example is unlocked." in flashes(page)
    assert "Locked" not in row_of(page, "Piet de Vries").text
    assert not User.get_by_id(staff.id).is_locked
    [event] = audit_events("user.unlocked")
    assert (event.user_id, event.target) == (superuser.id, staff.email)
    assert sign_in(app.test_client(), staff.email).status_code == 302


def test_the_last_active_superuser_cannot_give_up_the_role(admin_client, app, superuser, bram):
    # Alone (Bram deactivated does not count), Anna must stay administrator.
    post_and_look(admin_client, f"/users/{bram.id}/deactivate")
    page = post_and_look(admin_client, f"/users/{superuser.id}/withdraw-superuser")
    assert LAST_ADMIN in flashes(page)
    assert User.get_by_id(superuser.id).is_superuser
    assert not audit_events("user.superuser_withdrawn")

    # With Bram active again, Anna may hand over.
    post_and_look(admin_client, f"/users/{bram.id}/reactivate")
    done = admin_client.form(f"/users/{superuser.id}/withdraw-superuser")
    assert done.status_code == 302
    assert not User.get_by_id(superuser.id).is_superuser
    assert admin_client.get("/users").status_code == 403

    # Now Bram is the last one: he cannot give up the role either.
    bram_browser = signed_in_admin(app, bram.email)
    page = post_and_look(bram_browser, f"/users/{bram.id}/withdraw-superuser")
    assert LAST_ADMIN in flashes(page)
    assert User.get_by_id(bram.id).is_superuser


def test_the_last_active_superuser_cannot_be_deactivated(app, superuser, staff):
    """Over HTTP the acting superuser is always another active one; the rule itself holds for
    any caller."""
    with pytest.raises(user_rules.AccountActionRefused) as refused:
        user_rules.deactivate(superuser, acting=staff)
    assert refused.value.reason == "last_superuser"
    with pytest.raises(user_rules.AccountActionRefused) as refused:
        user_rules.set_superuser(superuser, False, acting=staff)
    assert refused.value.reason == "last_superuser"
    assert User.get_by_id(superuser.id).is_active and User.get_by_id(superuser.id).is_superuser


def test_nobody_deactivates_themselves(admin_client, superuser, bram):
    page = post_and_look(admin_client, f"/users/{superuser.id}/deactivate")

    assert "You cannot deactivate your own account." in flashes(page)
    assert User.get_by_id(superuser.id).is_active
    assert is_signed_in_as(admin_client, superuser.email)
    assert not audit_events("user.deactivated")

    # Another administrator may, though.
    assert post_and_look(admin_client, f"/users/{bram.id}/deactivate")
    assert not User.get_by_id(bram.id).is_active


def test_a_superuser_deactivated_by_another_loses_access_at_once(admin_client, app, bram):
    bram_browser = signed_in_admin(app, bram.email)
    assert bram_browser.get("/users").status_code == 200

    post_and_look(admin_client, f"/users/{bram.id}/deactivate")

    assert bram_browser.get("/users").status_code == 302   # to the sign-in page
    assert bram_browser.form(f"/users/{bram.id}/reactivate").status_code in (302, 400)
    assert not User.get_by_id(bram.id).is_active


@pytest.mark.parametrize("path", [
    "/users/987654/deactivate", "/users/987654/reactivate", "/users/987654/grant-superuser",
    "/users/987654/withdraw-superuser", "/users/987654/unlock",
    "/users/invitations/987654/resend", "/users/invitations/987654/revoke",
])
def test_actions_on_someone_who_does_not_exist_are_not_found(admin_client, path):
    assert admin_client.form(path).status_code == 404
    assert not AuditEvent.select().where(AuditEvent.action.startswith("user.") |
                                         AuditEvent.action.startswith("invitation.")).exists()


def test_actions_without_the_forms_csrf_token_change_nothing(admin_client, staff):
    refused = admin_client.post(f"/users/{staff.id}/deactivate")
    assert refused.status_code == 400
    assert User.get_by_id(staff.id).is_active


# --- staff users: 403 on every action, even posted directly ------------------------------------

STAFF_ATTEMPTS = [
    ("GET", "/users"),
    ("GET", "/users/invite"),
    ("POST", "/users/invite"),
    ("POST", "/users/invitations/{invitation}/resend"),
    ("POST", "/users/invitations/{invitation}/revoke"),
    ("POST", "/users/{active}/deactivate"),
    ("POST", "/users/{deactivated}/reactivate"),
    ("POST", "/users/{active}/grant-superuser"),
    ("POST", "/users/{admin}/withdraw-superuser"),
    ("POST", "/users/{admin}/deactivate"),
    ("POST", "/users/{locked}/unlock"),
    ("POST", "/users/{me}/grant-superuser"),
]


@pytest.mark.parametrize("method, path", STAFF_ATTEMPTS)
def test_staff_users_get_403_on_every_user_management_action(
        staff_client, app, superuser, staff, kees, method, path):
    invitation, _raw = invitations.invite(kees.id, "en", superuser.id)
    colleague = make_user("sanne@jansen.example", name="Sanne Visser")
    gone = make_user("daan@jansen.example", name="Daan Mulder")
    User.update(is_active=False).where(User.id == gone.id).execute()
    locked = make_user("wim@jansen.example", name="Wim Vos")
    lock_out(app, locked.email)
    url = path.format(invitation=invitation.id, active=colleague.id, deactivated=gone.id,
                      admin=superuser.id, locked=locked.id, me=staff.id)

    def snapshot():
        return ([tuple(u.__data__.items()) for u in User.select().order_by(User.id)],
                [tuple(i.__data__.items()) for i in Invitation.select().order_by(Invitation.id)],
                OutboxMessage.select().count())
    before = snapshot()

    if method == "GET":
        answer = staff_client.get(url)
    else:
        answer = staff_client.form(url, {"employee": str(kees.id), "language": "en"})

    assert answer.status_code == 403
    assert "Not allowed" in text_of(answer)
    assert snapshot() == before
    assert [e.target for e in audit_events("access.denied")] == [url]
    assert not AuditEvent.select().where(AuditEvent.action.startswith("user.") |
                                         AuditEvent.action.startswith("invitation.")).exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, superuser, staff):
    for path in ("/users", "/users/invite"):
        answer = client.get(path)
        assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login"
    answer = client.form(f"/users/{staff.id}/deactivate")
    assert answer.status_code == 302
    assert User.get_by_id(staff.id).is_active


@pytest.mark.parametrize("action", ["deactivate", "unlock", "revoke"])
def test_deactivate_unlock_and_revoke_ask_first(app, admin_client, superuser, staff, kees,
                                               action):
    """Issue 11 item 19: one click on a small button deactivated an account at once. Now the
    button opens a question; only its answer acts, and Cancel leads back."""
    lock_out(app, staff.email)
    invitation, _raw = invitations.invite(kees.id, "en", superuser.id)
    path = {"deactivate": f"/users/{staff.id}/deactivate", "unlock": f"/users/{staff.id}/unlock",
            "revoke": f"/users/invitations/{invitation.id}/revoke"}[action]
    question = {"deactivate": f"Deactivate {staff.email}?", "unlock": f"Unlock {staff.email}?",
                "revoke": f"Revoke the invitation for {invitation.email}?"}[action]
    asked = admin_client.form(path)
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert question in text_of(asked) and 'name="confirmed" value="yes"' in page
    assert 'href="/users"' in page                                   # Cancel
    staff_now = User.get_by_id(staff.id)
    assert staff_now.is_active and staff_now.is_locked                 # nothing happened yet
    assert Invitation.get_by_id(invitation.id).revoked_at is None
    assert admin_client.form(path, {"confirmed": "yes"}).status_code == 302
    staff_now, invitation = User.get_by_id(staff.id), Invitation.get_by_id(invitation.id)
    assert {"deactivate": not staff_now.is_active, "unlock": not staff_now.is_locked,
            "revoke": invitation.revoked_at is not None}[action]
