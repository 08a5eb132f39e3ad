"""Inquiries and support cases for portal customers (issue 14 items 5 and 6; SPEC sections 7
and 9; seed 004, the case wizard seen from the customer's side): sending an inquiry and My
inquiries; the website setting; the short wizard with files; the contact's case list; the case
page with Add information; staff replies and closing mailed to the customer; "Was your question
answered?" with reopening; "visible to the customer"; and that no customer reaches another's
inquiry, case or file (IDOR), with odd input answered by messages, never a 500."""
import io
import json
import re

import pytest
from helpers import error_beside, make_company, make_user, signed_in, text, text_of
from portal_helpers import csrf_of, last_mail, make_account, open_website, portal_form
from support_helpers import PDF, PNG, category, customer, type_of_request
from test_support_scale import queries

from kontor import portal_cases, support, web_accounts
from models import (
    AuditEvent,
    CaseEvent,
    CaseFile,
    CaseMessage,
    IncomingItem,
    SupportCase,
    User,
    WebAccount,
    Website,
)

BASE = "/w/shop"


class World:
    pass


@pytest.fixture
def world(app, superuser, staff):
    """A website whose customers may open cases (owned by Piet), two customers of two
    companies (Maria at Bakkerij De Korenschoof, Ola at Jensen Bygg), Maria's colleague Jan,
    a category and a type of request."""
    make_company()
    w = World()
    w.superuser, w.staff = superuser, staff
    w.site = open_website(customer_cases=True, case_owner_id=staff.id)
    assert (w.site.customer_cases, w.site.case_owner_id) == (True, staff.id)
    w.bakkerij = customer("Bakkerij De Korenschoof")
    w.jensen = customer("Jensen Bygg AS")
    w.category = category("Invoicing", position=1)
    w.type = type_of_request("Question", position=1)
    w.maria = make_account(w.site, "maria@example.com", contact=w.bakkerij.id,
                           name="Maria Jansen")
    w.jan = make_account(w.site, "jan@example.com", contact=w.bakkerij.id, name="Jan Bakker")
    w.ola = make_account(w.site, "ola@example.com", contact=w.jensen.id, name="Ola Nordmann")
    return w


def browser(app, account):
    client = app.test_client()
    response = portal_form(client, f"{BASE}/login", {"email": account.email,
                                                      "password": "purple elephant dancing "
                                                                  "quietly"})
    assert response.status_code == 302, text(response)[:500]
    return client


@pytest.fixture
def maria(app, world):
    return browser(app, world.maria)


@pytest.fixture
def ola(app, world):
    return browser(app, world.ola)


@pytest.fixture
def jan(app, world):
    return browser(app, world.jan)


def new_case(client, world, subject="Invoice 2026-14 is wrong", files=(), **changes):
    data = {"category": str(world.category.id), "type": str(world.type.id),
            "subject": subject, "description": "The amount on the invoice is too high.",
            "files": [(io.BytesIO(content), name) for name, content in files]}
    data.update(changes)
    return portal_form(client, f"{BASE}/cases/new", data, content_type="multipart/form-data")


def opened(client, world, **kwargs):
    """Open a case from the portal; its SupportCase."""
    response = new_case(client, world, **kwargs)
    assert response.status_code == 302, text(response)[:3000]
    number = re.search(r"/cases/(\d{4}-\d{4})$", response.headers["Location"]).group(1)
    year, seq = number.split("-")
    return SupportCase.get(SupportCase.year == int(year), SupportCase.seq == int(seq))


def staff_case(world, contact, subject="Internal: check their contract", visible=False):
    """A case staff opened for `contact` (not from the portal), with one message and a file."""
    case = SupportCase.create(year=2026, seq=900 + SupportCase.select().count(),
                              contact=contact.id, subject=subject, owner=world.staff.id,
                              requester_user=world.staff.id, customer_visible=visible)
    message = CaseMessage.create(case=case, author=world.staff.id, author_name="Piet",
                                 body="Staff only text")
    CaseFile.create(case=case, message=message, original_name="contract.pdf",
                    stored_name="x" * 32 + str(case.id), size=3, content_type="application/pdf")
    return case


