"""The support story in a real browser against a real server (SPEC section 9): the superuser
keeps the categories and types, then registers a case through the whole "Create new" wizard
(customer, request with an owner, two documents at once, summary with the technical
information) and gives it to a colleague; the owner, in a browser of their own, replies and
closes the case; the requester says the question was not answered, with feedback, which
reopens the case. The mails arrive at a real SMTP server. Every page on the way is checked
with axe-core (no violations, no sideways scrolling) and photographed into tests/screenshots/.
"""
import re

import pytest
from playwright.sync_api import expect

from .helpers import ADMIN, flash, link_in_mail, sign_in, wait_for_mail
from .helpers import assert_accessible as shared_assert_accessible

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
OWNER = {"name": "Lotte Smit", "email": "lotte.smit@jansen.example"}
CUSTOMER = "Bakkerij Van Houten"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def assert_accessible(page, name):
    """The shared check, with this story's screenshots named "support-…"."""
    shared_assert_accessible(page, f"support-{name}")


def heading(page):
    return page.get_by_role("heading", level=1)


def mails_to(smtp, address):
    return len(smtp.to(address))


def add_list_item(page, section, name):
    card = page.locator("section", has=page.get_by_role("heading", name=section, exact=True))
    card.get_by_label("Name", exact=True).fill(name)
    card.get_by_role("button", name="Add").click()
    expect(flash(page, f"“{name}” added.")).to_be_visible()


