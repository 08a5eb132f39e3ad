"""Support cases and inquiries from the portal in a real browser against a real server (issue
14 items 5 and 6, "Tests"; seed 004): the superuser lets a website's customers open cases and
makes themselves their owner; staff give a contact's customer access; the customer sets a
password from the mail, signs in, opens a support case with a file, and sends an inquiry; the
owner is mailed, replies (the customer gets the mail at aiosmtpd, From the website) and closes
the case; the customer answers "Was your question answered?" with "No" and feedback, and the
case is open again. Every new page passes axe-core and is photographed into tests/screenshots/
("portal-cases-…")."""
import uuid

import pytest
from playwright.sync_api import expect
from support_helpers import PDF

from .helpers import assert_accessible as shared_assert_accessible
from .helpers import flash, link_in_mail, wait_for_mail

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "purple elephant dancing quietly"
OWNER = "anna@jansen.example"


def assert_accessible(page, name):
    shared_assert_accessible(page, f"portal-cases-{name}")


def test_a_customer_opens_a_case_staff_reply_and_a_no_reopens_it(admin_page, browser, site,
                                                                 smtp, tmp_path):
    page, tag = admin_page, uuid.uuid4().hex[:6]
    slug, name = f"help-{tag}", f"Jansen Service {tag}"
    email = f"maria.{tag}@example.com"
    portal = f"{site.url}/w/{slug}"
    site.sql("INSERT INTO case_category (name, name_key, active, position) VALUES (?, ?, ?, ?)",
             (f"Invoicing {tag}", f"invoicing {tag}", True, 1))

    # The superuser adds a website whose customers may open cases, owned by the superuser.
    page.goto(site.url + "/admin/websites/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address part").fill(slug)
    page.get_by_label("Public address").fill(portal)
    page.get_by_label("Customers may open support cases in the portal").check()
    page.get_by_label("Owner of the cases customers open").select_option(
        label=f"Anna Jansen <{OWNER}>")
    page.get_by_label("Sender name").fill("Jansen Service")
    page.get_by_label("Sender address").fill("service@jansen.example")
    assert_accessible(page, "01-website-form")
    page.get_by_role("button", name="Save website").click()
    expect(flash(page, f"Website {name} saved.")).to_be_visible()

    # Staff give a contact's customer access (approved and linked at once).
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(f"Bakkerij {tag}")
    page.get_by_role("button", name="Create contact").click()
    page.locator("#website").get_by_role("link", name="Create access").click()
    page.get_by_label("Website").select_option(label=name)
    page.get_by_label("E-mail (user name)").fill(email)
    page.get_by_role("button", name="Create access").click()
    expect(flash(page, "Access created.")).to_be_visible()

    owner_mails = len(smtp.to(OWNER))
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        customer = context.new_page()
        access = wait_for_mail(smtp, email)[0]
        customer.goto(link_in_mail(access, portal))
        customer.get_by_label("New password", exact=True).fill(PASSWORD)
        customer.get_by_label("Repeat the new password").fill(PASSWORD)
        customer.get_by_role("button", name="Set new password").click()
        expect(customer).to_have_url(portal + "/login")
        customer.get_by_label("E-mail").fill(email)
        customer.get_by_label("Password", exact=True).fill(PASSWORD)
        customer.get_by_role("button", name="Sign in").click()
        expect(customer).to_have_url(portal + "/account")

        # Support cases: the list, the short wizard; Send with nothing filled in says what
        # is missing, beside each field.
        customer.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Support cases").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Support cases")
        expect(customer.get_by_text("No cases.")).to_be_visible()
        assert_accessible(customer, "02-list-empty")
        customer.get_by_role("link", name="Create new").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("New support case")
        assert_accessible(customer, "03-new")
        customer.get_by_role("button", name="Send").click()
        expect(customer.locator("#subject-error")).to_be_visible()
        expect(customer.locator("#category-error")).to_be_visible()
        assert_accessible(customer, "04-new-errors")

        invoice = tmp_path / "invoice-1042.pdf"
        invoice.write_bytes(PDF)
        customer.get_by_label("Category").select_option(label=f"Invoicing {tag}")
        customer.get_by_label("Subject").fill("Invoice 1042 is too high")
        customer.get_by_label("Description").fill("We were charged twice for the oven.")
        customer.get_by_label("Files (optional)").set_input_files([invoice])
        customer.get_by_role("button", name="Send").click()
        expect(customer.locator(".flash")).to_contain_text("is registered")
        number = customer.get_by_role("heading", level=1).inner_text().split(":")[0]
        expect(customer.locator(".badge")).to_have_text("Open")
        expect(customer.get_by_role("link", name="invoice-1042.pdf")).to_be_visible()
        assert_accessible(customer, "05-case")
        customer.get_by_role("link", name="Support cases").first.click()
        expect(customer.get_by_role("row").filter(has_text=number)).to_contain_text(
            "Invoice 1042 is too high")
        assert_accessible(customer, "06-list")
        customer.set_viewport_size(PHONE)
        assert_accessible(customer, "07-list-phone")
        customer.set_viewport_size(DESKTOP)

        # An inquiry, while we are here.
        customer.get_by_role("link", name="My inquiries").click()
        expect(customer.get_by_text("You have not sent an inquiry yet.")).to_be_visible()
        assert_accessible(customer, "08-inquiries-empty")
        customer.get_by_role("link", name="Send an inquiry").click()
        customer.get_by_role("button", name="Send inquiry").click()
        expect(customer.locator("#subject-error")).to_be_visible()
        assert_accessible(customer, "09-inquiry-errors")
        customer.get_by_label("Subject").fill("Opening hours at Christmas")
        customer.get_by_label("Message").fill("Are you open on 24 December?")
        customer.get_by_role("button", name="Send inquiry").click()
        expect(flash(customer, "your inquiry was sent")).to_be_visible()
        row = customer.get_by_role("row").filter(has_text="Opening hours at Christmas")
        expect(row).to_contain_text("Not processed yet")
        assert_accessible(customer, "10-inquiries")
        row.get_by_role("link").click()
        expect(customer.get_by_text("Are you open on 24 December?")).to_be_visible()
        assert_accessible(customer, "11-inquiry")

        # The owner is mailed, sees the customer as the requester, replies and closes.
        assigned = wait_for_mail(smtp, OWNER, count=owner_mails + 1)[owner_mails]
        assert assigned["Subject"] == f"You own case {number} now"
        page.goto(f"{site.url}/support/{number}")
        expect(page.locator(".facts")).to_contain_text(f"<{email}>")
        expect(page.locator(".facts")).to_contain_text("customer, from the portal")
        assert_accessible(page, "12-staff-case")
        page.get_by_role("textbox", name="Add information").fill(
            "We credited the second charge; you will see it on the next invoice.")
        page.get_by_role("button", name="Add information").click()
        expect(flash(page, f"Your information is added to case {number}.")).to_be_visible()
        answered = wait_for_mail(smtp, email, count=3)[2]   # after access, password changed
        assert answered["Subject"] == f"New answer on your case {number}"
        assert "Jansen Service <service@jansen.example>" in answered["From"]
        assert f"{portal}/cases/{number}" in answered.get_body(
            preferencelist=("plain",)).get_content()
        page.get_by_role("button", name="Close case").click()
        closed = wait_for_mail(smtp, email, count=4)[3]
        assert closed["Subject"] == f"Case {number} is closed"

        # The customer opens the case from the mail: "Was your question answered?" No.
        customer.goto(link_in_mail(closed, portal))
        expect(customer.get_by_role("heading", name="Was your question answered?")) \
            .to_be_visible()
        expect(customer.get_by_text("We credited the second charge")).to_be_visible()
        assert_accessible(customer, "13-question")
        customer.get_by_role("button", name="No, reopen the case").click()
        expect(customer.locator("#feedback-error")).to_contain_text(
            "Tell us what is still missing")
        customer.get_by_label("What is still missing?").fill(
            "The oven was charged twice on invoice 1043 too.")
        customer.get_by_role("button", name="No, reopen the case").click()
        expect(flash(customer, f"Case {number} is open again")).to_be_visible()
        expect(customer.locator(".badge")).to_have_text("Open")
        expect(customer.get_by_role("heading", name="Was your question answered?")) \
            .to_have_count(0)
        assert_accessible(customer, "14-reopened")
    finally:
        context.close()

    reopened = wait_for_mail(smtp, OWNER, count=owner_mails + 2)[owner_mails + 1]
    assert reopened["Subject"] == f"Case {number} was reopened"
    page.goto(f"{site.url}/support/{number}")
    expect(page.locator("main .badge").first).to_have_text("Open")
    expect(page.locator("#thread")).to_contain_text("invoice 1043 too")
    expect(page.locator(".timeline")).to_contain_text("was not answered")
    assert_accessible(page, "15-staff-case-reopened")
