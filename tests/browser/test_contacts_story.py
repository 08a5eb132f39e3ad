"""Contacts in a real browser against a real server (SPEC section 6): a staff user searches,
opens a contact, edits it, adds text to its note and downloads the note as RTF, all without
JavaScript; and every contacts page passes axe (WCAG 2.1 AA) in the states people meet: results,
a full contact, errors beside fields, a duplicate warning, an edit conflict, the import preview
with bad lines. Screenshots go to tests/screenshots/ for a human look."""
import re
import uuid

import pytest
from playwright.sync_api import expect
from striprtf.striprtf import rtf_to_text

from .helpers import assert_accessible, flash, screenshot, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}


def create_contact(page, base_url, name, **fields):
    """Fill in "New contact" as a person would; returns the contact's page address."""
    page.goto(base_url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(name)
    for field, value in fields.items():
        locator = page.locator(f"#{field}")
        if field.endswith("country"):
            locator.select_option(value)
        else:
            locator.fill(value)
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return page.url


# --- the story ------------------------------------------------------------------------------

def test_staff_user_finds_edits_and_adds_to_the_note_without_javascript(browser, site):
    tag = uuid.uuid4().hex[:6]
    email = f"lotte-{tag}@jansen.example"
    site.make_user(email, "Lotte Hendriks")
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", java_script_enabled=False,
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, site.url, email)
        expect(page).to_have_url(site.url + "/")
        name = f"Hagen Verwarming {tag}"
        create_contact(page, site.url, name, city="Zwolle", email=f"info-{tag}@hagen.example")

        # search: part of a word is enough, every word must match
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
        page.get_by_role("searchbox", name="Search").fill(f"agen verw {tag}")
        page.get_by_role("button", name="Search").click()
        expect(page.locator(".result-count")).to_have_text("1 contact")
        page.get_by_role("link", name=name).click()

        # view mode: read-only
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)
        expect(page.get_by_role("textbox")).to_have_count(0)
        page.get_by_role("link", name="Edit", exact=True).click()

        # edit mode: change a field and save
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Edit {name}")
        page.locator("#city").fill("Kampen")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(flash(page, "Contact saved.")).to_be_visible()
        expect(page.locator("dd.address").first).to_contain_text("Kampen")
        expect(page.get_by_role("region", name="Timeline")).to_contain_text("Changed: City")

        # "Add text" opens a text box (a <details> element: no script needed)
        page.get_by_role("link", name="Edit", exact=True).click()
        text_box = page.get_by_label("Text", exact=True)
        expect(text_box).to_be_hidden()
        page.locator("summary", has_text="Add text").click()
        expect(text_box).to_be_visible()
        text_box.fill(f"Called {tag} about the boiler.\nSecond line <b>not bold</b> & ok")
        page.get_by_role("button", name="Save text").click()
        expect(flash(page, "Text added to the note.")).to_be_visible()
        entry = page.locator(".note-entries li").last
        expect(entry.locator(".stamp")).to_contain_text("Lotte Hendriks")
        expect(entry.locator(".stamp")).to_have_text(   # date, time and author
            re.compile(r"^\d{2}/\d{2}/\d{4}, \d{2}:\d{2} · Lotte Hendriks$"))   # English in NL
        assert entry.locator(".note-text").inner_text() == \
            f"Called {tag} about the boiler.\nSecond line <b>not bold</b> & ok"
        expect(entry.locator("b")).to_have_count(0)          # shown as text, not as HTML
        screenshot(page, "contacts-story-note-added")

        # the whole note as RTF
        with page.expect_download() as info:
            page.get_by_role("link", name="RTF").click()
        download = info.value
        assert download.suggested_filename == f"{name}.rtf"
        data = open(download.path(), "rb").read()
        assert data.startswith(b"{\\rtf1")
        text = rtf_to_text(data.decode("ascii"))
        assert text.startswith(f"{name}\n")
        assert f"Called {tag} about the boiler.\nSecond line <b>not bold</b> & ok" in text
        assert "Lotte Hendriks" in text
    finally:
        context.close()


# --- every contacts page passes axe ---------------------------------------------------------

@pytest.fixture(scope="module")
def rich_contact(browser, admin_state, site):
    """A company with every field, a contact person and a note, made through the browser."""
    tag = uuid.uuid4().hex[:6]
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", storage_state=admin_state)
    context.set_default_timeout(10_000)
    page = context.new_page()
    name = f"Søren Ærø Rørlegger {tag} AS"
    url = create_contact(
        page, site.url, name, org_number=f"9{tag}", vat_number="NO987654321MVA",
        email=f"post-{tag}@aero.example", phone="+47 70 11 22 33", mobile="+47 900 11 222",
        fax="+47 70 11 22 34", website="https://aero.example", street="Storgata 12",
        postcode="6002", city="Ålesund", country="NO", visit_street="Brosundet 3",
        visit_postcode="6002", visit_city="Ålesund", visit_country="NO", discount="7.5")
    page.goto(url + "/persons/new")
    page.get_by_label("Name").fill("Kari Nordmann")
    page.get_by_label("Title").fill("Daglig leder")
    page.get_by_label("E-mail").fill(f"kari-{tag}@aero.example")
    page.get_by_role("button", name="Save contact person").click()
    page.locator("summary", has_text="Add text").click()
    page.get_by_label("Text", exact=True).fill("Met at the fair.\nWants an offer by May.")
    page.get_by_role("button", name="Save text").click()
    expect(flash(page, "Text added to the note.")).to_be_visible()
    context.close()
    return {"url": url, "name": name, "tag": tag}


