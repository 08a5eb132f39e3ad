"""The ordering story in a real browser against a real server (issue 14, "Tests"): the superuser
offers two products on a website whose prices are for customers only; staff give a contact with
a 10 % customer discount access on its Website section; the customer sets a password from the
mail, sees the list price and their discounted price, puts two products in the basket (a typing
error in a quantity gets a message beside the field and keeps the basket), checks out without
typing an address, gets the confirmation mail at aiosmtpd and finds the order in My orders;
staff find it in Orders and on the contact's timeline and mark it shipped; the customer is
mailed and sees it. Every new page passes axe-core and is photographed ("orders-…")."""
import re
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
    shared_assert_accessible(page, f"orders-{name}")


def add_product(page, site, number, name, price, vat, website):
    page.goto(site.url + "/products/new")
    page.get_by_label("Product number").fill(number)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Price excluding VAT").fill(price)
    page.get_by_label("VAT rate (%)").fill(vat)
    page.get_by_label(website, exact=True).check()
    page.get_by_role("button", name="Save product").click()
    expect(flash(page, f"Product {number} saved.")).to_be_visible()


def test_a_customer_with_a_discount_orders_and_staff_ship_it(admin_page, browser, site, smtp):
    page, tag = admin_page, uuid.uuid4().hex[:6]
    slug, name = f"order-{tag}", f"Jansen Shop {tag}"
    email = f"maria.{tag}@example.com"
    portal = f"{site.url}/w/{slug}"

    # The superuser adds a website whose prices are for signed-in customers only.
    page.goto(site.url + "/admin/websites/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address part").fill(slug)
    page.get_by_label("Public address").fill(portal)
    page.get_by_label("Prices and ordering only").check()
    page.get_by_label("Sender name").fill("Jansen Shop")
    page.get_by_label("Sender address").fill("shop@jansen.example")
    page.get_by_label("Send a copy of every e-mail to").fill("office@jansen.example")
    page.get_by_role("button", name="Save website").click()
    expect(flash(page, f"Website {name} saved.")).to_be_visible()
    add_product(page, site, f"KS-{tag}", f"Kühlschrank Eco {tag}", "499,95", "21", name)
    add_product(page, site, f"SV-{tag}", f"Service visit {tag}", "85", "9", name)

    # Staff give a contact with a 10 % discount access to the website.
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(f"Jensen Bygg {tag}")
    page.locator("#street").fill("Postboks 12")
    page.locator("#postcode").fill("0101")
    page.locator("#city").fill("Oslo")
    page.get_by_label("Customer discount (%)").fill("10")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Jensen Bygg {tag}")
    contact_url = page.url
    page.locator("#website").get_by_role("link", name="Create access").click()
    page.get_by_label("Website").select_option(label=name)
    page.get_by_label("E-mail (user name)").fill(email)
    page.get_by_role("button", name="Create access").click()
    expect(flash(page, "Access created.")).to_be_visible()

    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        customer = context.new_page()
        # A visitor sees the products but no prices.
        customer.goto(portal + "/products")
        expect(customer.get_by_role("heading", level=1)).to_have_text("Products")
        expect(customer.get_by_text("Sign in to see prices and to order.")).to_be_visible()
        assert "499" not in customer.content()
        assert_accessible(customer, "01-products-visitor")

        # The customer chooses a password with the link staff had sent, and signs in.
        access = wait_for_mail(smtp, email)[0]
        customer.goto(link_in_mail(access, portal))
        customer.get_by_label("New password", exact=True).fill(PASSWORD)
        customer.get_by_label("Repeat the new password").fill(PASSWORD)
        customer.get_by_role("button", name="Set new password").click()
        customer.get_by_label("E-mail").fill(email)
        customer.get_by_label("Password", exact=True).fill(PASSWORD)
        customer.get_by_role("button", name="Sign in").click()
        expect(customer).to_have_url(portal + "/account")

        # The list price and the customer's own price after 10 %.
        customer.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Products").click()
        fridge = customer.get_by_role("row").filter(has_text=f"Kühlschrank Eco {tag}")
        expect(fridge).to_contain_text(re.compile(r"€\s?499,95"))
        expect(fridge.locator(".your-price")).to_have_text(re.compile(r"€\s?449,96"))
        assert_accessible(customer, "02-products-customer")

        # A typing error beside the field; the basket keeps what it had.
        fridge.get_by_label("Quantity").fill("2,5")
        fridge.get_by_role("button", name="Add to basket").click()
        expect(customer.locator(".quantity-field .error")).to_contain_text("whole number")
        assert_accessible(customer, "03-products-quantity-error")
        fridge = customer.get_by_role("row").filter(has_text=f"Kühlschrank Eco {tag}")
        fridge.get_by_label("Quantity").fill("2")
        fridge.get_by_role("button", name="Add to basket").click()
        expect(flash(customer, f"Added to your basket: 2 × Kühlschrank Eco {tag}.")) \
            .to_be_visible()
        visit = customer.get_by_role("row").filter(has_text=f"Service visit {tag}")
        visit.get_by_role("button", name="Add to basket").click()
        expect(customer.get_by_role("navigation", name="Main")).to_contain_text("Basket 2")

        customer.get_by_role("navigation", name="Main").get_by_role(
            "link", name=re.compile("^Basket")).click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Basket")
        expect(customer.locator("tfoot")).to_contain_text(re.compile(r"€\s?1\.172,28"))
        assert_accessible(customer, "04-basket")
        customer.set_viewport_size(PHONE)
        assert_accessible(customer, "05-basket-phone")
        customer.set_viewport_size(DESKTOP)

        # Checkout: nothing to type, the contact's address is there.
        customer.get_by_role("button", name="Go to checkout").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Checkout")
        expect(customer.get_by_label("Company name")).to_have_value(f"Jensen Bygg {tag}")
        expect(customer.locator("#delivery_street")).to_have_value("Postboks 12")
        expect(customer.locator("#invoice_city")).to_have_value("Oslo")
        assert_accessible(customer, "06-checkout")
        customer.get_by_role("button", name="Place order").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
        number = customer.locator(".facts dd").first.inner_text()
        assert re.fullmatch(r"\d{4}-\d{4}", number), number
        assert_accessible(customer, "07-confirmation")

        confirmation = wait_for_mail(smtp, email, count=3)[2]
        assert confirmation["Subject"] == f"Your order {number} at {name}"
        assert "Jansen Shop <shop@jansen.example>" in confirmation["From"]
        body = confirmation.get_body(preferencelist=("plain",)).get_content()
        assert f"2 × KS-{tag} Kühlschrank Eco {tag}: €\xa0899,91" in body
        assert any("office@jansen.example" in envelope.rcpt_tos and email in envelope.rcpt_tos
                   for envelope in smtp.envelopes)     # the Bcc copy

        customer.get_by_role("navigation", name="Main").get_by_role(
            "link", name="My orders").click()
        row = customer.get_by_role("row").filter(has_text=number)
        expect(row).to_contain_text("Received")
        expect(row).to_contain_text(f"2 × Kühlschrank Eco {tag}")
        assert_accessible(customer, "08-my-orders")

        # Staff find the order, on the list and on the contact, and ship it.
        page.goto(site.url + "/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
        assert_accessible(page, "09-staff-orders")
        page.get_by_role("link", name=number).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
        assert_accessible(page, "10-staff-order")
        page.get_by_label("Confirmed").check()
        page.get_by_role("button", name="Change status").click()
        expect(flash(page, f"Order {number} is now “Confirmed”.")).to_be_visible()
        page.get_by_label("Shipped").check()
        page.get_by_role("button", name="Change status").click()
        expect(flash(page, f"Order {number} is now “Shipped”.")).to_be_visible()
        expect(page.locator(".timeline")).to_contain_text("Confirmed → Shipped")
        assert_accessible(page, "11-staff-order-shipped")
        page.set_viewport_size(PHONE)
        assert_accessible(page, "12-staff-order-phone")
        page.set_viewport_size(DESKTOP)
        page.goto(contact_url)
        expect(page.locator(".timeline")).to_contain_text(f"{number}")
        expect(page.locator(".timeline")).to_contain_text("Confirmed → Shipped")
        assert_accessible(page, "13-contact-timeline")

        shipped = wait_for_mail(smtp, email, count=5)[4]
        assert shipped["Subject"] == f"Your order {number}: Shipped"
        customer.reload()
        expect(customer.get_by_role("row").filter(has_text=number)).to_contain_text("Shipped")
        customer.get_by_role("link", name=number).click()
        expect(customer.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
        assert_accessible(customer, "14-order")
        customer.get_by_label("Language").select_option("nl")
        customer.get_by_role("button", name="Switch").click()
        expect(customer.get_by_role("heading", level=1)).to_have_text(f"Bestelling {number}")
        assert_accessible(customer, "15-order-nl")
    finally:
        context.close()
