"""Building blocks of the browser stories (tests/browser): sign in, fill the setup form, wait
for a mail, look at a page with axe-core. The fixtures (servers, the browser, the shared site)
live in conftest.py.
"""
import re
import shutil
import time
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from helpers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
ADMIN = {"name": "Anna Jansen", "email": "anna@jansen.example"}
COMPANY = {"name": "Jansen Installatie BV", "street": "Dorpsstraat 1", "postcode": "1234 AB",
           "city": "Utrecht", "phone": "+31 30 123 4567", "email": "info@jansen.example",
           "vat_number": "NL001234567B01", "org_number": "12345678"}


def wait_for_mail(inbox, address, count=1, timeout=15):
    """The messages to `address`, once at least `count` have arrived (the outbox job runs
    every second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = inbox.to(address)
        if len(messages) >= count:
            return messages
        time.sleep(0.2)
    raise AssertionError(f"no e-mail to {address} within {timeout} s "
                         f"(the inbox has {len(inbox.envelopes)} messages)")


def link_in_mail(message, base_url):
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(re.escape(base_url) + r"/\S+", body)
    assert match, f"no link to {base_url} in: {body!r}"
    return match.group(0)


def fill_setup_form(page, password=PASSWORD):
    page.get_by_label("Company name").fill(COMPANY["name"])
    page.get_by_label("Street and number").fill(COMPANY["street"])
    page.get_by_label("Postcode").fill(COMPANY["postcode"])
    page.get_by_label("City").fill(COMPANY["city"])
    page.get_by_label("Country").select_option("NL")
    page.get_by_label("Phone").fill(COMPANY["phone"])
    page.get_by_label("Company e-mail").fill(COMPANY["email"])
    page.get_by_label("VAT number").fill(COMPANY["vat_number"])
    page.get_by_label("Organisation number").fill(COMPANY["org_number"])
    page.get_by_label("Your full name").fill(ADMIN["name"])
    page.get_by_label("Your e-mail (your login name)").fill(ADMIN["email"])
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("Repeat the new password").fill(password)


def sign_in(page, base_url, email, password=PASSWORD, path="/login"):
    if path is not None:
        page.goto(base_url + path)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def assert_accessible(page, name):
    """Photograph the page, then let axe-core look: no violations, no sideways scrolling of
    the page or of a table in its box."""
    screenshot(page, name)
    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{name}: the page scrolls sideways ({width} px in {viewport})"
    # nor does a table inside its box (issue 11 item 19: every column visible on a phone)
    wide = page.eval_on_selector_all(
        ".table-wrap", "boxes => boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length")
    assert wide == 0, f"{name}: {wide} table(s) scroll sideways inside their box"


def flash(page, text):
    """The flash message with this text."""
    return page.locator(".flash", has_text=text)


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def reset_screenshots():
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
