"""A state change happens once (issue 10, item 2): a second click, a stale tab or two posts at
the same moment change nothing more and are told what happened, never a 500. Closing, "Was
your question answered?", the owner and the lists' "offered" flag are compare-and-set; what a
form appends (a note entry, a message on a case, a new case, a list item) carries a one-time
key that the database's unique index lets one request use.

Everything goes through HTTP like a browser, on SQLite and PostgreSQL."""
import threading
from datetime import timedelta

import pytest
from helpers import form_key, form_keys_on, signed_in, text
from support_helpers import add_information, case_by_number, choose_customer, details, open_case
from wtforms.fields.core import UnboundField

from blueprints import contacts as contacts_views
from blueprints import employees as employees_views
from blueprints import forms as forms_module
from blueprints.forms import Form
from blueprints.support import forms as support_forms
from kontor import contacts, form_keys, notes, support
from models import (
    CaseCategory,
    CaseEvent,
    CaseMessage,
    Contact,
    ContactPerson,
    Employee,
    FormKey,
    NoteEntry,
    OutboxMessage,
    SupportCase,
    db,
)
from models.clock import utcnow


def at_once(*posts):
    """Run each callable in its own thread, released together; their responses in order."""
    if not db.is_closed():
        db.close()   # each thread opens its own connection
    barrier = threading.Barrier(len(posts))
    results = [None] * len(posts)

    def run(index, post):
        barrier.wait(timeout=10)
        try:
            results[index] = post()
        except Exception as error:   # anything raised is the bug these tests look for
            results[index] = error

    threads = [threading.Thread(target=run, args=(n, post)) for n, post in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def statuses(responses):
    return sorted(getattr(r, "status_code", repr(r)) for r in responses)


def mails(subject):
    return OutboxMessage.select().where(OutboxMessage.subject == subject).count()


def fresh(case):
    return SupportCase.get_by_id(case.id)


def closed_case(admin_client, staff_client, desk, superuser):
    """A case Piet asked for and Anna owns and closed."""
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    assert admin_client.form(f"/support/{number}/close", {}).status_code == 302
    return number


# --- closing -------------------------------------------------------------------------------

def test_closing_again_from_a_stale_tab_keeps_the_answer_and_mails_once(
        admin_client, staff_client, desk, superuser):
    number = closed_case(admin_client, staff_client, desk, superuser)
    assert staff_client.form(f"/support/{number}/answered", {}).status_code == 302

    again = admin_client.form(f"/support/{number}/close", {}, follow_redirects=True)
    assert again.status_code == 200
    assert f"Case {number} was closed already." in text(again)
    case = fresh(case_by_number(number))
    assert case.status == "closed" and case.satisfied is True
    assert mails(f"Case {number} is closed") == 1
    assert CaseEvent.select().where(CaseEvent.case == case.id, CaseEvent.action == "status",
                                    CaseEvent.new == "closed").count() == 1
    assert "1 of 1" in text(staff_client.get("/support?view=all"))


def test_two_closes_at_once_close_once(app, admin_client, staff_client, desk, superuser):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    second = signed_in(app, superuser)
    responses = at_once(lambda: admin_client.form(f"/support/{number}/close", {}),
                        lambda: second.form(f"/support/{number}/close", {}))
    assert statuses(responses) == [302, 302]
    case = case_by_number(number)
    assert mails(f"Case {number} is closed") == 1
    assert CaseEvent.select().where(CaseEvent.case == case.id, CaseEvent.action == "status",
                                    CaseEvent.new == "closed").count() == 1


# --- "Was your question answered?" ---------------------------------------------------------

def test_two_no_reopen_posts_at_once_reopen_once(app, admin_client, staff_client, desk,
                                                 superuser, staff):
    number = closed_case(admin_client, staff_client, desk, superuser)
    second = signed_in(app, staff)   # the same requester in a second tab
    feedback = {"feedback": "Still offline."}
    responses = at_once(lambda: staff_client.form(f"/support/{number}/not-answered", feedback),
                        lambda: second.form(f"/support/{number}/not-answered", feedback))
    assert statuses(responses) == [302, 409]
    case = case_by_number(number)
    assert case.status == "open" and case.satisfied is False
    assert CaseMessage.select().where(CaseMessage.case == case.id,
                                      CaseMessage.kind == "feedback").count() == 1
    assert mails(f"Case {number} was reopened") == 1
    assert CaseEvent.select().where(CaseEvent.case == case.id,
                                    CaseEvent.action == "answered_no").count() == 1


def test_yes_and_no_at_once_record_one_answer(app, admin_client, staff_client, desk,
                                              superuser, staff):
    number = closed_case(admin_client, staff_client, desk, superuser)
    second = signed_in(app, staff)
    responses = at_once(lambda: staff_client.form(f"/support/{number}/answered", {}),
                        lambda: second.form(f"/support/{number}/not-answered",
                                            {"feedback": "No."}))
    assert statuses(responses) == [302, 409]
    case = case_by_number(number)
    assert CaseEvent.select().where(CaseEvent.case == case.id, CaseEvent.action.in_(
        ("answered_yes", "answered_no"))).count() == 1


def test_the_domain_answers_once(app, admin_client, staff_client, desk, superuser, staff):
    number = closed_case(admin_client, staff_client, desk, superuser)
    case = case_by_number(number)
    assert support.answered_yes(case, staff) is True
    assert support.answered_yes(case, staff) is False
    assert support.answered_no(case, staff, "late") is False
    assert support.close(case, superuser) is False


# --- the owner -----------------------------------------------------------------------------

def test_a_second_owner_change_from_the_same_page_is_refused_and_said(
        app, staff_client, desk, superuser, mila, staff):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    other_tab = signed_in(app, staff)
    responses = at_once(
        lambda: staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)}),
        lambda: other_tab.form(f"/support/{number}/owner", {"owner": str(mila.id)}))
    # whoever came second was either refused (403: no longer the owner) or told; one change
    assert all(getattr(r, "status_code", 500) in (302, 403) for r in responses), responses
    case = case_by_number(number)
    assert CaseEvent.select().where(CaseEvent.case == case.id,
                                    CaseEvent.action == "owner").count() == 1
    assert OutboxMessage.select().where(OutboxMessage.subject.contains("You own case")).count() == 1


