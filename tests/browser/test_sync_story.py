"""The sync in a real browser against a real server (issue 16): a superuser creates the demo
business database, fills in Sync settings, tests the connection (rows per table), activates the
sync with their password and runs it; then a phone changed in Kontor and the fax of the same
contact changed in the business database are both kept, and the same phone changed on both
sides ends with the business value, both values in the sync history. Every sync page passes
axe in the states met on the way; screenshots go to tests/screenshots/."""
import sqlite3
import time
from contextlib import closing

import pytest
from playwright.sync_api import expect

from kontor.sync import business, demo

from .helpers import PASSWORD, assert_accessible, fill_setup_form, flash

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def sync_server(server_factory):
    """A Kontor of its own whose scheduled sync waits an hour: the story runs each cycle
    itself ("Sync now"), so that both sides' changes fall in one cycle."""
    return server_factory(KONTOR_SYNC_SECONDS="3600")


def firm_sql(path, statement, params=()):
    """A statement on the business database, as the desktop program would run it."""
    with closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def last_job_run(server):
    [(last,)] = server.sql("SELECT last_run_at FROM job_lease WHERE name = 'sync'") or [(None,)]
    return last


def sync_now(page, server):
    """Run one cycle from the sync log: "Sync now", or "Restart" when the page says the
    service stopped (the hourly job has not run for over a minute). The button only starts
    the server's sync job, in the background, and the page answers at once; once the job
    has run, the reloaded log shows its line."""
    page.goto(server.url + "/admin/sync/log")
    before = last_job_run(server)
    restart = page.get_by_role("button", name="Restart")
    if restart.count():
        restart.click()
    else:
        page.get_by_role("button", name="Sync now").click()
    expect(flash(page, "in the background")).to_be_visible()
    deadline = time.monotonic() + 60
    while last_job_run(server) == before:
        assert time.monotonic() < deadline, "the sync job did not run"
        time.sleep(0.1)
    page.get_by_role("link", name="Reload the sync log").click()