@pytest.fixture
def admin_context(browser, admin_state):
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", storage_state=admin_state)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def open_list(page, site, contact):
    page.goto(site.url + "/contacts")
    page.get_by_role("searchbox", name="Search").fill("ålesund " + contact["tag"])
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=contact["name"])).to_be_visible()


def open_view(page, site, contact):
    page.goto(contact["url"])
    expect(page.get_by_role("region", name="Contact persons")).to_contain_text("Kari Nordmann")
    expect(page.get_by_role("region", name="Note")).to_contain_text("Met at the fair.")


def open_edit_with_errors(page, site, contact):
    page.goto(contact["url"] + "/edit")
    page.locator("#email").fill("post at aero")
    page.locator("#discount").fill("150")
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#email-error")).to_have_text("Enter a valid e-mail address.")
    expect(page.locator("#discount-error")).to_have_text("Enter a discount from 0 to 100.")
    expect(page.locator("#name-error")).to_have_text("This field is required.")
    expect(page.locator("#city")).to_have_value("Ålesund")


def open_edit_conflict(page, site, contact):
    page.goto(contact["url"] + "/edit")
    other = page.context.new_page()           # the same contact, saved meanwhile elsewhere
    other.goto(contact["url"] + "/edit")
    other.locator("#phone").fill("+47 70 99 88 77")
    other.get_by_role("button", name="Save", exact=True).click()
    expect(flash(other, "Contact saved.")).to_be_visible()
    other.close()
    page.locator("#mobile").fill("+47 900 00 000")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="Someone else saved this contact after you opened it"
                            )).to_be_visible()
    expect(page.locator(".card-warning")).to_contain_text("+47 70 99 88 77")
    expect(page.locator("#mobile")).to_have_value("+47 900 00 000")


def open_new_duplicate(page, site, contact):
    page.goto(site.url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(contact["name"].upper())
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", name="This contact may exist already")).to_be_visible()
    expect(page.get_by_role("button", name="Create anyway")).to_be_visible()


def open_person_form(page, site, contact):
    page.goto(contact["url"] + "/persons/new")
    page.get_by_label("E-mail").fill("not an address")
    page.get_by_role("button", name="Save contact person").click()
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#email-error")).to_be_visible()


def open_person_edit(page, site, contact):
    page.goto(contact["url"])
    page.get_by_role("link", name="Kari Nordmann").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("Active")).to_be_checked()


def open_timeline(page, site, contact):
    page.goto(contact["url"] + "/timeline")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Contact created")
    page.get_by_role("link", name=contact["name"]).click()      # back to the contact
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Contact created")
    page.goto(contact["url"] + "/timeline")


def open_import_preview(page, site, contact):
    page.goto(site.url + "/contacts/import")
    data = ("Naam;E-mail;Korting %;Klantnummer;Favoriete kleur\n"
            "Goed Bedrijf BV;info@goed.example;10;;blauw\n"
            ";zonder@naam.example;;;\n"
            "Fout Adres;geen adres;;;\n"
            "Te Veel;;150;;\n").encode("cp1252")
    page.get_by_label("CSV file").set_input_files(
        {"name": "contacten.csv", "mimeType": "text/csv", "buffer": data})
    page.get_by_role("button", name="Show preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    expect(page.locator(".error").first).to_contain_text("3 lines are wrong")


PAGES = {
    "contacts-story-list": open_list,
    "contacts-story-view": open_view,
    "contacts-story-edit-errors": open_edit_with_errors,
    "contacts-story-edit-conflict": open_edit_conflict,
    "contacts-story-new-duplicate": open_new_duplicate,
    "contacts-story-person-errors": open_person_form,
    "contacts-story-person-edit": open_person_edit,
    "contacts-story-import-preview": open_import_preview,
    "contacts-story-timeline": open_timeline,
    "contacts-story-list-mobile": open_list,
    "contacts-story-view-mobile": open_view,
    "contacts-story-edit-errors-mobile": open_edit_with_errors,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_contacts_pages_pass_axe(name, admin_context, site, rich_contact):
    page = admin_context.new_page()
    viewport = MOBILE if name.endswith("-mobile") else DESKTOP
    page.set_viewport_size(viewport)
    PAGES[name](page, site, rich_contact)
    page.wait_for_load_state()
    assert_accessible(page, name)
