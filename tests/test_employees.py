"""The employee register (SPEC section 4): superusers add and edit employees, with errors beside
the fields; e-mails are unique whatever their case; everyone signed in can search; a superuser
links their own account with "This is me"."""
import html
import re
from urllib.parse import quote

import pytest
from helpers import add_employee, body_of, error_beside, link_in, make_user, sign_in, text_of

from kontor import invitations
from models import AuditEvent, Employee, Invitation, User

NEW = {"name": "Marie Bakker", "email": "marie@jansen.example", "phone": "+31 30 555 0101",
       "mobile": "+31 6 1234 5678", "title": "Planner", "department": "Service",
       "active": "y"}



def names_listed(client, url="/employees"):
    body = client.get(url).get_data(as_text=True)
    return [re.sub(r"<[^>]+>.*", "", cell).strip()
            for cell in re.findall(r"<tr>\s*<td[^>]*>(.*?)</td>", body, re.S)]


# --- adding and editing --------------------------------------------------------------------

def test_the_superuser_adds_an_employee(app, admin_client, superuser):
    response = admin_client.fill("/employees/new", NEW)
    assert response.status_code == 302
    assert response.headers["Location"] == "/employees"
    marie = Employee.get(Employee.name == "Marie Bakker")
    assert (marie.email, marie.phone, marie.mobile, marie.title, marie.department,
            marie.active) == ("marie@jansen.example", "+31 30 555 0101", "+31 6 1234 5678",
                              "Planner", "Service", True)
    body = admin_client.get("/employees").get_data(as_text=True)
    assert "Employee Marie Bakker saved." in body
    assert "Marie Bakker" in names_listed(admin_client)
    event = AuditEvent.get(AuditEvent.action == "employee.created")
    assert (event.user_id, event.target) == (superuser.id, "Marie Bakker")


def test_a_bad_e_mail_is_shown_beside_the_field_and_the_typed_values_stay(app, admin_client):
    response = admin_client.fill("/employees/new", {**NEW, "email": "marie at jansen"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert error_beside(body, "email") == "Enter a valid e-mail address."
    assert error_beside(body, "name") is None
    for typed in ("Marie Bakker", "marie at jansen", "+31 30 555 0101", "Planner", "Service"):
        assert f'value="{typed}"' in body, typed
    assert not Employee.select().where(Employee.name == "Marie Bakker").exists()


def test_a_name_is_required(app, admin_client):
    response = admin_client.fill("/employees/new", {**NEW, "name": ""})
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), "name") == "This field is required."


def test_an_e_mail_may_be_left_empty(app, admin_client):
    assert admin_client.fill("/employees/new", {**NEW, "email": ""}).status_code == 302
    assert Employee.get(Employee.name == "Marie Bakker").email == ""
    assert admin_client.fill("/employees/new", {**NEW, "name": "Kees", "email": ""}) \
        .status_code == 302   # several employees without an e-mail are fine


def test_an_e_mail_is_stored_in_lower_case(app, admin_client):
    admin_client.fill("/employees/new", {**NEW, "email": "Marie@Jansen.Example"})
    assert Employee.get(Employee.name == "Marie Bakker").email == "marie@jansen.example"


@pytest.mark.parametrize("email", ["piet@jansen.example", "PIET@Jansen.Example"])
def test_an_e_mail_another_employee_has_is_refused_whatever_its_case(app, admin_client, staff,
                                                                   email):
    count = Employee.select().count()
    response = admin_client.fill("/employees/new", {**NEW, "email": email})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert error_beside(body, "email") == "Another employee already has this e-mail address."
    assert 'value="Marie Bakker"' in body
    assert Employee.select().count() == count


def test_editing_to_another_employees_e_mail_is_refused(app, admin_client, staff):
    admin_client.fill("/employees/new", NEW)
    marie = Employee.get(Employee.name == "Marie Bakker")
    response = admin_client.form(f"/employees/{marie.id}/edit",
                                 {**NEW, "email": "Piet@jansen.example"})
    assert response.status_code == 400
    assert Employee.get_by_id(marie.id).email == "marie@jansen.example"


