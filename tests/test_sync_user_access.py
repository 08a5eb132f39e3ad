"""The sync and user access (the tester's faults): an employee made inactive in the business
database loses their account as the employee form does it (deactivated and signed out now);
a business delete of an employee with an active account is refused with an Error line naming
it (user access is kept, issue 17 item 4), so the only superuser is never unlinked."""
import json

from helpers import add_employee, make_user, signed_in

from blueprints.sync import record_lines
from models import Employee, SyncBinding, User, UserSession


def bound_key(email):
    employee = Employee.get(Employee.email == email)
    return SyncBinding.get(SyncBinding.entity == "employees",
                           SyncBinding.kontor_id == employee.id).business_key


def test_an_employee_made_inactive_in_the_business_database_is_signed_out(app, firm, superuser):
    staff = make_user("kari@jansen.example", name="Kari Nordmann")
    browser = signed_in(app, staff)
    assert browser.get("/contacts").status_code == 200
    assert firm.cycle(first=True).status == "ok"
    firm.set("employees", bound_key("kari@jansen.example"), active=False)
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert not User.get_by_id(staff.id).is_active
    assert not UserSession.select().where(UserSession.user == staff.id,
                                          UserSession.ended_at.is_null()).exists()
    assert browser.get("/contacts").status_code in (302, 303)      # signed out now


def test_the_last_superusers_employee_stays_active_and_the_line_says_why(firm, superuser):
    assert firm.cycle(first=True).status == "ok"
    firm.set("employees", bound_key("anna@jansen.example"), active=False)
    run = firm.cycle()
    assert run.status == "error"
    [entry] = json.loads(run.error)["records"]
    assert (entry["reason"], entry["label"]) == ("last_superuser", "anna@jansen.example")
    assert User.get_by_id(superuser.id).is_active


def test_a_business_delete_of_the_owners_employee_keeps_user_access(app, firm, superuser):
    assert firm.cycle(first=True).status == "ok"
    firm.delete("employees", bound_key("anna@jansen.example"))
    run = firm.cycle()
    assert run.status == "error"
    [entry] = json.loads(run.error)["records"]
    assert (entry["reason"], entry["label"]) == ("user_access", "anna@jansen.example")
    user = User.get_by_id(superuser.id)
    assert user.employee_id is not None and user.is_active
    assert Employee.get_by_id(user.employee_id).email == "anna@jansen.example"
    with app.test_request_context():
        text = " ".join(record_lines(json.loads(run.error)))
    assert "anna@jansen.example" in text and "user access is kept" in text


def test_a_business_delete_of_an_employee_without_an_account_is_applied(firm, superuser):
    add_employee("Lars Berg", email="lars@jansen.example")
    assert firm.cycle(first=True).status == "ok"
    firm.delete("employees", bound_key("lars@jansen.example"))
    assert firm.cycle().status == "ok"
    assert not Employee.select().where(Employee.email == "lars@jansen.example").exists()
