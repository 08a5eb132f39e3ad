"""The e-mail about new website data (issue 15 item 5): staff who chose it on their profile
page get at most one an hour, with the counts of new items per kind and a link to the queue,
in their language, through the outbox and a real SMTP server."""
import json
import re
from datetime import timedelta

from helpers import body_of, make_user, signed_in, text
from test_incoming import item_of, shop  # noqa: F401 (the fixture)

from kontor import incoming_notice, jobs
from models import AuditEvent, IncomingItem, OutboxMessage, User
from models.clock import utcnow


def arrive(website, registrations=0, updates=0, inquiries=0, orders=0):
    """New items in the queue, as the portals store them."""
    for _ in range(registrations):
        item_of(website)
    for _ in range(updates):
        item_of(website, "account_update")
    for number in range(inquiries):
        item_of(website, "activity", subject=f"Question {number}", message="?")
    for number in range(orders):
        item_of(website, "order", order_id=number + 1, number=f"2026-{number + 1:04d}")


def opt_in(app, user):
    """`user` ticks the box on their profile page, as a browser does."""
    browser = signed_in(app, user)
    page = browser.get("/profile")
    assert "E-mail me when new website data arrives" in text(page)
    response = browser.fill("/profile/notice", {"notice-notify_incoming": "y",
                                                "notice-submit": "x"}, page="/profile")
    assert response.status_code == 302
    assert User.get_by_id(user.id).notify_incoming
    return browser


def run_job(app, holder="pc-office"):
    return jobs.run_job("notify_incoming", jobs.notify_incoming, app.config, holder=holder,
                        ttl=timedelta(seconds=1))


def test_the_setting_is_off_by_default_and_saved_on_the_profile_page(app, shop):  # noqa: F811
    piet = make_user("piet@jansen.example")
    assert not piet.notify_incoming
    browser = opt_in(app, piet)
    assert AuditEvent.get(AuditEvent.action == "profile.incoming_notice").detail == "on"
    assert re.search(r'<input[^>]* checked id="notice-notify_incoming"',
                     browser.get("/profile").get_data(as_text=True))
    browser.fill("/profile/notice", {"notice-submit": "x"}, page="/profile")
    assert not User.get_by_id(piet.id).notify_incoming


def test_one_email_with_the_counts_per_kind_and_a_link_only_to_who_chose_it(app, shop,  # noqa: F811
                                                                            mailbox):
    piet = make_user("piet@jansen.example")
    make_user("mila@jansen.example")                 # did not choose it
    arrive(shop, registrations=1)                    # before the opt-in: no news
    IncomingItem.update(status="rejected").execute()
    opt_in(app, piet)
    arrive(shop, registrations=2, updates=1, inquiries=3, orders=1)
    assert run_job(app)
    assert run_job(app, holder="pc-reception") is False     # another process: the lease
    assert incoming_notice.send_due(app.config) == 0         # and no second e-mail anyway
    mailbox.deliver()
    assert [m["To"] for m in mailbox.messages] == ["piet@jansen.example"]
    message = mailbox.messages[0]
    assert message["Subject"] == "New website data in Kontor"
    assert "7 new items arrived" in body_of(message)
    body = body_of(message)
    for line in ("- 2 registrations", "- 1 account update", "- 3 inquiries (activities)",
                 "- 1 order"):
        assert line in body
    assert "http://kontor.test/website-data/" in body
    assert "http://kontor.test/profile" in body


def test_a_second_batch_within_the_hour_waits_until_the_hour_is_over(app, shop, mailbox):  # noqa: F811
    piet = make_user("piet@jansen.example")
    incoming_notice.choose(piet, True)
    start = utcnow()
    arrive(shop, registrations=1)
    assert incoming_notice.send_due(app.config, now=start) == 1
    arrive(shop, orders=2)
    assert incoming_notice.send_due(app.config, now=start + timedelta(minutes=59)) == 0
    mailbox.deliver()
    assert len(mailbox.messages) == 1
    assert incoming_notice.send_due(app.config, now=start + timedelta(minutes=61)) == 1
    mailbox.deliver()
    assert len(mailbox.messages) == 2
    later = body_of(mailbox.messages[1])
    assert "- 2 orders" in later and "registration" not in later
    # nothing new: nothing more
    assert incoming_notice.send_due(app.config, now=start + timedelta(hours=3)) == 0


def test_items_processed_before_the_email_are_no_news(app, shop, mailbox):  # noqa: F811
    piet = make_user("piet@jansen.example")
    incoming_notice.choose(piet, True)
    arrive(shop, registrations=2)
    IncomingItem.update(status="imported").execute()
    assert incoming_notice.send_due(app.config) == 0
    arrive(shop, inquiries=1)
    assert incoming_notice.send_due(app.config) == 1     # the quiet pass set no hour
    mailbox.deliver()
    assert "- 1 inquiry (activity)" in body_of(mailbox.messages[0])


def test_the_email_speaks_the_recipients_language(app, shop, mailbox):  # noqa: F811
    klaus = make_user("klaus@jansen.example", language="de")
    incoming_notice.choose(klaus, True)
    arrive(shop, registrations=1, orders=1)
    assert incoming_notice.send_due(app.config) == 1
    mailbox.deliver()
    message = mailbox.messages[0]
    assert message["Subject"] == "Neue Website-Daten in Kontor"
    assert "2 neue Einträge" in body_of(message)
    assert "- 1 Registrierung" in body_of(message)
    assert "- 1 Bestellung" in body_of(message)


def test_deactivated_users_get_none(app, shop, mailbox):  # noqa: F811
    piet = make_user("piet@jansen.example")
    incoming_notice.choose(piet, True)
    User.update(is_active=False).where(User.id == piet.id).execute()
    arrive(shop, registrations=1)
    assert incoming_notice.send_due(app.config) == 0
    assert OutboxMessage.select().count() == 0


def test_values_of_the_items_are_not_in_the_email(app, shop, mailbox):  # noqa: F811
    piet = make_user("piet@jansen.example")
    incoming_notice.choose(piet, True)
    item_of(shop, company_name="Geheim AS")
    incoming_notice.send_due(app.config)
    mailbox.deliver()
    assert "Geheim" not in body_of(mailbox.messages[0])
    assert json.loads(IncomingItem.get().values)["company_name"] == "Geheim AS"