def test_the_superuser_edits_an_employee(app, admin_client):
    admin_client.fill("/employees/new", NEW)
    marie = Employee.get(Employee.name == "Marie Bakker")
    form_page = admin_client.get(f"/employees/{marie.id}/edit").get_data(as_text=True)
    assert 'value="Planner"' in form_page and 'value="marie@jansen.example"' in form_page
    response = admin_client.form(f"/employees/{marie.id}/edit",
                                 {**NEW, "title": "Head of planning", "active": ""})
    assert response.status_code == 302
    changed = Employee.get_by_id(marie.id)
    assert (changed.title, changed.active, changed.email) == (
        "Head of planning", False, "marie@jansen.example")   # keeping its own e-mail is fine
    assert changed.version == marie.version + 1
    assert "Inactive" in admin_client.get("/employees").get_data(as_text=True)
    assert AuditEvent.get(AuditEvent.action == "employee.updated").target == "Marie Bakker"


def test_a_mistake_while_editing_keeps_the_typed_values(app, admin_client, staff):
    piet = Employee.get(Employee.email == staff.email)
    response = admin_client.form(f"/employees/{piet.id}/edit",
                                 {**NEW, "name": "Piet de Vries", "email": "piet@"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert error_beside(body, "email") == "Enter a valid e-mail address."
    assert 'value="piet@"' in body and 'value="Planner"' in body
    assert Employee.get_by_id(piet.id).title == ""


def test_a_post_that_leaves_out_optional_fields_saves_them_empty(app, admin_client):
    """A script (or an old form) may send only some fields: that is no server error."""
    response = admin_client.fill("/employees/new", {"name": "Kees Visser"})
    assert response.status_code == 302
    kees = Employee.get(Employee.name == "Kees Visser")
    assert (kees.email, kees.phone, kees.title, kees.active) == ("", "", "", False)


def test_editing_an_unknown_employee_is_404(app, admin_client):
    assert admin_client.get("/employees/999999/edit").status_code == 404
    assert admin_client.form("/employees/999999/edit", NEW).status_code == 404


def test_fields_longer_than_the_database_allows_are_refused(app, admin_client):
    response = admin_client.fill("/employees/new", {**NEW, "phone": "1" * 51})
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), "phone")


# --- search --------------------------------------------------------------------------------

@pytest.fixture
def register(app):
    make_user("anna@jansen.example", superuser=True, name="Anna Jansen")
    add_employee(name="Marie Bakker", email="marie@jansen.example", title="Planner",
                    phone="030 555 0101")
    add_employee(name="Kees Visser", email="kees@visser.example", department="Workshop",
                    mobile="06 9999 0000")
    add_employee(name="Zoë de Wit", email="zoe@jansen.example", title="Bookkeeper")


@pytest.mark.parametrize("query, expected", [
    ("", ["Anna Jansen", "Kees Visser", "Marie Bakker", "Zoë de Wit"]),
    ("marie", ["Marie Bakker"]),
    ("BAKKER", ["Marie Bakker"]),
    ("visser.example", ["Kees Visser"]),
    ("planner", ["Marie Bakker"]),
    ("workshop", ["Kees Visser"]),
    ("555 0101", ["Marie Bakker"]),
    ("9999", ["Kees Visser"]),
    ("jansen", ["Anna Jansen", "Marie Bakker", "Zoë de Wit"]),
    ("zoë", ["Zoë de Wit"]),
    ("%", []),
    ("nobody", []),
])
def test_the_register_can_be_searched(app, client, register, query, expected):
    sign_in(client, "anna@jansen.example")
    assert names_listed(client, f"/employees?q={query}") == expected


def test_a_search_without_results_says_so(app, admin_client):
    body = admin_client.get("/employees?q=nobody-at-all").get_data(as_text=True)
    assert "No employees found." in body
    assert 'value="nobody-at-all"' in body


def test_a_long_register_is_paged(app, admin_client):
    for n in range(60):
        add_employee(name=f"Employee {n:02d}")
    first = names_listed(admin_client)
    assert len(first) == 50
    body = admin_client.get("/employees").get_data(as_text=True)
    assert 'rel="next"' in body
    second = names_listed(admin_client, "/employees?page=2")
    assert len(first) + len(second) == Employee.select().count()
    assert not set(first) & set(second)


