"""Support → Requests (SPEC section 9; SECURITY.md 20 and 21): the case list (mine, all, by
status, search, the share answered yes), the "Create new" wizard without JavaScript (customer,
details, documents, summary; Back keeps what was typed), the case page (thread, Add
information, owner, close), "Was your question answered?", who may see a case, the case
history, the mails (through the outbox to a real SMTP server) and the superuser's categories
and types.

Everything goes through HTTP like a browser (CSRF tokens included) on a real database.
"""
import html
import io
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest
from helpers import ON_POSTGRES, body_of, error_beside, link_in, make_user, sign_in, text
from peewee import IntegrityError
from support_helpers import (
    PDF,
    PNG,
    add_information,
    case_by_number,
    category,
    choose_customer,
    customer,
    details,
    open_case,
    type_of_request,
)

from kontor import __version__, config, jobs
from models import CaseCategory, CaseEvent, CaseFile, CaseMessage, CaseType, SupportCase, User, db
from models.clock import utcnow

YEAR = utcnow().year


# --- building blocks --------------------------------------------------------------------

def fresh(case):
    return SupportCase.get_by_id(case.id)


def numbers_listed(response):
    """The case numbers the list page links to, in order."""
    return re.findall(r'href="/support/(\d{4}-\d{4})"', response.get_data(as_text=True))


def close(client, number):
    return client.form(f"/support/{number}/close", {})


def events(case):
    return [(e.action, e.user_id, e.old, e.new) for e in
            CaseEvent.select().where(CaseEvent.case == case.id).order_by(CaseEvent.id)]


def database_name():
    """How the technical information names the database this run uses."""
    if ON_POSTGRES:
        return "PostgreSQL "
    return f"SQLite {sqlite3.sqlite_version}"


# --- the list ---------------------------------------------------------------------------

def test_my_cases_shows_what_i_own_and_all_shows_every_case_i_may_see(
        admin_client, staff_client, desk, staff, superuser, own_cases_only):
    by_staff = open_case(staff_client, desk.customer, desk.category, desk.type,
                         subject="Staff asks")
    for_admin = open_case(admin_client, desk.customer, desk.category, desk.type,
                          subject="Anna keeps this")
    for_staff = open_case(admin_client, desk.customer, desk.category, desk.type,
                          subject="Anna gives this to Piet", owner=staff)
    assert case_by_number(for_staff).owner_id == staff.id

    # "My cases" is the default and lists the cases I own
    mine = staff_client.get("/support")
    assert mine.status_code == 200
    assert set(numbers_listed(mine)) == {by_staff, for_staff}
    assert set(numbers_listed(staff_client.get("/support?view=mine"))) == {by_staff, for_staff}
    assert set(numbers_listed(admin_client.get("/support"))) == {for_admin}

    # "All": every case I may see; a staff user does not see Anna's own case
    assert set(numbers_listed(staff_client.get("/support?view=all"))) == {by_staff, for_staff}
    assert set(numbers_listed(admin_client.get("/support?view=all"))) == \
        {by_staff, for_admin, for_staff}
    assert "Anna keeps this" not in text(staff_client.get("/support?view=all"))


def test_a_requester_finds_a_case_given_to_someone_else_under_all_not_mine(
        admin_client, staff_client, desk, superuser, staff):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    response = staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    assert response.status_code == 302
    assert numbers_listed(staff_client.get("/support?view=mine")) == []
    assert numbers_listed(staff_client.get("/support?view=all")) == [number]
    assert numbers_listed(admin_client.get("/support?view=mine")) == [number]


def test_the_status_filter(admin_client, staff_client, desk):
    first = open_case(staff_client, desk.customer, desk.category, desk.type, subject="One")
    second = open_case(staff_client, desk.customer, desk.category, desk.type, subject="Two")
    third = open_case(staff_client, desk.customer, desk.category, desk.type, subject="Three")
    add_information(admin_client, second, "Here is the answer.")
    close(staff_client, third)

    def listed(status):
        return set(numbers_listed(staff_client.get(f"/support?view=all&status={status}")))
    assert listed("open") == {first}
    assert listed("answered") == {second}
    assert listed("closed") == {third}
    assert listed("") == {first, second, third}
    assert listed("bogus") == {first, second, third}
    page = staff_client.get("/support?view=all&status=closed").get_data(as_text=True)
    assert '<option value="closed" selected>' in page


def test_search_by_subject_customer_name_and_number(admin_client, desk):
    other = customer("Garage Van Dijk")
    printer = open_case(admin_client, desk.customer, desk.category, desk.type,
                        subject="Printer offline")
    invoice = open_case(admin_client, other, desk.category, desk.type,
                        subject="Invoice layout wrong")

    def found(q):
        return numbers_listed(admin_client.get("/support", query_string={"view": "all",
                                                                        "q": q}))
    assert found("printer") == [printer]            # subject, any case
    assert found("LAYOUT") == [invoice]
    assert found("van dijk") == [invoice]           # customer name
    assert found("Korenschoof") == [printer]
    assert found(invoice) == [invoice]              # the number, e.g. 2026-0002
    assert found(printer) == [printer]
    assert found(f"{YEAR}-0099") == []
    assert found("nothing like this") == []
    # LIKE's wildcards are plain characters: "r_o" would match "Printer offline" otherwise
    percent = open_case(admin_client, other, desk.category, desk.type,
                        subject="Discount 50% wrong")
    assert found("r_o") == []
    assert found("%") == [percent]
    assert found(f" {invoice} ") == [invoice]
    page = text(admin_client.get("/support?view=all&q=nothing+like+this"))
    assert "No cases." in page


