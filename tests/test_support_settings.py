"""The support settings of issue 11 item 19 (SPEC section 9): in a small firm every staff member
sees every support case, a company setting that is on by default, with "own cases only" as the
option; and the categories and types of request are unique ignoring capitals, accents and
spaces, on adding and on renaming, also when two requests race (a unique index decides)."""
import threading

import pytest
from helpers import error_beside, make_company, text
from peewee import IntegrityError
from support_helpers import PNG, category, open_case, type_of_request

from kontor import support
from models import CaseCategory, CaseFile, CaseType, Company, db


def numbers_listed(response):
    page = text(response)
    return sorted({part.split('"')[0] for part in page.split('href="/support/')[1:]
                   if part[:4].isdigit() and "/" not in part.split('"')[0]})


# --- who sees which cases -------------------------------------------------------------------

def test_by_default_every_staff_member_sees_and_opens_a_colleagues_case(
        staff_client, mila_client, desk, mila):
    make_company()
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       subject="Boiler leaks", files=[("photo.png", PNG)])
    assert Company.current().staff_see_all_cases is True
    # Mila neither asked for nor owns it, and sees it: in the list, the search, the case page,
    # its file, and the customer's timeline
    assert number in numbers_listed(mila_client.get("/support?view=all"))
    assert number in numbers_listed(mila_client.get("/support?view=all&q=boiler"))
    assert number in numbers_listed(mila_client.get(f"/support?view=all&q={number}"))
    page = mila_client.get(f"/support/{number}")
    assert page.status_code == 200 and "Boiler leaks" in text(page)
    file_id = CaseFile.get().id
    assert mila_client.get(f"/support/{number}/files/{file_id}").status_code == 200
    assert "Boiler leaks" in text(mila_client.get(f"/contacts/{desk.customer.id}"))
    assert "Boiler leaks" in text(mila_client.get(f"/contacts/{desk.customer.id}/timeline"))
    # and may add information to it
    response = mila_client.fill(f"/support/{number}/add", {"body": "I can come on Friday."})
    assert response.status_code == 302
    # "My cases" stays the cases she owns
    assert number not in numbers_listed(mila_client.get("/support"))


def test_own_cases_only_hides_a_colleagues_case_everywhere(
        admin_client, staff_client, mila_client, desk, mila):
    make_company()
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       subject="Boiler leaks", files=[("photo.png", PNG)])
    response = admin_client.form("/support/settings/visibility", {"visibility": "own"})
    assert response.status_code == 302
    assert "Staff now see only the support cases they asked for or own." in text(
        admin_client.get("/support/settings"))
    assert Company.current().staff_see_all_cases is False

    assert numbers_listed(mila_client.get("/support?view=all")) == []
    assert numbers_listed(mila_client.get("/support?view=all&q=boiler")) == []
    assert numbers_listed(mila_client.get(f"/support?view=all&q={number}")) == []
    assert mila_client.get(f"/support/{number}").status_code == 404
    file_id = CaseFile.get().id
    assert mila_client.get(f"/support/{number}/files/{file_id}").status_code == 404
    assert mila_client.fill(f"/support/{number}/add", {"body": "x"}).status_code == 404
    assert "Boiler leaks" not in text(mila_client.get(f"/contacts/{desk.customer.id}"))
    assert "Boiler leaks" not in text(
        mila_client.get(f"/contacts/{desk.customer.id}/timeline"))
    # the requester still sees it, and a superuser sees all
    assert staff_client.get(f"/support/{number}").status_code == 200
    assert admin_client.get(f"/support/{number}").status_code == 200
    assert number in numbers_listed(admin_client.get("/support?view=all&q=boiler"))
    assert "Boiler leaks" in text(admin_client.get(f"/contacts/{desk.customer.id}"))

    # and on again
    admin_client.form("/support/settings/visibility", {"visibility": "all"})
    assert "Every staff member now sees all support cases." in text(
        admin_client.get("/support/settings"))
    assert mila_client.get(f"/support/{number}").status_code == 200
    assert "Boiler leaks" in text(mila_client.get(f"/contacts/{desk.customer.id}"))


def test_the_settings_page_shows_the_setting_as_it_is(admin_client, desk):
    make_company()
    page = admin_client.get("/support/settings").get_data(as_text=True)
    assert "Who sees which support cases" in page
    radio = page.split('value="all"')[0].rsplit("<input", 1)[1] + page.split(
        'value="all"')[1].split(">", 1)[0]
    assert "checked" in radio
    support.set_staff_see_all(False)
    page = admin_client.get("/support/settings").get_data(as_text=True)
    radio = page.split('value="own"')[0].rsplit("<input", 1)[1] + page.split(
        'value="own"')[1].split(">", 1)[0]
    assert "checked" in radio


