"""Lost updates (issue 10, item 3): two people open the same edit form; the one who saves
second must not silently put back what the first changed. Every edit form of a record two
people can edit carries the version it opened (contacts, contact persons, employees, the
company details); a save over a newer version is refused with 409 and what is saved now, the
form keeps what was typed, and saving again then overwrites knowingly."""
import re

import pytest
from helpers import make_user, signed_in, text

from kontor import contacts
from models import Company, ContactPerson, Employee


def opened(page):
    """What a browser holds after opening an edit form: its version."""
    match = re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True))
    assert match, "the form carries no version"
    return match.group(1)


@pytest.fixture
def second_admin(app, superuser):
    return make_user("kees@jansen.example", superuser=True, name="Kees Smit")


@pytest.fixture
def kees(app, second_admin):
    return signed_in(app, second_admin)


def test_the_second_save_of_a_contact_person_is_refused_with_the_first_change(
        admin_client, kees, app):
    contact = contacts.create({"name": "Jansen Installatie BV", "kind": "company"})
    person = contacts.save_person(contact, None, {"name": "Piet Jansen", "phone": "+31 1",
                                                  "active": True})
    url = f"/contacts/{contact.id}/persons/{person.id}/edit"
    anna_opened, kees_opened = opened(admin_client.get(url)), opened(kees.get(url))
    fields = {"name": "Piet Jansen", "title": "", "email": "", "mobile": "", "active": "y"}

    assert admin_client.form(url, {**fields, "phone": "+31 2", "version": anna_opened}
                             ).status_code == 302
    late = kees.form(url, {**fields, "phone": "+31 1", "title": "Owner",
                           "version": kees_opened})
    assert late.status_code == 409
    page = text(late)
    assert "Someone else saved this contact person after you opened it" in page
    assert "saved now: +31 2; in your form: +31 1" in page
    assert 'value="Owner"' in page   # what Kees typed is still in the form
    assert ContactPerson.get_by_id(person.id).phone == "+31 2"
    # saving again from the refused form overwrites knowingly
    assert kees.form(url, {**fields, "phone": "+31 1", "title": "Owner",
                           "version": opened(late)}).status_code == 302
    assert ContactPerson.get_by_id(person.id).title == "Owner"


def test_the_second_save_of_an_employee_is_refused_with_the_first_change(admin_client, kees):
    marie = Employee.create(name="Marie Bakker", phone="+31 1")
    url = f"/employees/{marie.id}/edit"
    anna_opened, kees_opened = opened(admin_client.get(url)), opened(kees.get(url))
    fields = {"name": "Marie Bakker", "email": "", "mobile": "", "title": "",
              "department": "", "active": "y"}
    assert admin_client.form(url, {**fields, "phone": "+31 2", "version": anna_opened}
                             ).status_code == 302
    late = kees.form(url, {**fields, "phone": "+31 1", "department": "Service",
                           "version": kees_opened})
    assert late.status_code == 409
    page = text(late)
    assert "Someone else saved this employee after you opened it" in page
    assert "saved now: +31 2; in your form: +31 1" in page
    assert Employee.get_by_id(marie.id).phone == "+31 2"
    assert kees.form(url, {**fields, "phone": "+31 1", "department": "Service",
                           "version": opened(late)}).status_code == 302
    assert Employee.get_by_id(marie.id).department == "Service"


def test_the_second_save_of_the_company_details_is_refused_with_the_first_change(
        admin_client, kees):
    url = "/admin/company"
    anna_opened, kees_opened = opened(admin_client.get(url)), opened(kees.get(url))
    company = Company.current()
    fields = {name: getattr(company, name) or "" for name in (
        "name", "street", "postcode", "city", "country", "email", "vat_number",
        "org_number", "language", "timezone")}
    assert admin_client.form(url, {**fields, "phone": "+31 30 999", "version": anna_opened}
                             ).status_code == 302
    late = kees.form(url, {**fields, "phone": company.phone, "city": "Amersfoort",
                           "version": kees_opened})
    assert late.status_code == 409
    page = text(late)
    assert "Someone else saved the company details after you opened them" in page
    assert f"saved now: +31 30 999; in your form: {company.phone}" in page
    assert Company.current().phone == "+31 30 999" and Company.current().city == company.city
    assert kees.form(url, {**fields, "phone": company.phone, "city": "Amersfoort",
                           "version": opened(late)}).status_code == 302
    assert Company.current().city == "Amersfoort"


def test_every_edit_form_of_a_shared_record_carries_its_version(admin_client):
    """The rule for forms added later: an edit page of a record with a `version` column
    posts the version back."""
    contact = contacts.create({"name": "Jansen Installatie BV", "kind": "company"})
    person = contacts.save_person(contact, None, {"name": "Piet Jansen", "active": True})
    marie = Employee.create(name="Marie Bakker")
    for url in (f"/contacts/{contact.id}/edit",
                f"/contacts/{contact.id}/persons/{person.id}/edit",
                f"/employees/{marie.id}/edit", "/admin/company"):
        assert opened(admin_client.get(url)), url