def add_as_staff(client, case, body="We corrected the invoice."):
    return client.fill(f"/support/{case.number}/add", {"body": body})


# --- inquiries ----------------------------------------------------------------------------

def test_a_customer_sends_an_inquiry_for_the_queue_and_sees_it_in_my_inquiries(maria, world):
    response = portal_form(maria, f"{BASE}/inquiries/new",
                           {"subject": "Opening hours", "message": "Are you open\r\non Sunday?"})
    assert response.status_code == 302
    item = IncomingItem.get(IncomingItem.kind == "activity")
    values = json.loads(item.values)
    assert values == {"subject": "Opening hours", "message": "Are you open\non Sunday?",
                      "name": "Maria Jansen", "email": "maria@example.com",
                      "contact_id": world.bakkerij.id, "web_account_id": world.maria.id}
    assert (item.website_id, item.web_account_id, item.status) == (
        world.site.id, world.maria.id, "unprocessed")
    assert AuditEvent.select().where(AuditEvent.action == "portal.inquiry_sent").count() == 1
    page = text_of(maria.get(f"{BASE}/inquiries"))
    assert "Opening hours" in page and "Not processed yet" in page
    IncomingItem.update(status="imported").execute()      # as the queue will
    assert "Processed" in text_of(maria.get(f"{BASE}/inquiries"))
    one = maria.get(f"{BASE}/inquiries/{item.id}")
    assert one.status_code == 200 and "on Sunday?" in text(one)


def test_a_double_submitted_inquiry_is_stored_once(maria, world):
    page = maria.get(f"{BASE}/inquiries/new")
    data = {"subject": "Twice", "message": "Clicked twice", "csrf_token": csrf_of(page),
            "form_key": re.search(r'name="form_key" type="hidden" value="([^"]+)"',
                                  text(page)).group(1)}
    assert maria.post(f"{BASE}/inquiries/new", data=data).status_code == 302
    second = maria.post(f"{BASE}/inquiries/new", data=data, follow_redirects=True)
    assert "saved already" in text(second)
    assert IncomingItem.select().where(IncomingItem.kind == "activity").count() == 1


def test_inquiries_are_seen_by_colleagues_but_not_by_another_company(maria, jan, ola, world):
    portal_form(maria, f"{BASE}/inquiries/new", {"subject": "Bakery question",
                                                 "message": "Flour?"})
    item = IncomingItem.get()
    assert "Bakery question" in text(jan.get(f"{BASE}/inquiries"))
    assert jan.get(f"{BASE}/inquiries/{item.id}").status_code == 200
    assert "Bakery question" not in text(ola.get(f"{BASE}/inquiries"))
    assert ola.get(f"{BASE}/inquiries/{item.id}").status_code == 404
    for odd in ("99999999999999999999", "-1", "abc", "1%00"):
        assert ola.get(f"{BASE}/inquiries/{odd}").status_code == 404


def test_an_unlinked_customer_sees_only_their_own_inquiries(app, world):
    lone = make_account(world.site, "lone@example.com", contact=None, name="Lone")
    client = browser(app, lone)
    portal_form(client, f"{BASE}/inquiries/new", {"subject": "Mine", "message": "Text"})
    IncomingItem.create(website=world.site.id, web_account=world.maria.id, kind="activity",
                        values=json.dumps({"subject": "Maria's", "message": "x"}))
    page = text(client.get(f"{BASE}/inquiries"))
    assert "Mine" in page and "Maria's" not in page


@pytest.mark.parametrize("subject, message, field", [
    ("", "text", "subject"), ("Subject", "", "message"), ("S" * 201, "text", "subject"),
    ("Subject", "m" * 20_001, "message"), ("\x00\x01", "text", "subject"),
])
def test_odd_inquiries_get_a_message_beside_the_field(maria, world, subject, message, field):
    response = portal_form(maria, f"{BASE}/inquiries/new",
                           {"subject": subject, "message": message})
    assert response.status_code == 400
    assert error_beside(text(response), field)
    assert IncomingItem.select().where(IncomingItem.kind == "activity").count() == 0