def test_only_a_superuser_changes_who_sees_which_cases(staff_client, desk):
    make_company()
    assert staff_client.form("/support/settings/visibility",
                             {"visibility": "own"}).status_code == 403
    assert Company.current().staff_see_all_cases is True


def test_an_odd_visibility_is_a_form_error_and_changes_nothing(admin_client, desk):
    make_company()
    response = admin_client.form("/support/settings/visibility", {"visibility": "nobody"})
    assert response.status_code == 400
    assert 'id="visibility-error"' in response.get_data(as_text=True)
    assert Company.current().staff_see_all_cases is True


# --- unique names ---------------------------------------------------------------------------

def add(admin_client, kind, name):
    return admin_client.fill(f"/support/settings/{kind}", {f"{kind}-name": name,
                                                          f"{kind}-submit": "Add"})


def test_a_category_that_differs_only_in_case_is_refused_beside_the_field(admin_client, desk):
    category("Installatie", position=2)
    for name in ("installatie", "  INSTALLATIE ", "Installätie", "Installatie  "):
        response = add(admin_client, "categories", name)
        assert response.status_code == 400, name
        assert error_beside(text(response), "categories-name") == (
            "“Installatie” exists already; names that differ only in capitals, accents or "
            "spaces count as the same.")
    assert [c.name for c in CaseCategory.select().order_by(CaseCategory.id)] == \
        ["Invoicing", "Installatie"]
    # what was typed stays in the field
    assert 'value="installatie"' in add(admin_client, "categories", "installatie").get_data(
        as_text=True)


def test_a_type_is_unique_too_and_kept_with_single_spaces(admin_client, desk):
    assert add(admin_client, "types", "  Error   report ").status_code == 302
    assert CaseType.get(CaseType.name == "Error report")
    response = add(admin_client, "types", "error report")
    assert response.status_code == 400
    assert "“Error report” exists already" in error_beside(text(response), "types-name")
    assert add(admin_client, "types", "question").status_code == 400     # the desk's
    # the same name in the other list is no clash
    assert add(admin_client, "categories", "Error report").status_code == 302


def test_renaming_to_a_name_that_exists_is_refused_beside_the_field(admin_client, desk):
    payroll = category("Payroll", position=2)
    url = f"/support/settings/categories/{payroll.id}/rename"
    field = f"categories-{payroll.id}-name"
    response = admin_client.form(url, {field: " invoicing"})
    assert response.status_code == 400
    page = text(response)
    assert error_beside(page, field).startswith("“Invoicing” exists already")
    assert CaseCategory.get_by_id(payroll.id).name == "Payroll"
    # renaming to itself with other capitals is fine, and so is a new name
    assert admin_client.form(url, {field: "PAYROLL"}).status_code == 302
    assert CaseCategory.get_by_id(payroll.id).name == "PAYROLL"
    assert admin_client.form(url, {field: "Salaries"}).status_code == 302
    assert "“PAYROLL” is now called “Salaries”." in text(admin_client.get("/support/settings"))
    assert error_beside(text(admin_client.form(url, {field: " "})), field) == "Enter a name."
    assert admin_client.form("/support/settings/categories/99999/rename",
                             {"categories-99999-name": "X"}).status_code == 404


def test_a_case_shows_its_category_under_the_new_name(admin_client, staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    field = f"categories-{desk.category.id}-name"
    admin_client.form(f"/support/settings/categories/{desk.category.id}/rename",
                      {field: "Billing"})
    assert "Billing" in text(staff_client.get(f"/support/{number}"))


def test_two_superusers_adding_the_same_name_at_once_make_one(app, desk):
    """The check before the insert cannot see an insert that is not yet committed; the
    unique index on the folded name refuses the second."""
    results = []
    barrier = threading.Barrier(2)

    def add_one(name):
        with app.app_context(), db.connection_context():
            barrier.wait()
            try:
                results.append(support.add_to_list("categories", name).name)
            except support.NameTaken as taken:
                results.append(f"taken: {taken.existing}")

    threads = [threading.Thread(target=add_one, args=(name,))
               for name in ("Installatie", "installatie")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert sum(result.startswith("taken: ") for result in results) == 1
    assert CaseCategory.select().where(CaseCategory.name_key == "installatie").count() == 1


def test_the_database_refuses_a_second_name_that_folds_the_same(desk):
    """Even past kontor/support.py: the unique index on the key."""
    with pytest.raises(IntegrityError), db.atomic():
        type_of_request("QUESTION")
    assert CaseType.select().count() == 1
