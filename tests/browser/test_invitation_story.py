"""The invitation story in a real browser against a real server: a superuser registers an
employee and invites them; the mail arrives at a real SMTP server; the employee opens the link
in a browser of their own, chooses a password and is signed in; user management shows them
active. The pages on the way are checked with axe-core (no violations) and photographed into
tests/screenshots/ (desktop, and /users on a phone)."""
from datetime import timedelta

import pytest
from helpers import ago
from playwright.sync_api import expect

from .helpers import assert_accessible as shared_assert_accessible
from .helpers import flash, link_in_mail, screenshot, sign_in, wait_for_mail

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
NEW_PASSWORD = "quiet otter under the bridge"


def assert_accessible(page, name):
    """The shared check, with this story's screenshots named "invitation-…"."""
    shared_assert_accessible(page, f"invitation-{name}")


def users_row(page, name):
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=False))


def test_a_superuser_invites_an_employee_who_joins_from_their_own_browser(
        admin_page, browser, site, smtp):
    page = admin_page
    name, email = "Maarten de Graaf", "maarten.degraaf@jansen.example"

    # The superuser registers Maarten in the employee register...
    page.goto(site.url + "/employees/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Title").fill("Installer")
    page.get_by_label("Department").fill("Service")
    page.get_by_role("button", name="Save employee").click()
    expect(flash(page, f"Employee {name} saved.")).to_be_visible()

    # ...finds him on user management, not invited yet, and invites him.
    page.goto(site.url + "/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("User management")
    expect(users_row(page, name)).to_contain_text("Not invited")
    page.get_by_role("link", name="Invite user").click()
    expect(page).to_have_url(site.url + "/users/invite")
    expect(page.get_by_role("heading", level=1)).to_have_text("Invite user")
    expect(page.get_by_text("Someone is not in the list?")).to_be_visible()
    employee = page.get_by_label("Employee")
    employee.select_option(label=f"{name} <{email}>")
    assert_accessible(page, "01-invite")
    expect(page.get_by_label("Language of the invitation")).to_have_value("en")
    page.get_by_role("button", name="Send invitation").click()

    expect(page).to_have_url(site.url + "/users")
    expect(flash(page, f"Invitation sent to {name} ({email}).")).to_be_visible()
    expect(users_row(page, name)).to_contain_text("Invited")
    assert_accessible(page, "02-users-invited")

    # The mail arrives at the SMTP server, through the outbox job.
    message = wait_for_mail(smtp, email)[0]
    assert message["Subject"] == "You are invited to Kontor at Jansen Installatie BV"
    link = link_in_mail(message, site.url)

    # Maarten opens it in his own browser: the token leaves the address bar at once.
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        maarten = context.new_page()
        maarten.goto(link)
        expect(maarten).to_have_url(site.url + "/invite")
        expect(maarten.get_by_role("heading", level=1)).to_have_text("Create your account")
        expect(maarten.locator(".facts")).to_contain_text(email)
        assert_accessible(maarten, "03-accept")

        # A password that is his e-mail address is refused, beside the field.
        maarten.get_by_label("New password", exact=True).fill(email)
        maarten.get_by_label("Repeat the new password").fill(email)
        maarten.get_by_role("button", name="Create my account").click()
        expect(maarten.locator("#password-error")).to_have_text(
            "Without your e-mail address, fewer than 8 characters are left. "
            "Add words of your own.")
        assert_accessible(maarten, "04-accept-errors")

        maarten.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        maarten.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
        maarten.get_by_role("button", name="Create my account").click()

        expect(maarten).to_have_url(site.url + "/")
        welcome = flash(maarten, f"Welcome to Kontor, {name}. Your account is ready.")
        expect(welcome).to_be_visible()
        expect(maarten.get_by_role("banner").get_by_role("link", name=name)).to_be_visible()

        # The link worked once.
        maarten.goto(link)
        expect(maarten.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
        expect(maarten.get_by_text("Ask your administrator for a new invitation.")).to_be_visible()
        assert_accessible(maarten, "05-link-used")
    finally:
        context.close()

    # User management shows Maarten active, signed in right now, as a staff user.
    page.goto(site.url + "/users")
    row = users_row(page, name)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("signed in now")
    expect(row).to_contain_text("Staff user")
    expect(row.get_by_role("button", name="Deactivate")).to_be_visible()
    assert_accessible(page, "06-users-active")


def test_user_management_on_a_phone(browser, admin_state, site):
    context = browser.new_context(viewport=PHONE, locale="en-GB", storage_state=admin_state)
    try:
        page = context.new_page()
        page.goto(site.url + "/users")
        expect(page.get_by_role("heading", level=1)).to_have_text("User management")
        assert_accessible(page, "07-users-phone")
        # Every column without sideways scrolling (issue 11 item 19): each row is a card, its
        # state and actions below the name; scrolling down reaches them.
        assert page.locator(".table-wrap").evaluate("box => box.scrollWidth <= box.clientWidth")
        withdraw = page.get_by_role("button", name="Withdraw administrator role").first
        withdraw.scroll_into_view_if_needed()
        expect(withdraw).to_be_in_viewport()
        screenshot(page, "invitation-07b-users-phone-scrolled")
    finally:
        context.close()


def test_a_superuser_not_linked_to_an_employee_sees_the_checklist(browser, site):
    """The "not ready" page: the readiness checklist with links, and status 409."""
    email = "olaf.berg@jansen.example"
    site.make_user(email, "Olaf Berg", superuser=True)
    site.sql('UPDATE "user" SET employee_id = NULL WHERE email = ?', (email,))
    site.sql("DELETE FROM employee WHERE email = ?", (email,))
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        page = context.new_page()
        sign_in(page, site.url, email)
        expect(page).to_have_url(site.url + "/")

        response = page.goto(site.url + "/users/invite")
        assert response.status == 409
        expect(page.get_by_role("heading", level=1)).to_have_text("Invite user")
        checklist = page.locator(".checklist")
        expect(checklist).to_contain_text(
            "Your account is linked to an employee in the employee register")
        expect(page.get_by_label("Employee")).to_have_count(0)
        assert_accessible(page, "08-not-ready")

        checklist.get_by_role("link", name="fix it").click()
        expect(page).to_have_url(site.url + "/employees")
    finally:
        context.close()
        site.sql('UPDATE "user" SET is_active = ? WHERE email = ?', (False, email))


def register_employee(page, site, name, email):
    page.goto(site.url + "/employees/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_role("button", name="Save employee").click()
    expect(flash(page, f"Employee {name} saved.")).to_be_visible()


def invite(page, site, name, email):
    page.goto(site.url + "/users/invite")
    page.get_by_label("Employee").select_option(label=f"{name} <{email}>")
    page.get_by_role("button", name="Send invitation").click()
    expect(flash(page, f"Invitation sent to {name} ({email}).")).to_be_visible()


def test_user_management_shows_every_state_at_a_glance(admin_page, site):
    """Pending for 6 days (highlighted), expired, locked, deactivated, and a login name that
    differs from the register's corrected address: all on one page, readable and accessible."""
    page = admin_page
    register_employee(page, site, "Lotte de Boer", "lotte.deboer@jansen.example")
    register_employee(page, site, "Eva Verlopen", "eva.verlopen@jansen.example")
    invite(page, site, "Lotte de Boer", "lotte.deboer@jansen.example")
    invite(page, site, "Eva Verlopen", "eva.verlopen@jansen.example")
    sent = ago(days=6)
    site.sql("UPDATE invitation SET created_at = ?, expires_at = ? WHERE email = ?",
             (site.timestamp(sent), site.timestamp(sent + timedelta(days=7)),
              "lotte.deboer@jansen.example"))
    sent = ago(days=8)
    site.sql("UPDATE invitation SET created_at = ?, expires_at = ? WHERE email = ?",
             (site.timestamp(sent), site.timestamp(sent + timedelta(days=7)),
              "eva.verlopen@jansen.example"))
    site.make_user("hanna.vos@jansen.example", "Hanna Vos")
    site.sql('UPDATE "user" SET locked_at = ?, failed_logins = 5 WHERE email = ?',
             (site.timestamp(ago(minutes=3)), "hanna.vos@jansen.example"))
    site.make_user("daan.mulder@jansen.example", "Daan Mulder")
    site.make_user("ruud.janssen@jansen.example", "Ruud Janssen")
    site.sql("UPDATE employee SET email = ? WHERE email = ?",
             ("r.janssen@jansen.example", "ruud.janssen@jansen.example"))

    page.goto(site.url + "/users")
    users_row(page, "Daan Mulder").get_by_role("button", name="Deactivate").click()
    # the button asks first (issue 11 item 19); Enter or the primary button answers
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Deactivate daan.mulder@jansen.example?")
    assert_accessible(page, "06b-deactivate-asks")
    page.get_by_role("button", name="Deactivate").click()
    expect(flash(page, "daan.mulder@jansen.example is deactivated and signed out.")
           ).to_be_visible()

    lotte = users_row(page, "Lotte de Boer")
    expect(lotte).to_have_class("row-attention")
    expect(lotte).to_contain_text("Pending for more than 5 days: send a reminder?")
    eva = users_row(page, "Eva Verlopen")
    expect(eva).to_contain_text("Invitation expired")
    expect(eva.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(users_row(page, "Hanna Vos")).to_contain_text("Locked")
    expect(users_row(page, "Hanna Vos").get_by_role("button", name="Unlock")).to_be_visible()
    expect(users_row(page, "Daan Mulder")).to_contain_text("Deactivated")
    ruud = users_row(page, "Ruud Janssen")
    expect(ruud).to_contain_text("ruud.janssen@jansen.example")
    expect(ruud).to_contain_text("The register now says r.janssen@jansen.example")
    assert_accessible(page, "09-users-every-state")
    # On a desktop the whole table fits: no action button hides behind a sideways scroll.
    box = page.locator(".table-wrap")
    assert box.evaluate("box => box.scrollWidth <= box.clientWidth"), "the table scrolls sideways"

    # The highlighted invitation is renewed with one press: no longer highlighted.
    lotte.get_by_role("button", name="Resend").click()
    expect(flash(page, "A new invitation is on its way to lotte.deboer@jansen.example.")
           ).to_be_visible()
    expect(users_row(page, "Lotte de Boer")).not_to_have_class("row-attention")
