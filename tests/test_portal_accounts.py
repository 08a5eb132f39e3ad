"""The customers' accounts on a website's portal (issue 13 items 2 and 3): create user, the
address confirmation, approval, sign-in with its refusals, lockout and limits, forgot password,
change password, the customer's details, closing the account, the language switch and "whole
site" protection. SECURITY.md items 1-11, 15, 17, 18, 37."""
import json
import re
import threading
from datetime import timedelta

import pytest
from helpers import (
    database_text,
    error_beside,
    make_company,
    make_website,
    sign_in,
    text,
    text_of,
)
from portal_helpers import (
    CUSTOMER_PASSWORD,
    PUBLIC,
    confirm_from_mail,
    csrf_of,
    follow_link,
    last_mail,
    make_account,
    open_website,
    portal_form,
    portal_path,
    portal_sign_in,
    register,
    registration,
    signed_in_customer,
)

from kontor import passwords, web_accounts
from models import AuditEvent, IncomingItem, OutboxMessage, Token, UserSession, WebAccount, db
from models.clock import utcnow

NEW_PASSWORD = "seven orange kites over harbour"


@pytest.fixture
def shop(app):
    return open_website()


# --- create user ----------------------------------------------------------------------------

def test_a_customer_creates_a_user_and_gets_a_confirmation_link(app, client, shop):
    response = register(client, email="Maria@Example.com")
    assert response.status_code == 200
    assert "Check your e-mail" in text(response)
    account = WebAccount.get()
    assert (account.email, account.status, account.email_confirmed_at) == (
        "maria@example.com", "pending", None)
    assert passwords.verify_password(account.password_hash, CUSTOMER_PASSWORD)
    mail = last_mail()
    assert (mail.to_addr, mail.from_addr, mail.from_name, mail.bcc_addr) == (
        "maria@example.com", "shop@jansen.example", "Jansen Webshop", "")
    assert f"{PUBLIC}/confirm/" in mail.body
    assert CUSTOMER_PASSWORD not in mail.body
    assert not IncomingItem.select().exists()   # not before the address is confirmed


def test_an_unconfirmed_account_cannot_sign_in_and_is_told_why(app, client, shop):
    register(client)
    answer = portal_sign_in(client)
    assert answer.status_code == 200
    assert "confirm your e-mail address first" in text(answer)
    assert "Wrong e-mail or password." in text(portal_sign_in(client, password="x" * 20))


def test_confirming_stores_the_registration_and_mails_registration_received(app, client, shop):
    register(client)
    page = follow_link(client, last_mail().body)
    assert "Confirm my address" in text(page)
    assert WebAccount.get().email_confirmed_at is None   # a GET changes nothing
    done = client.post("/w/shop/confirm", data={"csrf_token": csrf_of(page)})
    assert "awaits approval" in text(done)
    account = WebAccount.get()
    assert account.email_confirmed_at is not None and account.status == "pending"
    item = IncomingItem.get()
    assert (item.kind, item.status, item.web_account_id, item.website_id) == (
        "registration", "unprocessed", account.id, shop.id)
    values = json.loads(item.values)
    assert values["company_name"] == "Jensen Bygg AS" and values["org_number"] == "987654321"
    assert values["contact_person"] == "Maria Jensen" and values["city"] == "Oslo"
    mail = last_mail()
    assert mail.kind == "portal_registration_received"
    assert mail.bcc_addr == "office@jansen.example"
    assert "Dear Maria Jensen" in mail.body


def test_the_confirmation_link_leaves_the_address_at_once_and_works_once(app, client, shop):
    register(client)
    body = last_mail().body
    first = client.get(portal_path(body))
    assert first.headers["Location"].endswith("/w/shop/confirm")
    assert confirm_from_mail(client).status_code == 200
    again = follow_link(client, body)
    assert again.status_code == 410
    assert IncomingItem.select().count() == 1


