"""The portal accounts story in a real browser against a real server (issue 13, "Tests"): the
superuser sets a website to manual approval; a customer, in a browser of their own, creates a
user, confirms the address from the mail, is told the account awaits approval and cannot sign
in; staff approve it on "Web accounts awaiting approval" (the count is in the navigation); the
approval mail arrives; the customer signs in and opens every page of their account. Every new
page passes axe-core with no violations and is photographed into tests/screenshots/
("portal-…")."""
import uuid

import pytest
from playwright.sync_api import expect

from .helpers import assert_accessible as shared_assert_accessible
from .helpers import flash, link_in_mail, wait_for_mail

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "purple elephant dancing quietly"


def assert_accessible(page, name):
    shared_assert_accessible(page, f"portal-{name}")


def test_a_customer_registers_is_approved_by_staff_and_signs_in(admin_page, browser, site,
                                                                smtp):
    page, tag = admin_page, uuid.uuid4().hex[:6]
    slug, name = f"shop-{tag}", f"Jansen Webshop {tag}"
    email = f"maria.{tag}@example.com"
    portal = f"{site.url}/w/{slug}"

    # The superuser adds a website with self-registration and manual approval.
    page.goto(site.url + "/admin/websites/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address part").fill(slug)
    page.get_by_label("Public address").fill(portal)
    page.get_by_label("Customers may create their own account").check()
    page.get_by_label("Show a “Create user” link in the portal's menu").check()
    page.get_by_label("Manual: new customers wait until staff approve them").check()
    page.get_by_label("Privacy statement (address)").fill("https://jansen.example/privacy")
    page.get_by_label("Sender name").fill("Jansen Webshop")
    page.get_by_label("Sender address").fill("shop@jansen.example")
    page.get_by_label("Send a copy of every e-mail to").fill("office@jansen.example")
    page.get_by_role("button", name="Save website").click()
    expect(flash(page, f"Website {name} saved.")).to_be_visible()

    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        customer = context.new_page()
        customer.goto(portal + "/")
        customer.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Create user").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Create user")
        assert_accessible(customer, "01-register")

        # A weak password and no consent: errors beside the fields, nothing typed lost.
        customer.get_by_label("E-mail (your user name)").fill(email)
        customer.get_by_label("Password", exact=True).fill("short")
        customer.get_by_label("Repeat the password").fill("short")
        customer.get_by_label("Company name").fill("Jensen Bygg AS")
        customer.get_by_label("Organisation number").fill("987654321")
        customer.get_by_label("Contact person").fill("Maria Jensen")
        customer.get_by_label("Phone").fill("+47 22 33 44 55")
        customer.get_by_label("Street and number").fill("Storgata 1")
        customer.get_by_label("Postcode").fill("0155")
        customer.get_by_label("City").fill("Oslo")
        customer.get_by_label("Country").select_option("NO")
        customer.get_by_role("button", name="Create user").click()
        expect(customer.locator("#password-error")).to_contain_text("at least 12 characters")
        expect(customer.locator("#consent-error")).to_contain_text("privacy statement")
        expect(customer.get_by_label("Company name")).to_have_value("Jensen Bygg AS")
        assert_accessible(customer, "02-register-errors")

        customer.get_by_label("Password", exact=True).fill(PASSWORD)
        customer.get_by_label("Repeat the password").fill(PASSWORD)
        customer.get_by_label("I agree to the privacy statement").check()
        customer.get_by_role("button", name="Create user").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
        assert_accessible(customer, "03-check-email")

        # The confirmation mail comes from the website; its link leaves the address bar.
        message = wait_for_mail(smtp, email)[0]
        assert "Jansen Webshop <shop@jansen.example>" in message["From"]
        customer.goto(link_in_mail(message, portal))
        expect(customer).to_have_url(portal + "/confirm")
        assert_accessible(customer, "04-confirm")
        customer.get_by_role("button", name="Confirm my address").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text(
            "Your address is confirmed")
        expect(customer.get_by_text("awaits approval")).to_be_visible()
        assert_accessible(customer, "05-confirmed-awaits-approval")
        received = wait_for_mail(smtp, email, count=2)[1]
        assert received["Subject"] == f"We have received your registration at {name}"

        # Signing in now: told it awaits approval, not signed in.
        customer.goto(portal + "/login")
        customer.get_by_label("E-mail").fill(email)
        customer.get_by_label("Password", exact=True).fill(PASSWORD)
        customer.get_by_role("button", name="Sign in").click()
        expect(customer.get_by_text("Your account is waiting for approval.")).to_be_visible()
        assert_accessible(customer, "06-login-pending")

        # Staff see the count in the navigation and approve in place.
        page.goto(site.url + "/")
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Awaiting approval").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Web accounts awaiting approval")
        row = page.get_by_role("row").filter(has_text=email)
        expect(row).to_contain_text("Jensen Bygg AS")
        expect(row).to_contain_text("Maria Jensen")
        assert_accessible(page, "07-awaiting-approval")
        page.set_viewport_size(PHONE)
        assert_accessible(page, "07b-awaiting-approval-phone")
        page.set_viewport_size(DESKTOP)
        row.get_by_role("button", name="Approve").click()
        expect(flash(page, f"{email}: approved and e-mailed.")).to_be_visible()
        expect(page.get_by_role("row").filter(has_text=email)).to_have_count(0)

        approved = wait_for_mail(smtp, email, count=3)[2]
        assert approved["Subject"] == f"Your account at {name} is ready"
        assert f"{portal}/login" in approved.get_body(
            preferencelist=("plain",)).get_content()

        # The customer signs in and finds every page of the account.
        customer.goto(portal + "/login")
        customer.get_by_label("E-mail").fill(email)
        customer.get_by_label("Password", exact=True).fill(PASSWORD)
        customer.get_by_role("button", name="Sign in").click()
        expect(customer).to_have_url(portal + "/account")
        expect(customer.get_by_role("heading", level=1)).to_have_text("My account")
        expect(customer.locator(".facts")).to_contain_text("Jensen Bygg AS")
        assert_accessible(customer, "08-account")
        customer.get_by_role("link", name="Change my details").click()
        expect(customer.get_by_label("City")).to_have_value("Oslo")
        assert_accessible(customer, "09-details")
        customer.goto(portal + "/account/password")
        assert_accessible(customer, "10-password")
        customer.goto(portal + "/account/close")
        assert_accessible(customer, "11-close")
        customer.get_by_role("button", name="Sign out").click()
        expect(customer).to_have_url(portal + "/login")
        customer.get_by_role("link", name="Forgot password?").click()
        assert_accessible(customer, "12-forgot")
        customer.get_by_label("Language").select_option("de")
        customer.get_by_role("button", name="Switch").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Passwort vergessen")
        assert_accessible(customer, "13-forgot-de")

        # Forgot password, in German now: the link sets a new password once.
        customer.get_by_label("E-Mail").fill(email)
        customer.get_by_role("button", name="Link zum Zurücksetzen senden").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Prüfen Sie Ihre E-Mails")
        reset = wait_for_mail(smtp, email, count=4)[3]
        # the mail speaks the account's language (English, chosen when registering)
        assert reset["Subject"] == f"Choose a new password for {name}"
        link = link_in_mail(reset, portal)
        customer.goto(link)
        expect(customer).to_have_url(portal + "/reset")
        assert_accessible(customer, "14-reset-de")
        customer.get_by_label("Neues Passwort", exact=True).fill("seven orange kites over harbour")
        customer.get_by_label("Neues Passwort wiederholen").fill("seven orange kites over harbour")
        customer.get_by_role("button", name="Neues Passwort festlegen").click()
        expect(customer).to_have_url(portal + "/login")
        customer.goto(link)
        expect(customer.get_by_role("heading", level=1)).to_have_text(
            "Dieser Link kann nicht verwendet werden")
        assert_accessible(customer, "15-link-used-de")
    finally:
        context.close()

    page.goto(site.url + "/web-accounts/awaiting")
    assert_accessible(page, "16-awaiting-empty")

    # Staff give a contact access on its Website section, then edit the account.
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(f"Jensen Bygg {tag}")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Jensen Bygg {tag}")
    section = page.locator("#website")
    expect(section).to_contain_text("No web accounts yet.")
    section.get_by_role("link", name="Create access").click()
    assert_accessible(page, "17-create-access")
    page.get_by_label("Website").select_option(label=name)
    page.get_by_label("E-mail (user name)").fill(f"ola.{tag}@example.com")
    page.get_by_role("button", name="Create access").click()
    expect(flash(page, "Access created.")).to_be_visible()
    row = page.locator("#website").get_by_role("row").filter(has_text=f"ola.{tag}@example.com")
    expect(row).to_contain_text("Approved")
    expect(page.locator(".timeline")).to_contain_text("access created")
    assert_accessible(page, "18-contact-website")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "19-contact-website-phone")
    page.set_viewport_size(DESKTOP)
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Web account on {name}")
    assert page.locator('input[type="password"]').count() == 0
    assert_accessible(page, "20-edit-web-account")
    page.get_by_label("Rejected").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(flash(page, "Saved. The customer was e-mailed about the new status.")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Approved → Rejected")