def test_a_case_from_the_wizard_to_not_answered_and_reopened(admin_page, browser, site, smtp,
                                                              tmp_path):
    page = admin_page
    page.set_default_timeout(10_000)
    site.make_user(OWNER["email"], OWNER["name"])
    owner_mails = mails_to(smtp, OWNER["email"])
    admin_mails = mails_to(smtp, ADMIN["email"])

    # The superuser keeps the lists: a category and a type, and one no longer offered.
    page.goto(site.url + "/support")
    page.get_by_role("link", name="Support settings").click()
    expect(heading(page)).to_have_text("Support settings")
    add_list_item(page, "Categories", "Invoicing")
    add_list_item(page, "Categories", "Old product")
    add_list_item(page, "Types of request", "Question")
    page.get_by_role("button", name="Stop offering Old product").click()
    expect(page.get_by_role("button", name="Offer again Old product")).to_be_visible()
    assert_accessible(page, "01-settings")

    # A customer in the contact register.
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(CUSTOMER)
    page.get_by_role("button", name="Create contact").click()
    expect(heading(page)).to_contain_text(CUSTOMER)

    # Step 1: the customer.
    page.goto(site.url + "/support")
    expect(heading(page)).to_have_text("Support requests")
    page.get_by_role("link", name="Create new").click()
    expect(heading(page)).to_have_text("New request")
    expect(page.locator("[aria-current=step]")).to_have_text("Customer")
    assert_accessible(page, "02-new-customer")
    page.get_by_label("Find the customer").fill("van houten")
    page.get_by_role("button", name="Search").click()
    page.get_by_label(re.compile(CUSTOMER)).check()
    assert_accessible(page, "03-new-customer-found")
    page.get_by_role("button", name="Next").click()

    # Step 2: the request. Next with nothing filled in shows what is missing, beside it.
    expect(page).to_have_url(site.url + "/support/new/details")
    expect(page.get_by_text(f"Customer: {CUSTOMER}")).to_be_visible()
    options = page.get_by_label("Category").locator("option").all_inner_texts()
    assert "Invoicing" in options and "Old product" not in options
    page.get_by_label("Subject").fill("Invoice total is one cent off")
    page.get_by_role("button", name="Next").click()
    for field in ("category", "type", "description"):
        expect(page.locator(f"#{field}-error")).to_be_visible()
    expect(page.locator("#subject-error")).to_have_count(0)
    expect(page.get_by_label("Subject")).to_have_value("Invoice total is one cent off")
    assert_accessible(page, "04-new-details-errors")

    page.get_by_label("Category").select_option(label="Invoicing")
    page.get_by_label("Type of request").select_option(label="Question")
    page.get_by_label("Description").fill("The total on invoice 1042 is 0.01 higher than "
                                          "the sum of its lines.")
    page.get_by_label("Owner").select_option(label=f"{OWNER['name']} <{OWNER['email']}>")
    page.get_by_label("I need to upload documents").check()
    assert_accessible(page, "05-new-details")

    # Back to the customer and forward again: nothing typed is lost.
    page.get_by_role("button", name="Back").click()
    expect(page).to_have_url(re.compile(r"/support/new$"))
    expect(page.get_by_text(f"Chosen: {CUSTOMER}")).to_be_visible()
    page.get_by_role("link", name="Keep and go on").click()
    expect(page.get_by_label("Subject")).to_have_value("Invoice total is one cent off")
    expect(page.get_by_label("Description")).to_have_value(re.compile("invoice 1042"))
    expect(page.get_by_label("Category").locator("option:checked")).to_have_text("Invoicing")
    expect(page.get_by_label("Owner").locator("option:checked")).to_have_text(
        f"{OWNER['name']} <{OWNER['email']}>")
    expect(page.get_by_label("I need to upload documents")).to_be_checked()
    page.get_by_role("button", name="Next").click()

    # Step 3: documents. Two at once; a PNG named .pdf is refused with a message.
    expect(page).to_have_url(site.url + "/support/new/files")
    expect(page.get_by_text("No files added yet.")).to_be_visible()
    assert_accessible(page, "06-new-files-empty")
    screen, invoice, fake = tmp_path / "screen.png", tmp_path / "invoice-1042.pdf", \
        tmp_path / "photo.pdf"
    screen.write_bytes(PNG)
    invoice.write_bytes(PDF)
    fake.write_bytes(PNG)
    page.get_by_label("Add files").set_input_files([fake])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("“photo.pdf” is not a file type")
    assert_accessible(page, "07-new-files-refused")
    page.get_by_label("Add files").set_input_files([screen, invoice])
    page.get_by_role("button", name="Upload").click()
    files = page.get_by_role("table", name="Files added")
    expect(files.get_by_role("row")).to_have_count(3)
    expect(files).to_contain_text("screen.png")
    expect(files).to_contain_text("invoice-1042.pdf")
    assert_accessible(page, "08-new-files-listed")
    page.get_by_role("button", name="Next").click()

    # Step 4: the summary, with the technical information shown before sending.
    expect(page).to_have_url(site.url + "/support/new/summary")
    summary = page.locator(".facts")
    for shown in (CUSTOMER, "Invoicing", "Question", "Invoice total is one cent off",
                  OWNER["name"], "screen.png", "invoice-1042.pdf"):
        expect(summary).to_contain_text(shown)
    expect(page.get_by_label("Include technical information below")).to_be_checked()
    tech = page.locator("pre.tech-info")
    expect(tech).to_contain_text("Browser: Mozilla/5.0")
    expect(tech).to_contain_text("Kontor: ")
    expect(tech).to_contain_text("Server: ")
    expect(tech).to_contain_text(re.compile(r"Database: (SQLite|PostgreSQL) \d"))
    assert_accessible(page, "09-new-summary")
    page.get_by_role("button", name="Send").click()

    # The case page.
    expect(page).to_have_url(re.compile(r"/support/\d{4}-\d{4}$"))
    number = page.url.rsplit("/", 1)[1]
    expect(flash(page, f"Case {number} is registered.")).to_be_visible()
    expect(heading(page)).to_have_text(f"{number}: Invoice total is one cent off")
    expect(page.locator(".badge-case-open")).to_have_text("Open")
    thread = page.locator("#thread")
    expect(thread.get_by_role("link", name="screen.png")).to_be_visible()
    with page.expect_download() as download:
        thread.get_by_role("link", name="invoice-1042.pdf").click()
    assert download.value.suggested_filename == "invoice-1042.pdf"
    assert_accessible(page, "10-case-open")

    # The owner is told, and opens the case from the mail in a browser of their own.
    message = wait_for_mail(smtp, OWNER["email"], count=owner_mails + 1)[-1]
    assert message["Subject"] == f"You own case {number} now"
    link = link_in_mail(message, site.url)
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        lotte = context.new_page()
        lotte.set_default_timeout(10_000)
        lotte.goto(link)
        sign_in(lotte, site.url, OWNER["email"], path=None)
        expect(lotte).to_have_url(site.url + f"/support/{number}")
        lotte.get_by_role("navigation", name="Main").get_by_role("link", name="Support").click()
        expect(lotte.get_by_role("link", name=number)).to_be_visible()   # in "My cases"
        lotte.get_by_role("link", name=number).click()
        lotte.get_by_role("textbox", name="Add information").fill(
            "The rounding is per line; invoice 1043 will correct it.")
        lotte.get_by_role("button", name="Add information").click()
        expect(flash(lotte, f"Your information is added to case {number}.")).to_be_visible()
        expect(lotte.locator(".badge-case-answered")).to_have_text("Answered")
        lotte.get_by_role("button", name="Close case").click()
        expect(flash(lotte, f"Case {number} is closed.")).to_be_visible()
        expect(lotte.locator(".badge-case-closed")).to_have_text("Closed")
        expect(lotte.get_by_text("Was your question answered?")).to_have_count(0)
        assert_accessible(lotte, "11-case-closed-owner")
    finally:
        context.close()

    # The requester hears of the answer and the closing.
    subjects = [m["Subject"] for m in wait_for_mail(smtp, ADMIN["email"],
                                                    count=admin_mails + 2)[admin_mails:]]
    assert subjects == [f"New answer on your case {number}", f"Case {number} is closed"]

    # Opening the closed case, the requester is asked; "No" needs feedback.
    page.goto(site.url + f"/support/{number}")
    question = page.get_by_role("region", name="Was your question answered?")
    expect(question).to_be_visible()
    expect(page.locator("#thread")).to_contain_text("The rounding is per line")
    assert_accessible(page, "12-case-asked")
    question.get_by_role("button", name="No, reopen the case").click()
    expect(page.locator("#feedback-error")).to_have_text(
        "Tell us what is still missing, so we can help.")
    assert_accessible(page, "13-case-asked-errors")
    page.get_by_label("What is still missing?").fill("Invoice 1043 has the same problem.")
    page.get_by_role("button", name="No, reopen the case").click()
    expect(flash(page, f"Case {number} is open again; the owner has been told.")).to_be_visible()
    expect(page.locator(".badge-case-open")).to_have_text("Open")
    expect(page.get_by_text("Was your question answered?")).to_have_count(0)
    history = page.get_by_role("region", name="History")
    for line in ("Case registered", f"Owner changed to {OWNER['name']}",
                 "Status changed from Open to Answered", "Status changed from Answered to Closed",
                 "The requester says the question was not answered, and gave feedback",
                 "Status changed from Closed to Open"):
        expect(history).to_contain_text(line)
    assert_accessible(page, "14-case-reopened")

    # The owner is told, with the feedback.
    message = wait_for_mail(smtp, OWNER["email"], count=owner_mails + 2)[-1]
    assert message["Subject"] == f"Case {number} was reopened"
    assert "Invoice 1043 has the same problem." in message.get_body(
        preferencelist=("plain",)).get_content()

    # The list: all cases, searchable by number, with the share answered yes.
    page.goto(site.url + "/support?view=all")
    expect(page.get_by_text(re.compile(r"Closed cases answered to satisfaction: 0 of \d+"))
           ).to_be_visible()
    page.get_by_label("Search").fill(number)
    page.get_by_role("button", name="Show").click()
    rows = page.get_by_role("table", name="Support requests").get_by_role("row")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text(CUSTOMER)
    expect(rows.nth(1)).to_contain_text(OWNER["name"])
    assert_accessible(page, "15-list")

    # The same pages on a phone.
    context = browser.new_context(viewport=PHONE, locale="en-GB",
                                  storage_state=page.context.storage_state())
    try:
        phone = context.new_page()
        phone.set_default_timeout(10_000)
        phone.goto(site.url + "/support?view=all")
        expect(heading(phone)).to_have_text("Support requests")
        assert_accessible(phone, "16-list-phone")
        phone.get_by_role("link", name=number).click()
        expect(heading(phone)).to_have_text(f"{number}: Invoice total is one cent off")
        assert_accessible(phone, "17-case-phone")
        phone.goto(site.url + "/support/new")
        expect(heading(phone)).to_have_text("New request")
        assert_accessible(phone, "18-new-phone")
    finally:
        context.close()


