"""Fetch website data in a real browser against a real server (issue 15, "Tests"): a customer
registers on a portal as a company that is in the register already; staff find the item under
"Fetch website data" (the count is in the navigation) as an Existing customer matched on the
company name, open it, take the incoming phone, link and import; the contact shows the new
phone and the import on its timeline, the web account is approved and the approval mail
arrives. Every page passes axe-core and is photographed into tests/screenshots/ ("queue-…")."""
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
    shared_assert_accessible(page, f"queue-{name}")


def test_a_registration_is_matched_taken_in_part_and_imported(admin_page, browser, site, smtp):
    page, tag = admin_page, uuid.uuid4().hex[:6]
    slug, name = f"queue-{tag}", f"Queue Shop {tag}"
    email = f"maria.{tag}@example.com"
    company = f"Jensen Bygg {tag} AS"
    portal = f"{site.url}/w/{slug}"

    page.goto(site.url + "/admin/websites/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address part").fill(slug)
    page.get_by_label("Public address").fill(portal)
    page.get_by_label("Customers may create their own account").check()
    page.get_by_label("Manual: new customers wait until staff approve them").check()
    page.get_by_label("Privacy statement (address)").fill("https://jansen.example/privacy")
    page.get_by_label("Sender name").fill("Queue Shop")
    page.get_by_label("Sender address").fill("shop@jansen.example")
    page.get_by_role("button", name="Save website").click()
    expect(flash(page, f"Website {name} saved.")).to_be_visible()

    # The company is in the register already, with another phone number.
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(f"Jensen Bygg {tag} A/S")
    page.get_by_label("Phone", exact=True).fill("+47 99 99 99 99")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Jensen Bygg {tag}")
    contact_url = page.url

    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        customer = context.new_page()
        customer.goto(portal + "/register")
        customer.get_by_label("E-mail (your user name)").fill(email)
        customer.get_by_label("Password", exact=True).fill(PASSWORD)
        customer.get_by_label("Repeat the password").fill(PASSWORD)
        customer.get_by_label("Company name").fill(company)
        customer.get_by_label("Contact person").fill("Maria Jensen")
        customer.get_by_label("Phone").fill("+47 22 33 44 55")
        customer.get_by_label("Street and number").fill("Storgata 1")
        customer.get_by_label("Postcode").fill("0155")
        customer.get_by_label("City").fill("Oslo")
        customer.get_by_label("Country").select_option("NO")
        customer.get_by_label("I agree to the privacy statement").check()
        customer.get_by_role("button", name="Create user").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
        customer.goto(link_in_mail(wait_for_mail(smtp, email)[0], portal))
        customer.get_by_role("button", name="Confirm my address").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text(
            "Your address is confirmed")
    finally:
        context.close()

    # Staff: the count in the navigation, the item in the Contacts tab with its match.
    page.goto(site.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Fetch website data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fetch website data")
    row = page.get_by_role("row").filter(has_text=email)
    expect(row).to_contain_text("Existing customer")
    expect(row).to_contain_text("matched on company name")
    assert_accessible(page, "01-list")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "01b-list-phone")
    page.set_viewport_size(DESKTOP)

    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Registration")
    expect(page.get_by_label(f"Jensen Bygg {tag} A/S")).to_be_checked()
    expect(page.locator("#take_phone-keep")).to_be_checked()
    expect(page.get_by_label("Approve the web account")).to_be_checked()
    expect(page.get_by_label("Link the web account to this contact")).not_to_be_checked()
    assert_accessible(page, "02-item")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "02b-item-phone")
    page.set_viewport_size(DESKTOP)
    page.locator("#take_phone-take").check()
    page.get_by_label("Link the web account to this contact").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(flash(page, "Imported into")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=email)).to_have_count(0)

    page.goto(contact_url)
    expect(page.locator(".facts").first).to_contain_text("+47 22 33 44 55")
    expect(page.locator("#persons")).to_contain_text("Maria Jensen")
    expect(page.locator("#website")).to_contain_text(email)
    expect(page.locator(".timeline")).to_contain_text(f"Website data imported from {name}")
    assert_accessible(page, "03-contact")

    approved = wait_for_mail(smtp, email, count=3)[2]
    assert approved["Subject"] == f"Your account at {name} is ready"

    page.goto(site.url + "/website-data/processed")
    expect(page.get_by_role("row").filter(has_text=name).first).to_contain_text("Imported")
    assert_accessible(page, "04-processed")
    page.get_by_role("row").filter(has_text=name).first.get_by_role("link").first.click()
    expect(page.locator("#done-heading")).to_have_text("Imported")
    assert_accessible(page, "05-processed-item")