def test_superuser_sets_up_the_sync_and_both_sides_changes_meet(browser, sync_server,
                                                                 tmp_path):
    base_url = sync_server.url
    firm = tmp_path / "firm.db"
    database = business.open_business(f"sqlite:///{firm}", create=True)
    counts = demo.create_demo(database, 20)
    database.close()

    # the pages have no script; JavaScript stays on only because axe-core runs in the page
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(sync_server.setup_url)
        fill_setup_form(page)
        page.get_by_role("button", name="Create company and sign in").click()
        expect(page).to_have_url(base_url + "/admin/company")

        # Administration → Sync: the settings, then Test connection
        page.get_by_role("navigation", name="Administration").get_by_role(
            "link", name="Sync").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Sync with the business database")
        page.get_by_label("Business database address").fill(f"sqlite:///{firm}")
        page.get_by_role("button", name="Save sync settings").click()
        expect(flash(page, "Sync settings saved.")).to_be_visible()
        page.get_by_role("button", name="Test connection").click()
        result = page.locator("#test-result")
        expect(result).to_contain_text("The connection works.")
        expect(result).to_contain_text(f"Contacts: {counts['contacts']}")
        expect(result).to_contain_text(f"Employees: {counts['employees']}")
        assert_accessible(page, "sync-story-tested")

        # Activate, confirming with the password: first a wrong one
        page.get_by_label("Your password").fill("not my password")
        page.get_by_role("button", name="Activate the sync").click()
        expect(page.locator("#activate-password-error")).to_have_text(
            "This is not your password.")
        assert_accessible(page, "sync-story-wrong-password")
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Activate the sync").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("First sync")   # its progress
        page.goto(base_url + "/admin/sync")
        expect(page.get_by_role("heading", name="The sync is active")).to_be_visible()
        expect(page.locator("dl.facts").first).to_contain_text("pending")
        assert_accessible(page, "sync-story-active")

        sync_now(page, sync_server)                    # the first sync
        page.goto(base_url + "/admin/sync")
        expect(page.locator("dl.facts").first).to_contain_text("done")

        # a contact that is on both sides now
        key, name = firm_sql(firm, "SELECT id, name FROM contacts ORDER BY id LIMIT 1")[0]
        [(contact_id,)] = sync_server.sql(
            "SELECT kontor_id FROM sync_binding WHERE entity = 'contacts' AND business_key = ?",
            (str(key),))
        contact_url = f"{base_url}/contacts/{contact_id}"

        # phone here, fax there: both kept
        page.goto(contact_url + "/edit")
        page.get_by_label("Phone", exact=True).fill("+31 30 555 0101")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)
        firm_sql(firm, "UPDATE contacts SET fax = ? WHERE id = ?", ("+31 30 555 0199", key))
        sync_now(page, sync_server)
        page.goto(contact_url)
        facts = page.locator("dl.facts").first
        expect(facts).to_contain_text("+31 30 555 0101")
        expect(facts).to_contain_text("+31 30 555 0199")
        assert firm_sql(firm, "SELECT phone, fax FROM contacts WHERE id = ?", (key,)) == \
            [("+31 30 555 0101", "+31 30 555 0199")]

        # the same phone on both sides: the business database wins, both are in the history
        page.goto(contact_url + "/edit")
        page.get_by_label("Phone", exact=True).fill("+31 30 555 0202")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)
        firm_sql(firm, "UPDATE contacts SET phone = ? WHERE id = ?", ("+31 30 555 0303", key))
        sync_now(page, sync_server)
        page.goto(contact_url)
        expect(page.locator("dl.facts").first).to_contain_text("+31 30 555 0303")
        expect(page.locator(".timeline")).to_contain_text(
            "the business database's value won (Kontor: +31 30 555 0202; business database: "
            "+31 30 555 0303)")
        assert_accessible(page, "sync-story-contact-timeline")

        page.goto(base_url + "/admin/sync/history")
        row = page.locator("tr", has_text="+31 30 555 0202")
        expect(row).to_contain_text(name)
        expect(row).to_contain_text("Phone")
        expect(row).to_contain_text("+31 30 555 0101")          # the agreed value
        expect(row).to_contain_text("+31 30 555 0303")
        expect(row).to_contain_text("Business database")
        assert_accessible(page, "sync-story-history")

        # a contact deleted in the business database: gone here, kept whole in the history
        other_key, other = firm_sql(
            firm, "SELECT id, name FROM contacts ORDER BY id LIMIT 1 OFFSET 1")[0]
        firm_sql(firm, "DELETE FROM note_entries WHERE contact_id = ?", (other_key,))
        firm_sql(firm, "DELETE FROM contact_persons WHERE contact_id = ?", (other_key,))
        firm_sql(firm, "DELETE FROM contacts WHERE id = ?", (other_key,))
        sync_now(page, sync_server)
        page.goto(base_url + "/admin/sync/history?entity=contacts")
        page.get_by_role("link", name=f"See the whole record — {other}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Contact: {other}")
        expect(page.locator("dl.facts").first).to_contain_text(other)
        assert_accessible(page, "sync-story-deleted-record")

        # an Error line: a value that does not fit, named by the contact, not copied
        third_key, third, number = firm_sql(
            firm, "SELECT id, name, customer_number FROM contacts ORDER BY id LIMIT 1 OFFSET 2")[0]
        firm_sql(firm, "UPDATE contacts SET city = ? WHERE id = ?", ("Kö\x00ln", third_key))
        sync_now(page, sync_server)
        page.locator("details.sync-error summary").first.click()
        expect(page.locator("details.sync-error").first).to_contain_text(
            f"Contact {number} {third}, field City: the value cannot be stored in Kontor: it "
            "contains a control character (“Kö␀ln”).")
        [(city,)] = sync_server.sql(
            "SELECT city FROM contact WHERE customer_number = ?", (number,))
        assert "\x00" not in city
        firm_sql(firm, "UPDATE contacts SET city = 'Köln' WHERE id = ?", (third_key,))

        # an Error line: a table gone from the business database, named
        firm_sql(firm, "ALTER TABLE contact_persons RENAME TO contact_persons_old")
        sync_now(page, sync_server)
        page.locator("details.sync-error summary").first.click()
        expect(page.locator("details.sync-error").first).to_contain_text(
            "The table contact_persons is missing (for Contact persons).")
        expect(page.locator("tbody")).to_contain_text("OK")
        expect(page.locator("tbody")).to_contain_text(" (pid ")
        assert_accessible(page, "sync-story-log")
        firm_sql(firm, "ALTER TABLE contact_persons_old RENAME TO contact_persons")

        # issue 17: the sync computer (this served process registered itself), then the
        # deactivate wizard: the password, the confirmation step saying what goes, done
        rows_before = firm_sql(firm, "SELECT * FROM contacts ORDER BY id")
        page.goto(base_url + "/admin/sync")
        expect(page.locator("#node-node")).to_contain_text("process")
        page.locator("#node-node").select_option(index=1)
        page.get_by_role("button", name="Save sync computer").click()
        expect(flash(page, "Sync computer saved.")).to_be_visible()
        assert_accessible(page, "sync-story-computer")
        page.get_by_role("link", name="Deactivate the sync…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Deactivate the sync")
        page.get_by_label("Your password").fill("not my password")
        page.get_by_role("button", name="Next").click()
        expect(page.locator("#deactivate-password-error")).to_have_text(
            "This is not your password.")
        assert_accessible(page, "sync-deactivate-errors")
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Next").click()
        expect(page.locator("#what-goes")).to_contain_text("contacts")
        assert_accessible(page, "sync-deactivate-confirm")
        page.get_by_role("button", name="Deactivate the sync and delete the copies").click()
        expect(flash(page, "The sync is deactivated")).to_be_visible()
        expect(page.get_by_role("heading", name="Reactivate")).to_be_visible()
        assert_accessible(page, "sync-story-deactivated")
        assert firm_sql(firm, "SELECT * FROM contacts ORDER BY id") == rows_before
    finally:
        context.close()
