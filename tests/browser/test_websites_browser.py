"""Administration → Websites in a real browser (issue 13 item 1): the superuser adds a website
(a mistyped public address is refused beside its field, nothing typed lost), edits it, writes
an e-mail text with a preview, opens the website's portal, deactivates it after a
confirmation, and the portal is gone. Every new page passes axe-core with no violations and is
photographed into the test's tmp path (and tests/screenshots/ with the others), at desktop
width and, for the list and the form, a phone's."""
import uuid

import pytest
from playwright.sync_api import expect

from .helpers import assert_accessible, flash

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def look(tmp_path):
    """Photograph the page into the test's tmp path, then let axe-core look at it."""
    def at(page, name):
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        assert_accessible(page, name)
    at.folder = tmp_path
    return at


def test_the_superuser_sets_up_a_website_and_takes_it_offline_again(admin_page, site, look):
    page, tag = admin_page, uuid.uuid4().hex[:6]
    slug, name = f"shop-{tag}", f"Jansen Webshop {tag}"

    page.goto(site.url + "/admin/company")
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Websites").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Websites")
    look(page, "websites-list-before")

    page.get_by_role("link", name="Add website").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add website")
    look(page, "websites-add-empty")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Address part").fill(slug.upper())   # stored in small letters
    page.get_by_label("Public address").fill("javascript:alert(1)")
    page.get_by_label("Default language").select_option("nl")
    page.get_by_label("Prices and ordering only").check()
    page.get_by_label("Customers may create their own account").check()
    page.get_by_label("Show a “Create user” link in the portal's menu").check()
    page.get_by_label("Automatic: new customers are approved at once").check()
    page.get_by_label("Sender name").fill("Jansen Installatie")
    page.get_by_label("Sender address").fill("shop@jansen.example")
    page.get_by_role("button", name="Save website").click()

    public_url = page.get_by_label("Public address")
    expect(public_url).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#public_url-error")).to_contain_text("Enter an address starting")
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)   # nothing typed lost
    expect(page.get_by_label("Sender name")).to_have_value("Jansen Installatie")
    expect(page.get_by_label("Automatic: new customers are approved at once")).to_be_checked()
    look(page, "websites-add-with-errors")
    public_url.fill(f"https://{slug}.jansen.example")
    page.get_by_role("button", name="Save website").click()

    expect(flash(page, f"Website {name} saved.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(f"/w/{slug}/")
    expect(row).to_contain_text("Active")
    look(page, "websites-list")
    page.set_viewport_size(PHONE)
    look(page, "websites-list-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Address part")).to_have_value(slug)
    look(page, "websites-edit")
    page.set_viewport_size(PHONE)
    look(page, "websites-edit-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_label("Send a copy of every e-mail to").fill("office@jansen.example")
    page.get_by_role("button", name="Save website").click()
    expect(flash(page, f"Website {name} saved.")).to_be_visible()

    page.get_by_role("row").filter(has_text=name).get_by_role("link", name="E-mail texts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"E-mail texts of {name}")
    look(page, "websites-texts")
    page.get_by_role("link", name="Kontor's text — Account approved, Nederlands").click()
    expect(page.get_by_label("Subject")).to_have_value("Uw account bij {website_name} is klaar")
    look(page, "websites-text-edit")
    page.get_by_label("Text", exact=True).fill("Beste {customer_name.__class__},")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#body-error")).to_contain_text(
        "There is no placeholder {customer_name.__class__}.")
    look(page, "websites-text-error")
    page.get_by_label("Text", exact=True).fill(
        "Beste {customer_name},\n\nWelkom bij {website_name}: {login_url}\n\n{company_name}")
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview with example values")
    expect(preview).to_contain_text("Beste Maria Jensen,")
    expect(preview).to_contain_text(f"Welkom bij {name}: https://{slug}.jansen.example/login")
    look(page, "websites-text-preview")
    page.get_by_role("button", name="Save text").click()
    expect(flash(page, "The text is saved.")).to_be_visible()
    expect(page.get_by_role("link", name="Your text — Account approved, Nederlands")
           ).to_be_visible()

    portal = page.context.new_page()
    portal.goto(f"{site.url}/w/{slug}/")
    expect(portal.get_by_role("heading", level=2)).to_have_text("Jansen Installatie BV")
    expect(portal.locator("main")).to_contain_text("+31 30 123 4567")
    look(portal, "portal-home")

    page.goto(site.url + "/admin/websites")
    page.get_by_role("row").filter(has_text=name).get_by_role("button",
                                                            name="Deactivate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Deactivate {name}?")
    look(page, "websites-deactivate-confirm")
    page.get_by_role("button", name="Deactivate").click()
    expect(flash(page, f"{name} is deactivated.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Inactive")

    response = portal.goto(f"{site.url}/w/{slug}/")
    assert response.status == 404
    expect(portal.get_by_role("heading", level=1)).to_have_text("Page not found")

    page.get_by_role("row").filter(has_text=name).get_by_role("button",
                                                            name="Reactivate").click()
    expect(flash(page, f"{name} is active again.")).to_be_visible()
    assert portal.goto(f"{site.url}/w/{slug}/").status == 200
    assert sorted(p.name for p in look.folder.glob("*.png")) == sorted(
        f"{n}.png" for n in ("websites-list-before", "websites-add-empty",
                             "websites-add-with-errors", "websites-list", "websites-list-phone",
                             "websites-edit", "websites-edit-phone", "websites-texts",
                             "websites-text-edit", "websites-text-error",
                             "websites-text-preview", "portal-home",
                             "websites-deactivate-confirm"))
