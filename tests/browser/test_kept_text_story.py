"""Typed text is never lost, in a real browser without JavaScript (issue 10 items 5 and 7b): a
note typed while the session timed out is back in its field after signing in again, and the
language switch after a form error keeps what was typed."""
import hashlib
import re
import uuid

import pytest
from helpers import ago
from playwright.sync_api import expect

from .helpers import flash, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}


def no_script_page(browser):
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", java_script_enabled=False)
    context.set_default_timeout(10_000)
    return context, context.new_page()


def new_contact(page, base_url, name):
    """Create a contact through the form; returns its edit page's address."""
    page.goto(base_url + "/contacts/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return page.url + "/edit"


def time_out(page, site):
    """21 minutes without a request, as far as the server's session record knows."""
    sid = {c["name"]: c["value"] for c in page.context.cookies()}["kontor_session"]
    moved = site.sql("UPDATE user_session SET last_seen_at = ? "
                     "WHERE sid_hash = ? AND ended_at IS NULL",
                     (site.timestamp(ago(minutes=21)), hashlib.sha256(sid.encode()).hexdigest()))
    assert moved == 1


def test_a_note_typed_while_the_session_timed_out_is_back_after_signing_in(browser, site):
    tag = uuid.uuid4().hex[:6]
    email = f"joost-{tag}@jansen.example"
    site.make_user(email, "Joost Smit")
    context, page = no_script_page(browser)
    try:
        sign_in(page, site.url, email)
        edit = new_contact(page, site.url, f"Bakkerij Smit {tag}")
        page.goto(edit)
        page.locator("summary", has_text="Add text").click()
        typed = f"Visited {tag}: the oven needs a new thermostat.\nOrder it before Friday."
        page.get_by_label("Text", exact=True).fill(typed)

        time_out(page, site)   # the coffee took longer than planned
        page.get_by_role("button", name="Save text").click()
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.get_by_role("alert").first).to_contain_text(
            "You were signed out after 20 minutes without activity")
        expect(flash(page, "What you typed is kept for 30 minutes")).to_be_visible()

        sign_in(page, site.url, email, path=None)
        expect(page).to_have_url(edit)
        expect(flash(page, "It has not been saved yet")).to_be_visible()
        text_box = page.get_by_label("Text", exact=True)
        expect(text_box).to_be_visible()
        expect(text_box).to_have_value(typed)

        page.get_by_role("button", name="Save text").click()
        expect(flash(page, "Text added to the note.")).to_be_visible()
        assert page.locator(".note-entries li .note-text").last.inner_text() == typed
    finally:
        context.close()


def test_switching_language_after_a_form_error_keeps_what_was_typed(browser, site):
    tag = uuid.uuid4().hex[:6]
    email = f"ines-{tag}@jansen.example"
    site.make_user(email, "Ines Vos")
    context, page = no_script_page(browser)
    try:
        sign_in(page, site.url, email)
        edit = new_contact(page, site.url, f"Vos Tegels {tag}")
        page.goto(edit)
        page.locator("#city").fill("Deventer")
        page.locator("#email").fill("not an address")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator("#email-error")).to_have_text("Enter a valid e-mail address.")

        footer = page.get_by_role("contentinfo")
        footer.get_by_label("Language").select_option(label="Nederlands")
        footer.get_by_role("button").click()
        expect(page).to_have_url(edit)
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.locator("#city")).to_have_value("Deventer")
        expect(page.locator("#email")).to_have_value("not an address")
        expect(page.locator("#email-error")).to_have_text("Voer een geldig e-mailadres in.")
    finally:
        context.close()
