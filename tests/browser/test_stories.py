"""User stories in a real browser against a real server: first-run setup, sign in and out,
a locked account reopened by "Forgot password", the idle logout, and the language switch."""
import hashlib
import re
from pathlib import Path

import pytest
from babel.support import Translations
from helpers import PASSWORD, ago
from playwright.sync_api import expect

from .helpers import ADMIN, ROOT, fill_setup_form, flash, link_in_mail, sign_in, wait_for_mail

pytestmark = pytest.mark.browser


def test_setup_then_sign_out_and_in_again(page, server_factory):
    server = server_factory()   # an empty database of its own

    page.goto(server.setup_url)
    expect(page).to_have_url(server.url + "/setup")   # the token left the address bar
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up Kontor")
    fill_setup_form(page)
    page.get_by_role("button", name="Create company and sign in").click()

    expect(page).to_have_url(server.url + "/admin/company")
    expect(flash(page, "Your company is set up and you are signed in")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Company details")
    banner = page.get_by_role("banner")
    expect(banner.get_by_role("link", name=ADMIN["name"])).to_be_visible()

    banner.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(server.url + "/login")
    expect(flash(page, "You are signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    sign_in(page, server.url, ADMIN["email"].upper(), path=None)   # e-mail: any case
    expect(page).to_have_url(server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {ADMIN['name']}")

    for url in (server.setup_url, server.url + "/setup"):
        response = page.goto(url)
        assert response.status == 404, url
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


def test_forgot_password_reopens_a_locked_account(page, site, smtp):
    email = "piet@jansen.example"
    site.make_user(email, "Piet de Vries")

    page.goto(site.url + "/login")
    for attempt in range(5):
        sign_in(page, site.url, email, f"not the password {attempt}", path=None)
        expect(flash(page, "Wrong e-mail or password.")).to_be_visible()
    # Locked now: the right password does not open it, and the answer is the same.
    sign_in(page, site.url, email, PASSWORD, path=None)
    expect(flash(page, "Wrong e-mail or password.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))

    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Forgot password")
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")

    # two e-mails: the notice that the account was locked, then the reset link
    mails = {m["Subject"]: m for m in wait_for_mail(smtp, email, count=2)}
    notice = mails.pop("Your Kontor account is locked")
    assert link_in_mail(notice, site.url) == site.url + "/forgot"
    [message] = mails.values()
    link = link_in_mail(message, site.url)
    assert "/reset/" in link
    assert PASSWORD not in message.as_string()

    page.goto(link)
    expect(page).to_have_url(site.url + "/reset")   # the token left the address bar
    expect(page.get_by_role("heading", level=1)).to_have_text("Set a new password")
    expect(page.get_by_text(f"For the account {email}.")).to_be_visible()
    new_password = "a brand new kettle on the stove"
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Repeat the new password").fill(new_password)
    page.get_by_role("button", name="Set new password").click()

    expect(page).to_have_url(site.url + "/login")
    expect(flash(page, "Your password is set.")).to_be_visible()
    sign_in(page, site.url, email, new_password, path=None)
    expect(page).to_have_url(site.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Piet de Vries")

    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")


def test_idle_session_ends_and_login_returns_to_the_page(page, site):
    sign_in(page, site.url, ADMIN["email"])
    expect(page).to_have_url(site.url + "/")
    page.get_by_role("banner").get_by_role("link", name=ADMIN["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")

    # 21 minutes without a request, as far as the server's session record knows.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert "kontor_session" in cookies, cookies.keys()
    sid = cookies["kontor_session"]
    moved = site.sql("UPDATE user_session SET last_seen_at = ?, created_at = ? "
                     "WHERE sid_hash = ? AND ended_at IS NULL",
                     (site.timestamp(ago(minutes=21)), site.timestamp(ago(minutes=25)),
                      hashlib.sha256(sid.encode()).hexdigest()))
    assert moved == 1

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Employees").click()
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)employees$"))
    expect(page.get_by_role("alert")).to_contain_text(
        "You were signed out after 20 minutes without activity")

    sign_in(page, site.url, ADMIN["email"], path=None)
    expect(page).to_have_url(site.url + "/employees")
    expect(page.get_by_role("heading", level=1)).to_have_text("Employees")


def test_language_switch_in_the_footer_works_without_javascript(browser, site):

    english = "Sign in to Kontor"
    assert list(Path(ROOT, "translations", "nl", "LC_MESSAGES").glob("messages.po")), \
        "there is no Dutch catalog (translations/nl/LC_MESSAGES/messages.po)"
    catalog = Translations.load(str(ROOT / "translations"), ["nl"])
    assert isinstance(catalog, Translations), "translations/nl has no compiled catalog"
    dutch = catalog.gettext(english)
    assert dutch != english, f"the Dutch catalog does not translate {english!r}"

    context = browser.new_context(java_script_enabled=False, locale="en-GB",
                                  viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(site.url + "/login")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text(english)

        footer = page.get_by_role("contentinfo")
        footer.get_by_label("Language").select_option(label="Nederlands")
        footer.get_by_role("button", name="Switch").click()

        expect(page).to_have_url(site.url + "/login")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.get_by_role("heading", level=1)).to_have_text(dutch)
        expect(page.get_by_role("contentinfo").locator("select")).to_have_value("nl")
    finally:
        context.close()