def test_a_pending_customer_with_the_right_password_is_told_and_not_signed_in(app, client,
                                                                                shop):
    register(client)
    confirm_from_mail(client)
    answer = portal_sign_in(client)
    assert answer.status_code == 200
    assert "waiting for approval" in text(answer)
    assert client.get("/w/shop/account").status_code == 302
    wrong = portal_sign_in(client, password="a wrong password here")
    assert "Wrong e-mail or password." in text(wrong) and "approval" not in text(wrong)


def test_a_rejected_customer_with_the_right_password_is_told_and_not_signed_in(app, client,
                                                                                shop):
    make_account(shop, status="rejected")
    answer = portal_sign_in(client)
    assert answer.status_code == 200 and "was not approved" in text(answer)
    assert client.get("/w/shop/account").status_code == 302


def test_automatic_approval_approves_on_confirmation_and_mails_approved(app, client):
    open_website(approval="automatic")
    register(client)
    assert "You can sign in now" in text(confirm_from_mail(client))
    assert WebAccount.get().status == "approved"
    kinds = [m.kind for m in OutboxMessage.select().order_by(OutboxMessage.id)]
    assert kinds == ["portal_confirm", "portal_registration_received", "portal_approved"]
    assert portal_sign_in(client).status_code == 302
    assert client.get("/w/shop/account").status_code == 200


def test_registering_an_existing_address_answers_the_same_and_mails_the_owner(app, client,
                                                                               other_client,
                                                                               shop):
    first = register(client)
    confirm_from_mail(client)
    stored = WebAccount.get().password_hash
    second = register(other_client, email="MARIA@example.com", password=NEW_PASSWORD,
                      confirm=NEW_PASSWORD)
    assert second.status_code == first.status_code
    assert text_of(second).replace(csrf_of(second), "") == \
        text_of(first).replace(csrf_of(first), "")
    assert WebAccount.select().count() == 1
    assert WebAccount.get().password_hash == stored
    mail = last_mail()
    assert mail.kind == "portal_existing"
    assert "already have an account" in mail.body and f"{PUBLIC}/reset/" in mail.body


def test_two_registrations_of_one_address_at_the_same_moment_make_one_account(app, shop,
                                                                              monkeypatch):
    """The check before the insert can miss a registration that commits in between; the
    unique index catches it, and the later registration starts the unconfirmed account
    afresh: one account, and only the newest confirmation link works."""
    real = web_accounts.locked

    def misses(query):
        return real(query.where(WebAccount.id < 0))   # as if the other one was not there yet
    monkeypatch.setattr(web_accounts, "locked", misses)
    with app.test_request_context():
        first = web_accounts.register(shop, "maria@example.com", CUSTOMER_PASSWORD,
                                      registration(), "en")
        second = web_accounts.register(shop, "Maria@example.com", CUSTOMER_PASSWORD,
                                       registration(), "en")
    assert (first, second) == ("new", "new")
    assert WebAccount.select().count() == 1
    assert Token.select().where(Token.purpose == "portal_confirm",
                                Token.revoked_at.is_null()).count() == 1


