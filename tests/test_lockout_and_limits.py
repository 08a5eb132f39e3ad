"""Lockout, its notice and the rate limits around passwords (issue 10, items 13 and 21).

A locked account still gets the one generic answer, but its owner is mailed how to open it;
right passwords do not count toward the per-account limit; "Change password" counts wrong
current passwords like sign-in does (limits, audit, lockout); "Forgot password" does the same
work for unknown and known addresses; no response tells how many attempts were made.
"""

import pytest
from helpers import PASSWORD, body_of, link_in, make_user, sign_in, text_of

from kontor import config
from models import AuditEvent, OutboxMessage, Token, User, UserSession, db

WRONG = "Wrong e-mail or password."
NEW_PASSWORD = "grey pelican harbour lamp"
LOCKED_SUBJECT = "Your Kontor account is locked"


def wrong_sign_ins(client, email, count):
    for attempt in range(count):
        response = sign_in(client, email, f"wrong password number {attempt}")
        assert response.status_code == 200 and WRONG in response.get_data(as_text=True)


def change(client, current, new=NEW_PASSWORD, **kwargs):
    return client.form("/profile/password", {"pw-current": current, "pw-password": new,
                                             "pw-confirm": new}, **kwargs)


def audit(action, user):
    return AuditEvent.select().where(AuditEvent.action == action,
                                     AuditEvent.user == user.id).count()


def lock_notices(mailbox, user):
    mailbox.deliver()
    return [m for m in mailbox.to(user.email) if m["Subject"] == LOCKED_SUBJECT]


# --- item 13: a locked account's owner is told ---------------------------------------------

def test_locking_at_sign_in_mails_the_owner_how_to_open_the_account(client, staff, mailbox):
    wrong_sign_ins(client, staff.email, config.LOCK_AFTER_FAILURES)
    assert User.get_by_id(staff.id).is_locked
    # the person at the form learns nothing new: the same generic answer
    right = sign_in(client, staff.email)
    assert right.status_code == 200 and WRONG in right.get_data(as_text=True)

    [notice] = lock_notices(mailbox, staff)
    text = body_of(notice)
    assert f"After {config.LOCK_AFTER_FAILURES} wrong passwords in a row" in text
    assert '"Forgot password"' in text
    assert "http://kontor.test/forgot" in text
    # trying the locked account again sends no second notice
    wrong_sign_ins(client, staff.email, 2)
    assert len(lock_notices(mailbox, staff)) == 1


def test_the_lock_notice_is_in_the_owners_language(client, app, mailbox):
    user = make_user("kees@jansen.example", name="Kees Bakker", language="nl")
    wrong_sign_ins(client, user.email, config.LOCK_AFTER_FAILURES)
    mailbox.deliver()
    [notice] = mailbox.to(user.email)
    assert notice["Subject"] == "Uw Kontor-account is geblokkeerd"
    assert "Wachtwoord vergeten" in body_of(notice)


@pytest.mark.parametrize("lang, words", [
    ("en", 'After 5 wrong passwords in a row the account is locked; "Forgot password" opens it'),
    ("nl", "Na 5 verkeerde wachtwoorden op rij wordt het account geblokkeerd"),
    ("nb", "Etter 5 feil passord på rad blir kontoen låst"),
    ("de", "Nach 5 falschen Passwörtern in Folge wird das Konto gesperrt")])
def test_the_login_page_says_that_failures_lock_and_forgot_password_opens(client, app, lang,
                                                                          words):
    page = client.get("/login", headers={"Accept-Language": lang})
    assert words in text_of(page)


def test_right_passwords_do_not_count_toward_the_per_account_limit(app, client, staff, mailbox):
    app.config.update(LOGIN_LIMIT_PER_EMAIL="3 per 15 minutes")
    wrong_sign_ins(client, staff.email, 2)
    for _ in range(4):
        assert sign_in(client, staff.email).status_code == 302
        client.form("/logout")
    # and after a reset, the next right sign-in is not refused
    client.form("/forgot", {"email": staff.email})
    mailbox.deliver()
    assert sign_in(client, staff.email).status_code == 302
    # wrong ones still do: the third wrong password gets through, the next attempt waits
    client.form("/logout")
    wrong_sign_ins(client, staff.email, 1)
    assert sign_in(client, staff.email, "yet another wrong one").status_code == 429


def limited_and_locked(client, staff):
    """Wrong passwords until the account is locked and the per-e-mail limit is reached."""
    limit = int(config.RATE_LIMITS["LOGIN_LIMIT_PER_EMAIL"].split()[0])
    wrong_sign_ins(client, staff.email, limit)
    assert User.get_by_id(staff.id).is_locked
    assert sign_in(client, staff.email, "one more wrong password").status_code == 429