def test_enter_in_a_wizard_step_goes_forward_not_back(admin_page, site):
    """Issue 11 item 19: Enter in the subject pressed "Back", the first button of the step."""
    page = admin_page
    page.set_default_timeout(10_000)
    customer = "Fietsenmaker De Spaak"
    page.goto(site.url + "/support/settings")
    add_list_item(page, "Categories", "Bicycles (Enter)")
    add_list_item(page, "Types of request", "Wish (Enter)")
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(customer)
    page.get_by_role("button", name="Create contact").click()
    expect(heading(page)).to_contain_text(customer)

    page.goto(site.url + "/support/new")
    page.get_by_label("Find the customer").fill("spaak")
    page.get_by_label("Find the customer").press("Enter")
    page.get_by_label(re.compile(customer)).check()
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(site.url + "/support/new/details")

    # Enter with the description still empty: the step's own errors, not the step before.
    page.get_by_label("Category").select_option(label="Bicycles (Enter)")
    page.get_by_label("Type of request").select_option(label="Wish (Enter)")
    page.get_by_label("Subject").fill("A bell on every bicycle")
    page.get_by_label("Subject").press("Enter")
    expect(page).to_have_url(site.url + "/support/new/details")
    expect(page.locator("#description-error")).to_be_visible()

    page.get_by_label("Description").fill("Customers ask for a bell.")
    page.get_by_label("Subject").press("Enter")
    expect(page).to_have_url(site.url + "/support/new/summary")
    expect(page.locator(".facts")).to_contain_text("A bell on every bicycle")
    # Back is still there, on the left of Send, and still goes back.
    back, send = (page.get_by_role("button", name=name).bounding_box()
                  for name in ("Back", "Send"))
    assert back["x"] < send["x"]
    page.get_by_role("button", name="Back").click()
    expect(page).to_have_url(site.url + "/support/new/details")
    expect(page.get_by_label("Subject")).to_have_value("A bell on every bicycle")
    assert_accessible(page, "19-details-after-enter")
