"""The e-mail about new website data (issue 15 item 5): staff who chose it on their profile
page get an e-mail when new items arrive in the "Fetch website data" queue, at most one an
hour each, with how many new items of each kind wait, and a link to the queue; in the
recipient's language, through the outbox (kontor/mail.py).

- `choose(user, on)` switches it on or off for a user; switching on starts from the items
  that arrived after that moment (the queue as it is then is no news);
- `due(now)` says who gets an e-mail now and with which counts (no Flask);
- `send_due(config, now)` queues those e-mails (the job's body, kontor/jobs.py, which runs it
  under its lease: one process sends). Each person's row is claimed by a conditional UPDATE
  first, so even two runs at once send one e-mail. Needs an application context (the
  e-mail's templates).

"New" means: received after the newest item the person's previous e-mail (or the opt-in)
covered and still unprocessed when the e-mail is written. Items that arrive within the hour
after an e-mail are counted in the next one, once the hour is over.
"""
from dataclasses import dataclass
from datetime import timedelta

from peewee import fn

from models import User, db
from models.clock import utcnow
from models.web_accounts import IncomingItem

INTERVAL = timedelta(hours=1)     # at most one e-mail an hour per person
# The kinds an e-mail counts, in the order it lists them.
KINDS = ("registration", "account_update", "activity", "order")


@dataclass
class Notice:
    """One e-mail due: its `user`, the newest item id it covers (`upto`) and {kind: count}
    of the new unprocessed items (`counts`; kinds of KINDS, zero counts left out)."""
    user: object
    upto: int
    counts: dict


def newest_item_id() -> int:
    """The id of the newest item in the queue (processed or not); 0 for none."""
    return IncomingItem.select(fn.MAX(IncomingItem.id)).scalar() or 0


def choose(user, on: bool) -> bool:
    """Switch the e-mail on or off for `user` (a User or its id). Switching on counts from
    the items that arrive afterwards. Returns whether the setting changed."""
    user_id = getattr(user, "id", user)
    with db.atomic():
        changes = {User.notify_incoming: bool(on)}
        if on:
            changes[User.incoming_notified_upto] = newest_item_id()
        return bool(User.update(changes).where(User.id == user_id,
                                               User.notify_incoming == (not on)).execute())


def _counts(after, upto):
    rows = (IncomingItem.select(IncomingItem.kind, fn.COUNT(IncomingItem.id))
            .where(IncomingItem.id > after, IncomingItem.id <= upto,
                   IncomingItem.status == "unprocessed")
            .group_by(IncomingItem.kind).tuples())
    found = dict(rows)
    return {kind: found[kind] for kind in KINDS if found.get(kind)}


def due(now=None):
    """The e-mails due at `now` (naive UTC; default the clock's): a Notice for every active
    user who chose them, whose last one is at least INTERVAL old (or who had none), and for
    whom new unprocessed items arrived since. A user for whom only items that are processed
    already arrived gets a Notice with no counts (`send_due` moves on past them quietly)."""
    now = now or utcnow()
    newest = newest_item_id()
    users = (User.select().where(
        User.notify_incoming == True,  # noqa: E712
        User.is_active == True,  # noqa: E712
        User.incoming_notified_upto < newest,
        User.incoming_notified_at.is_null() | (User.incoming_notified_at <= now - INTERVAL))
        .order_by(User.id))
    return [Notice(user, newest, _counts(user.incoming_notified_upto, newest))
            for user in users]


def claim(notice, now) -> bool:
    """Mark `notice` as sent for its user if nobody did meanwhile (a conditional UPDATE on
    the covered item id): True when this caller is to send it. A notice without counts moves
    the user's mark on without counting as an e-mail."""
    user = notice.user
    changes = {User.incoming_notified_upto: notice.upto}
    if notice.counts:
        changes[User.incoming_notified_at] = now
    return bool(User.update(changes).where(
        User.id == user.id, User.notify_incoming == True,  # noqa: E712
        User.incoming_notified_upto == user.incoming_notified_upto).execute())


def send_due(config=None, now=None) -> int:
    """Queue the e-mails `due` at `now`, each in its recipient's language with a link to the
    queue; returns how many were queued. Each person's claim and e-mail are one transaction:
    an e-mail that cannot be queued (a bad address) leaves the person's mark as it was.
    Needs an application context (the job runs in the app's)."""
    # imported here: the rules above need no Flask
    from flask import current_app  # noqa: PLC0415

    from kontor import emails  # noqa: PLC0415
    from kontor.mail import InvalidAddress  # noqa: PLC0415

    now = now or utcnow()
    notices = due(now)
    if not notices:
        return 0
    sent = 0
    urls = current_app.url_map.bind("localhost")     # no request needed for the paths
    link = emails.link(urls.build("incoming.index"))
    profile_link = emails.link(urls.build("profile.show"))
    for notice in notices:
        try:
            with db.atomic():
                if not claim(notice, now) or not notice.counts:
                    continue
                emails.queue("incoming_arrived", notice.user.email,
                             emails.language_for(notice.user), "incoming_notice",
                             counts=notice.counts, total=sum(notice.counts.values()),
                             link=link, profile_link=profile_link)
                sent += 1
        except InvalidAddress:
            continue
    return sent
