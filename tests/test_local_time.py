"""Stamps in lists, notes and RTF use kontor.web.local_time, a faster way to the very text
Flask-Babel's format_datetime gives: the same in every language, style and season."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask_babel import format_datetime
from helpers import make_company, text

from kontor import audit, emails
from kontor.web import local_time
from models import Company, OutboxMessage, User


@pytest.mark.parametrize("language", ["en", "nl", "nb", "de"])
@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "Europe/Oslo", "America/New_York", "UTC"])
def test_local_time_writes_what_babel_writes(app, language, zone):
    Company.create(name="Jansen BV", timezone=zone)
    with app.test_request_context("/", headers={"Accept-Language": language}):
        for step in range(0, 24 * 60 * 400, 1193):     # a year and more: both DST changes
            moment = datetime(2026, 1, 1) + timedelta(minutes=step, seconds=step % 60)
            for style in ("short", "medium", "long"):
                assert local_time(moment, style) == \
                    format_datetime(moment.replace(tzinfo=UTC), style)


def test_no_time_gives_empty_text(app):
    with app.test_request_context("/"):
        assert local_time(None) == ""


@pytest.mark.parametrize("country, expected", [
    ("US", "11/30/26, 2:05\u202fPM"),
    ("", "11/30/26, 2:05\u202fPM"),           # no country yet: English as Babel has it
    ("NL", "30/11/2026, 14:05"),
    ("NO", "30/11/2026, 14:05"),
    ("DE", "30/11/2026, 14:05"),
    ("GB", "30/11/2026, 14:05"),
    ("AU", "30/11/26, 2:05\u202fpm"),
])
def test_english_dates_follow_the_companys_country(app, admin_client, superuser, country,
                                                   expected):
    """Issue 11 item 19: an English reader in a Dutch or Norwegian firm got US dates."""
    make_company(country=country, timezone="UTC")
    User.update(language="en").where(User.id == superuser.id).execute()
    with time_machine.travel(datetime(2026, 11, 30, 14, 5, tzinfo=UTC), tick=False):
        audit.record("login", user=superuser)
    page = text(admin_client.get("/admin/audit?action=login"))
    assert expected in page


def test_an_english_email_in_a_norwegian_firm_has_european_dates(app, superuser):
    make_company(country="NO", timezone="Europe/Oslo")
    with app.test_request_context("/"):
        emails.queue("invitation", "kari@example.no", "en", "invitation",
                     link="https://kontor.example/x", inviter="Anna Admin",
                     expires_at=datetime(2026, 12, 24, 17, 0))
    message = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get()
    assert "24 December 2026" in message.body and "December 24" not in message.body
