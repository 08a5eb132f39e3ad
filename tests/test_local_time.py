"""Stamps in lists, notes and RTF use kontor.web.local_time, a faster way to the very text
Flask-Babel's format_datetime gives: the same in every language, style and season."""
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import format_datetime

from kontor.web import local_time
from models import Company


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
