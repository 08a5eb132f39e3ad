"""Case numbers follow the company's calendar (issue 10 item 16): a case opened at 00:30 on
1 January in Amsterdam (23:30 UTC the day before) is the new year's first case."""
from datetime import UTC, datetime

import pytest
import time_machine
from helpers import make_company

from kontor import support


def open_case(desk, subject="Printer offline"):
    draft = support.Draft(desk.customer.id, desk.category.id, desk.type.id, subject,
                          "Since Monday.", desk.superuser.id, False, "")
    return support.create(draft, desk.superuser)


@pytest.mark.parametrize("zone, number", [("Europe/Amsterdam", "2027-0001"),
                                          ("Europe/Oslo", "2027-0001"),
                                          ("America/New_York", "2026-0001"),
                                          ("UTC", "2026-0001")])
def test_a_case_is_numbered_in_the_companys_year(desk, zone, number):
    make_company(timezone=zone)
    with time_machine.travel(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), tick=False):
        assert open_case(desk).number == number


def test_the_new_years_first_case_starts_at_one_after_last_years_last(desk):
    make_company(timezone="Europe/Amsterdam")
    with time_machine.travel(datetime(2026, 12, 31, 22, 30, tzinfo=UTC), tick=False):
        assert open_case(desk, "Old year").number == "2026-0001"   # 23:30 in Amsterdam
    with time_machine.travel(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), tick=False):
        assert open_case(desk, "New year").number == "2027-0001"   # 00:30 in Amsterdam


def test_an_unknown_time_zone_numbers_in_utc():
    assert support.case_year(datetime(2026, 12, 31, 23, 30), "Mars/Olympus") == 2026
    assert support.case_year(datetime(2026, 12, 31, 23, 30), "") == 2026
