"""Signing in, lockout, rate limits, "Forgot password" and reset links (SECURITY.md 5-12).

Mail goes through the real outbox to a real SMTP server on loopback (the `mailbox` fixture);
the clock is frozen with time-machine where time matters.
"""
import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import time_machine
from argon2 import PasswordHasher
from helpers import (
    PASSWORD,
    KontorClient,
    body_of,
    database_text,
    link_in,
    make_company,
    make_user,
    sign_in,
)

from app import create_app
from kontor import migrate
from models import OutboxMessage, Token, User, UserSession, db

NEW_PASSWORD = "grey pelican harbour lamp"
WRONG = "Wrong e-mail or password."


def without_csrf(page):
    """The page with its CSRF tokens blanked (they are per session and carry a timestamp)."""
    return re.sub(r'(<input[^>]*name="csrf_token"[^>]*value=")[^"]*"', r'\1"', page)


def is_signed_in(client):
    return client.get("/profile").status_code == 200



def ask_for_reset(client, email, **kwargs):
    return client.form("/forgot", {"email": email}, **kwargs)


def reset_link(mailbox, email):
    """Deliver the outbox and return the path of the newest reset link mailed to `email`."""
    mailbox.deliver()
    messages = mailbox.to(email)
    assert messages, f"no mail to {email}"
    return link_in(body_of(messages[-1]))


def set_new_password(client, link, password=NEW_PASSWORD):
    """Open the reset link and set `password`; returns the response to the form."""
    opened = client.get(link)
    assert opened.status_code == 302
    return client.form(opened.headers["Location"], {"password": password, "confirm": password})


# --- SECURITY 5: one answer for every failed sign-in --------------------------------------

def test_every_failed_sign_in_looks_the_same_and_costs_one_hash(client, app, monkeypatch):
    """Unknown, wrong password, locked and deactivated: same page, same status, one hash each."""
    argon2_runs = []
    real_verify, real_hash = PasswordHasher.verify, PasswordHasher.hash

    def counting_verify(self, *args, **kwargs):
        argon2_runs.append("verify")
        return real_verify(self, *args, **kwargs)

    def counting_hash(self, *args, **kwargs):
        argon2_runs.append("hash")
        return real_hash(self, *args, **kwargs)

    # pass-through spies on kontor.passwords.hasher (argon2's PasswordHasher has __slots__,
    # so the methods are wrapped on its class)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)

    email = "anna@jansen.example"
    answers = {}

    def attempt(case, password):
        client.csrf_token()          # fetch the form first, like a browser, outside the count
        argon2_runs.clear()
        response = sign_in(client, email, password)
        answers[case] = (response.status_code, without_csrf(response.get_data(as_text=True)))
        assert argon2_runs == ["verify"], (case, argon2_runs)

    make_company()
    attempt("unknown user", PASSWORD)

    user = make_user(email, superuser=True, name="Anna Jansen")
    attempt("wrong password", "not the password at all")
    for _ in range(4):
        sign_in(client, email, "not the password at all")
    assert User.get_by_id(user.id).is_locked
    attempt("locked account, right password", PASSWORD)

    User.update(locked_at=None, failed_logins=0, is_active=False).where(
        User.id == user.id).execute()
    attempt("deactivated account, right password", PASSWORD)

    statuses = {case: status for case, (status, _) in answers.items()}
    assert set(statuses.values()) == {200}, statuses
    bodies = {body for _, body in answers.values()}
    assert len(bodies) == 1, "the failed sign-ins do not all look the same"
    assert WRONG in bodies.pop()
    assert not is_signed_in(client)


def test_login_page_always_offers_forgot_password(client, app):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot"' in page
    failed = sign_in(client, "nobody@jansen.example", "whatever it may be").get_data(as_text=True)
    assert 'href="/forgot"' in failed


# --- SECURITY 6: lockout and rate limits ---------------------------------------------------

def test_five_wrong_passwords_lock_the_account(client, other_client, staff):
    for attempt in range(5):
        response = sign_in(client, staff.email, f"wrong password number {attempt}")
        assert response.status_code == 200 and WRONG in response.get_data(as_text=True)
    assert User.get_by_id(staff.id).is_locked

    # now even the right password gets the same generic answer, in any browser
    right = sign_in(other_client, staff.email, PASSWORD)
    assert right.status_code == 200
    assert WRONG in right.get_data(as_text=True)
    assert not is_signed_in(other_client)