# --- "This is me" --------------------------------------------------------------------------

@pytest.fixture
def unlinked_admin(client):
    make_user("anna@jansen.example", superuser=True, employee=False)
    assert sign_in(client, "anna@jansen.example").status_code == 302
    return client


def link_buttons(client):
    body = client.get("/employees").get_data(as_text=True)
    return re.findall(r'action="/employees/(\d+)/link-me"', body)


def test_this_is_me_links_the_superuser_and_the_readiness_item_disappears(app, unlinked_admin):
    anna = Employee.create(name="Anna Jansen", email="anna@jansen.example")
    page = unlinked_admin.get("/admin/company").get_data(as_text=True)
    assert "Your account is linked to an employee in the employee register" in page
    assert str(anna.id) in link_buttons(unlinked_admin)

    response = unlinked_admin.form(f"/employees/{anna.id}/link-me")
    assert response.status_code == 302
    assert User.by_email("anna@jansen.example").employee_id == anna.id
    listing = unlinked_admin.get("/employees").get_data(as_text=True)
    assert "Your account is now linked to Anna Jansen." in listing
    assert re.search(r"Anna Jansen <span class=\"badge\">you</span>", listing)
    assert link_buttons(unlinked_admin) == []
    page = unlinked_admin.get("/admin/company").get_data(as_text=True)
    assert "linked to an employee in the employee register" not in page
    assert AuditEvent.get(AuditEvent.action == "employee.linked").target == "Anna Jansen"


def test_an_employee_who_has_an_account_cannot_be_claimed(app, unlinked_admin, staff):
    piet = Employee.get(Employee.email == staff.email)
    assert str(piet.id) not in link_buttons(unlinked_admin)
    response = unlinked_admin.form(f"/employees/{piet.id}/link-me")
    assert response.status_code == 302
    assert "Another account is already linked to Piet de Vries." in unlinked_admin.get(
        "/employees").get_data(as_text=True)
    assert User.by_email("anna@jansen.example").employee_id is None
    assert User.get_by_id(staff.id).employee_id == piet.id


def test_an_inactive_employee_cannot_be_linked(app, unlinked_admin):
    gone = Employee.create(name="Old Anna", active=False)
    assert str(gone.id) not in link_buttons(unlinked_admin)
    unlinked_admin.form(f"/employees/{gone.id}/link-me")
    assert User.by_email("anna@jansen.example").employee_id is None


def test_relinking_moves_the_superuser_to_the_other_employee(app, admin_client, superuser):
    """Issue 11 item 19: "This is me" on another employee asks first, naming both."""
    linked = superuser.employee_id
    current = Employee.get_by_id(linked)
    other = Employee.create(name="Anna J.", email="")
    asked = admin_client.form(f"/employees/{other.id}/link-me")
    assert asked.status_code == 200
    assert f"Link your account to Anna J. instead of {current.name}?" in text_of(asked)
    assert User.get_by_id(superuser.id).employee_id == linked          # not moved yet
    admin_client.form(f"/employees/{other.id}/link-me", {"confirmed": "yes"})
    assert User.get_by_id(superuser.id).employee_id == other.id


# --- staff ---------------------------------------------------------------------------------

def test_staff_users_see_the_register_without_the_superuser_actions(app, staff_client,
                                                                    superuser):
    body = staff_client.get("/employees").get_data(as_text=True)
    assert "Anna Jansen" in body and "Piet" in body
    assert "/employees/new" not in body
    assert "/edit" not in body
    assert "link-me" not in body


def test_staff_users_cannot_add_edit_or_link(app, staff_client, staff):
    own = Employee.get(Employee.email == staff.email)
    assert staff_client.get("/employees/new").status_code == 403
    assert staff_client.form("/employees/new", NEW).status_code == 403
    assert staff_client.get(f"/employees/{own.id}/edit").status_code == 403
    assert staff_client.form(f"/employees/{own.id}/edit", {**NEW, "title": "Boss"}) \
        .status_code == 403
    other = Employee.create(name="Someone")
    assert staff_client.form(f"/employees/{other.id}/link-me").status_code == 403
    assert not Employee.select().where(Employee.name == "Marie Bakker").exists()
    assert Employee.get_by_id(own.id).title == ""
    assert User.get_by_id(staff.id).employee_id == own.id


