"""Server-side sessions: the cookie, login and logout, timeouts, ending sessions, language
(SECURITY.md items 13-18; SPEC section 3). The clock is frozen with time-machine."""
import hashlib
import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from flask.sessions import SecureCookieSessionInterface
from helpers import PASSWORD, database_text, sign_in, text
from itsdangerous import BadSignature

from kontor import sessions
from models import User, UserSession

IDLE_MESSAGE = "You were signed out after 20 minutes without activity"
ABSOLUTE_MESSAGE = "Your session reached its 12-hour limit"


def cookie_name(app):
    return app.config["SESSION_COOKIE_NAME"]


def session_id(client, app):
    cookie = client.get_cookie(cookie_name(app))
    return cookie.value if cookie else None


def session_cookie_header(response, app):
    headers = [h for h in response.headers.getlist("Set-Cookie")
               if h.startswith(cookie_name(app) + "=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    name_value, *attributes = [part.strip() for part in headers[0].split(";")]
    return name_value.split("=", 1)[1], {a.split("=")[0].lower(): (a.split("=", 1) + [""])[1]
                                         for a in attributes}


def row_of(client, app):
    sid = session_id(client, app)
    return UserSession.get_or_none(UserSession.sid_hash == hashlib.sha256(sid.encode()).hexdigest())


def is_signed_in(client):
    return client.get("/profile").status_code == 200


def sent_to_login(response):
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def frozen_now():
    """A whole second a little ahead of the real clock, so stored times stay in order."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)



# --- SECURITY 13: the cookie holds only a random id ----------------------------------------

def test_session_cookie_holds_only_a_random_id(client, app, staff):
    response = sign_in(client, staff.email)
    assert response.status_code == 302
    value, _ = session_cookie_header(response, app)
    assert cookie_name(app) == "kontor_session"

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value        # token_urlsafe(32)
    # not Flask's signed cookie session: nothing to decode, nothing of the data in it
    with pytest.raises(BadSignature):
        SecureCookieSessionInterface().get_signing_serializer(app).loads(value)
    row = row_of(client, app)
    assert row is not None and row.user_id == staff.id and row.ended_at is None
    assert row.sid_hash == hashlib.sha256(value.encode()).hexdigest()
    assert '"_user_id"' in row.data and "csrf_token" not in value and "_user_id" not in value
    # the database keeps only the id's hash, so a copy of it cannot be used as a cookie
    assert value not in database_text()


def test_session_records_who_where_and_with_what_browser(client, app, staff):
    client.environ_base.update({"REMOTE_ADDR": "192.168.1.23",
                                "HTTP_USER_AGENT": "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0"})
    sign_in(client, staff.email)
    row = row_of(client, app)
    assert (row.user_id, row.ip, row.user_agent) == (
        staff.id, "192.168.1.23", "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0")
    assert row.created_at is not None and row.last_seen_at is not None


# --- SECURITY 14: cookie attributes --------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_lax_but_not_secure_over_http(client, app, staff):
    _, attributes = session_cookie_header(sign_in(client, staff.email), app)
    assert "httponly" in attributes
    assert attributes["samesite"] == "Lax"
    assert "secure" not in attributes
    assert "expires" not in attributes and "max-age" not in attributes   # no remember-me


def test_session_cookie_is_secure_over_https(client, app, staff):
    https = {"base_url": "https://kontor.test"}
    form = client.get("/login", **https)
    _, attributes = session_cookie_header(form, app)
    assert "secure" in attributes and "httponly" in attributes

    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": staff.email, "password": PASSWORD,
                                           "csrf_token": token},
                           headers={"Referer": "https://kontor.test/login"}, **https)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    _, attributes = session_cookie_header(response, app)
    assert "secure" in attributes and "httponly" in attributes
    assert attributes["samesite"] == "Lax"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert client.get("/profile", **https).status_code == 200


# --- SECURITY 15: login starts a new session -----------------------------------------------

def test_login_issues_a_new_session_id_and_forgets_what_came_before(client, app, staff):
    with client.session_transaction() as before:
        before["planted"] = "set by someone before the login"
    client.get("/login")
    with client.session_transaction() as before:
        assert before["planted"] == "set by someone before the login"
        old_csrf = before["csrf_token"]
    old_sid = session_id(client, app)
    assert old_sid

    assert sign_in(client, staff.email).status_code == 302
    new_sid = session_id(client, app)
    assert new_sid and new_sid != old_sid
    assert is_signed_in(client)
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("csrf_token") and after["csrf_token"] != old_csrf

    # the id from before the login is worth nothing now (no session fixation)
    assert UserSession.get_or_none(
        UserSession.sid_hash == hashlib.sha256(old_sid.encode()).hexdigest(),
        UserSession.ended_at.is_null()) is None
    fixated = app.test_client()
    fixated.set_cookie(cookie_name(app), old_sid)
    assert not is_signed_in(fixated)


# --- SECURITY 16: idle and absolute timeouts -----------------------------------------------

def test_idle_session_ends_after_20_minutes_and_sign_in_returns_to_the_page(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        assert sign_in(client, staff.email).status_code == 302
        assert client.get("/employees").status_code == 200

        clock.shift(timedelta(minutes=20, seconds=1))
        response = client.get("/employees?q=piet")
        assert sent_to_login(response)
        assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == \
            ["/employees?q=piet"]

        login_page = client.get(response.headers["Location"])
        text = login_page.get_data(as_text=True)
        assert IDLE_MESSAGE in text
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', text).group(1))
        back = client.form(action, {"email": staff.email, "password": PASSWORD})
        assert back.status_code == 302
        assert back.headers["Location"] == "/employees?q=piet"
        assert client.get(back.headers["Location"]).status_code == 200


def test_idle_message_is_shown_once(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        clock.shift(timedelta(minutes=21))
        client.get("/")
        assert IDLE_MESSAGE in client.get("/login").get_data(as_text=True)
        assert IDLE_MESSAGE not in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("lang, said", [
    ("en", "You were signed out after 1 minute without activity."),
    ("de", "Sie wurden nach 1 Minute ohne Aktivität abgemeldet."),
    ("nb", "Du ble logget ut etter 1 minutt uten aktivitet."),
])
def test_a_one_minute_timeout_is_said_in_the_singular(client, app, staff, lang, said):
    """"after 1 minutes" needs the plural form its number takes (issue 11 item 9)."""
    app.config["IDLE_MINUTES"] = 1
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        clock.shift(timedelta(minutes=1, seconds=1))
        browser = {"Accept-Language": lang}
        client.get("/", headers=browser)
        page = html.unescape(client.get("/login", headers=browser).get_data(as_text=True))
        assert said in page


def test_the_sessions_page_says_its_limits_with_the_plural_they_need(app, admin_client):
    app.config.update(IDLE_MINUTES=1, ABSOLUTE_HOURS=1)
    page = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert "A session ends after 1 minute without activity." in page
    assert "Every session ends 1 hour after signing in at the latest." in page
    app.config.update(IDLE_MINUTES=20, ABSOLUTE_HOURS=12)
    page = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert "A session ends after 20 minutes without activity." in page
    assert "Every session ends 12 hours after signing in at the latest." in page


def test_twenty_minutes_exactly_is_not_yet_idle(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        clock.shift(timedelta(minutes=20))
        assert is_signed_in(client)


def test_activity_every_19_minutes_keeps_the_session_alive(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        for _ in range(6):                                   # almost two hours
            clock.shift(timedelta(minutes=19))
            assert client.get("/").status_code == 200
        assert is_signed_in(client)


def test_twelve_hours_of_activity_still_end_the_session(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        for _ in range(37):                                  # 11 h 43 min of steady work
            clock.shift(timedelta(minutes=19))
            assert client.get("/").status_code == 200
        clock.shift(timedelta(minutes=19))                   # 12 h 02 min
        response = client.get("/")
        assert sent_to_login(response)
        assert ABSOLUTE_MESSAGE in client.get(response.headers["Location"]).get_data(as_text=True)
        assert UserSession.select().where(UserSession.user == staff.id,
                                          UserSession.end_reason == "absolute").count() == 1


def test_per_minute_job_ends_idle_sessions(client, other_client, app, staff, superuser):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        clock.shift(timedelta(minutes=10))
        sign_in(other_client, superuser.email)
        clock.shift(timedelta(minutes=10, seconds=30))      # staff idle 20.5 min, Anna 10.5

        assert sessions.end_idle_sessions(20, 12) == 1

        staff_row = UserSession.get(UserSession.user == staff.id)
        assert staff_row.ended_at is not None and staff_row.end_reason == "idle"
        assert UserSession.get(UserSession.user == superuser.id).ended_at is None
        response = client.get("/")
        assert sent_to_login(response)
        assert IDLE_MESSAGE in client.get(response.headers["Location"]).get_data(as_text=True)
        assert is_signed_in(other_client)


def test_per_minute_job_ends_sessions_older_than_12_hours(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        for _ in range(38):
            clock.shift(timedelta(minutes=19))
            # the page view itself would notice the limit; only the job looks here
            UserSession.update(last_seen_at=datetime.now(UTC).replace(tzinfo=None)
                               ).where(UserSession.user == staff.id).execute()
        assert sessions.end_idle_sessions(20, 12) == 1
        assert UserSession.get(UserSession.user == staff.id).end_reason == "absolute"
        assert not is_signed_in(client)


def test_last_seen_is_written_at_most_once_a_minute(client, app, staff):
    with time_machine.travel(frozen_now(), tick=False) as clock:
        sign_in(client, staff.email)
        clock.shift(timedelta(minutes=2))
        assert client.get("/").status_code == 200
        first = row_of(client, app).last_seen_at
        assert first == datetime.now(UTC).replace(tzinfo=None)

        clock.shift(timedelta(seconds=30))
        assert client.get("/").status_code == 200
        assert client.get("/employees").status_code == 200
        assert row_of(client, app).last_seen_at == first          # no write for these two

        clock.shift(timedelta(seconds=31))
        assert client.get("/").status_code == 200
        assert row_of(client, app).last_seen_at == first + timedelta(seconds=61)


# --- SECURITY 17: logout ------------------------------------------------------------------

def test_logout_is_a_post_and_the_old_cookie_is_worthless_afterwards(client, app, staff):
    sign_in(client, staff.email)
    old_sid = session_id(client, app)
    row_id = row_of(client, app).id

    get = client.get("/logout")
    assert get.status_code == 405
    assert is_signed_in(client)                         # a link or an <img> cannot sign out

    response = client.form("/logout")
    assert sent_to_login(response)
    assert "You are signed out." in client.get("/login").get_data(as_text=True)
    assert not is_signed_in(client)
    ended = UserSession.get_by_id(row_id)
    assert ended.ended_at is not None and ended.end_reason == "logout"

    replay = app.test_client()
    replay.set_cookie(cookie_name(app), old_sid)
    assert sent_to_login(replay.get("/profile"))
    assert sent_to_login(replay.get("/"))


def test_logout_without_csrf_token_is_refused(client, app, staff):
    sign_in(client, staff.email)
    assert client.post("/logout").status_code == 400
    assert is_signed_in(client)


# --- SECURITY 18: sessions ended by someone else -------------------------------------------

def test_superuser_ends_another_users_session(admin_client, staff_client, staff, superuser):
    page = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert "piet@jansen.example" in page
    row = UserSession.get(UserSession.user == staff.id, UserSession.ended_at.is_null())
    assert f'/admin/sessions/{row.id}/end' in page

    ended = admin_client.form(f"/admin/sessions/{row.id}/end")
    assert ended.status_code == 302
    assert UserSession.get_by_id(row.id).end_reason == "ended_by_admin"

    response = staff_client.get("/employees")
    assert sent_to_login(response)
    assert "Your session was ended by an administrator." in \
        staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert is_signed_in(admin_client)
    assert "piet@jansen.example" not in admin_client.get("/admin/sessions").get_data(as_text=True)


def test_staff_user_cannot_end_sessions(admin_client, staff_client, superuser):
    row = UserSession.get(UserSession.user == superuser.id, UserSession.ended_at.is_null())
    assert staff_client.form(f"/admin/sessions/{row.id}/end").status_code == 403
    assert is_signed_in(admin_client)


def test_changing_the_password_ends_the_other_sessions_but_keeps_this_one(
        client, other_client, app, staff):
    sign_in(client, staff.email)
    sign_in(other_client, staff.email)
    this_row = row_of(client, app).id

    changed = client.form("/profile/password", {
        "pw-current": PASSWORD, "pw-password": "grey pelican harbour lamp",
        "pw-confirm": "grey pelican harbour lamp"})
    assert changed.status_code == 302
    assert "Your other sessions were signed out." in \
        client.get(changed.headers["Location"]).get_data(as_text=True)

    assert is_signed_in(client)
    assert row_of(client, app).id == this_row
    response = other_client.get("/profile")
    assert sent_to_login(response)
    assert "Your password was changed, so this session was ended." in \
        other_client.get(response.headers["Location"]).get_data(as_text=True)


# --- Language preference ------------------------------------------------------------------

def test_language_chosen_in_the_profile_is_used_and_remembered(client, other_client, app, staff):
    sign_in(client, staff.email)
    assert '<html lang="en">' in client.get("/profile").get_data(as_text=True)

    saved = client.form("/profile/language", {"lang-language": "nl"})
    assert saved.status_code == 302
    # the message saying so is in the new language (issue 11 item 19)
    assert "Taal opgeslagen." in text(client.get(saved.headers["Location"]))
    assert '<html lang="nl">' in client.get("/profile").get_data(as_text=True)
    assert User.get_by_id(staff.id).language == "nl"

    # stored with the account, not only in this browser's session
    sign_in(other_client, staff.email)
    assert '<html lang="nl">' in other_client.get("/").get_data(as_text=True)


def test_unknown_language_is_refused_and_nothing_changes(client, app, staff):
    sign_in(client, staff.email)
    refused = client.form("/profile/language", {"lang-language": "xx"})
    assert refused.status_code == 400
    assert User.get_by_id(staff.id).language == "en"
    assert '<html lang="en">' in client.get("/profile").get_data(as_text=True)