def test_four_wrong_passwords_do_not_lock_and_a_success_starts_the_count_again(
        client, other_client, staff):
    for attempt in range(4):
        sign_in(client, staff.email, f"wrong password number {attempt}")
    assert not User.get_by_id(staff.id).is_locked
    assert sign_in(other_client, staff.email).status_code == 302
    for attempt in range(4):
        sign_in(client, staff.email, f"another wrong password {attempt}")
    assert not User.get_by_id(staff.id).is_locked
    assert User.get_by_id(staff.id).failed_logins == 4


def test_lockout_counts_the_e_mail_whatever_its_letter_case(client, other_client, staff):
    # staff is piet@jansen.example
    for spelling in ("Piet@Jansen.example", "PIET@JANSEN.EXAMPLE", "piet@jansen.example",
                     "Piet@jansen.EXAMPLE", "piet@JANSEN.example"):
        assert sign_in(client, spelling, "not the password at all").status_code == 200
    assert User.get_by_id(staff.id).is_locked
    assert sign_in(other_client, "piet@jansen.example").status_code == 200
    assert not is_signed_in(other_client)


def test_too_many_sign_ins_from_one_address_get_429(app, client, staff):
    app.config.update(LOGIN_LIMIT_PER_IP="3 per minute", LOGIN_LIMIT_PER_EMAIL="100 per minute")
    for n in range(3):
        assert sign_in(client, f"someone{n}@jansen.example", "a wrong password").status_code == 200
    refused = sign_in(client, "someone-else@jansen.example", "a wrong password")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    # even the right password waits: the limit is checked before the password
    assert sign_in(client, staff.email).status_code == 429
    # other addresses (another office PC) are not affected
    assert client.form("/login", {"email": staff.email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 302


def test_too_many_sign_ins_for_one_e_mail_get_429_whatever_the_letter_case(
        app, client, staff, superuser):
    app.config.update(LOGIN_LIMIT_PER_IP="100 per minute", LOGIN_LIMIT_PER_EMAIL="3 per minute")
    # one guesser spreading over several addresses, varying the letter case
    for spelling, address in (("Piet@Jansen.example", "10.0.0.1"),
                              ("piet@jansen.example", "10.0.0.2"),
                              ("PIET@JANSEN.EXAMPLE", "10.0.0.3")):
        response = client.form("/login", {"email": spelling, "password": "a wrong password"},
                               environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200
    refused = client.form("/login", {"email": "pIeT@jansen.example", "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.4"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    # someone else's e-mail from the same address still gets through
    assert client.form("/login", {"email": superuser.email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.0.0.4"}).status_code == 302


def test_too_many_reset_requests_for_one_e_mail_get_429(app, client, staff, mailbox):
    app.config.update(RESET_LIMIT_PER_IP="100 per hour", RESET_LIMIT_PER_EMAIL="2 per hour")
    assert ask_for_reset(client, "Piet@Jansen.example").status_code == 200
    assert ask_for_reset(client, "piet@jansen.example").status_code == 200
    assert ask_for_reset(client, "PIET@jansen.example").status_code == 429
    mailbox.deliver()
    assert len(mailbox.to(staff.email)) == 2


def test_rate_limits_start_fresh_for_each_app(app_config):
    """The limiter is one object shared by every app built in this process; each app must
    still count on its own, or one test's requests would throttle another's."""

    counts = []
    for _ in range(2):
        application = create_app({**app_config, "LOGIN_LIMIT_PER_EMAIL": "2 per hour"})
        application.test_client_class = KontorClient
        migrate.upgrade(db.obj)
        browser = application.test_client()
        with application.app_context():
            counts.append([browser.form("/login", {"email": "x@jansen.example",
                                                   "password": "a wrong password"}).status_code
                           for _ in range(3)])
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()
    assert counts == [[200, 200, 429], [200, 200, 429]]


# --- SECURITY 7: forgot password answers the same way ------------------------------------

def test_forgot_password_answers_the_same_for_known_and_unknown_e_mail(client, staff, mailbox):
    known = ask_for_reset(client, staff.email)
    unknown = ask_for_reset(client, "nobody@jansen.example")
    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known.get_data(as_text=True)) \
        == without_csrf(unknown.get_data(as_text=True))
    assert "Check your e-mail" in known.get_data(as_text=True)

    assert OutboxMessage.select().where(OutboxMessage.to_addr == staff.email).count() == 1
    assert not OutboxMessage.select().where(
        OutboxMessage.to_addr == "nobody@jansen.example").exists()
    mailbox.deliver()
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["To"] == staff.email


def test_deactivated_account_gets_no_reset_mail_but_the_same_answer(client, staff, mailbox):
    User.update(is_active=False).where(User.id == staff.id).execute()
    response = ask_for_reset(client, staff.email)
    assert response.status_code == 200 and "Check your e-mail" in response.get_data(as_text=True)
    mailbox.deliver()
    assert mailbox.messages == []


# --- SECURITY 8: tokens --------------------------------------------------------------------

def test_reset_token_is_random_and_only_its_sha256_is_stored(client, staff, mailbox):

    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    raw = link.rsplit("/", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", raw), raw          # token_urlsafe(32)

    token = Token.get(Token.purpose == "reset", Token.user == staff.id)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in database_text()

    # opening the link keeps the token for the form, still not in the database
    client.get(link)
    assert raw not in database_text()
    assert set_new_password(client, link).status_code == 302
    assert raw not in database_text()


def test_reset_link_works_only_once(client, other_client, staff, mailbox):
    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    assert set_new_password(client, link).status_code == 302

    again = other_client.get(link)
    page = other_client.get(again.headers["Location"])
    assert page.status_code == 410
    assert "The link was used already" in page.get_data(as_text=True)
    # and the password from the first use stands
    assert sign_in(other_client, staff.email, NEW_PASSWORD).status_code == 302


def test_reset_link_expires_after_30_minutes(client, staff, mailbox):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as clock:
        ask_for_reset(client, staff.email)
        link = reset_link(mailbox, staff.email)
        clock.shift(timedelta(minutes=31))
        opened = client.get(link)
        page = client.get(opened.headers["Location"])
        assert page.status_code == 410
        text = page.get_data(as_text=True)
        assert "This link cannot be used" in text and "The link has expired." in text
        assert 'href="/forgot"' in text            # a way forward: ask for a new link
        # the form cannot be sent either
        sent = client.form("/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert sent.status_code != 302
    assert sign_in(client, staff.email, NEW_PASSWORD).status_code == 200
    assert sign_in(client, staff.email, PASSWORD).status_code == 302


def test_reset_link_still_works_after_29_minutes(client, staff, mailbox):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as clock:
        ask_for_reset(client, staff.email)
        link = reset_link(mailbox, staff.email)
        clock.shift(timedelta(minutes=29))
        assert set_new_password(client, link).status_code == 302
        assert sign_in(client, staff.email, NEW_PASSWORD).status_code == 302


def test_a_newer_reset_link_voids_the_older_one(client, staff, mailbox):
    ask_for_reset(client, staff.email)
    older = reset_link(mailbox, staff.email)
    ask_for_reset(client, staff.email)
    newer = reset_link(mailbox, staff.email)
    assert older != newer

    opened = client.get(older)
    page = client.get(opened.headers["Location"])
    assert page.status_code == 410
    assert "replaced by a newer one" in page.get_data(as_text=True)

    assert set_new_password(client, newer).status_code == 302


def test_a_password_change_voids_an_open_reset_link(client, other_client, staff, mailbox):
    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    sign_in(other_client, staff.email)
    changed = other_client.form("/profile/password", {
        "pw-current": PASSWORD, "pw-password": NEW_PASSWORD, "pw-confirm": NEW_PASSWORD})
    assert changed.status_code == 302

    opened = client.get(link)
    assert client.get(opened.headers["Location"]).status_code == 410


def test_made_up_reset_link_is_refused_clearly(client, app):
    opened = client.get("/reset/" + "A" * 43)
    page = client.get(opened.headers["Location"])
    assert page.status_code == 404
    assert "The link is not valid" in page.get_data(as_text=True)


# --- SECURITY 9: links come from the configured base URL -----------------------------------

def test_host_header_does_not_change_the_link_in_the_reset_mail(client, staff, mailbox):
    evil = {"Host": "evil.example"}
    form = client.get("/forgot", headers=evil).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/forgot", data={"email": staff.email, "csrf_token": token},
                           headers=evil)
    assert response.status_code == 200 and "Check your e-mail" in response.get_data(as_text=True)

    mailbox.deliver()
    [message] = mailbox.to(staff.email)
    text = body_of(message)
    assert "evil.example" not in message.as_string()
    links = re.findall(r"https?://\S+", text)
    assert links and all(link.startswith("http://kontor.test/reset/") for link in links)


# --- SECURITY 10: the token leaves the URL at once, and never reaches the logs ------------

def test_opening_the_reset_link_moves_to_a_token_free_address(client, staff, mailbox):
    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    raw = link.rsplit("/", 1)[1]

    opened = client.get(link)
    assert opened.status_code == 302
    target = opened.headers["Location"]
    assert raw not in target and urlsplit(target).path == "/reset" and not urlsplit(target).query
    page = client.get(target)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert raw not in text
    assert staff.email in text                         # "For the account piet@…"
    assert 'name="password"' in text


def test_reset_token_never_appears_in_the_logs(client, staff, mailbox, caplog):
    caplog.set_level(logging.DEBUG, logger="kontor")
    caplog.set_level(logging.DEBUG, logger="app")
    # everything else at the level `python app.py` logs at (INFO); peewee's DEBUG log of
    # every SQL statement would show the queued e-mail, link included, and is never on
    caplog.set_level(logging.INFO)
    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    raw = link.rsplit("/", 1)[1]
    set_new_password(client, link)
    client.get(link)                                   # a second, refused use
    client.get("/reset")
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    assert any("password.reset" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert raw not in record.getMessage(), record.name
    assert raw not in caplog.text


# --- SECURITY 11: after a reset ------------------------------------------------------------

def test_reset_sends_a_notice_without_the_password(client, staff, mailbox):
    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    assert set_new_password(client, link).status_code == 302

    mailbox.deliver()
    notice = mailbox.to(staff.email)[-1]
    assert notice is not mailbox.to(staff.email)[0]
    assert "password was changed" in notice["Subject"].lower()
    whole = notice.as_string()
    assert NEW_PASSWORD not in whole and PASSWORD not in whole
    assert "Forgot password" in body_of(notice)


def test_reset_signs_out_every_session_and_does_not_sign_in(client, other_client, app, staff,
                                                            mailbox):
    third = app.test_client()
    assert sign_in(other_client, staff.email).status_code == 302
    assert sign_in(third, staff.email).status_code == 302

    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    done = set_new_password(client, link)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "Your password is set. Sign in with your new password." in \
        client.get("/login").get_data(as_text=True)

    # no automatic sign-in in the browser that reset ...
    assert not is_signed_in(client)
    # ... and both other browsers are signed out on their next request
    for browser in (other_client, third):
        response = browser.get("/profile")
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
        assert "Your password was reset, so this session was ended." in \
            browser.get(response.headers["Location"]).get_data(as_text=True)
    assert UserSession.signed_in().where(UserSession.user == staff.id).count() == 0


def test_locked_account_opens_after_password_reset(client, other_client, staff, mailbox):
    for attempt in range(5):
        sign_in(client, staff.email, f"wrong password number {attempt}")
    assert User.get_by_id(staff.id).is_locked
    assert sign_in(client, staff.email).status_code == 200

    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    assert set_new_password(client, link).status_code == 302

    user = User.get_by_id(staff.id)
    assert not user.is_locked and user.failed_logins == 0
    assert sign_in(other_client, staff.email, PASSWORD).status_code == 200     # old one: no
    assert sign_in(other_client, staff.email, NEW_PASSWORD).status_code == 302
    assert is_signed_in(other_client)


def test_reset_form_refuses_a_bad_password_and_keeps_the_link_usable(client, staff, mailbox):
    ask_for_reset(client, staff.email)
    link = reset_link(mailbox, staff.email)
    opened = client.get(link)
    refused = client.form(opened.headers["Location"],
                          {"password": "too short", "confirm": "too short"})
    assert refused.status_code == 400
    assert "Use at least 12 characters." in refused.get_data(as_text=True)
    done = client.form("/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert sign_in(client, staff.email, NEW_PASSWORD).status_code == 302


# --- SECURITY 12: nobody sees another person's password -----------------------------------

def test_no_page_shows_anyone_a_password_its_hash_or_a_reset_link(app, admin_client, staff_client,
                                                                   staff, superuser, mailbox):
    # Piet asks for a reset link; it sits in the outbox, then is sent
    staff_client.form("/forgot", {"email": staff.email})
    queued = OutboxMessage.get(OutboxMessage.kind == "reset").body
    raw = re.search(r"/reset/(\S+)", queued).group(1)
    secrets = [PASSWORD, raw] + [u.password_hash for u in User.select()]
    pages = sorted(rule.rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static")
    assert "/admin/outbox" in pages and "/admin/sessions" in pages and "/profile" in pages

    for moment in ("queued", "sent"):
        for browser in (admin_client, staff_client):
            for path in pages:
                text = browser.get(path).get_data(as_text=True)
                assert "$argon2" not in text, path
                for secret in secrets:
                    assert secret not in text, (moment, path)
        mailbox.deliver()
    assert len(mailbox.to(staff.email)) == 1