def test_a_password_reset_clears_the_limit_and_the_lock_for_the_next_sign_in(
        app, client, staff, mailbox):
    limited_and_locked(client, staff)

    client.form("/forgot", {"email": staff.email})
    mailbox.deliver()
    [reset_mail] = [m for m in mailbox.to(staff.email) if "/reset/" in body_of(m)]
    link = link_in(body_of(reset_mail))
    opened = client.get(link)
    assert client.form(opened.headers["Location"], {
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302

    signed = sign_in(client, staff.email, NEW_PASSWORD)
    assert signed.status_code == 302
    assert client.get("/profile").status_code == 200


def test_a_superusers_unlock_clears_the_limit_too(app, client, staff, superuser):
    limited_and_locked(client, staff)
    admin = app.test_client()
    assert sign_in(admin, superuser.email).status_code == 302
    assert admin.form(f"/users/{staff.id}/unlock", {"confirmed": "yes"}).status_code == 302

    assert sign_in(client, staff.email).status_code == 302


# --- item 21: "Change password" is no unlimited oracle -------------------------------------

def test_wrong_current_passwords_lock_the_account_like_sign_in(staff_client, staff, client,
                                                                mailbox):
    for attempt in range(config.LOCK_AFTER_FAILURES - 1):
        response = change(staff_client, f"a wrong guess {attempt}")
        assert response.status_code == 400
        assert "The current password is not right." in response.get_data(as_text=True)
    assert audit("password.change_failed", staff) == config.LOCK_AFTER_FAILURES - 1
    assert not User.get_by_id(staff.id).is_locked

    last = change(staff_client, "the last wrong guess")
    assert last.status_code == 302 and last.headers["Location"] == "/login"
    assert User.get_by_id(staff.id).is_locked
    assert audit("password.change_failed", staff) == config.LOCK_AFTER_FAILURES
    assert audit("account.locked", staff) == 1
    # every session of the account ended, this one included; the password is unchanged
    assert staff_client.get("/profile").status_code == 302
    assert not UserSession.select().where(UserSession.user == staff.id,
                                          UserSession.ended_at.is_null()).exists()
    assert sign_in(client, staff.email).status_code == 200
    assert sign_in(client, staff.email, NEW_PASSWORD).status_code == 200
    assert len(lock_notices(mailbox, staff)) == 1


def test_wrong_guesses_at_sign_in_and_change_count_together(staff_client, staff, client):
    wrong_sign_ins(client, staff.email, config.LOCK_AFTER_FAILURES - 1)
    assert change(staff_client, "one more wrong guess").status_code == 302
    assert User.get_by_id(staff.id).is_locked


def test_a_right_current_password_starts_the_count_again(staff_client, staff):
    for attempt in range(config.LOCK_AFTER_FAILURES - 1):
        change(staff_client, f"a wrong guess {attempt}")
    # right current password, unacceptable new one: nothing changes but the count
    assert change(staff_client, PASSWORD, new="short").status_code == 400
    assert User.get_by_id(staff.id).failed_logins == 0
    assert change(staff_client, "a wrong guess again").status_code == 400
    assert not User.get_by_id(staff.id).is_locked


def test_change_password_has_the_per_account_limit_of_sign_in(app, staff_client, staff, client):
    app.config.update(LOGIN_LIMIT_PER_EMAIL="3 per 15 minutes")
    sign_in(client, staff.email, "a wrong password at the sign-in")
    change(staff_client, "a wrong guess 1", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    change(staff_client, "a wrong guess 2", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    refused = change(staff_client, PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert refused.status_code == 429
    assert sign_in(client, staff.email).status_code == 429


def test_change_password_has_the_per_address_limit_of_sign_in(app, staff_client, staff):
    app.config.update(LOGIN_LIMIT_PER_IP="3 per minute")
    for attempt in range(3):
        assert change(staff_client, f"a wrong guess {attempt}").status_code == 400
    assert change(staff_client, PASSWORD).status_code == 429
    assert User.get_by_id(staff.id).failed_logins == 3


@pytest.mark.parametrize("path, data", [
    ("/login", {"email": "piet@jansen.example", "password": "a wrong password"}),
    ("/forgot", {"email": "piet@jansen.example"})])
def test_no_response_tells_how_many_attempts_are_left(app, client, staff, path, data):
    app.config.update(LOGIN_LIMIT_PER_EMAIL="2 per minute", RESET_LIMIT_PER_EMAIL="2 per minute")
    responses = [client.get(path)] + [client.form(path, data) for _ in range(3)]
    assert responses[-1].status_code == 429
    for response in responses:
        assert not [name for name in response.headers.keys()
                    if name.lower().startswith("x-ratelimit")], response.headers


# --- item 21: "Forgot password" takes the same time for any address ------------------------

class StatementCounter:
    def __init__(self, database):
        self.database, self.statements = database, []

    def __call__(self, sql, params=None, *args, **kwargs):
        if "SAVEPOINT" not in sql:    # the unknown address's work is rolled back to one
            self.statements.append(" ".join(sql.split()[:4]))
        return self.original(sql, params, *args, **kwargs)


def statements_of(monkeypatch, client, email):
    counter = StatementCounter(db.obj)
    counter.original = db.obj.execute_sql
    monkeypatch.setattr(db.obj, "execute_sql", counter)
    try:
        assert client.form("/forgot", {"email": email}).status_code == 200
    finally:
        monkeypatch.undo()
    return counter.statements


def test_forgot_password_does_the_same_database_work_for_any_address(app, client, staff,
                                                                       monkeypatch):
    other = make_user("kees@jansen.example")
    client.get("/forgot")
    statements_of(monkeypatch, client, other.email)          # warm up: the same path once
    known = statements_of(monkeypatch, client, staff.email)
    unknown = statements_of(monkeypatch, client, "nobody@jansen.example")
    assert known == unknown
    assert sum(s.startswith("INSERT") for s in known) == 3   # token, outbox message, audit
    # and nothing of it stays for the unknown address
    assert not OutboxMessage.select().where(
        OutboxMessage.to_addr == "nobody@jansen.example").exists()
    assert Token.select().where(Token.user.is_null(), Token.purpose == "reset").count() == 0
