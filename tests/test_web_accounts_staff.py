"""The staff side of customers' web accounts (issue 13 items 4 and 5): the contact's Website
section, Create access, Edit (e-mail, status), Send password reset link, the awaiting-approval
page and its count in the navigation; the audit log and the contact's timeline; staff never
see a password (SECURITY.md 12)."""
import re

import pytest
from helpers import error_beside, form_key, text, text_of
from portal_helpers import (
    CUSTOMER_PASSWORD,
    PUBLIC,
    confirm_from_mail,
    follow_link,
    last_mail,
    make_account,
    open_website,
    portal_form,
    portal_sign_in,
    register,
)
from support_helpers import customer

from kontor import websites
from models import AuditEvent, OutboxMessage, WebAccount, WebAccountEvent

NEW_PASSWORD = "seven orange kites over harbour"


@pytest.fixture
def shop(app):
    return open_website()


@pytest.fixture
def contact(app):
    return customer("Jensen Bygg AS")


def version_of(page):
    match = re.search(r'name="version" type="hidden" value="(\d*)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def edit(client, account, **changes):
    page = client.get(f"/web-accounts/{account.id}/edit")
    data = {"email": account.email, "status": account.status, "version": version_of(page)}
    data.update(changes)
    return client.form(f"/web-accounts/{account.id}/edit", data)


def audited(action):
    return [(e.target, e.detail) for e in AuditEvent.select()
            .where(AuditEvent.action == action).order_by(AuditEvent.id)]


# --- the contact's Website section and Create access --------------------------------------

def test_the_contact_page_lists_its_web_accounts(app, staff_client, shop, contact):
    make_account(shop, contact=contact.id)
    page = text_of(staff_client.get(f"/contacts/{contact.id}"))
    assert "Website" in page and "maria@example.com" in page and "Approved" in page
    assert "Shop" in page


def test_create_access_mails_a_link_to_choose_a_password(app, staff_client, staff, client,
                                                         shop, contact):
    response = staff_client.fill(f"/contacts/{contact.id}/web-accounts/new",
                                 {"website": shop.id, "email": "Ola@Jensen.example"})
    assert response.status_code == 302
    account = WebAccount.get()
    assert (account.email, account.status, account.contact_id, account.password_hash) == (
        "ola@jensen.example", "approved", contact.id, "")
    mail = last_mail()
    assert mail.kind == "portal_access" and f"{PUBLIC}/reset/" in mail.body
    assert mail.from_addr == "shop@jansen.example" and mail.bcc_addr == ""
    assert audited("web_account.created") == [("shop: ola@jensen.example",
                                               f"contact {contact.id}")]
    assert "access created" in text_of(staff_client.get(f"/contacts/{contact.id}"))
    # the customer chooses a password with the link, which also confirms the address
    follow_link(client, mail.body)
    done = portal_form(client, "/w/shop/reset", {"password": NEW_PASSWORD,
                                                 "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert portal_sign_in(client, email="ola@jensen.example",
                          password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("existing", [{"confirmed": False}, {"linked": True}])
def test_create_access_refuses_an_address_the_website_has_in_any_case(app, staff_client,
                                                                      shop, contact, existing):
    other = customer("Andersen AS")
    make_account(shop, confirmed=existing.get("confirmed", True),
                 contact=other.id if existing.get("linked") else None)
    response = staff_client.fill(f"/contacts/{contact.id}/web-accounts/new",
                                 {"website": shop.id, "email": "MARIA@example.com"})
    assert response.status_code == 400
    assert "already has an account" in error_beside(text(response), "email")
    assert WebAccount.select().count() == 1
    assert WebAccount.get().contact_id != contact.id


def test_create_access_links_a_confirmed_self_registered_account(app, staff_client, shop,
                                                                 contact):
    make_account(shop, status="pending")
    response = staff_client.fill(f"/contacts/{contact.id}/web-accounts/new",
                                 {"website": shop.id, "email": "Maria@example.com"})
    assert response.status_code == 302
    account = WebAccount.get()
    assert (account.contact_id, account.status) == (contact.id, "pending")
    assert not OutboxMessage.select().exists()
    assert audited("web_account.linked") == [("shop: maria@example.com",
                                              f"contact {contact.id}")]
    assert "linked to this contact" in text_of(staff_client.get(f"/contacts/{contact.id}"))


def test_a_double_click_on_create_access_creates_one_account(app, staff_client, shop,
                                                             contact):
    url = f"/contacts/{contact.id}/web-accounts/new"
    key = form_key(staff_client.get(url))
    data = {"website": shop.id, "email": "ola@jensen.example", "form_key": key}
    assert staff_client.form(url, data).status_code == 302
    again = staff_client.form(url, data)
    assert again.status_code == 302
    assert WebAccount.select().count() == 1 and OutboxMessage.select().count() == 1
    assert "saved already" in text_of(staff_client.get(again.headers["Location"]))


def test_create_access_on_an_unknown_website_is_an_error_not_a_500(app, staff_client, shop,
                                                                   contact):
    response = staff_client.fill(f"/contacts/{contact.id}/web-accounts/new",
                                 {"website": "99999", "email": "ola@jensen.example"})
    assert response.status_code == 400
    assert not WebAccount.select().exists()


# --- Edit ---------------------------------------------------------------------------------

def test_staff_correct_a_mistyped_e_mail(app, staff_client, shop, contact):
    account = make_account(shop, email="maria@exmaple.com", contact=contact.id)
    assert edit(staff_client, account, email="Maria@Example.com").status_code == 302
    assert WebAccount.get().email == "maria@example.com"
    assert audited("web_account.email_changed") == [
        ("shop: maria@exmaple.com", "maria@exmaple.com → maria@example.com")]
    event = WebAccountEvent.get()
    assert (event.action, event.old, event.new, event.contact_id) == (
        "email", "maria@exmaple.com", "maria@example.com", contact.id)
    assert "maria@exmaple.com → maria@example.com" in text_of(
        staff_client.get(f"/contacts/{contact.id}"))


def test_an_e_mail_another_account_of_the_website_has_is_refused(app, staff_client, shop):
    make_account(shop, email="ola@example.com")
    account = make_account(shop)
    response = edit(staff_client, account, email="OLA@example.com")
    assert response.status_code == 400
    assert "already has an account" in error_beside(text(response), "email")
    assert WebAccount.get_by_id(account.id).email == "maria@example.com"


def test_rejecting_mails_the_customer_and_ends_their_sessions_at_once(app, staff_client,
                                                                      client, shop, contact):
    account = make_account(shop, contact=contact.id, language="de")
    assert portal_sign_in(client).status_code == 302
    assert client.get("/w/shop/account").status_code == 200
    assert edit(staff_client, account, status="rejected").status_code == 302
    assert client.get("/w/shop/account").status_code == 302   # signed out at once
    mail = last_mail()
    assert mail.kind == "portal_rejected" and mail.bcc_addr == "office@jansen.example"
    assert mail.subject == "Ihre Registrierung bei Shop"
    assert audited("web_account.status_changed") == [("shop: maria@example.com",
                                                      "approved → rejected")]
    assert "Rejected" in text_of(staff_client.get(f"/contacts/{contact.id}"))


def test_an_unconfirmed_address_cannot_be_approved(app, staff_client, shop):
    account = make_account(shop, status="pending", confirmed=False)
    response = edit(staff_client, account, status="approved")
    assert response.status_code == 400
    assert WebAccount.get().status == "pending"
    assert not OutboxMessage.select().exists()


def test_the_second_editor_gets_409_and_nothing_is_lost(app, staff_client, admin_client, shop):
    account = make_account(shop)
    page = staff_client.get(f"/web-accounts/{account.id}/edit")
    assert edit(admin_client, account, email="maria.j@example.com").status_code == 302
    late = staff_client.form(f"/web-accounts/{account.id}/edit", {
        "email": "maria@example.com", "status": "rejected", "version": version_of(page)})
    assert late.status_code == 409
    assert WebAccount.get().email == "maria.j@example.com"
    assert WebAccount.get().status == "approved"


def test_an_unknown_web_account_is_404(app, staff_client):
    assert staff_client.get("/web-accounts/999/edit").status_code == 404
    assert staff_client.get("/web-accounts/99999999999999999999/edit").status_code == 404


def test_staff_send_a_reset_link_and_never_see_a_password(app, staff_client, shop, contact):
    account = make_account(shop, contact=contact.id)
    page = staff_client.get(f"/web-accounts/{account.id}/edit")
    markup = page.get_data(as_text=True)
    assert 'type="password"' not in markup and account.password_hash not in markup
    assert "argon2" not in markup
    response = staff_client.form(f"/web-accounts/{account.id}/reset-link")
    assert response.status_code == 302
    mail = last_mail()
    assert mail.kind == "portal_password_reset" and mail.to_addr == "maria@example.com"
    assert f"{PUBLIC}/reset/" in mail.body
    link = re.search(r"/reset/(\S+)", mail.body).group(1)
    assert link not in text(staff_client.get(f"/web-accounts/{account.id}/edit"))
    assert audited("web_account.reset_sent") == [("shop: maria@example.com", "")]


# --- awaiting approval --------------------------------------------------------------------

def test_the_awaiting_page_lists_confirmed_pending_accounts_with_their_details(
        app, staff_client, client, shop):
    register(client)
    assert "maria@example.com" not in text(staff_client.get("/web-accounts/awaiting"))
    assert "Awaiting approval" not in text(staff_client.get("/"))
    confirm_from_mail(client)
    page = text_of(staff_client.get("/web-accounts/awaiting"))
    assert "maria@example.com" in page and "Jensen Bygg AS" in page and "Maria Jensen" in page
    home = text_of(staff_client.get("/"))
    assert "Awaiting approval 1" in home


def test_approve_in_place_mails_approved_and_the_customer_signs_in(app, staff_client, client,
                                                                   shop):
    register(client)
    confirm_from_mail(client)
    account = WebAccount.get()
    page = staff_client.get("/web-accounts/awaiting")
    assert page.status_code == 200
    assert staff_client.form(f"/web-accounts/{account.id}/approve").status_code == 302
    staff_client.form(f"/web-accounts/{account.id}/approve")   # a double click
    assert [m.kind for m in OutboxMessage.select().where(
        OutboxMessage.kind == "portal_approved")] == ["portal_approved"]
    assert WebAccount.get().status == "approved"
    assert portal_sign_in(client, password=CUSTOMER_PASSWORD).status_code == 302
    assert "Nobody is waiting." in text(staff_client.get("/web-accounts/awaiting"))


def test_reject_in_place(app, staff_client, client, shop):
    register(client)
    confirm_from_mail(client)
    account = WebAccount.get()
    staff_client.get("/web-accounts/awaiting")
    assert staff_client.form(f"/web-accounts/{account.id}/reject").status_code == 302
    assert WebAccount.get().status == "rejected"
    assert last_mail().kind == "portal_rejected"
    assert "was not approved" in text(portal_sign_in(client))


def test_the_awaiting_page_of_an_unknown_website_is_404(app, staff_client, shop):
    assert staff_client.get("/web-accounts/awaiting?website=999").status_code == 404
    assert staff_client.get(f"/web-accounts/awaiting?website={shop.id}").status_code == 200


def test_the_privacy_statement_address_is_a_website_setting(app, admin_client, shop):
    page = admin_client.get(f"/admin/websites/{shop.id}/edit")
    assert 'name="privacy_url"' in page.get_data(as_text=True)


def test_what_happened_before_an_account_was_linked_shows_on_the_contacts_timeline(
        app, staff_client, client, contact):
    site = open_website(approval="automatic")
    register(client)
    confirm_from_mail(client)   # approved at once: an event of no contact yet
    staff_client.fill(f"/contacts/{contact.id}/web-accounts/new",
                      {"website": site.id, "email": "maria@example.com"})
    timeline = text_of(staff_client.get(f"/contacts/{contact.id}"))
    assert "status Pending → Approved" in timeline
    assert "linked to this contact" in timeline
    assert timeline.count("Web account maria@example.com on Shop") == 2


def test_the_status_of_an_account_its_customer_closed_cannot_change(app, staff_client, shop):
    account = make_account(shop)
    WebAccount.update(closed_at=WebAccount.created_at).execute()
    response = edit(staff_client, account, status="rejected")
    assert response.status_code == 400
    assert "closed this account" in text(response)
    assert WebAccount.get().status == "approved" and not OutboxMessage.select().exists()


def test_a_stale_reject_does_not_undo_a_colleagues_approval(app, staff_client, admin_client,
                                                            client, shop):
    """Two staff members on the awaiting page: one approves; the other's Reject, clicked on
    the page they opened before, changes nothing and says so (found by a new user's try)."""
    register(client)
    confirm_from_mail(client)
    account = WebAccount.get()
    staff_client.get("/web-accounts/awaiting")
    admin_client.get("/web-accounts/awaiting")
    assert staff_client.form(f"/web-accounts/{account.id}/approve").status_code == 302
    assert admin_client.form(f"/web-accounts/{account.id}/reject").status_code == 302
    assert WebAccount.get().status == "approved"
    assert "someone decided meanwhile. Nothing was changed." in text_of(
        admin_client.get("/web-accounts/awaiting"))
    assert [m.kind for m in OutboxMessage.select().where(OutboxMessage.kind.in_(
        ("portal_approved", "portal_rejected")))] == ["portal_approved"]


def test_accounts_of_a_deactivated_website_are_not_changed_or_mailed(app, staff_client,
                                                                    client, shop):
    register(client)
    confirm_from_mail(client)
    account = WebAccount.get()
    websites.set_active(shop, False)
    mails = OutboxMessage.select().count()
    response = staff_client.form(f"/web-accounts/{account.id}/approve")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/web-accounts/awaiting")
    assert "The website of this account is deactivated" in text_of(
        staff_client.get("/web-accounts/awaiting"))
    staff_client.form(f"/web-accounts/{account.id}/reset-link")
    page = edit(staff_client, account, status="approved")
    assert page.status_code == 400
    assert "The website of this account is deactivated" in text_of(page)
    assert WebAccount.get().status == "pending" and OutboxMessage.select().count() == mails


def test_a_corrected_address_does_not_rewrite_the_timeline(app, staff_client, shop, contact):
    """The timeline names each account by the address it had then (found by a new user's
    try: a correction showed the new address on the "access created" line too)."""
    staff_client.fill(f"/contacts/{contact.id}/web-accounts/new",
                      {"website": shop.id, "email": "piet@klant.example"})
    account = WebAccount.get()
    assert edit(staff_client, account, email="pieter@klant.example").status_code == 302
    account = WebAccount.get()
    assert edit(staff_client, account, email="p.jansen@klant.example").status_code == 302
    timeline = text_of(staff_client.get(f"/contacts/{contact.id}"))
    assert "Web account piet@klant.example on Shop: access created" in timeline
    assert ("Web account piet@klant.example on Shop: e-mail piet@klant.example → "
            "pieter@klant.example") in timeline
    assert ("Web account pieter@klant.example on Shop: e-mail pieter@klant.example → "
            "p.jansen@klant.example") in timeline