def test_the_owner_change_is_compare_and_set(app, staff_client, desk, superuser, mila, staff):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    seen_by_a, seen_by_b = case_by_number(number), case_by_number(number)
    assert support.change_owner(seen_by_a, staff, superuser) is True
    assert support.change_owner(seen_by_b, staff, mila) is False   # it changed meanwhile
    assert case_by_number(number).owner_id == superuser.id


def test_giving_the_case_to_its_owner_again_says_so(staff_client, desk, superuser):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    again = staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)},
                              follow_redirects=True)
    # Piet no longer owns it, so he may not: told by Kontor's own page, nothing changes
    assert again.status_code == 403
    assert CaseEvent.select().where(CaseEvent.action == "owner").count() == 1


# --- appending: notes ----------------------------------------------------------------------

@pytest.fixture
def contact(app):
    return contacts.create({"name": "Jansen Installatie BV", "city": "Utrecht"})


def test_a_double_click_on_save_text_stores_one_entry(admin_client, contact):
    key = form_key(admin_client.get(f"/contacts/{contact.id}/edit"), "note-form_key")
    data = {"note-text": "Called about the boiler.", "note-form_key": key}
    first = admin_client.form(f"/contacts/{contact.id}/notes", data)
    assert first.status_code == 302
    again = admin_client.form(f"/contacts/{contact.id}/notes", data, follow_redirects=True)
    assert again.status_code == 200
    assert "This was saved already" in text(again)
    assert NoteEntry.select().count() == 1
    # the page shows a new key: the next entry is stored
    key = form_key(admin_client.get(f"/contacts/{contact.id}/edit"), "note-form_key")
    admin_client.form(f"/contacts/{contact.id}/notes", {"note-text": "And again.",
                                                        "note-form_key": key})
    assert NoteEntry.select().count() == 2


def test_two_saves_of_one_note_form_at_once_store_one_entry(app, admin_client, superuser,
                                                             contact):
    key = form_key(admin_client.get(f"/contacts/{contact.id}/edit"), "note-form_key")
    second = signed_in(app, superuser)
    data = {"note-text": "Called about the boiler.", "note-form_key": key}
    responses = at_once(lambda: admin_client.form(f"/contacts/{contact.id}/notes", data),
                        lambda: second.form(f"/contacts/{contact.id}/notes", data))
    assert statuses(responses) == [302, 302]
    assert NoteEntry.select().count() == 1


def test_a_note_form_that_came_back_with_an_error_keeps_its_key(admin_client, contact):
    key = form_key(admin_client.get(f"/contacts/{contact.id}/edit"), "note-form_key")
    refused = admin_client.form(f"/contacts/{contact.id}/notes",
                                {"note-text": " ", "note-form_key": key})
    assert refused.status_code == 400 and form_key(refused, "note-form_key") == key
    admin_client.form(f"/contacts/{contact.id}/notes", {"note-text": "Now with text.",
                                                        "note-form_key": key})
    assert NoteEntry.select().count() == 1