# --- one folding for every search (issue 11 item 8) ---------------------------------------

@pytest.fixture
def foreign_names(app):
    make_user("anna@jansen.example", superuser=True, name="Anna Jansen")
    add_employee(name="Jörg Müller", email="joerg@jansen.example")
    add_employee(name="Søren Østergaard", email="soren@jansen.example", department="Ærø")
    add_employee(name="Siobhán O'Brien", email="siobhan@jansen.example")     # typed '
    add_employee(name="Seán O’Neill", email="sean@jansen.example")           # U+2019


@pytest.mark.parametrize("query, expected", [
    ("muller", ["Jörg Müller"]),
    ("MÜLLER", ["Jörg Müller"]),
    ("Østergaard", ["Søren Østergaard"]),
    ("østergaard", ["Søren Østergaard"]),
    ("ostergaard", ["Søren Østergaard"]),
    ("aero", ["Søren Østergaard"]),
    ("O’Brien", ["Siobhán O'Brien"]),
    ("o'neill", ["Seán O’Neill"]),
    ("siobhan", ["Siobhán O'Brien"]),
    ("SEÁN O'NEILL", ["Seán O’Neill"]),
    ("muller\u200b", ["Jörg Müller"]),           # a zero-width space pasted with the word
])
def test_the_register_search_folds_accents_and_apostrophes(app, client, foreign_names, query,
                                                           expected):
    sign_in(client, "anna@jansen.example")
    assert [html.unescape(name) for name in
            names_listed(client, f"/employees?q={quote(query)}")] == expected


def test_employees_saved_through_the_form_are_found_folded_and_renamed_ones_by_new_name(
        app, admin_client):
    assert admin_client.fill("/employees/new", {**NEW, "name": "Jörg Müller",
                                                "email": "joerg@jansen.example"}
                             ).status_code == 302
    assert names_listed(admin_client, "/employees?q=muller") == ["Jörg Müller"]
    joerg = Employee.get(Employee.name == "Jörg Müller")
    edited = admin_client.form(f"/employees/{joerg.id}/edit",
                               {**NEW, "name": "Jörg Østergaard", "email": joerg.email,
                                "version": str(joerg.version)})
    assert edited.status_code == 302, edited.get_data(as_text=True)[:500]
    assert names_listed(admin_client, "/employees?q=muller") == []
    assert names_listed(admin_client, "/employees?q=ostergaard") == ["Jörg Østergaard"]


def test_a_folded_search_pages_through_all_its_results(app, admin_client):
    for n in range(60):
        add_employee(name=f"Müller {n:02d}")
    add_employee(name="Someone Else")
    first = names_listed(admin_client, "/employees?q=muller")
    body = admin_client.get("/employees?q=muller").get_data(as_text=True)
    following = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', body).group(1))
    assert "q=muller" in following
    second = names_listed(admin_client, following)
    assert first == [f"Müller {n:02d}" for n in range(50)]
    assert second == [f"Müller {n:02d}" for n in range(50, 60)]


# --- an employee made inactive loses their login too (issue 10 item 14) ---------------------

QUESTION = "When this employee is inactive, deactivate their Kontor account too?"


def edit(client, employee, **changes):
    """Send the employee's edit form as the browser shows it, with `changes`; "active"
    left out is Active unticked."""
    values = {"name": employee.name, "email": employee.email, "version": str(employee.version),
              **changes}
    return client.form(f"/employees/{employee.id}/edit", {k: v for k, v in values.items()
                                                          if v is not None})


def piet_asks_for_a_reset_link(app, mailbox, staff):
    app.test_client().form("/forgot", {"email": staff.email})
    mailbox.deliver()
    return link_in(body_of(mailbox.to(staff.email)[-1]))