def test_cases_are_numbered_year_and_a_four_digit_sequence(admin_client, desk):
    last_year = SupportCase.create(year=YEAR - 1, seq=41, contact=desk.customer.id,
                                   subject="Last year's", status="closed")
    numbers = [open_case(admin_client, desk.customer, desk.category, desk.type,
                         subject=f"Case {i}") for i in range(3)]
    assert numbers == [f"{YEAR}-0001", f"{YEAR}-0002", f"{YEAR}-0003"]   # a new year: 0001
    assert [c.number for c in SupportCase.select().where(SupportCase.id != last_year.id)
            .order_by(SupportCase.id)] == numbers
    assert last_year.number == f"{YEAR - 1}-0041"
    # the database itself refuses a second case with the same number

    first = case_by_number(numbers[0])
    with pytest.raises(IntegrityError):
        with db.atomic():
            SupportCase.create(year=first.year, seq=first.seq, contact=first.contact_id,
                               subject="Duplicate", status="open")


def test_search_folds_accents_and_apostrophes_in_subjects_and_customer_names(admin_client,
                                                                             desk):
    """One folding for every search (issue 11 item 8): SQLite's LOWER folds ASCII only."""
    transfer = open_case(admin_client, desk.customer, desk.category, desk.type,
                         subject="Überweisung fehlgeschlagen")
    irish = open_case(admin_client, customer("O'Brien Bakery"), desk.category, desk.type,
                      subject="Oven")
    typographic = open_case(admin_client, customer("Ærø Færgeri"), desk.category, desk.type,
                            subject="Kunde O’Neill kan ikke logge inn")

    def found(q):
        return numbers_listed(admin_client.get("/support", query_string={"view": "all",
                                                                        "q": q}))
    assert found("Überweisung") == [transfer]
    assert found("uberweisung") == [transfer]
    assert found("ÜBERWEISUNG FEHL") == [transfer]
    assert found("O’Brien") == [irish]                # customer name typed with '
    assert found("o'neill") == [typographic]          # subject typed with ’
    assert found("aero faergeri") == [typographic]
    assert found("obrien") == []


def test_the_list_shows_the_share_of_closed_cases_answered_yes(admin_client, staff_client,
                                                                desk):
    page = text(staff_client.get("/support?view=all"))
    assert "No closed case has been rated yet." in page
    numbers = [open_case(staff_client, desk.customer, desk.category, desk.type,
                         subject=f"Case {i}") for i in range(4)]
    for number in numbers[:3]:
        assert close(admin_client, number).status_code == 302
    assert staff_client.form(f"/support/{numbers[0]}/answered", {}).status_code == 302
    assert staff_client.form(f"/support/{numbers[1]}/answered", {}).status_code == 302
    response = staff_client.form(f"/support/{numbers[2]}/not-answered",
                                 {"feedback": "The printer is still offline."})
    assert response.status_code == 302
    page = text(staff_client.get("/support?view=all"))
    assert "Closed cases answered to satisfaction: 2 of 3 (67%)." in page
    # a superuser's list counts the same cases
    assert "2 of 3" in text(admin_client.get("/support"))


def test_the_case_list_needs_sign_in(client, desk):
    response = client.get("/support?view=all")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- the wizard: the customer -----------------------------------------------------------

