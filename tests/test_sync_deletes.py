"""Deletes in the sync (SPEC section 8, SYNC.md step 5; found by a new-user test): a record
deleted on one side and left alone on the other is deleted on both and counted among the
records written, not as a conflict; a delete against an edit is a conflict. A contact deleted
in the business database takes no portal web account with it, and leaves none approved
without a contact: each is unlinked, pending again (staff see it among the accounts awaiting
approval), signed out, with an event and an audit line. Runs on the real business database of
`firm` and on Kontor's database (SQLite, or PostgreSQL in the PostgreSQL run)."""
import json

from helpers import make_website, text_of
from portal_helpers import signed_in_customer
from sync_helpers import bound_contact, history

from kontor.contacts import saving
from models import AuditEvent, Contact, UserSession, WebAccount, WebAccountEvent

FIRM = dict(customer_number=20001, kind="company", name="Fjord Rør AS", phone="+47 22 33 44 55",
            city="Oslo", country="NO", active=True)


def first_sync(firm):
    key = firm.add("contacts", **FIRM)
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    return key, bound_contact(firm, key)


def test_a_business_delete_of_an_untouched_contact_is_written_not_a_conflict(firm):
    key, contact = first_sync(firm)
    firm.delete("contacts", key)
    run = firm.cycle()
    assert (run.status, run.conflicts, run.to_kontor, run.to_business) == ("ok", 0, 1, 0)
    assert Contact.get_or_none(Contact.id == contact.id) is None
    assert [h.resolution for h in history()] == ["deleted"]      # kept whole all the same


def test_a_kontor_delete_of_an_untouched_contact_is_written_not_a_conflict(firm):
    key, contact = first_sync(firm)
    Contact.delete().where(Contact.id == contact.id).execute()
    run = firm.cycle()
    assert (run.status, run.conflicts, run.to_kontor, run.to_business) == ("ok", 0, 0, 1)
    assert firm.contact(key) is None


def test_a_business_delete_against_a_kontor_edit_is_a_conflict(firm):
    key, contact = first_sync(firm)
    saving.update(contact.id, {"phone": "+47 12 34 56 78"}, contact.version)
    firm.delete("contacts", key)
    run = firm.cycle()
    assert (run.status, run.conflicts, run.to_kontor) == ("ok", 1, 1)
    [kept] = history()
    assert json.loads(kept.row)["phone"] == "+47 12 34 56 78"


def test_a_contact_deleted_in_the_business_leaves_no_web_account_approved(app, firm,
                                                                          admin_client):
    key, contact = first_sync(firm)
    website = make_website("shop")
    browser, account = signed_in_customer(app, website, contact=contact.id)
    assert browser.get("/w/shop/account").status_code == 200
    firm.delete("contacts", key)
    run = firm.cycle()
    assert (run.status, run.conflicts) == ("ok", 0), run.error
    account = WebAccount.get_by_id(account.id)
    assert (account.contact_id, account.status) == (None, "pending")
    assert not account.is_active
    # signed out at once, and a new sign-in is refused
    assert UserSession.select().where(UserSession.web_account == account.id,
                                      UserSession.ended_at.is_null()).count() == 0
    assert browser.get("/w/shop/account").status_code == 302
    events = [(e.action, e.old, e.new) for e in WebAccountEvent.select().where(
        WebAccountEvent.web_account == account.id).order_by(WebAccountEvent.id)]
    assert events[-2:] == [("unlinked", "20001 Fjord Rør AS", ""),
                           ("status", "approved", "pending")]
    [audit] = AuditEvent.select().where(AuditEvent.action == "web_account.unlinked")
    assert "20001 Fjord Rør AS" in audit.detail and "approved → pending" in audit.detail
    # the contact is kept whole in the history with the account it had
    [kept] = history()
    assert json.loads(kept.row)["web_accounts"] == [
        {"website": "Shop", "email": "maria@example.com", "status": "approved"}]
    # staff see it among the accounts awaiting approval, and why
    said = text_of(admin_client.get("/web-accounts/awaiting"))
    assert "maria@example.com" in said
    assert "Its contact 20001 Fjord Rør AS was deleted in the business database." in said
    said = text_of(admin_client.get(f"/web-accounts/{account.id}/edit"))
    assert "its contact 20001 Fjord Rør AS was deleted in the business database" in said


def test_a_rejected_account_stays_rejected_when_its_contact_goes(app, firm):
    key, contact = first_sync(firm)
    website = make_website("shop")
    account = WebAccount.create(website=website.id, email="ola@example.com",
                                status="rejected", contact=contact.id)
    firm.delete("contacts", key)
    assert firm.cycle().status == "ok"
    account = WebAccount.get_by_id(account.id)
    assert (account.contact_id, account.status) == (None, "rejected")