def test_two_registrations_in_two_threads_make_one_account(app, shop):
    results, barrier = [], threading.Barrier(2)

    def register_once():
        with app.test_request_context(), db.connection_context():
            barrier.wait()
            results.append(web_accounts.register(shop, "maria@example.com", CUSTOMER_PASSWORD,
                                                 registration(), "en"))
    threads = [threading.Thread(target=register_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and set(results) <= {"new", "existing"}
    assert WebAccount.select().count() == 1


def test_create_user_is_not_found_when_the_website_does_not_allow_it(app, client):
    make_company()
    make_website(self_registration=False)
    assert client.get("/w/shop/register").status_code == 404
    assert "Create user" not in text(client.get("/w/shop/"))


def test_the_create_user_link_is_in_the_menu_only_when_asked_for(app, client):
    open_website(register_link=False)
    open_website("outlet", register_link=True)
    assert 'href="/w/shop/register"' not in text(client.get("/w/shop/"))
    assert 'href="/w/outlet/register"' in text(client.get("/w/outlet/"))


@pytest.mark.parametrize("password, problem", [
    ("x" * 11, "at least 12 characters"),
    ("Jensen Bygg AS 2026", "company name"),
    ("password1234", "most common"),
    ("y" * 129, "at most 128"),
])
def test_the_password_follows_the_staff_rules_and_the_rest_is_kept(app, client, shop,
                                                                   password, problem):
    response = register(client, password=password, confirm=password)
    assert response.status_code == 400
    assert problem in error_beside(text(response), "password")
    page = text(response)
    assert 'value="Jensen Bygg AS"' in page and 'value="maria@example.com"' in page
    assert password not in page
    assert not WebAccount.select().exists()


def test_consent_to_the_privacy_statement_is_needed(app, client):
    open_website(privacy_url="https://jansen.example/privacy")
    page = text(client.get("/w/shop/register"))
    assert 'href="https://jansen.example/privacy"' in page
    response = register(client, consent=None)
    assert response.status_code == 400
    assert "privacy statement" in error_beside(text(response), "consent")
    assert not WebAccount.select().exists()


def test_a_100_character_password_with_its_last_character_changed_fails(app, client, shop):
    long = "correct horse " * 7 + "battery staplX"
    make_account(shop, password=long)
    assert portal_sign_in(client, password=long[:-1] + "Y").status_code == 200
    assert portal_sign_in(client, password=long).status_code == 302


# --- sign in --------------------------------------------------------------------------------

def test_one_answer_for_unknown_wrong_locked_and_pending_with_a_wrong_password(
        app, client, shop, monkeypatch):
    make_account(shop)
    make_account(shop, email="locked@example.com")
    WebAccount.update(locked_at=utcnow()).where(WebAccount.email == "locked@example.com") \
        .execute()
    make_account(shop, email="pending@example.com", status="pending")
    make_account(shop, email="rejected@example.com", status="rejected")
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password",
                        lambda stored, pw: calls.append(1) or real(stored, pw))
    answers = [portal_sign_in(client, email="nobody@example.com"),
               portal_sign_in(client, password="not the password at all"),
               portal_sign_in(client, email="locked@example.com"),   # even the right one
               portal_sign_in(client, email="pending@example.com", password="not it at all"),
               portal_sign_in(client, email="rejected@example.com", password="not it at all")]
    bodies = {text_of(r).replace(csrf_of(r), "") for r in answers}
    assert len(bodies) == 1 and {r.status_code for r in answers} == {200}
    assert len(calls) == len(answers)   # the hasher ran once for each


def test_extra_fields_posted_with_create_user_are_ignored(app, client, shop):
    contact = make_company()   # any row id will do: it must not be taken
    register(client, status="approved", contact=str(contact.id), email_confirmed_at="2026-01-01",
             website="99")
    account = WebAccount.get()
    assert (account.status, account.contact_id, account.email_confirmed_at,
            account.website_id) == ("pending", None, None, shop.id)


@pytest.mark.parametrize("token", ["%FF%FE", "x" * 300, "..%2F..%2Fadmin", "ünïcödé"])
def test_an_odd_link_token_is_not_found_not_an_error(app, client, shop, token):
    for kind in ("confirm", "reset"):
        first = client.get(f"/w/shop/{kind}/{token}")
        assert first.status_code in (302, 404), (kind, first.status_code)
        if first.status_code == 302:
            assert client.get(first.headers["Location"]).status_code == 404


def test_five_wrong_passwords_lock_the_account_until_a_reset(app, client, shop):
    make_account(shop)
    for _ in range(5):
        portal_sign_in(client, password="not the password at all")
    assert WebAccount.get().is_locked
    answer = portal_sign_in(client)
    assert answer.status_code == 200 and "Wrong e-mail or password." in text(answer)
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    page = follow_link(client, last_mail().body)
    portal_form(client, "/w/shop/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                page="/w/shop/reset")
    assert not WebAccount.get().is_locked
    assert page.status_code == 200
    assert portal_sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_sign_in_is_rate_limited_per_address_whatever_its_case(app, client, shop):
    app.config["LOGIN_LIMIT_PER_EMAIL"] = "3 per 15 minutes"
    for email in ("A@example.com", "a@example.com", "a@EXAMPLE.com"):
        assert portal_sign_in(client, email=email).status_code == 200
    assert portal_sign_in(client, email="a@example.com").status_code == 429


def test_sign_in_gives_a_new_session_and_logout_ends_it(app, client, shop):
    make_account(shop)
    client.get("/w/shop/login")
    before = client.get_cookie("kontor_portal", path="/w/shop/").value
    assert portal_sign_in(client).status_code == 302
    sid = client.get_cookie("kontor_portal", path="/w/shop/").value
    assert sid != before
    page = client.get("/w/shop/account")
    assert page.status_code == 200
    assert client.post("/w/shop/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    client.set_cookie("kontor_portal", sid, path="/w/shop/")
    assert client.get("/w/shop/account").status_code == 302
    assert WebAccount.get().last_login_at is not None


def test_a_portal_session_times_out_after_20_idle_minutes(app, shop):
    browser, _account = signed_in_customer(app, shop)
    UserSession.update(last_seen_at=utcnow() - timedelta(minutes=20, seconds=1)).execute()
    assert browser.get("/w/shop/account").status_code == 302


# --- forgot password ------------------------------------------------------------------------

def test_forgot_password_answers_the_same_and_mails_only_real_accounts(app, client, shop):
    make_account(shop)
    known = portal_form(client, "/w/shop/forgot", {"email": "Maria@example.com"})
    assert OutboxMessage.select().count() == 1
    unknown = portal_form(client, "/w/shop/forgot", {"email": "nobody@example.com"})
    assert OutboxMessage.select().count() == 1
    assert text_of(known) == text_of(unknown)
    mail = last_mail()
    assert mail.kind == "portal_password_reset" and f"{PUBLIC}/reset/" in mail.body
    assert mail.bcc_addr == ""   # a reset link is for the customer only


def test_a_reset_link_works_once_ends_other_sessions_and_is_not_stored(app, client, shop):
    other, account = signed_in_customer(app, shop)
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    body = last_mail().body
    raw = portal_path(body).rsplit("/", 1)[1]
    assert raw not in database_text().replace(body, "")
    first = client.get(portal_path(body))
    assert first.headers["Location"].endswith("/w/shop/reset")
    client.get(first.headers["Location"])
    done = portal_form(client, "/w/shop/reset", {"password": NEW_PASSWORD,
                                                 "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/w/shop/login")
    assert other.get("/w/shop/account").status_code == 302   # signed out
    assert client.get("/w/shop/account").status_code == 302  # no automatic sign-in
    assert follow_link(client, body).status_code == 410
    notice = last_mail()
    assert notice.kind == "portal_password_changed" and NEW_PASSWORD not in notice.body


def test_an_expired_reset_link_fails(app, client, shop):
    make_account(shop)
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    Token.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert follow_link(client, last_mail().body).status_code == 410


def test_a_reset_link_of_one_website_does_not_work_on_another(app, client, shop):
    make_account(shop)
    outlet = open_website("outlet")
    make_account(outlet)
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    path = portal_path(last_mail().body).replace("/w/shop/", "/w/outlet/")
    client.get(path)
    assert client.get("/w/outlet/reset").status_code == 404


# --- the signed-in customer -----------------------------------------------------------------

def test_changing_the_password_needs_the_current_one(app, shop):
    browser, account = signed_in_customer(app, shop)
    stored = WebAccount.get().password_hash
    wrong = portal_form(browser, "/w/shop/account/password", {
        "current": "not my password at all", "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert wrong.status_code == 400
    assert "not right" in error_beside(text(wrong), "current")
    assert WebAccount.get().password_hash == stored
    done = portal_form(browser, "/w/shop/account/password", {
        "current": CUSTOMER_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert passwords.verify_password(WebAccount.get().password_hash, NEW_PASSWORD)
    assert browser.get("/w/shop/account").status_code == 200   # this session goes on


def test_the_customer_edits_their_details_as_an_account_update(app, shop):
    browser, account = signed_in_customer(app, shop)
    page = browser.get("/w/shop/account/details")
    assert page.status_code == 200
    response = portal_form(browser, "/w/shop/account/details", {
        "company_name": "Jensen Bygg og Anlegg AS", "contact_person": "Maria Jensen",
        "city": "Bergen", "country": "NO"})
    assert response.status_code == 302
    item = IncomingItem.get()
    assert item.kind == "account_update" and item.status == "unprocessed"
    assert json.loads(item.values)["city"] == "Bergen"
    assert "Jensen Bygg og Anlegg AS" in text(browser.get("/w/shop/account"))


def test_a_double_click_on_send_my_changes_sends_one_update(app, shop):
    browser, _account = signed_in_customer(app, shop)
    page = browser.get("/w/shop/account/details")
    key = re.search(r'name="form_key" type="hidden" value="([^"]+)"', text(page)).group(1)
    data = {"csrf_token": csrf_of(page), "form_key": key, "company_name": "Jensen AS",
            "contact_person": "Maria Jensen"}
    assert browser.post("/w/shop/account/details", data=data).status_code == 302
    again = browser.post("/w/shop/account/details", data=data)
    assert again.status_code == 302
    assert IncomingItem.select().count() == 1
    assert "saved already" in text(browser.get("/w/shop/account"))


def test_missing_details_are_an_error_beside_the_field_and_nothing_is_stored(app, shop):
    browser, _account = signed_in_customer(app, shop)
    response = portal_form(browser, "/w/shop/account/details", {
        "company_name": "", "contact_person": "Maria Jensen", "city": "Bergen"})
    assert response.status_code == 400
    assert error_beside(text(response), "company_name")
    assert 'value="Bergen"' in text(response)
    assert not IncomingItem.select().exists()


def test_closing_the_account_ends_its_sessions_and_sign_in(app, client, shop):
    browser, account = signed_in_customer(app, shop)
    other = app.test_client()
    assert portal_sign_in(other).status_code == 302
    assert portal_form(browser, "/w/shop/account/close", {}).status_code == 302
    assert other.get("/w/shop/account").status_code == 302
    assert "Wrong e-mail or password." in text(portal_sign_in(client))
    assert WebAccount.get().closed_at is not None
    assert AuditEvent.select().where(AuditEvent.action == "web_account.closed").exists()


def test_a_closed_address_can_register_again(app, client, shop):
    browser, account = signed_in_customer(app, shop)
    portal_form(browser, "/w/shop/account/close", {})
    register(client)
    assert last_mail().kind == "portal_confirm"
    assert WebAccount.get().closed_at is None and WebAccount.get().status == "pending"


# --- language and protection ----------------------------------------------------------------

def test_the_language_switch_changes_the_portals_language(app, client, shop):
    page = client.get("/w/shop/login")
    switched = client.post("/w/shop/language", data={"csrf_token": csrf_of(page),
                                                     "language": "de", "next": "/login"})
    assert switched.headers["Location"] == "/w/shop/login"
    assert 'lang="de"' in text(client.get("/w/shop/login"))


def test_a_signed_in_customers_mails_follow_the_language_switch(app, shop):
    browser, account = signed_in_customer(app, shop)
    page = browser.get("/w/shop/account")
    browser.post("/w/shop/language", data={"csrf_token": csrf_of(page), "language": "nb",
                                           "next": "/account"})
    assert WebAccount.get().language == "nb"


def test_whole_site_protection_needs_a_signed_in_customer_except_to_get_in(app, client):
    site = open_website(protection="site")
    home = client.get("/w/shop/")
    assert home.status_code == 302 and "/w/shop/login" in home.headers["Location"]
    for path in ("/w/shop/login", "/w/shop/register", "/w/shop/forgot"):
        assert client.get(path).status_code == 200, path
    make_account(site)
    portal_sign_in(client)
    assert client.get("/w/shop/").status_code == 200


def test_the_same_address_has_independent_accounts_on_two_websites(app, client, shop):
    outlet = open_website("outlet")
    make_account(shop)
    make_account(outlet, password=NEW_PASSWORD)
    assert portal_sign_in(client, "outlet", password=CUSTOMER_PASSWORD).status_code == 200
    assert portal_sign_in(client, "outlet", password=NEW_PASSWORD).status_code == 302
    assert client.get("/w/shop/account").status_code == 302   # not signed in there


def test_script_in_the_details_is_shown_as_text(app, shop):
    browser, _account = signed_in_customer(app, shop)
    portal_form(browser, "/w/shop/account/details", {
        "company_name": "<script>alert(1)</script>", "contact_person": "Maria"})
    page = browser.get("/w/shop/account").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


# --- two audiences in one browser -----------------------------------------------------------

def test_staff_and_customer_sessions_in_one_browser_are_independent(app, client, staff, shop):
    make_account(shop, email=staff.email)
    assert sign_in(client, staff.email).status_code == 302
    assert portal_sign_in(client, email=staff.email).status_code == 302
    rows = {(row.realm, row.user_id is not None, row.web_account_id is not None)
            for row in UserSession.select().where(UserSession.ended_at.is_null())}
    assert rows == {("staff", True, False), ("portal", False, True)}
    page = client.get("/w/shop/account")
    client.post("/w/shop/logout", data={"csrf_token": csrf_of(page)})
    assert client.get("/").status_code == 200            # still signed in as staff
    assert client.get("/w/shop/account").status_code == 302


def test_a_staff_session_id_in_the_portal_cookie_is_no_customer(app, client, staff, shop):
    make_account(shop, email=staff.email)
    sign_in(client, staff.email)
    staff_sid = client.get_cookie("kontor_session").value
    client.set_cookie("kontor_portal", staff_sid, path="/w/shop/")
    assert client.get("/w/shop/account").status_code == 302


def test_a_portal_session_id_in_the_staff_cookie_is_no_staff_member(app, client, staff, shop):
    make_account(shop, email=staff.email)
    portal_sign_in(client, email=staff.email)
    portal_sid = client.get_cookie("kontor_portal", path="/w/shop/").value
    client.set_cookie("kontor_session", portal_sid, path="/")
    response = client.get("/contacts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("status, language, words", [
    ("pending", "nl", "wacht op goedkeuring"),
    ("rejected", "nb", "ble ikke godkjent"),
    ("rejected", "de", "nicht freigeschaltet"),
])
def test_a_pending_or_rejected_customer_is_told_in_their_language(app, client, shop, status,
                                                                  language, words):
    make_account(shop, status=status)
    answer = portal_form(client, "/w/shop/login", {"email": "maria@example.com",
                                                    "password": CUSTOMER_PASSWORD},
                         headers={"Accept-Language": language})
    assert words in text(answer)


def test_the_portal_pages_are_translated(app, client):
    open_website()
    page = text(client.get("/w/shop/register", headers={"Accept-Language": "de"}))
    assert "Benutzerkonto anlegen" in page and "Datenschutzerklärung" in page


def test_the_lock_is_mailed_and_a_reset_clears_the_guess_limit(app, client, shop):
    app.config["LOGIN_LIMIT_PER_EMAIL"] = "7 per 15 minutes"
    make_account(shop)
    for _ in range(6):
        portal_sign_in(client, password="not the password at all")
    notice = last_mail()
    assert notice.kind == "portal_locked" and f"{PUBLIC}/forgot" in notice.body
    assert notice.from_addr == "shop@jansen.example"
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    follow_link(client, last_mail().body)
    portal_form(client, "/w/shop/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    portal_sign_in(client, password="one more wrong guess")   # the 8th: over the old limit
    assert portal_sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_create_user_and_forgot_password_are_rate_limited_per_address(app, client, shop):
    app.config["REGISTER_LIMIT_PER_EMAIL"] = "2 per hour"
    app.config["RESET_LIMIT_PER_EMAIL"] = "2 per hour"
    for email in ("Ola@example.com", "ola@example.com"):
        assert register(client, email=email).status_code == 200
    assert register(client, email="OLA@example.com").status_code == 429
    for _ in range(2):
        assert portal_form(client, "/w/shop/forgot",
                           {"email": "ola@example.com"}).status_code == 200
    assert portal_form(client, "/w/shop/forgot", {"email": "ola@example.com"}).status_code == 429


@pytest.mark.parametrize("where", ["change", "reset"])
def test_the_password_rules_hold_on_change_and_reset(app, shop, where):
    browser, account = signed_in_customer(app, shop)
    weak = "maria@example.com1"
    if where == "change":
        response = portal_form(browser, "/w/shop/account/password", {
            "current": CUSTOMER_PASSWORD, "password": weak, "confirm": weak})
    else:
        portal_form(browser, "/w/shop/forgot", {"email": "maria@example.com"},
                    page="/w/shop/forgot")
        follow_link(browser, last_mail().body)
        response = portal_form(browser, "/w/shop/reset", {"password": weak, "confirm": weak})
    assert response.status_code == 400
    assert "e-mail address" in error_beside(text(response), "password")
    assert passwords.verify_password(WebAccount.get().password_hash, CUSTOMER_PASSWORD)


def test_twelve_hours_of_activity_still_end_a_portal_session(app, shop):
    browser, _account = signed_in_customer(app, shop)
    UserSession.update(created_at=utcnow() - timedelta(hours=12, seconds=1)).execute()
    assert browser.get("/w/shop/account").status_code == 302


def test_registering_again_before_confirming_starts_afresh_with_a_new_link(app, client,
                                                                           other_client, shop):
    register(client, company_name="Someone Else AS")   # e.g. someone typing another's address
    first = last_mail().body
    register(other_client, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert WebAccount.select().count() == 1
    assert last_mail().kind == "portal_confirm"
    assert follow_link(client, first).status_code == 410   # the older link is void
    confirm_from_mail(other_client)
    assert json.loads(IncomingItem.get().values)["company_name"] == "Jensen Bygg AS"
    assert passwords.verify_password(WebAccount.get().password_hash, NEW_PASSWORD)


def test_a_reset_link_confirms_an_unconfirmed_registration_as_its_link_would(app, client):
    open_website(approval="automatic")
    register(client)
    confirmation = last_mail().body
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    follow_link(client, last_mail().body)
    portal_form(client, "/w/shop/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    account = WebAccount.get()
    assert account.email_confirmed_at is not None and account.status == "approved"
    assert IncomingItem.get().kind == "registration"
    kinds = [m.kind for m in OutboxMessage.select().order_by(OutboxMessage.id)]
    assert "portal_registration_received" in kinds and "portal_approved" in kinds
    assert follow_link(client, confirmation).status_code == 410   # no second registration
    assert IncomingItem.select().count() == 1
    assert portal_sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_a_double_click_on_create_user_registers_once_and_the_first_link_works(app, client,
                                                                              shop):
    """Found by a new user's try: each post of the same form sent a new link and made the
    first one "replaced by a newer one"; a reload of the answer sent the form again."""
    page = client.get("/w/shop/register")
    data = {**registration(), "csrf_token": csrf_of(page),
            "form_key": re.search(r'name="form_key"[^>]*value="([^"]+)"',
                                  page.get_data(as_text=True)).group(1)}
    first = client.post("/w/shop/register", data=data)
    second = client.post("/w/shop/register", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"].endswith("/w/shop/register/sent")
    assert "Check your e-mail" in text(client.get("/w/shop/register/sent"))
    assert OutboxMessage.select().where(OutboxMessage.to_addr == "maria@example.com").count() \
        == 1
    assert confirm_from_mail(client).status_code == 200
    assert WebAccount.get().email_confirmed_at is not None


def test_the_confirmation_is_audited_with_the_customers_address(app, client, shop):
    register(client)
    confirm_from_mail(client)
    assert [e.ip for e in AuditEvent.select().where(
        AuditEvent.action == "web_account.confirmed")] == ["127.0.0.1"]
