"""A contact's timeline: the events on it, newest first, for its page and its timeline page.
The events are note entries (the contact's and its persons'), saved changes, the support
cases the reader may see, what happened to the contact's web accounts (issue 13), to its
orders from the portals (issue 14 item 4), the website data imported into it (issue 15) and
the sync's conflicts, deletes and restores of the contact (the sync history; issue 16 item 5)."""
import json
from collections import namedtuple
from dataclasses import dataclass

from peewee import JOIN

from kontor import paging, support
from kontor.contacts.saving import SOURCE_KEY
from models import (
    ContactChange,
    ContactPerson,
    IncomingItem,
    NoteEntry,
    Order,
    OrderEvent,
    Prepared,
    SupportCase,
    SyncConflict,
    User,
    WebAccount,
    WebAccountEvent,
    Website,
    as_datetime,
    with_employee,
)


@dataclass
class Event:
    """One line of a contact's timeline: when (naive UTC), what kind, by whom, and the text,
    the changed fields {field: [old, new]}, the person's name or the case it shows."""
    at: object
    kind: str          # "note", "person_note", "change", "case", "web_account", "incoming",
    #                    "order", "sync"
    who: str
    text: str = ""
    changes: dict = None
    person: str = ""
    case: object = None
    web_account: object = None   # a WebAccountEvent, with `.web_account.website` joined
    incoming: object = None      # an IncomingItem imported into the contact, website joined
    order: object = None         # an OrderEvent, with `.order` joined
    sync: object = None          # a SyncConflict (the sync history) of the contact
    source: str = ""             # a change's source when no user made it ("sync")


TIMELINE_ON_PAGE = 10      # the contact page shows the newest; the timeline page the rest
TIMELINE_PAGE = 50


_TIMELINE_NOTES = Prepared(lambda contact_id, limit: (
    NoteEntry.select(NoteEntry.created_at, NoteEntry.author_name, NoteEntry.text,
                     NoteEntry.person, ContactPerson.name)
    .join(ContactPerson, JOIN.LEFT_OUTER, on=(NoteEntry.person == ContactPerson.id))
    .where(NoteEntry.contact == contact_id)
    .order_by(NoteEntry.created_at.desc(), NoteEntry.id.desc()).limit(limit)))
_TIMELINE_CHANGES = Prepared(lambda contact_id, limit: (
    with_employee(ContactChange.select(ContactChange, User)
                  .join(User, JOIN.LEFT_OUTER, on=(ContactChange.user == User.id)))
    .where(ContactChange.contact == contact_id)
    .order_by(ContactChange.version.desc()).limit(limit)))
_TIMELINE_SYNC = Prepared(lambda contact_id, limit: (
    SyncConflict.select(SyncConflict.id, SyncConflict.at, SyncConflict.field,
                        SyncConflict.kontor_value, SyncConflict.business_value,
                        SyncConflict.resolution)
    .where(SyncConflict.entity == "contacts", SyncConflict.kontor_id == contact_id)
    .order_by(SyncConflict.at.desc()).limit(limit)))


def _timeline_web_accounts(of_account):
    """The prepared query of the web-account events on a contact's timeline: those recorded
    on the contact (`of_account` False), or those of the web accounts linked to it now
    (True: what happened before an account was linked shows once it is). Each uses an index
    of its own; the timeline merges the two."""
    def build(contact_id, limit):
        query = with_employee(
            WebAccountEvent.select(WebAccountEvent, WebAccount, Website, User)
            .join(WebAccount).join(Website).switch(WebAccountEvent)
            .join(User, JOIN.LEFT_OUTER, on=(WebAccountEvent.user == User.id)))
        where = (WebAccount.contact == contact_id) if of_account \
            else (WebAccountEvent.contact == contact_id)
        return query.where(where).order_by(WebAccountEvent.at.desc(),
                                           WebAccountEvent.id.desc()).limit(limit)
    return Prepared(build)


_TIMELINE_INCOMING = Prepared(lambda contact_id, limit: (
    with_employee(IncomingItem.select(IncomingItem, Website, User)
                  .join(Website, on=(IncomingItem.website == Website.id)).switch(IncomingItem)
                  .join(User, JOIN.LEFT_OUTER, on=(IncomingItem.processed_by == User.id)))
    .where(IncomingItem.contact == contact_id)
    .order_by(IncomingItem.processed_at.desc(), IncomingItem.id.desc()).limit(limit)))