def test_step_one_searches_customers_and_needs_one_chosen(staff_client, desk):
    customer("Garage Van Dijk", city="Utrecht")
    page = staff_client.get("/support/new")
    assert page.status_code == 200
    assert "Which customer is the case for?" in text(page)
    found = text(staff_client.get("/support/new?q=dijk"))
    assert "Garage Van Dijk" in found and "Korenschoof" not in found
    assert 'name="contact_id"' in found
    assert "No customer found" in text(staff_client.get("/support/new?q=zzzz"))

    response = staff_client.form("/support/new", {})
    assert response.status_code == 400
    assert "Choose the customer the case is for." in text(response)
    response = staff_client.form("/support/new", {"contact_id": "999999"})
    assert response.status_code == 400
    # the later steps are out of reach without a customer
    assert staff_client.get("/support/new/details").headers["Location"].endswith(
        "/support/new")
    assert staff_client.get("/support/new/summary").status_code == 302

    response = staff_client.form("/support/new", {"contact_id": str(desk.customer.id)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/support/new/details")
    assert "Bakkerij De Korenschoof" in text(staff_client.get("/support/new/details"))


# --- the wizard: the request ------------------------------------------------------------

@pytest.mark.parametrize("missing", ["category", "type", "subject", "description"])
def test_a_missing_field_keeps_the_rest_and_shows_an_error_beside_it(staff_client, desk,
                                                                      missing):
    choose_customer(staff_client, desk.customer)
    data = details(desk.category, desk.type, subject="Printer offline",
                   description="It says it is offline.")
    data[missing] = "0" if missing in ("category", "type") else ""
    response = staff_client.form("/support/new/details", data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{missing}-error"' in page
    assert re.search(rf'<div class="field has-error" id="{missing}-field">', page)
    assert page.count('class="error"') == 1, "only the missing field has an error"
    # the rest is kept
    if missing != "subject":
        assert 'value="Printer offline"' in page
    if missing != "description":
        assert "It says it is offline." in page
    if missing != "category":
        assert f'<option selected value="{desk.category.id}">' in page
    if missing != "type":
        assert f'<option selected value="{desk.type.id}">' in page
    assert SupportCase.select().count() == 0


def test_back_keeps_what_was_typed(staff_client, desk):
    choose_customer(staff_client, desk.customer)
    typed = details(desk.category, desk.type, subject="Half a subject",
                    description="Half a description", needs_files="y")
    del typed["submit"]
    typed["back"] = "Back"
    response = staff_client.form("/support/new/details", typed)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/support/new")
    # step one shows the customer chosen before, and going on shows everything typed
    step_one = text(staff_client.get("/support/new"))
    assert "Chosen: Bakkerij De Korenschoof" in step_one
    page = staff_client.get("/support/new/details").get_data(as_text=True)
    assert 'value="Half a subject"' in page
    assert "Half a description" in page
    assert f'<option selected value="{desk.category.id}">' in page
    assert f'<option selected value="{desk.type.id}">' in page
    assert re.search(r'<input[^>]*checked[^>]*name="needs_files"|'
                     r'<input[^>]*name="needs_files"[^>]*checked', page)
    # Back even with a required field empty: nothing typed is lost
    partial = {"category": str(desk.category.id), "type": "0", "subject": "",
               "description": "Only this", "back": "Back"}
    assert staff_client.form("/support/new/details", partial).status_code == 302
    page = staff_client.get("/support/new/details").get_data(as_text=True)
    assert "Only this" in page
    # starting over forgets the draft
    staff_client.form("/support/new/start-over", {})
    assert "Chosen:" not in text(staff_client.get("/support/new"))


def test_inactive_categories_and_types_are_not_offered_nor_accepted(staff_client, desk):
    old_category = category("Old product", active=False)
    old_type = type_of_request("Old kind", active=False)
    choose_customer(staff_client, desk.customer)
    page = text(staff_client.get("/support/new/details"))
    assert "Invoicing" in page and "Question" in page
    assert "Old product" not in page and "Old kind" not in page
    response = staff_client.form("/support/new/details", details(old_category, old_type))
    assert response.status_code == 400
    assert 'id="category-error"' in response.get_data(as_text=True)
    assert 'id="type-error"' in response.get_data(as_text=True)


def test_staff_users_get_no_owner_field_and_a_posted_owner_is_ignored(staff_client, desk,
                                                                      superuser, staff):
    choose_customer(staff_client, desk.customer)
    assert 'name="owner"' not in staff_client.get("/support/new/details").get_data(
        as_text=True)
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       owner=superuser)
    case = case_by_number(number)
    assert case.owner_id == staff.id
    assert case.requester_user_id == staff.id
    assert [e[0] for e in events(case)] == ["created"]


def test_a_staff_users_posted_owner_of_any_shape_is_ignored(staff_client, desk, staff):
    for posted in ("abc", "", "-1", str(desk.superuser.id)):
        choose_customer(staff_client, desk.customer)
        response = staff_client.form("/support/new/details",
                                     details(desk.category, desk.type, owner=posted))
        assert response.status_code == 302, (posted, text(response)[:300])
        response = staff_client.fill("/support/new/summary", {"submit": "Send"})
        number = response.headers["Location"].rsplit("/", 1)[1]
        assert case_by_number(number).owner_id == staff.id, posted


def test_the_later_steps_open_only_after_the_request_passed_its_checks(staff_client, desk):
    """Going to the summary (or the documents) by address, or with the browser's history,
    after the request step showed errors must not send an incomplete case."""
    choose_customer(staff_client, desk.customer)
    response = staff_client.form("/support/new/details",
                                 details(desk.category, desk.type, description="",
                                         needs_files="y"))
    assert response.status_code == 400
    for url in ("/support/new/summary", "/support/new/files"):
        response = staff_client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/support/new/details"), url
    response = staff_client.form("/support/new/summary", {"submit": "Send"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/support/new/details")
    assert SupportCase.select().count() == 0
    # once valid, the steps open; a later failed attempt closes them again
    response = staff_client.form("/support/new/details", details(desk.category, desk.type))
    assert response.headers["Location"].endswith("/support/new/summary")
    assert staff_client.get("/support/new/summary").status_code == 200
    staff_client.form("/support/new/details", details(None, desk.type))
    assert staff_client.get("/support/new/summary").status_code == 302
    staff_client.form("/support/new/summary", {"submit": "Send"})
    assert SupportCase.select().count() == 0


def test_a_superuser_alone_gets_no_owner_field(client, app):
    admin = make_user("solo@jansen.example", superuser=True)
    sign_in(client, admin.email)
    choose_customer(client, customer())
    assert 'name="owner"' not in client.get("/support/new/details").get_data(as_text=True)
    # an inactive colleague does not count
    User.update(is_active=False).where(User.id == make_user("gone@jansen.example").id).execute()
    assert 'name="owner"' not in client.get("/support/new/details").get_data(as_text=True)


def test_a_superuser_chooses_the_owner_who_gets_the_case_and_a_mail(admin_client, staff_client,
                                                                    desk, staff, mailbox):
    choose_customer(admin_client, desk.customer)
    page = admin_client.get("/support/new/details").get_data(as_text=True)
    assert 'name="owner"' in page
    assert "piet@jansen.example" in html.unescape(page)
    number = open_case(admin_client, desk.customer, desk.category, desk.type, owner=staff)
    case = case_by_number(number)
    assert case.owner_id == staff.id
    assert case.requester_user_id == desk.superuser.id
    assert numbers_listed(staff_client.get("/support")) == [number]
    assert ("owner", desk.superuser.id, "", "Piet de Vries") in events(case)
    mailbox.deliver()
    mails = mailbox.to("piet@jansen.example")
    assert [m["Subject"] for m in mails] == [f"You own case {number} now"]
    assert link_in(body_of(mails[0])) == f"/support/{number}"


def test_an_owner_who_is_not_an_active_user_is_not_accepted(admin_client, desk, staff):
    User.update(is_active=False).where(User.id == staff.id).execute()
    make_user("mila@jansen.example")   # so that the drop-down is shown
    number = open_case(admin_client, desk.customer, desk.category, desk.type, owner=staff)
    assert case_by_number(number).owner_id == desk.superuser.id


# --- the wizard: documents, summary, send ------------------------------------------------

def test_without_documents_the_wizard_goes_straight_to_the_summary(staff_client, desk):
    choose_customer(staff_client, desk.customer)
    response = staff_client.form("/support/new/details", details(desk.category, desk.type))
    assert response.headers["Location"].endswith("/support/new/summary")
    response = staff_client.form("/support/new/summary", {"back": "Back"})
    assert response.headers["Location"].endswith("/support/new/details")


def test_the_documents_step_adds_several_lists_removes_one_and_clears(staff_client, desk, app):
    uploads = Path(app.config["DATA_DIR"]) / "uploads"
    choose_customer(staff_client, desk.customer)
    response = staff_client.form("/support/new/details",
                                 details(desk.category, desk.type, needs_files="y"))
    assert response.headers["Location"].endswith("/support/new/files")
    assert "No files added yet." in text(staff_client.get("/support/new/files"))

    response = staff_client.form("/support/new/files", {
        "files": [(io.BytesIO(PNG), "screen.png"), (io.BytesIO(PDF), "invoice.pdf"),
                  (io.BytesIO(b"line one\n"), "notes.txt")], "upload": "Upload"},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/support/new/files")
    page = text(staff_client.get("/support/new/files"))
    assert page.index("screen.png") < page.index("invoice.pdf") < page.index("notes.txt")
    assert len(list(uploads.iterdir())) == 3

    # remove the second one
    response = staff_client.form("/support/new/files", {"remove": "1"})
    assert response.status_code == 302
    page = text(staff_client.get("/support/new/files"))
    assert "screen.png" in page and "notes.txt" in page and "invoice.pdf" not in page
    assert len(list(uploads.iterdir())) == 2
    assert staff_client.form("/support/new/files", {"remove": "7"}).status_code == 302
    assert len(list(uploads.iterdir())) == 2

    # clear the list
    response = staff_client.form("/support/new/files", {"clear": "Clear list"})
    assert response.status_code == 302
    assert "No files added yet." in text(staff_client.get("/support/new/files"))
    assert list(uploads.iterdir()) == []

    # add again, Back keeps them, Next goes on to the summary
    staff_client.form("/support/new/files", {
        "files": [(io.BytesIO(PNG), "again.png")], "upload": "Upload"},
        content_type="multipart/form-data")
    response = staff_client.form("/support/new/files", {"back": "Back"})
    assert response.headers["Location"].endswith("/support/new/details")
    assert "again.png" in text(staff_client.get("/support/new/files"))
    response = staff_client.form("/support/new/files", {"submit": "Next"})
    assert response.headers["Location"].endswith("/support/new/summary")
    assert "again.png" in text(staff_client.get("/support/new/summary"))
    # Back from the summary goes to the documents step
    response = staff_client.form("/support/new/summary", {"back": "Back"})
    assert response.headers["Location"].endswith("/support/new/files")


def test_starting_over_throws_away_the_draft_files(staff_client, desk, app):
    uploads = Path(app.config["DATA_DIR"]) / "uploads"
    choose_customer(staff_client, desk.customer)
    staff_client.form("/support/new/details", details(desk.category, desk.type, needs_files="y"))
    staff_client.form("/support/new/files", {"files": [(io.BytesIO(PNG), "a.png")],
                                             "upload": "Upload"},
                      content_type="multipart/form-data")
    assert len(list(uploads.iterdir())) == 1
    staff_client.get("/support/new?start=1")   # a link cannot throw it away (issue 10 item 23)
    assert len(list(uploads.iterdir())) == 1
    assert "Start over" in text(staff_client.get("/support/new"))
    assert staff_client.form("/support/new/start-over", {}).status_code == 302
    assert list(uploads.iterdir()) == []


def test_the_summary_shows_everything_and_the_technical_information_before_sending(
        admin_client, desk, staff):
    choose_customer(admin_client, desk.customer)
    admin_client.form("/support/new/details", details(
        desk.category, desk.type, subject="Invoice total wrong",
        description="The total on invoice 1042 is off by one cent.", owner=str(staff.id),
        needs_files="y"))
    admin_client.form("/support/new/files", {"files": [(io.BytesIO(PDF), "invoice-1042.pdf")],
                                             "upload": "Upload"},
                      content_type="multipart/form-data")
    response = admin_client.get("/support/new/summary",
                                headers={"User-Agent": "Mozilla/5.0 TestBrowser/1.0"})
    assert response.status_code == 200
    page = text(response)
    for shown in ("Bakkerij De Korenschoof", "Invoicing", "Question", "Invoice total wrong",
                  "The total on invoice 1042 is off by one cent.", "Piet de Vries",
                  "invoice-1042.pdf", "Include technical information below",
                  "Mozilla/5.0 TestBrowser/1.0", f"Kontor: {__version__}", "Python",
                  f"Database: {database_name()}"):
        assert shown in page, shown
    assert re.search(r'<input[^>]*checked[^>]*name="include_tech"|'
                     r'<input[^>]*name="include_tech"[^>]*checked',
                     response.get_data(as_text=True)), "included unless unticked"

    response = admin_client.fill("/support/new/summary", {"include_tech": "y", "submit": "Send"},
                                 headers={"User-Agent": "Mozilla/5.0 TestBrowser/1.0"})
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[1]
    case = case_by_number(number)
    assert "Mozilla/5.0 TestBrowser/1.0" in case.tech_info
    assert f"Kontor: {__version__}" in case.tech_info
    assert database_name() in case.tech_info
    assert [f.original_name for f in case.files] == ["invoice-1042.pdf"]
    page = text(admin_client.get(f"/support/{number}"))
    assert f"Case {number} is registered." in page
    assert "Technical information" in page
    # the draft is gone: the summary sends back to the start
    assert admin_client.get("/support/new/summary").status_code == 302


def test_unticking_technical_information_sends_none(staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       include_tech=False)
    case = case_by_number(number)
    assert case.tech_info == ""
    assert "Technical information" not in text(staff_client.get(f"/support/{number}"))


def test_the_sent_case_has_everything_and_is_in_the_owners_list(staff_client, desk, staff):
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       subject="Printer offline", description="It says offline.",
                       files=[("screen.png", PNG), ("log.txt", b"error 42\n")])
    case = case_by_number(number)
    assert (case.contact_id, case.category_id, case.type_id, case.subject, case.status) == \
        (desk.customer.id, desk.category.id, desk.type.id, "Printer offline", "open")
    assert case.owner_id == case.requester_user_id == staff.id
    [message] = list(case.messages)
    assert message.body == "It says offline."
    assert sorted(f.original_name for f in case.files) == ["log.txt", "screen.png"]
    assert all(f.message_id == message.id for f in case.files)
    page = text(staff_client.get(f"/support/{number}"))
    for shown in (f"{number}: Printer offline", "Bakkerij De Korenschoof", "Invoicing",
                  "Question", "It says offline.", "screen.png", "log.txt", "Open"):
        assert shown in page, shown
    assert numbers_listed(staff_client.get("/support")) == [number]


# --- the case page: thread, add information, owner, close -------------------------------

def test_a_reply_by_someone_else_answers_the_case_and_mails_the_requester(
        admin_client, staff_client, desk, mailbox):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    response = add_information(admin_client, number, "Switch it off and on again.",
                               files=[("howto.pdf", PDF)])
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/support/{number}#thread")
    case = fresh(case_by_number(number))
    assert case.status == "answered"
    page = text(staff_client.get(f"/support/{number}"))
    assert page.index("Since Monday") < page.index("Switch it off and on again.")
    assert "howto.pdf" in page and "Answered" in page
    mailbox.deliver()
    mails = mailbox.to("piet@jansen.example")
    assert [m["Subject"] for m in mails] == [f"New answer on your case {number}"]
    assert link_in(body_of(mails[0])) == f"/support/{number}"
    assert mailbox.to("anna@jansen.example") == []


def test_the_requesters_addition_opens_the_case_and_mails_the_owner(
        admin_client, staff_client, desk, staff, superuser, mailbox):
    number = open_case(admin_client, desk.customer, desk.category, desk.type, owner=staff)
    add_information(staff_client, number, "Which printer is it?")
    assert fresh(case_by_number(number)).status == "answered"
    response = add_information(admin_client, number, "The one on the first floor.")
    assert response.status_code == 302
    case = fresh(case_by_number(number))
    assert case.status == "open"
    mailbox.deliver()
    owner_mails = [m["Subject"] for m in mailbox.to("piet@jansen.example")]
    assert owner_mails == [f"You own case {number} now", f"New information on case {number}"]
    assert [m["Subject"] for m in mailbox.to("anna@jansen.example")] == \
        [f"New answer on your case {number}"]


def test_a_requester_who_owns_the_case_gets_no_mail_about_their_own_addition(
        staff_client, desk, mailbox):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    assert add_information(staff_client, number, "More detail.").status_code == 302
    assert fresh(case_by_number(number)).status == "open"
    mailbox.deliver()
    assert mailbox.messages == []


def test_add_information_needs_a_text(staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    response = add_information(staff_client, number, "   ")
    assert response.status_code == 400
    assert 'id="body-error"' in response.get_data(as_text=True)
    assert CaseMessage.select().count() == 1


def test_the_owner_changes_the_owner_and_closes(admin_client, staff_client, desk, staff,
                                                superuser, mailbox):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    case = case_by_number(number)
    page = staff_client.get(f"/support/{number}").get_data(as_text=True)
    assert "Close case" in page and "Change owner" in page

    response = staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    assert response.status_code == 302
    assert fresh(case).owner_id == superuser.id
    assert ("owner", staff.id, "Piet de Vries", "Anna Jansen") in events(case)
    # Piet is no longer the owner: he may not hand it on or close it
    assert staff_client.form(f"/support/{number}/owner",
                             {"owner": str(staff.id)}).status_code == 403
    assert close(staff_client, number).status_code == 403
    assert "Close case" not in text(staff_client.get(f"/support/{number}"))
    assert fresh(case).status == "open"

    # the new owner closes it; the requester is told
    response = close(admin_client, number)
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == "closed" and case.closed_at is not None
    assert ("status", superuser.id, "open", "closed") in events(case)
    mailbox.deliver()
    assert [m["Subject"] for m in mailbox.to("anna@jansen.example")] == \
        [f"You own case {number} now"]
    assert [m["Subject"] for m in mailbox.to("piet@jansen.example")] == \
        [f"Case {number} is closed"]


def test_a_superuser_manages_any_case(admin_client, staff_client, desk, staff, mila):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    assert admin_client.form(f"/support/{number}/owner",
                             {"owner": str(mila.id)}).status_code == 302
    assert fresh(case_by_number(number)).owner_id == mila.id
    assert close(admin_client, number).status_code == 302
    assert fresh(case_by_number(number)).status == "closed"


def test_the_owner_cannot_be_given_to_an_inactive_or_unknown_user(staff_client, desk, mila):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    User.update(is_active=False).where(User.id == mila.id).execute()
    assert staff_client.form(f"/support/{number}/owner",
                             {"owner": str(mila.id)}).status_code == 400
    assert staff_client.form(f"/support/{number}/owner",
                             {"owner": "987654"}).status_code == 400
    assert fresh(case_by_number(number)).owner_id == desk.staff.id


# --- "Was your question answered?" -------------------------------------------------------

def test_the_requester_of_a_closed_case_is_asked_and_yes_is_recorded(admin_client,
                                                                    staff_client, desk, staff):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    assert "Was your question answered?" not in text(staff_client.get(f"/support/{number}"))
    close(admin_client, number)
    assert "Was your question answered?" in text(staff_client.get(f"/support/{number}"))
    # only the requester is asked
    assert "Was your question answered?" not in text(admin_client.get(f"/support/{number}"))
    assert admin_client.form(f"/support/{number}/answered", {}).status_code == 409

    response = staff_client.form(f"/support/{number}/answered", {})
    assert response.status_code == 302
    case = fresh(case_by_number(number))
    assert case.satisfied is True and case.status == "closed"
    assert ("answered_yes", staff.id, "", "") in events(case)
    page = text(staff_client.get(f"/support/{number}"))
    assert "Was your question answered?" not in page
    assert "Answered to satisfaction" in page
    # asked once only
    assert staff_client.form(f"/support/{number}/answered", {}).status_code == 409


def test_texts_as_long_as_the_browser_allows_are_kept_whatever_their_line_ends(
        admin_client, staff_client, desk, superuser):
    """Description, added information and feedback: the browser counts a line break as one
    character for maxlength and sends CRLF; they are counted and stored as LF (issue 11
    item 9)."""
    typed = "\n".join(["x" * 19] * 1000)
    assert len(typed) == config.CASE_MESSAGE_MAX_LENGTH - 1
    sent = typed.replace("\n", "\r\n")
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       description=sent, owner=superuser)
    assert add_information(admin_client, number, sent).status_code == 302
    close(admin_client, number)
    assert staff_client.form(f"/support/{number}/not-answered",
                             {"feedback": sent}).status_code == 302
    case = case_by_number(number)
    bodies = [(m.kind, m.body) for m in
              CaseMessage.select().where(CaseMessage.case == case.id).order_by(CaseMessage.id)]
    assert bodies == [("message", typed), ("message", typed), ("feedback", typed)]
    too_long = sent + "\r\nxx"
    assert add_information(admin_client, number, too_long).status_code == 400
    close(admin_client, number)
    assert staff_client.form(f"/support/{number}/not-answered",
                             {"feedback": too_long}).status_code == 400


def test_no_needs_feedback_then_reopens_the_case_and_mails_the_owner(
        admin_client, staff_client, desk, staff, superuser, mailbox):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    close(admin_client, number)

    response = staff_client.form(f"/support/{number}/not-answered", {"feedback": "  "})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="feedback-error"' in page
    assert "Tell us what is still missing, so we can help." in html.unescape(page)
    assert fresh(case_by_number(number)).status == "closed"

    response = staff_client.form(f"/support/{number}/not-answered",
                                 {"feedback": "The printer is still offline."})
    assert response.status_code == 302
    case = fresh(case_by_number(number))
    assert case.status == "open" and case.satisfied is False
    assert [e[0] for e in events(case)][-2:] == ["answered_no", "status"]
    assert ("status", staff.id, "closed", "open") in events(case)
    feedback = CaseMessage.get(CaseMessage.case == case.id, CaseMessage.kind == "feedback")
    assert feedback.body == "The printer is still offline."
    page = text(staff_client.get(f"/support/{number}"))
    assert "Was your question answered?" not in page
    assert "The printer is still offline." in page and "feedback: not answered" in page
    mailbox.deliver()
    mails = mailbox.to("anna@jansen.example")
    assert [m["Subject"] for m in mails] == [f"You own case {number} now",
                                             f"Case {number} was reopened"]
    assert "The printer is still offline." in body_of(mails[1])
    assert link_in(body_of(mails[1])) == f"/support/{number}"
    # closed again: the requester is asked again
    close(admin_client, number)
    assert "Was your question answered?" in text(staff_client.get(f"/support/{number}"))


def test_adding_information_to_a_closed_case_reopens_it(admin_client, staff_client, desk,
                                                         superuser, mailbox):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    close(admin_client, number)
    assert "adding information opens it again" in text(staff_client.get(f"/support/{number}"))
    assert add_information(staff_client, number, "It happened again.").status_code == 302
    case = fresh(case_by_number(number))
    assert case.status == "open"
    assert ("status", desk.staff.id, "closed", "open") in events(case)
    mailbox.deliver()
    [mail] = [m for m in mailbox.to("anna@jansen.example")
              if m["Subject"] == f"New information on case {number}"]
    assert "so it is open again" in body_of(mail)


# --- who may see a case -------------------------------------------------------------------

def test_someone_who_may_not_see_a_case_gets_404_for_it_and_all_its_actions(
        staff_client, mila_client, desk, mila, own_cases_only):
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       files=[("screen.png", PNG)])
    case = case_by_number(number)
    file_id = CaseFile.get(CaseFile.case == case.id).id
    assert mila_client.get(f"/support/{number}").status_code == 404
    assert mila_client.get(f"/support/{number}/files/{file_id}").status_code == 404
    assert add_information(mila_client, number, "Sneaky").status_code == 404
    assert close(mila_client, number).status_code == 404
    assert mila_client.form(f"/support/{number}/owner",
                            {"owner": str(mila.id)}).status_code == 404
    assert mila_client.form(f"/support/{number}/answered", {}).status_code == 404
    assert mila_client.form(f"/support/{number}/not-answered",
                            {"feedback": "x"}).status_code == 404
    # the same answer as for a number that does not exist
    assert mila_client.get(f"/support/{YEAR}-0999").status_code == 404
    assert mila_client.get("/support/not-a-number").status_code == 404
    assert mila_client.get("/support/2026-99999999999").status_code == 404
    case = fresh(case)
    assert (case.status, case.owner_id) == ("open", desk.staff.id)
    assert CaseMessage.select().count() == 1
    assert numbers_listed(mila_client.get("/support?view=all")) == []
    assert numbers_listed(mila_client.get(f"/support?view=all&q={number}")) == []


def test_the_requester_and_the_owner_see_the_case_and_superusers_see_all(
        admin_client, staff_client, mila_client, desk, mila, own_cases_only):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    assert admin_client.get(f"/support/{number}").status_code == 200
    assert mila_client.get(f"/support/{number}").status_code == 404
    staff_client.form(f"/support/{number}/owner", {"owner": str(mila.id)})
    assert mila_client.get(f"/support/{number}").status_code == 200     # the owner
    assert staff_client.get(f"/support/{number}").status_code == 200    # the requester


def test_anonymous_visitors_are_sent_to_login(client, app, desk, superuser):
    admin = app.test_client()
    sign_in(admin, superuser.email)
    number = open_case(admin, desk.customer, desk.category, desk.type,
                       files=[("a.png", PNG)])
    file_id = CaseFile.select().first().id
    for url in ("/support", "/support/new?start=1", "/support/new/details",
                "/support/new/files", "/support/new/summary", f"/support/{number}",
                f"/support/{number}/files/{file_id}", "/support/settings"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url
    for url in (f"/support/{number}/add", f"/support/{number}/close",
                f"/support/{number}/owner", f"/support/{number}/answered",
                f"/support/{number}/not-answered", "/support/settings/categories"):
        response = client.post(url, data={"body": "x"})
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url
    assert CaseMessage.select().count() == 1


def test_posts_without_a_csrf_token_change_nothing(app, staff_client, desk):
    app.config["WTF_CSRF_ENABLED"] = True
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    for url, data in ((f"/support/{number}/add", {"body": "x"}),
                      (f"/support/{number}/close", {}),
                      (f"/support/{number}/owner", {"owner": str(desk.superuser.id)})):
        assert staff_client.post(url, data=data).status_code == 400, url
    case = fresh(case_by_number(number))
    assert (case.status, case.owner_id) == ("open", desk.staff.id)


# --- the history --------------------------------------------------------------------------

def test_every_status_owner_and_message_is_in_the_history_with_who_and_when(
        admin_client, staff_client, desk, staff, superuser):
    before = utcnow()
    number = open_case(admin_client, desk.customer, desk.category, desk.type, owner=staff)
    add_information(staff_client, number, "Which printer?")                 # answered
    add_information(admin_client, number, "First floor.")                   # open
    staff_client.form(f"/support/{number}/owner", {"owner": str(superuser.id)})
    close(admin_client, number)
    admin_client.form(f"/support/{number}/not-answered", {"feedback": "Still broken."})
    close(admin_client, number)
    admin_client.form(f"/support/{number}/answered", {})
    case = case_by_number(number)
    assert events(case) == [
        ("created", superuser.id, "", number),
        ("owner", superuser.id, "", "Piet de Vries"),
        ("message", staff.id, "", "14 characters, 0 files"),
        ("status", staff.id, "open", "answered"),
        ("message", superuser.id, "", "12 characters, 0 files"),
        ("status", superuser.id, "answered", "open"),
        ("owner", staff.id, "Piet de Vries", "Anna Jansen"),
        ("status", superuser.id, "open", "closed"),
        ("answered_no", superuser.id, "", ""),
        ("status", superuser.id, "closed", "open"),
        ("status", superuser.id, "open", "closed"),
        ("answered_yes", superuser.id, "", ""),
    ]
    stamps = [e.at for e in CaseEvent.select().order_by(CaseEvent.id)]
    assert all(before <= at <= utcnow() for at in stamps)
    assert stamps == sorted(stamps)
    page = text(admin_client.get(f"/support/{number}"))
    for line in ("Case registered", "Owner changed to Piet de Vries", "Information added",
                 "Status changed from Open to Answered", "Status changed from Answered to Open",
                 "Owner changed to Anna Jansen", "Status changed from Open to Closed",
                 "Status changed from Closed to Open",
                 "The requester says the question was not answered, and gave feedback",
                 "The requester says the question was answered"):
        assert line in page, line


# --- categories and types -----------------------------------------------------------------

def test_the_superuser_keeps_categories_and_types(admin_client, staff_client, desk):
    page = admin_client.get("/support/settings")
    assert page.status_code == 200
    assert "Invoicing" in text(page) and "Question" in text(page)

    response = admin_client.fill("/support/settings/categories",
                                 {"categories-name": "Payroll", "categories-submit": "Add"})
    assert response.status_code == 302
    response = admin_client.fill("/support/settings/types",
                                 {"types-name": "Error report", "types-submit": "Add"})
    assert response.status_code == 302
    assert "“Error report” added." in text(admin_client.get("/support/settings"))
    payroll = CaseCategory.get(CaseCategory.name == "Payroll")
    assert payroll.active and payroll.position == 2
    assert CaseType.get(CaseType.name == "Error report").active

    response = admin_client.fill("/support/settings/categories", {"categories-name": " "})
    assert response.status_code == 400
    assert error_beside(text(response), "categories-name") == "Enter a name."
    assert CaseCategory.select().count() == 2

    choose_customer(staff_client, desk.customer)
    assert "Payroll" in text(staff_client.get("/support/new/details"))
    assert "Error report" in text(staff_client.get("/support/new/details"))

    # stop offering: gone from the drop-down, still listed in the settings
    response = admin_client.form(f"/support/settings/categories/{payroll.id}/toggle",
                                 {"offered": "0"})
    assert response.status_code == 302
    assert CaseCategory.get_by_id(payroll.id).active is False
    assert "Payroll" not in text(staff_client.get("/support/new/details"))
    settings = text(admin_client.get("/support/settings"))
    assert "Payroll" in settings and "not offered" in settings and "Offer again" in settings
    # offer again
    admin_client.form(f"/support/settings/categories/{payroll.id}/toggle", {"offered": "1"})
    assert CaseCategory.get_by_id(payroll.id).active is True
    assert "Payroll" in text(staff_client.get("/support/new/details"))
    assert admin_client.form("/support/settings/colours", {}).status_code == 404
    assert admin_client.form("/support/settings/types/99999/toggle",
                             {"offered": "0"}).status_code == 404


def test_a_case_keeps_a_category_that_is_no_longer_offered(admin_client, staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    admin_client.form(f"/support/settings/categories/{desk.category.id}/toggle",
                      {"offered": "0"})
    assert "Invoicing" in text(staff_client.get(f"/support/{number}"))


def test_staff_users_may_not_keep_the_lists(staff_client, desk):
    assert staff_client.get("/support/settings").status_code == 403
    assert staff_client.form("/support/settings/categories",
                             {"categories-name": "Mine"}).status_code == 403
    assert staff_client.form(f"/support/settings/categories/{desk.category.id}/toggle",
                             {}).status_code == 403
    assert CaseCategory.select().count() == 1
    assert CaseCategory.get_by_id(desk.category.id).active is True
    assert "Support settings" not in text(staff_client.get("/support"))


# --- output -------------------------------------------------------------------------------

def test_what_people_type_is_shown_escaped(admin_client, staff_client, desk):
    payload = '<script>alert("x")</script>'
    number = open_case(staff_client, customer(f"Evil {payload} BV"), desk.category, desk.type,
                       subject=f"Subject {payload}", description=f"Body {payload}")
    add_information(admin_client, number, f"Reply {payload}")
    admin_client.fill("/support/settings/types", {"types-name": f"Type {payload}"})
    for url in (f"/support/{number}", "/support?view=all", "/support/settings"):
        page = admin_client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page, url
        assert "&lt;script&gt;" in page, url


def test_a_no_keeps_counting_after_the_case_is_reopened_and_rated_again(admin_client,
                                                                          staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    assert close(admin_client, number).status_code == 302
    assert staff_client.form(f"/support/{number}/not-answered",
                             {"feedback": "Still offline."}).status_code == 302
    assert "0 of 1" in text(staff_client.get("/support?view=all"))   # reopened, still counted
    assert close(admin_client, number).status_code == 302
    assert staff_client.form(f"/support/{number}/answered", {}).status_code == 302
    assert "Closed cases answered to satisfaction: 1 of 2 (50%)." in \
        text(staff_client.get("/support?view=all"))


def test_answering_twice_gets_kontors_own_page(admin_client, staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    assert close(admin_client, number).status_code == 302
    assert staff_client.form(f"/support/{number}/answered", {}).status_code == 302
    again = staff_client.form(f"/support/{number}/answered", {})
    assert again.status_code == 409
    assert "Already done" in text(again) and "Traceback" not in text(again)


def test_files_a_wizard_left_behind_are_purged_after_a_day(app, tmp_path):

    folder = Path(app.config["DATA_DIR"]) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    old, fresh = folder / ("a" * 32), folder / ("b" * 32)
    old.write_bytes(b"left behind")
    fresh.write_bytes(b"a wizard is still using this")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    jobs.purge_orphan_uploads(app.config)
    assert not old.exists() and fresh.exists()