def test_control_characters_in_an_inquiry_are_removed_not_stored(maria, world):
    portal_form(maria, f"{BASE}/inquiries/new", {"subject": "Bell\x07 and\x00 nul",
                                                 "message": "Line\x1b one"})
    values = json.loads(IncomingItem.get().values)
    assert "\x00" not in values["subject"] + values["message"]
    assert "\x07" not in values["subject"] and "\x1b" not in values["message"]


def test_inquiry_pages_need_a_signed_in_customer(client, world):
    for url in ("/inquiries", "/inquiries/new", "/cases", "/cases/new"):
        response = client.get(BASE + url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the website setting ------------------------------------------------------------------

def test_without_the_website_setting_there_are_no_cases_in_the_portal(app, world, maria):
    Website.update(customer_cases=False).execute()
    assert "Support cases" not in text_of(maria.get(f"{BASE}/inquiries"))
    for url in ("/cases", "/cases/new", "/cases/2026-0001"):
        assert maria.get(BASE + url).status_code == 404
    assert new_case(maria, world).status_code == 404
    assert SupportCase.select().count() == 0


def test_the_superuser_lets_customers_open_cases_and_chooses_their_owner(admin_client, world):
    site = Website.get()
    page = admin_client.get(f"/admin/websites/{site.id}/edit")
    assert "Customers may open support cases in the portal" in text(page)
    form = {name: getattr(site, name) or "" for name in (
        "name", "slug", "public_url", "language", "protection", "approval", "sender_name",
        "sender_email", "copy_email", "privacy_url")}
    form.update(self_registration="y", case_owner_id=str(world.superuser.id),
                version=str(site.version))
    assert admin_client.form(f"/admin/websites/{site.id}/edit", form).status_code == 302
    site = Website.get()
    assert (site.customer_cases, site.case_owner_id) == (False, world.superuser.id)
    audit = AuditEvent.select().where(AuditEvent.action == "website.updated").get()
    assert "customer_cases" in audit.detail
    form.update(customer_cases="y", case_owner_id="99999999999999999999",
                version=str(site.version))
    response = admin_client.form(f"/admin/websites/{site.id}/edit", form)
    assert response.status_code in (302, 400)
    site = Website.get()
    assert site.case_owner_id in (None, world.superuser.id)


def test_staff_cannot_change_the_website_setting(staff_client, world):
    site = Website.get()
    assert staff_client.get(f"/admin/websites/{site.id}/edit").status_code == 403


# --- opening a case -----------------------------------------------------------------------

def test_an_unlinked_customer_is_told_why_they_cannot_open_cases(app, world):
    lone = make_account(world.site, "lone@example.com", contact=None, name="Lone")
    client = browser(app, lone)
    for url in ("/cases", "/cases/new"):
        page = client.get(BASE + url)
        assert page.status_code == 200
        assert "not linked to our customer records yet" in text_of(page)
    response = new_case(client, world)
    assert response.status_code == 403
    assert SupportCase.select().count() == 0


def test_a_customer_opens_a_case_with_a_file(maria, world, staff_client):
    case = opened(maria, world, files=[("screenshot.png", PNG), ("invoice.pdf", PDF)])
    assert (case.contact_id, case.requester_account_id, case.requester_user_id,
            case.owner_id, case.status, case.category_id, case.type_id) == (
        world.bakkerij.id, world.maria.id, None, world.staff.id, "open", world.category.id,
        world.type.id)
    message = CaseMessage.get(CaseMessage.case == case.id)
    assert (message.author_id, message.author_account_id, message.author_name) == (
        None, world.maria.id, "Maria Jansen")
    assert sorted(f.original_name for f in CaseFile.select()) == ["invoice.pdf",
                                                                 "screenshot.png"]
    events = [(e.action, e.web_account_id, e.user_id) for e in CaseEvent.select()
              .order_by(CaseEvent.id)]
    assert events[0] == ("created", world.maria.id, None)
    mail = last_mail("piet@jansen.example")
    assert mail is not None and case.number in mail.subject
    assert "http://kontor.test/support/" + case.number in mail.body
    page = maria.get(f"{BASE}/cases/{case.number}")
    assert page.status_code == 200 and "The amount on the invoice is too high." in text(page)
    staff_page = text_of(staff_client.get(f"/support/{case.number}"))
    assert "Maria Jansen <maria@example.com> · customer, from the portal" in staff_page
    assert "Opened from the portal" in staff_page


def test_a_double_submitted_case_is_opened_once(maria, world):
    page = maria.get(f"{BASE}/cases/new")
    data = {"category": str(world.category.id), "type": str(world.type.id),
            "subject": "Twice", "description": "Clicked twice", "csrf_token": csrf_of(page),
            "form_key": re.search(r'name="form_key" type="hidden" value="([^"]+)"',
                                  text(page)).group(1)}
    assert maria.post(f"{BASE}/cases/new", data=data).status_code == 302
    second = maria.post(f"{BASE}/cases/new", data=dict(data), follow_redirects=True)
    assert "saved already" in text(second)
    assert SupportCase.select().count() == 1


def test_category_and_type_must_be_offered_ones(maria, world):
    hidden = category("Retired", active=False)
    for changes, field in (({"category": "0"}, "category"),
                           ({"category": str(hidden.id)}, "category"),
                           ({"type": "99999999999999999999"}, "type"),
                           ({"category": "abc"}, "category"),
                           ({"subject": ""}, "subject"),
                           ({"description": "d" * 20_001}, "description"),
                           ({"subject": "s" * 201}, "subject")):
        response = new_case(maria, world, **changes)
        assert response.status_code == 400, changes
        assert error_beside(text(response), field), changes
    assert SupportCase.select().count() == 0


def test_files_get_the_same_checks_as_staff_cases(app, maria, world):
    response = new_case(maria, world, files=[("evil.pdf", b"MZ\x90\x00 not a pdf")])
    assert response.status_code == 400
    assert "not a file type Kontor accepts" in error_beside(text(response), "files")
    app.config["UPLOAD_MAX_MB"] = 1
    response = new_case(maria, world, files=[("big.pdf", PDF + b" " * (1024 * 1024))])
    assert response.status_code == 400
    assert "larger than 1 MB" in error_beside(text(response), "files")
    assert SupportCase.select().count() == 0 and CaseFile.select().count() == 0


def test_odd_text_in_a_case_is_cleaned_not_a_500(maria, world):
    case = opened(maria, world, subject="Nul\x00 and bell\x07", description="Text\x00\x1b")
    case = SupportCase.get_by_id(case.id)
    assert "\x00" not in case.subject and "\x07" not in case.subject
    assert "\x00" not in CaseMessage.get().body


# --- which cases a customer sees ----------------------------------------------------------

def test_the_list_holds_the_contacts_portal_cases_and_visible_ones_only(maria, jan, ola, world):
    own = opened(maria, world, subject="Maria's question")
    colleague = opened(jan, world, subject="Jan's question")
    other = opened(ola, world, subject="Ola's question")
    staff_case(world, world.bakkerij, subject="Internal about the bakery")
    shown = staff_case(world, world.bakkerij, subject="Shown to the bakery", visible=True)
    page = text_of(maria.get(f"{BASE}/cases"))
    for case in (own, colleague, shown):
        assert case.subject in page
    assert "Internal about the bakery" not in page and other.subject not in page
    assert maria.get(f"{BASE}/cases/{colleague.number}").status_code == 200
    assert "Staff only text" in text(maria.get(f"{BASE}/cases/{shown.number}"))


def test_another_companys_customer_reaches_no_case_and_no_file(maria, ola, world):
    case = opened(maria, world, files=[("screenshot.png", PNG)])
    stored = CaseFile.get()
    own = maria.get(f"{BASE}/cases/{case.number}/files/{stored.id}")
    assert own.status_code == 200 and own.data == PNG
    assert own.headers["Content-Disposition"].startswith("attachment")
    before = (CaseMessage.select().count(), CaseEvent.select().count())
    assert ola.get(f"{BASE}/cases/{case.number}").status_code == 404
    assert ola.get(f"{BASE}/cases/{case.number}/files/{stored.id}").status_code == 404
    page = ola.get(f"{BASE}/cases/new")
    token = csrf_of(page)
    for url, data in ((f"/cases/{case.number}/add", {"body": "Mine now"}),
                      (f"/cases/{case.number}/answered", {}),
                      (f"/cases/{case.number}/not-answered", {"feedback": "x"})):
        assert ola.post(BASE + url, data={"csrf_token": token, **data}).status_code == 404
    # Ola's own case number with Maria's file id: not his file
    theirs = opened(ola, world)
    assert ola.get(f"{BASE}/cases/{theirs.number}/files/{stored.id}").status_code == 404
    assert (CaseMessage.select().count(), CaseEvent.select().count()) == (
        before[0] + 1, before[1] + 2)    # only Ola's own case (message; created, owner)


def test_a_file_of_an_internal_case_is_not_served_to_the_customer(maria, world):
    internal = staff_case(world, world.bakkerij)
    stored = CaseFile.get(CaseFile.case == internal.id)
    assert maria.get(f"{BASE}/cases/{internal.number}").status_code == 404
    assert maria.get(f"{BASE}/cases/{internal.number}/files/{stored.id}").status_code == 404
    own = opened(maria, world)
    assert maria.get(f"{BASE}/cases/{own.number}/files/{stored.id}").status_code == 404


def test_odd_case_numbers_and_file_ids_are_not_found(maria, world):
    case = opened(maria, world)
    for url in ("/cases/x", "/cases/2026-", "/cases/99999999999999999999-1",
                f"/cases/{case.number}/files/99999999999999999999",
                f"/cases/{case.number}/files/abc", "/cases/%00"):
        assert maria.get(BASE + url).status_code == 404, url
    for odd in ("abc", "99999999999999999999", "-1", "\x00"):
        assert maria.get(f"{BASE}/cases", query_string={"page": odd}).status_code == 200
        assert maria.get(f"{BASE}/inquiries", query_string={"page": odd}).status_code == 200


def test_a_customer_session_does_not_open_staff_pages(app, maria, world):
    case = opened(maria, world)
    for url in ("/support", f"/support/{case.number}", "/contacts"):
        response = maria.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_staff_internal_message_kinds_are_never_shown_to_the_customer(maria, world):
    case = opened(maria, world)
    CaseMessage.create(case=case, author=world.staff.id, author_name="Piet",
                       body="Internal note: difficult customer", kind="internal")
    assert "difficult customer" not in text(maria.get(f"{BASE}/cases/{case.number}"))
    assert [m.kind for m, _f in portal_cases.thread(case)] == ["message"]


# --- the conversation ---------------------------------------------------------------------

def test_a_staff_reply_mails_the_customer_in_their_language_from_the_website(
        app, maria, world, staff_client):
    case = opened(maria, world)
    WebAccount.update(language="nl").where(WebAccount.id == world.maria.id).execute()
    assert add_as_staff(staff_client, case).status_code == 302
    assert SupportCase.get_by_id(case.id).status == "answered"
    mail = last_mail("maria@example.com")
    assert (mail.from_addr, mail.from_name, mail.bcc_addr) == (
        "shop@jansen.example", "Jansen Webshop", "")
    assert case.number in mail.subject and "antwoord" in mail.subject.lower()  # Dutch
    assert f"https://shop.jansen.example/cases/{case.number}" in mail.body
    page = text(maria.get(f"{BASE}/cases/{case.number}"))
    assert "We corrected the invoice." in page and "Beantwoord" in page


def test_the_customer_adds_information_with_a_file_and_the_owner_is_told(maria, world,
                                                                           staff_client):
    case = opened(maria, world)
    add_as_staff(staff_client, case)
    response = portal_form(maria, f"{BASE}/cases/{case.number}/add",
                           {"body": "Here is the page", "files": [(io.BytesIO(PDF), "p.pdf")]},
                           page=f"{BASE}/cases/{case.number}",
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert SupportCase.get_by_id(case.id).status == "open"
    message = CaseMessage.select().order_by(CaseMessage.id.desc()).get()
    assert (message.author_account_id, message.body) == (world.maria.id, "Here is the page")
    assert CaseFile.get().message_id == message.id
    assert "New information" in last_mail("piet@jansen.example").subject
    assert portal_form(maria, f"{BASE}/cases/{case.number}/add", {"body": ""},
                       page=f"{BASE}/cases/{case.number}").status_code == 400


def test_closing_mails_the_customer_who_answers_no_and_reopens_the_case(maria, jan, world,
                                                                          staff_client):
    case = opened(maria, world)
    add_as_staff(staff_client, case)
    assert staff_client.form(f"/support/{case.number}/close").status_code == 302
    closed_mail = last_mail("maria@example.com")
    assert case.number in closed_mail.subject and "closed" in closed_mail.subject
    page = maria.get(f"{BASE}/cases/{case.number}")
    assert "Was your question answered?" in text(page)
    empty = portal_form(maria, f"{BASE}/cases/{case.number}/not-answered", {"feedback": ""},
                        page=f"{BASE}/cases/{case.number}")
    assert empty.status_code == 400 and error_beside(text(empty), "feedback")
    response = portal_form(maria, f"{BASE}/cases/{case.number}/not-answered",
                           {"feedback": "The invoice is still wrong."},
                           page=f"{BASE}/cases/{case.number}")
    assert response.status_code == 302
    case = SupportCase.get_by_id(case.id)
    assert (case.status, case.satisfied) == ("open", False)
    feedback = CaseMessage.get(CaseMessage.kind == "feedback")
    assert (feedback.author_account_id, feedback.body) == (world.maria.id,
                                                          "The invoice is still wrong.")
    assert "reopened" in last_mail("piet@jansen.example").subject
    actions = [(e.action, e.web_account_id) for e in CaseEvent.select().order_by(CaseEvent.id)]
    assert ("answered_no", world.maria.id) in actions
    # a second "No" (Back and send again) changes nothing
    again = maria.post(f"{BASE}/cases/{case.number}/not-answered",
                       data={"csrf_token": csrf_of(page), "feedback": "Again"})
    assert again.status_code == 302
    assert CaseMessage.select().where(CaseMessage.kind == "feedback").count() == 1
    staff_page = text_of(staff_client.get(f"/support/{case.number}"))
    assert "Maria Jansen" in staff_page and "The invoice is still wrong." in staff_page


def test_yes_records_satisfaction_once_also_for_a_colleague(maria, jan, world, staff_client):
    case = opened(maria, world)
    staff_client.form(f"/support/{case.number}/close")
    page = jan.get(f"{BASE}/cases/{case.number}")
    assert "Was your question answered?" in text(page)
    token = csrf_of(page)
    assert jan.post(f"{BASE}/cases/{case.number}/answered",
                    data={"csrf_token": token}).status_code == 302
    assert SupportCase.get_by_id(case.id).satisfied is True
    assert "Was your question answered?" not in text(maria.get(f"{BASE}/cases/{case.number}"))
    jan.post(f"{BASE}/cases/{case.number}/answered", data={"csrf_token": token})
    assert CaseEvent.select().where(CaseEvent.action == "answered_yes").count() == 1


def test_the_question_is_not_asked_of_a_staff_case_shown_to_the_customer(maria, world):
    shown = staff_case(world, world.bakkerij, visible=True)
    SupportCase.update(status="closed").where(SupportCase.id == shown.id).execute()
    assert "Was your question answered?" not in text(maria.get(f"{BASE}/cases/{shown.number}"))


# --- "visible to the customer" (staff) -----------------------------------------------------

def test_the_owner_makes_a_staff_case_visible_to_the_customer_and_internal_again(
        app, maria, world, staff_client):
    mila_client = signed_in(app, make_user("mila@jansen.example", name="Mila Bos"))
    case = staff_case(world, world.bakkerij)
    page = staff_client.get(f"/support/{case.number}")
    assert "Make visible to the customer" in text(page)
    # staff who neither own the case nor are superusers may not
    assert mila_client.form(f"/support/{case.number}/customer-visible",
                            {"visible": "yes"}).status_code == 403
    assert staff_client.form(f"/support/{case.number}/customer-visible",
                             {"visible": "maybe"}).status_code == 400
    assert staff_client.form(f"/support/{case.number}/customer-visible",
                             {"visible": "yes"}).status_code == 302
    assert SupportCase.get_by_id(case.id).customer_visible is True
    assert maria.get(f"{BASE}/cases/{case.number}").status_code == 200
    staff_client.form(f"/support/{case.number}/customer-visible", {"visible": "yes"})
    assert staff_client.form(f"/support/{case.number}/customer-visible",
                             {"visible": "no"}).status_code == 302
    assert maria.get(f"{BASE}/cases/{case.number}").status_code == 404
    assert [e.action for e in CaseEvent.select().order_by(CaseEvent.id)] == [
        "shown_to_customer", "hidden_from_customer"]
    history = text_of(staff_client.get(f"/support/{case.number}"))
    assert "Made visible to the customer in the portal" in history


def test_a_portal_case_cannot_be_made_internal(maria, world, staff_client):
    case = opened(maria, world)
    assert "Make visible" not in text(staff_client.get(f"/support/{case.number}"))
    assert staff_client.form(f"/support/{case.number}/customer-visible",
                             {"visible": "no"}).status_code == 400
    with pytest.raises(ValueError):
        portal_cases.set_customer_visible(case, world.staff, False)


def test_a_customer_case_without_an_owner_waits_in_all(app, world, maria, staff_client):
    Website.update(case_owner_id=None).execute()
    case = opened(maria, world)
    assert case.owner_id is None
    assert case.number in text(staff_client.get("/support?view=all"))
    assert staff_client.get(f"/support/{case.number}").status_code == 200
    assert add_as_staff(staff_client, case).status_code == 302


def test_an_inactive_owner_does_not_own_new_portal_cases(app, world, maria):
    User.update(is_active=False).where(User.id == world.staff.id).execute()
    assert opened(maria, world).owner_id is None


# --- bounded queries ----------------------------------------------------------------------

def count_queries(client, url):
    with queries() as ran:
        assert client.get(url).status_code == 200
    return len(ran)


def test_the_portal_pages_make_a_fixed_number_of_queries(maria, world, staff_client):
    first = opened(maria, world, files=[("a.png", PNG)])
    add_as_staff(staff_client, first)
    portal_form(maria, f"{BASE}/inquiries/new", {"subject": "One", "message": "x"})
    counts = {url: count_queries(maria, url) for url in (
        f"{BASE}/cases", f"{BASE}/cases/{first.number}", f"{BASE}/inquiries")}
    for n in range(12):
        case = opened(maria, world, subject=f"More {n}", files=[("a.png", PNG)])
        add_as_staff(staff_client, first, body=f"Reply {n}")
        portal_form(maria, f"{BASE}/inquiries/new", {"subject": f"More {n}", "message": "x"})
    assert case is not None
    for url, count in counts.items():
        assert count_queries(maria, url) == count, url
        assert count <= 14, (url, count)


def test_the_staff_case_page_with_a_customer_requester_stays_bounded(maria, world,
                                                                       staff_client):
    case = opened(maria, world)
    add_as_staff(staff_client, case)
    before = count_queries(staff_client, f"/support/{case.number}")
    for n in range(8):
        portal_form(maria, f"{BASE}/cases/{case.number}/add", {"body": f"More {n}"},
                    page=f"{BASE}/cases/{case.number}")
        add_as_staff(staff_client, case, body=f"Reply {n}")
    assert count_queries(staff_client, f"/support/{case.number}") == before


def test_support_keeps_staff_rules_for_staff(world):
    """The staff requester still decides a staff case's status (kontor/support.py)."""
    case = staff_case(world, world.bakkerij)
    assert support.is_requester(world.staff, case)
    assert not support.is_requester(world.superuser, case)
    assert support.is_requester(world.maria, case)     # a customer writes on their side


def test_a_closed_account_is_not_mailed_about_its_case(maria, world, staff_client):
    case = opened(maria, world)
    web_accounts.close(WebAccount.get_by_id(world.maria.id))
    before = last_mail("maria@example.com")
    assert add_as_staff(staff_client, case).status_code == 302
    assert last_mail("maria@example.com") == before
    assert SupportCase.get_by_id(case.id).status == "answered"
