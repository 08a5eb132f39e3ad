"""Story helpers for invitations (tests/test_invitations.py, tests/test_users.py): register an
employee, send an invitation, follow the mailed link, choose a password.
"""
import html
import re
from urllib.parse import urlsplit

from helpers import add_employee, body_of, link_in, text_of

from models import AuditEvent

NEW_PASSWORD = "quiet otter under the bridge"

UNUSABLE = "This link cannot be used"
ASK_ADMIN = "Ask your administrator for a new invitation."
STATE_SENTENCE = {
    "used": "The link was used already. Each link works once.",
    "expired": "The link has expired.",
    "revoked": "The link was replaced by a newer one or withdrawn.",
    "unknown": "The link is not valid. Check that you copied all of it.",
}

def field_error(page, field):
    """The error message shown beside a form field, or None."""
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>',
                      page.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else None

def register(name, email="", **fields):
    """An employee in the register (no account)."""
    return add_employee(name, email=email, **fields)

def invite_choices(client):
    """The employees the invite page offers: {employee id: label}, without the placeholder."""
    page = client.get("/users/invite")
    assert page.status_code == 200, text_of(page)[:500]
    select = re.search(r'<select[^>]*name="employee"[^>]*>(.*?)</select>',
                       page.get_data(as_text=True), re.S)
    if select is None:   # nobody to invite: the page says so instead of an empty list
        assert "Every active employee with an e-mail address already has an account or an " \
            "open invitation." in text_of(page)
        return {}
    options = re.findall(r'<option[^>]*value="(\d+)"[^>]*>([^<]*)</option>', select.group(1))
    return {int(value): html.unescape(label) for value, label in options if value != "0"}

def send_invitation(client, person, language="en", **extra):
    employee_id = person.id if hasattr(person, "id") else person
    return client.form("/users/invite", {"employee": str(employee_id), "language": language,
                                         **extra})

def invitation_link(mailbox, email):
    """Deliver the outbox and return the path of the newest invitation link sent to `email`."""
    mailbox.deliver()
    messages = mailbox.to(email)
    assert messages, f"no mail to {email}"
    return link_in(body_of(messages[-1]))

def open_link(browser, link):
    """Open the mailed link: it answers with a redirect to the token-free page, which we follow."""
    opened = browser.get(link)
    assert opened.status_code == 302, text_of(opened)[:300]
    assert urlsplit(opened.headers["Location"]).path == "/invite"
    return browser.get("/invite")

def choose_password(browser, password=NEW_PASSWORD, confirm=None, **extra):
    return browser.form("/invite", {"password": password,
                                    "confirm": password if confirm is None else confirm,
                                    **extra})

def accept(browser, link, password=NEW_PASSWORD, **extra):
    page = open_link(browser, link)
    assert page.status_code == 200, text_of(page)[:300]
    return choose_password(browser, password, **extra)

def is_signed_in_as(browser, email):
    profile = browser.get("/profile")
    return profile.status_code == 200 and email in profile.get_data(as_text=True)

def audit_events(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))

def assert_link_unusable(page, state):
    assert page.status_code == (404 if state == "unknown" else 410)
    text = text_of(page)
    assert UNUSABLE in text
    assert STATE_SENTENCE[state] in text
    assert ASK_ADMIN in text