def test_a_used_key_is_refused_by_the_database_and_purged_after_a_week(app, contact,
                                                                        superuser):
    key = form_keys.new_key()
    notes.add_entry(contact, "one", author=superuser, form_key=key)
    with pytest.raises(form_keys.AlreadySaved):
        notes.add_entry(contact, "one", author=superuser, form_key=key)
    assert NoteEntry.select().count() == 1
    FormKey.update(used_at=utcnow() - timedelta(days=8)).execute()
    notes.add_entry(contact, "two", author=superuser, form_key=form_keys.new_key())
    assert FormKey.select().count() == 1


# --- appending: a case's messages, a new case, list items ----------------------------------

def test_add_information_posted_twice_adds_one_message(staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    key = form_key(staff_client.get(f"/support/{number}"))
    data = {"body": "It works again.", "form_key": key, "submit": "Add information"}
    assert staff_client.form(f"/support/{number}/add", data).status_code == 302
    again = staff_client.form(f"/support/{number}/add", data, follow_redirects=True)
    assert "This was saved already" in text(again)
    case = case_by_number(number)
    assert CaseMessage.select().where(CaseMessage.case == case.id).count() == 2
    # a form without a key (an old page) is refused below, in the forms without a key
    assert add_information(staff_client, number, "More.").status_code == 302


def test_add_information_posted_twice_at_once_adds_one_message(app, staff_client, desk,
                                                               superuser):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    admin = signed_in(app, superuser)
    key = form_key(admin.get(f"/support/{number}"))
    second = signed_in(app, superuser)
    data = {"body": "Try turning it off and on.", "form_key": key}
    responses = at_once(lambda: admin.form(f"/support/{number}/add", data),
                        lambda: second.form(f"/support/{number}/add", data))
    assert statuses(responses) == [302, 302]
    case = case_by_number(number)
    assert CaseMessage.select().where(CaseMessage.case == case.id).count() == 2
    assert mails(f"Case {number} has an answer") <= 1


def start_case(client, desk):
    choose_customer(client, desk.customer)
    assert client.form("/support/new/details", details(desk.category, desk.type)
                       ).status_code == 302
    return form_key(client.get("/support/new/summary"))


def test_send_from_a_stale_summary_makes_one_case(staff_client, desk):
    key = start_case(staff_client, desk)
    data = {"submit": "Send", "include_tech": "y", "form_key": key}
    assert staff_client.form("/support/new/summary", data).status_code == 302
    again = staff_client.form("/support/new/summary", data, follow_redirects=True)
    assert again.status_code == 200 and "This was saved already" in text(again)
    assert SupportCase.select().count() == 1


def test_send_twice_at_once_makes_one_case(app, staff_client, desk, staff):
    key = start_case(staff_client, desk)
    data = {"submit": "Send", "include_tech": "y", "form_key": key}
    # the same browser twice: the same session, the same draft
    responses = at_once(lambda: staff_client.form("/support/new/summary", data),
                        lambda: staff_client.form("/support/new/summary", data))
    assert statuses(responses) == [302, 302]
    assert SupportCase.select().count() == 1


def test_a_list_item_added_twice_is_added_once(admin_client, desk):
    key = form_key(admin_client.get("/support/settings"), "categories-form_key")
    data = {"categories-name": "Payroll", "categories-form_key": key}
    admin_client.form("/support/settings/categories", data)
    again = admin_client.form("/support/settings/categories", data, follow_redirects=True)
    assert "This was saved already" in text(again)
    assert CaseCategory.select().where(CaseCategory.name == "Payroll").count() == 1


def test_stop_offering_twice_from_a_stale_page_does_not_offer_it_again(admin_client, desk):
    url = f"/support/settings/categories/{desk.category.id}/toggle"
    admin_client.form(url, {"offered": "0"})
    admin_client.form(url, {"offered": "0"})
    assert CaseCategory.get_by_id(desk.category.id).active is False
    assert admin_client.form(url, {}).status_code == 400


# --- appending: a contact person, an employee ----------------------------------------------

def test_a_double_click_on_add_contact_person_adds_one(admin_client, contact):
    url = f"/contacts/{contact.id}/persons/new"
    data = {"name": "Piet Jansen", "form_key": form_key(admin_client.get(url))}
    assert admin_client.form(url, data).status_code == 302
    again = admin_client.form(url, data, follow_redirects=True)
    assert "This was saved already" in text(again)
    assert ContactPerson.select().count() == 1


def test_a_double_click_on_add_employee_adds_one(admin_client):
    data = {"name": "Marie Bakker", "active": "y",
            "form_key": form_key(admin_client.get("/employees/new"))}
    before = Employee.select().count()
    assert admin_client.form("/employees/new", data).status_code == 302
    again = admin_client.form("/employees/new", data, follow_redirects=True)
    assert "This was saved already" in text(again)
    assert Employee.select().count() == before + 1


# --- a form that carries a one-time key refuses a post without one ------------------------

NO_KEY = "This was not saved: the form came without its one-time key"


def keyless_forms(contact, desk, number):
    """(url the form posts to, page that shows it, what is typed, the typed text as the page
    shows it again, how many of what it adds there are) for every form with a form key."""
    person = ContactPerson.create(contact=contact, name="Piet Jansen")
    return {
        "new contact": ("/contacts/new", "/contacts/new",
                        {"kind": "company", "name": "Typed Twice BV", "country": "NL",
                         "discount": "0", "active": "y"}, 'value="Typed Twice BV"',
                        lambda: Contact.select().where(Contact.name == "Typed Twice BV")
                        .count()),
        "new contact person": (f"/contacts/{contact.id}/persons/new",
                               f"/contacts/{contact.id}/persons/new",
                               {"name": "Marie Typed"}, 'value="Marie Typed"',
                               lambda: ContactPerson.select().where(
                                   ContactPerson.name == "Marie Typed").count()),
        "note of a contact": (f"/contacts/{contact.id}/notes", f"/contacts/{contact.id}/edit",
                              {"note-text": "Typed about the boiler"},
                              "Typed about the boiler</textarea>",
                              lambda: NoteEntry.select().count()),
        "note of a person": (f"/contacts/{contact.id}/persons/{person.id}/notes",
                             f"/contacts/{contact.id}/persons/{person.id}/edit",
                             {"note-text": "Typed about the ladder"},
                             "Typed about the ladder</textarea>",
                             lambda: NoteEntry.select().count()),
        "new employee": ("/employees/new", "/employees/new",
                         {"name": "Marie Typed", "active": "y"}, 'value="Marie Typed"',
                         lambda: Employee.select().where(Employee.name == "Marie Typed")
                         .count()),
        "list item": ("/support/settings/categories", "/support/settings",
                      {"categories-name": "Typed Payroll"}, 'value="Typed Payroll"',
                      lambda: CaseCategory.select().where(CaseCategory.name == "Typed Payroll")
                      .count()),
        "information on a case": (f"/support/{number}/add", f"/support/{number}",
                                  {"body": "Typed: it works again.", "submit": "Add information"},
                                  "Typed: it works again.</textarea>",
                                  lambda: CaseMessage.select().count()),
    }


FORMS = ["new contact", "new contact person", "note of a contact", "note of a person",
         "new employee", "list item", "information on a case"]


@pytest.mark.parametrize("name", FORMS)
def test_a_post_without_its_form_key_is_refused_and_keeps_what_was_typed(admin_client, desk,
                                                                         contact, name):
    number = open_case(admin_client, desk.customer, desk.category, desk.type)
    url, page, typed, shown, count = keyless_forms(contact, desk, number)[name]
    before = count()

    refused = admin_client.form(url, typed)

    assert refused.status_code == 400
    assert NO_KEY in text(refused)
    assert shown in refused.get_data(as_text=True)
    assert count() == before
    # sent again from the page it came back on (a fresh key), it is stored once
    again = admin_client.form(url, {**typed, **form_keys_on(refused)})
    assert again.status_code == 302
    assert count() == before + 1
    # the page that shows the form gives it its key
    assert form_keys_on(admin_client.get(page))


def test_send_without_the_form_key_makes_no_case_and_can_be_sent_again(staff_client, desk):
    start_case(staff_client, desk)
    refused = staff_client.form("/support/new/summary", {"submit": "Send", "include_tech": "y"})
    assert refused.status_code == 400 and NO_KEY in text(refused)
    assert SupportCase.select().count() == 0
    again = staff_client.form("/support/new/summary", {"submit": "Send", "include_tech": "y",
                                                       **form_keys_on(refused)})
    assert again.status_code == 302 and SupportCase.select().count() == 1


def test_every_form_with_a_form_key_is_checked_here(app):
    """A form added later with a key must be added to FORMS (or to the summary's test)."""
    with_keys = set()
    for module in (contacts_views, employees_views, forms_module, support_forms):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Form) and \
                    isinstance(getattr(value, "form_key", None), UnboundField):
                with_keys.add(value.__name__)
    assert with_keys == {"NewContactForm", "NewPersonForm", "NoteForm", "NewEmployeeForm",
                         "ListItemForm", "AddInformationForm", "SummaryForm"}