_TIMELINE_ORDERS = Prepared(lambda contact_id, limit: (
    with_employee(OrderEvent.select(OrderEvent, Order, User).join(Order).switch(OrderEvent)
                  .join(User, JOIN.LEFT_OUTER, on=(OrderEvent.user == User.id)))
    .where(OrderEvent.contact == contact_id)
    .order_by(OrderEvent.at.desc(), OrderEvent.id.desc()).limit(limit)))
_TIMELINE_WEB_ACCOUNTS = [_timeline_web_accounts(of_account) for of_account in (False, True)]
_Reader = namedtuple("_Reader", "id is_superuser")
# support.visible_to decides which cases a reader sees: all of them, or the own ones


def _timeline_cases(everything):
    """The prepared query of the cases a reader who sees all of them (or only the own ones)
    may see on a contact. A function, not a lambda in the dict below: a lambda would read
    `everything` when called, after the loop, and so both queries would be the same."""
    return Prepared(lambda user_id, contact_id, limit: (
        support.visible_to(_Reader(user_id, False), everything)
        .where(SupportCase.contact == contact_id)
        .order_by(SupportCase.created_at.desc()).limit(limit)))


_TIMELINE_CASES = {everything: _timeline_cases(everything) for everything in (True, False)}


def _with_email_then(events):
    """Give each web-account event its account's e-mail address as it was then
    (`email_then`): the address before the first later correction, else today's. A
    corrected address must not rewrite the history (found by a new user's try)."""
    accounts = {event.web_account_id for event in events}
    if not accounts:
        return
    corrections = {}
    for correction in (WebAccountEvent.select(WebAccountEvent.id, WebAccountEvent.web_account,
                                              WebAccountEvent.at, WebAccountEvent.old)
                       .where(WebAccountEvent.web_account.in_(list(accounts)),
                              WebAccountEvent.action == "email")
                       .order_by(WebAccountEvent.at, WebAccountEvent.id)):
        corrections.setdefault(correction.web_account_id, []).append(correction)
    for event in events:
        later = [c for c in corrections.get(event.web_account_id, ())
                 if (c.at, c.id) >= (event.at, event.id)]
        event.email_then = later[0].old if later else event.web_account.email


def timeline(contact, user, page=1, per_page=TIMELINE_ON_PAGE):
    """Notes (the contact's and its persons'), changes, the support cases `user` may see,
    web-account and order events, imported website data and the sync history's entries of the
    contact, newest first: one page of events (a list of Event), and whether older ones
    follow."""
    need = page * per_page + 1           # enough of each kind to fill this page and peek past
    events = [Event(as_datetime(at), "person_note" if person_id else "note", author, text,
                    person=person or "")
              for at, author, text, person_id, person in _TIMELINE_NOTES.rows(contact.id, need)]
    for change in _TIMELINE_CHANGES(contact.id, need):
        changes = json.loads(change.changes)
        source = changes.pop(SOURCE_KEY, "")
        events.append(Event(change.at, "change",
                            change.user.display_name if change.user_id else "",
                            changes=changes, source=source))
    cases = _TIMELINE_CASES[support.sees_all(user)](user.id, contact.id, need)
    events += [Event(case.created_at, "case", "", case.subject, case=case) for case in cases]
    account_events = {event.id: event for query in _TIMELINE_WEB_ACCOUNTS
                      for event in query(contact.id, need)}
    _with_email_then(account_events.values())
    events += [Event(event.at, "web_account",
                     event.user.display_name if event.user_id else "", web_account=event)
               for event in account_events.values()]
    events += [Event(item.processed_at, "incoming",
                     item.processed_by.display_name if item.processed_by_id else "",
                     incoming=item)
               for item in _TIMELINE_INCOMING(contact.id, need)]
    events += [Event(event.at, "order", event.user.display_name if event.user_id else "",
                     order=event) for event in _TIMELINE_ORDERS(contact.id, need)]
    events += [Event(entry.at, "sync", "", sync=entry)
               for entry in _TIMELINE_SYNC(contact.id, need)]
    events.sort(key=lambda e: e.at, reverse=True)
    start = (page - 1) * per_page
    return events[start:start + per_page], len(events) > start + per_page


def timeline_page(contact, user, page, per_page=TIMELINE_PAGE):
    """Page `page` of `timeline` as (events, whether older ones follow, the page number
    shown): a number past the end shows the last page (a bookmark of a timeline that was
    shorter, or a typed number; issue 11 item 19), page 1 when there is nothing."""
    events, more = timeline(contact, user, page, per_page)
    if events or page == 1:
        return events, more, page
    everything, _ = timeline(contact, user, 1, page * per_page)
    last = paging.last_page(len(everything), per_page)
    events, more = timeline(contact, user, last, per_page)
    return events, more, last