def test_the_edit_form_asks_about_the_account_with_yes_chosen(app, admin_client, staff):
    page = admin_client.get(f"/employees/{staff.employee_id}/edit").get_data(as_text=True)
    assert QUESTION in text_of(page)
    yes = re.search(r'<input[^>]*value="deactivate"[^>]*>', page).group(0)
    no = re.search(r'<input[^>]*value="keep"[^>]*>', page).group(0)
    assert "checked" in yes and "checked" not in no


@pytest.mark.parametrize("answer", ["deactivate", None], ids=["yes", "not-answered"])
def test_an_inactive_employee_is_signed_out_and_cannot_come_back(
        app, admin_client, staff_client, staff, superuser, mailbox, answer):
    link = piet_asks_for_a_reset_link(app, mailbox, staff)
    assert staff_client.get("/contacts").status_code == 200

    response = edit(admin_client, Employee.get_by_id(staff.employee_id), account=answer)

    assert response.status_code == 302
    assert not Employee.get_by_id(staff.employee_id).active
    assert not User.get_by_id(staff.id).is_active
    listed = text_of(admin_client.get("/employees"))
    assert "piet@jansen.example is deactivated and signed out." in listed
    # the open session goes to the sign-in page on its next request
    signed_out = staff_client.get("/contacts")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    # the right password no longer signs in
    again = sign_in(app.test_client(), staff.email)
    assert again.status_code == 200 and "Wrong e-mail or password." in text_of(again)
    # nor does the reset link mailed before
    browser = app.test_client()
    opened = browser.get(link)
    assert browser.get(opened.headers["Location"]).status_code in (404, 410)
    event = AuditEvent.get(AuditEvent.action == "user.deactivated")
    assert (event.user_id, event.target) == (superuser.id, staff.email)


def test_keeping_the_account_says_so_and_the_session_goes_on(app, admin_client, staff_client,
                                                              staff):
    response = edit(admin_client, Employee.get_by_id(staff.employee_id), account="keep")

    assert response.status_code == 302
    assert not Employee.get_by_id(staff.employee_id).active
    assert User.get_by_id(staff.id).is_active
    listed = text_of(admin_client.get("/employees"))
    assert "The account piet@jansen.example stays active: Piet de Vries can still sign in." \
        in listed
    assert staff_client.get("/contacts").status_code == 200
    assert not AuditEvent.select().where(AuditEvent.action == "user.deactivated").exists()


def test_an_employee_without_an_account_is_not_asked(app, admin_client):
    kees = Employee.create(name="Kees Visser", email="kees@jansen.example")
    page = admin_client.get(f"/employees/{kees.id}/edit")
    assert QUESTION not in text_of(page)

    response = edit(admin_client, kees)

    assert response.status_code == 302
    assert not Employee.get_by_id(kees.id).active
    listed = text_of(admin_client.get("/employees"))
    assert "deactivated and signed out" not in listed and "stays active" not in listed


def test_making_yourself_inactive_keeps_your_account_unless_you_say_so(app, admin_client,
                                                                      superuser):
    anna = Employee.get_by_id(superuser.employee_id)
    response = edit(admin_client, anna)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "You cannot deactivate your own account." in text_of(page)
    assert 'id="account-error"' in page
    assert Employee.get_by_id(anna.id).active and User.get_by_id(superuser.id).is_active
    # choosing to keep the account saves
    assert edit(admin_client, anna, account="keep").status_code == 302
    assert not Employee.get_by_id(anna.id).active


def test_linking_to_an_invited_employee_withdraws_the_invitation(app, client, admin_client,
                                                                 superuser):
    """Found by a new user: "This is me" on an employee with an open invitation left the
    invitation open; its link then ended in "The link was used already"."""
    ase = Employee.create(name="Åse Berg", email="ase@jansen.example")
    invitation, raw = invitations.invite(ase.id, "en", superuser.id)
    admin_client.form(f"/employees/{ase.id}/link-me", {"confirmed": "yes"})
    assert User.get_by_id(superuser.id).employee_id == ase.id
    assert Invitation.get_by_id(invitation.id).revoked_at is not None
    opened = client.get(f"/invite/{raw}", follow_redirects=True)
    assert opened.status_code == 410 and "used already" not in text_of(opened)
