"""The exclusive first sync in a real browser against a real server (issue 17 item 1): a
superuser's activation is refused while a colleague is signed in (the list names her and her
browser); the superuser ends that session and activates; the colleague now gets the
maintenance page (503, Retry-After); the superuser watches the progress page refresh itself,
without script, until the first sync is done; then the colleague signs in again. Every page on
the way passes axe; screenshots go to tests/screenshots/."""
import pytest
from playwright.sync_api import expect

from kontor.sync import business, demo

from .helpers import PASSWORD, assert_accessible, fill_setup_form, flash, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}
FIREFOX_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 "
                   "Firefox/128.0")
FIRMS = 5000         # about 22,000 records: a first sync of some seconds


def test_first_sync_needs_kontor_to_itself(browser, server_factory, tmp_path):
    server = server_factory()
    base_url = server.url
    firm = tmp_path / "firm.db"
    database = business.open_business(f"sqlite:///{firm}", create=True)
    counts = demo.create_demo(database, FIRMS)
    database.close()
    total = sum(counts.values()) + 2       # and Anna and Sanne, Kontor's own employees

    anna_context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    anna_context.set_default_timeout(15_000)
    sanne_context = browser.new_context(viewport=DESKTOP, locale="en-GB",
                                        user_agent=FIREFOX_WINDOWS)
    sanne_context.set_default_timeout(15_000)
    anna, sanne = anna_context.new_page(), sanne_context.new_page()
    try:
        anna.goto(server.setup_url)
        fill_setup_form(anna)
        anna.get_by_role("button", name="Create company and sign in").click()
        expect(anna).to_have_url(base_url + "/admin/company")
        server.make_user("sanne@jansen.example", "Sanne Visser")
        sign_in(sanne, base_url, "sanne@jansen.example")
        expect(sanne).to_have_url(base_url + "/")

        # Sync settings: saved; activation refused while Sanne is signed in
        anna.goto(base_url + "/admin/sync")
        anna.get_by_label("Business database address").fill(f"sqlite:///{firm}")
        anna.get_by_role("button", name="Save sync settings").click()
        expect(flash(anna, "Sync settings saved.")).to_be_visible()
        anna.get_by_label("Your password").fill(PASSWORD)
        anna.get_by_role("button", name="Activate the sync").click()
        expect(anna.locator("#activate-password-error")).to_contain_text(
            "Others are signed in.")
        others = anna.locator("#signed-in")
        row = others.get_by_role("row", name="Sanne Visser")
        expect(row).to_contain_text("sanne@jansen.example")
        expect(row).to_contain_text("Firefox on Windows")
        assert_accessible(anna, "first-sync-refused")

        # End Sanne's session, then activate
        row.get_by_role("button", name="End session").click()
        expect(flash(anna, "The session of Sanne Visser is ended.")).to_be_visible()
        expect(anna.locator("#signed-in")).to_have_count(0)
        anna.get_by_label("Your password").fill(PASSWORD)
        anna.get_by_role("button", name="Activate the sync").click()
        expect(anna).to_have_url(base_url + "/admin/sync/first")
        expect(anna.get_by_role("heading", level=1)).to_have_text("First sync")

        # Sanne: the maintenance page, also when she tries to sign in again
        response = sanne.goto(base_url + "/contacts")
        assert response.status == 503
        assert int(response.headers["retry-after"]) >= 30
        expect(sanne.get_by_role("heading", level=1)).to_have_text("Back soon")
        assert_accessible(sanne, "first-sync-maintenance")
        sanne.get_by_role("link", name="Sign in as the sync owner").click()
        sign_in(sanne, base_url, "sanne@jansen.example", path=None)
        expect(sanne.get_by_role("heading", level=1)).to_have_text("Back soon")
        sanne.set_viewport_size(MOBILE)
        assert_accessible(sanne, "first-sync-maintenance-mobile")

        # Anna: the progress page runs, refreshing itself, until the first sync is done
        expect(anna.locator("#first-tables")).to_contain_text("Contacts", timeout=30_000)
        assert_accessible(anna, "first-sync-progress")
        expect(anna.get_by_role("heading", name="The first sync is done")).to_be_visible(
            timeout=180_000)
        expect(anna.locator("#first-total")).to_have_text(f"{total} of {total} (100%)")
        for label, entity in (("Contacts", "contacts"), ("Notes", "note_entries")):
            expect(anna.locator("#first-tables").get_by_role("row", name=label)).to_contain_text(
                str(counts[entity]))
        assert_accessible(anna, "first-sync-done")
        anna.set_viewport_size(MOBILE)
        assert_accessible(anna, "first-sync-done-mobile")

        # everyone can sign in again
        sign_in(sanne, base_url, "sanne@jansen.example")
        expect(sanne).to_have_url(base_url + "/")
    finally:
        anna_context.close()
        sanne_context.close()
