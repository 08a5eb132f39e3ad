"""The durable outbox (SPEC section 5, SECURITY.md item 33): mail goes to a real SMTP server on
loopback, survives the server being down, is sent exactly once, lands in `.eml` files when no
server is configured, and cannot grow extra headers."""
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import time_machine
from helpers import body_of, free_port, make_company

from kontor import mail
from models import AuditEvent, OutboxMessage, db

T0 = datetime(2026, 5, 4, 8, 0, 0, tzinfo=UTC)


def naive(moment):
    return moment.replace(tzinfo=None)


def server_down(app):
    """Point Kontor at a port where no mail server listens."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())


def server_up(app, mailbox):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port)


def deliver(app):
    return mail.deliver_due(app.config)


# --- delivery ------------------------------------------------------------------------------

def test_a_reset_mail_arrives_at_the_mail_server(app, client, staff, mailbox):
    client.form("/forgot", {"email": staff.email})
    assert mailbox.messages == []   # queued, not sent from the request
    assert mailbox.deliver() == (1, 0, 0)
    message, = mailbox.messages
    assert message["To"] == "piet@jansen.example"
    assert message["Subject"] == "Set a new password for Kontor"
    assert message["From"] == "kontor@kontor.test"
    assert "http://kontor.test/reset/" in body_of(message)
    assert mailbox.envelopes[0].rcpt_tos == ["piet@jansen.example"]
    row = OutboxMessage.get()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.sent_at is not None


def test_with_the_mail_server_down_the_message_waits_and_is_sent_once_later(app, client, staff,
                                                                            mailbox):
    server_down(app)
    with time_machine.travel(T0, tick=False) as clock:
        client.form("/forgot", {"email": staff.email})
        assert deliver(app) == (0, 1, 0)
        row = OutboxMessage.get()
        assert row.status == "queued"
        assert row.attempts == 1
        assert "Connection" in row.last_error or "refused" in row.last_error.lower()
        assert row.next_attempt_at > naive(T0)

        assert deliver(app) == (0, 0, 0)   # not due yet: no new attempt
        assert OutboxMessage.get().attempts == 1

        server_up(app, mailbox)
        clock.shift(timedelta(minutes=1))
        assert deliver(app) == (1, 0, 0)
        assert deliver(app) == (0, 0, 0)
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["To"] == staff.email
    row = OutboxMessage.get()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")


def test_retries_back_off_and_give_up_with_the_error_kept(app, mailbox):
    server_down(app)
    make_company()
    waits = []
    with time_machine.travel(T0, tick=False) as clock:
        mail.enqueue("piet@jansen.example", "Hello", "Body")
        for attempt in range(1, mail.MAX_ATTEMPTS + 1):
            assert OutboxMessage.get().status == "queued"
            deliver(app)
            row = OutboxMessage.get()
            assert row.attempts == attempt
            now = naive(datetime.now(UTC))
            waits.append(row.next_attempt_at - now)
            deliver(app)                                  # not due yet: nothing happens
            assert OutboxMessage.get().attempts == attempt
            clock.move_to(row.next_attempt_at.replace(tzinfo=UTC))
    row = OutboxMessage.get()
    assert row.status == "failed"
    assert row.attempts == mail.MAX_ATTEMPTS
    assert "Error" in row.last_error
    assert waits[0] == mail.BACKOFF_BASE
    assert waits == sorted(waits)                     # it waits longer each time...
    assert max(waits) == mail.BACKOFF_MAX             # ...up to a limit
    assert mailbox.messages == []


def test_while_the_server_is_down_one_failure_does_not_hammer_it_for_every_message(app,
                                                                                 mailbox):
    server_down(app)
    for n in range(3):
        mail.enqueue(f"person{n}@jansen.example", f"Message {n}", "Body")
    deliver(app)
    assert [m.attempts for m in OutboxMessage.select().order_by(OutboxMessage.id)] == [1, 0, 0]
    server_up(app, mailbox)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        assert deliver(app) == (3, 0, 0)
        assert deliver(app) == (0, 0, 0)
    assert sorted(m["Subject"] for m in mailbox.messages) == ["Message 0", "Message 1",
                                                              "Message 2"]


def test_two_processes_delivering_at_once_send_each_message_once(app, mailbox):
    for n in range(12):
        mail.enqueue(f"person{n}@jansen.example", f"Message {n}", "Body")
    results = []

    def worker():
        with db.connection_context():
            results.append(mail.deliver_due(dict(app.config)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(sent for sent, _, _ in results) == 12
    assert len(mailbox.messages) == 12
    assert len({m["To"] for m in mailbox.messages}) == 12


def test_a_message_left_half_sent_by_a_crashed_process_is_sent_after_a_while(app, mailbox):
    row = mail.enqueue("piet@jansen.example", "Hello", "Body")
    with time_machine.travel(T0, tick=False) as clock:
        OutboxMessage.update(created_at=naive(T0), next_attempt_at=naive(T0)).execute()
        assert mail._claim(row.id)        # a process took it, then died before sending
        assert deliver(app) == (0, 0, 0)  # another process leaves it alone for now
        clock.shift(mail.STALE_CLAIM + timedelta(seconds=1))
        assert deliver(app) == (1, 0, 0)
        assert deliver(app) == (0, 0, 0)
    assert len(mailbox.messages) == 1


# --- no mail server configured --------------------------------------------------------------

def test_without_a_mail_server_messages_become_eml_files_in_the_data_folder(app, client, staff):
    assert not app.config["SMTP_HOST"]
    client.form("/forgot", {"email": staff.email})
    assert deliver(app) == (1, 0, 0)
    files = sorted((Path(app.config["DATA_DIR"]) / "mail").glob("*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == staff.email
    assert message["Subject"] == "Set a new password for Kontor"
    assert "http://kontor.test/reset/" in body_of(message)
    assert OutboxMessage.get().status == "written"
    assert deliver(app) == (0, 0, 0)
    assert len(list((Path(app.config["DATA_DIR"]) / "mail").glob("*.eml"))) == 1


# --- header injection -----------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "piet@jansen.example\r\nBcc: evil@evil.example",
    "piet@jansen.example\nBcc: evil@evil.example",
    "Piet <piet@jansen.example>",
    "not an address",
    "",
])
def test_only_plain_valid_addresses_are_queued(app, address):
    with pytest.raises(mail.InvalidAddress):
        mail.enqueue(address, "Hello", "Body")
    assert OutboxMessage.select().count() == 0


def test_a_line_break_in_the_subject_adds_no_header(app, mailbox):
    mail.enqueue("piet@jansen.example", "x\r\nBcc: y@evil.example", "Body")
    assert mailbox.deliver() == (1, 0, 0)
    message, = mailbox.messages
    assert message["Bcc"] is None
    assert message["Subject"] == "x Bcc: y@evil.example"
    assert mailbox.envelopes[0].rcpt_tos == ["piet@jansen.example"]
    raw = mailbox.envelopes[0].content.decode()
    assert "\nBcc:" not in raw


def test_a_company_name_with_a_line_break_stays_in_the_body(app, client, staff, mailbox):
    make_company(name="Jansen\r\nBcc: y@evil.example")
    client.form("/forgot", {"email": staff.email})
    mailbox.deliver()
    message, = mailbox.messages
    assert message["Bcc"] is None
    assert mailbox.envelopes[0].rcpt_tos == [staff.email]


# --- the Outbox page ------------------------------------------------------------------------

def fail_for_good(app, to_addr="lost@jansen.example"):
    """Queue a message and let every attempt fail until Kontor gives up on it."""
    server_down(app)
    row = mail.enqueue(to_addr, "Lost message", "Body")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        while OutboxMessage.get_by_id(row.id).status != "failed":
            mail.deliver_due(app.config)
            clock.shift(mail.BACKOFF_MAX + timedelta(seconds=1))
    return OutboxMessage.get_by_id(row.id)


def test_the_outbox_page_lists_sent_queued_and_failed_mail_with_the_error(app, admin_client,
                                                                         mailbox):
    failed = fail_for_good(app)
    server_up(app, mailbox)
    mail.enqueue("sent@jansen.example", "Delivered message", "Body")
    mailbox.deliver()
    mail.enqueue("waiting@jansen.example", "Waiting message", "Body")
    page = admin_client.get("/admin/outbox").get_data(as_text=True)
    for text in ("Delivered message", "Waiting message", "Lost message",
                 "sent@jansen.example", "waiting@jansen.example", "lost@jansen.example",
                 "Queued: 1. Failed: 1.", "Try again"):
        assert text in page, text
    assert failed.last_error.split(":")[0] in page
    failed_tab = admin_client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "Lost message" in failed_tab and "Delivered message" not in failed_tab
    sent_tab = admin_client.get("/admin/outbox?status=sent").get_data(as_text=True)
    assert "Delivered message" in sent_tab and "Lost message" not in sent_tab
    queued_tab = admin_client.get("/admin/outbox?status=queued").get_data(as_text=True)
    assert "Waiting message" in queued_tab and "Lost message" not in queued_tab


def test_try_again_queues_a_failed_message_and_it_is_delivered(app, admin_client, superuser,
                                                             mailbox):
    failed = fail_for_good(app)
    response = admin_client.form(f"/admin/outbox/{failed.id}/retry")
    assert response.status_code == 302
    assert "The message is queued again." in admin_client.get(
        response.headers["Location"]).get_data(as_text=True)
    row = OutboxMessage.get_by_id(failed.id)
    assert (row.status, row.attempts) == ("queued", 0)
    assert AuditEvent.get(AuditEvent.action == "mail.retry").user_id == superuser.id
    server_up(app, mailbox)
    assert mailbox.deliver() == (1, 0, 0)
    assert [m["To"] for m in mailbox.messages] == ["lost@jansen.example"]


def test_try_again_on_a_message_that_was_sent_changes_nothing(app, admin_client, mailbox):
    row = mail.enqueue("sent@jansen.example", "Delivered", "Body")
    mailbox.deliver()
    admin_client.form(f"/admin/outbox/{row.id}/retry")
    mailbox.deliver()
    assert len(mailbox.messages) == 1
    assert OutboxMessage.get_by_id(row.id).status == "sent"


def test_try_again_on_an_unknown_message_is_404(app, admin_client):
    assert admin_client.form("/admin/outbox/424242/retry").status_code == 404


def test_staff_users_cannot_see_or_touch_the_outbox(app, staff_client):
    failed = fail_for_good(app)
    assert staff_client.get("/admin/outbox").status_code == 403
    assert staff_client.form(f"/admin/outbox/{failed.id}/retry").status_code == 403
    assert OutboxMessage.get_by_id(failed.id).status == "failed"


def test_the_outbox_page_says_where_mail_goes(app, admin_client, mailbox):
    app.config["SMTP_HOST"] = ""
    assert ".eml files" in admin_client.get("/admin/outbox").get_data(as_text=True)
    server_up(app, mailbox)
    assert "configured mail server" in admin_client.get("/admin/outbox").get_data(as_text=True)
