"""A website's e-mails to its customers as a real client reads them (issue 13, "Tests"): what
a real SMTP server on loopback received, parsed with `email.parser`: From the website's
sender, a blind copy delivered to the copy address (and named in no header), the customer's
language, links on the website's public address whatever the request's Host header, and no
password anywhere. Staff e-mails keep Kontor's own sender and get no copy."""
from email.utils import parseaddr

from helpers import body_of
from portal_helpers import (
    CUSTOMER_PASSWORD,
    PUBLIC,
    confirm_from_mail,
    make_account,
    open_website,
    portal_form,
    register,
)

from models import WebAccount


def everything_of(message):
    """Every header and the body of a parsed message, as one text."""
    return "\n".join(f"{name}: {value}" for name, value in message.items()) \
        + "\n" + body_of(message)


def test_registration_mails_arrive_from_the_website_with_a_copy_to_the_office(
        app, client, staff, mailbox):
    open_website(approval="automatic")
    register(client)
    confirm_from_mail(client)   # from the outbox: once sent, its copy loses the link
    mailbox.deliver()
    confirmation, received, approved = mailbox.messages
    for message in (confirmation, received, approved):
        assert parseaddr(message["From"]) == ("Jansen Webshop", "shop@jansen.example")
        assert message["To"] == "maria@example.com"
        assert message["Bcc"] is None and "office@" not in everything_of(message)
        assert CUSTOMER_PASSWORD not in everything_of(message)
    assert f"{PUBLIC}/confirm/" in body_of(confirmation)
    assert f"{PUBLIC}/login" in body_of(approved)
    envelopes = mailbox.envelopes
    assert envelopes[0].rcpt_tos == ["maria@example.com"]   # a link: for the customer only
    assert envelopes[1].rcpt_tos == ["maria@example.com", "office@jansen.example"]
    assert envelopes[2].rcpt_tos == ["maria@example.com", "office@jansen.example"]
    assert received["Subject"] == "We have received your registration at Shop"


def test_the_mails_are_in_the_language_the_customer_registered_in(app, client, mailbox):
    open_website(approval="automatic")
    register(client, headers={"Accept-Language": "nb"})
    assert WebAccount.get().language == "nb"
    confirm_from_mail(client)
    mailbox.deliver()
    subjects = [message["Subject"] for message in mailbox.messages]
    assert subjects[1:] == ["Vi har mottatt registreringen din på Shop",
                            "Brukerkontoen din på Shop er klar"]


def test_the_websites_own_text_is_used(app, client, admin_client, mailbox):
    site = open_website()
    page = admin_client.get(f"/admin/websites/{site.id}/texts/password_reset/en")
    assert page.status_code == 200
    admin_client.fill(f"/admin/websites/{site.id}/texts/password_reset/en", {
        "subject": "Reset for {website_name}", "body": "Hi {customer_name}: {reset_url}"})
    make_account(site)
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"})
    mailbox.deliver()
    message, = mailbox.messages
    assert message["Subject"] == "Reset for Shop"
    assert body_of(message).startswith(f"Hi Maria Jensen: {PUBLIC}/reset/")
    assert mailbox.envelopes[0].rcpt_tos == ["maria@example.com"]


def test_a_forged_host_header_changes_nothing_in_the_links(app, client, mailbox):
    site = open_website()
    make_account(site)
    portal_form(client, "/w/shop/forgot", {"email": "maria@example.com"},
                headers={"Host": "evil.example"})
    mailbox.deliver()
    message, = mailbox.messages
    assert "evil.example" not in everything_of(message)
    assert f"{PUBLIC}/reset/" in body_of(message)


def test_a_website_without_a_sender_mails_from_kontor(app, client, mailbox):
    open_website(sender_email="", sender_name="", copy_email="")
    register(client)
    mailbox.deliver()
    message, = mailbox.messages
    assert message["From"] == "kontor@kontor.test"


def test_staff_mails_keep_kontors_sender_and_no_copy(app, client, staff, mailbox):
    open_website()
    client.form("/forgot", {"email": staff.email})
    mailbox.deliver()
    message, = mailbox.messages
    assert message["From"] == "kontor@kontor.test"
    assert mailbox.envelopes[0].rcpt_tos == ["piet@jansen.example"]


def test_a_sender_name_with_a_line_break_adds_no_header(app, client, mailbox):
    open_website(sender_name="Jansen\r\nBcc: spy@evil.example")
    register(client)
    mailbox.deliver()
    message, = mailbox.messages
    assert "spy@evil.example" not in mailbox.envelopes[0].rcpt_tos
    assert message["Bcc"] is None
