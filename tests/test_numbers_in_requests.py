"""A number in a URL, a query or a form is read one way everywhere (kontor.text.whole_number):
ASCII digits within a database integer. "²" passes str.isdigit() but not int(), and a number
past a 32-bit integer makes PostgreSQL refuse the query; either used to be a 500."""
import re

import pytest
from support_helpers import open_case
from werkzeug.exceptions import NotFound

from kontor.text import MAX_INTEGER, whole_number
from kontor.web import DatabaseInteger

HUGE = "99999999999999999999"


@pytest.mark.parametrize("text, expected", [
    ("17", 17), ("0", 0), (str(MAX_INTEGER), MAX_INTEGER), (str(MAX_INTEGER + 1), None),
    (HUGE, None), ("²", None), ("١٢", None), ("-1", None), ("1.5", None), ("", None),
    (None, None), (" 7", None)])
def test_whole_number_takes_ascii_digits_within_a_database_integer(text, expected):
    assert whole_number(text) == expected


@pytest.mark.parametrize("url, expected", [
    (f"/contacts/{HUGE}", 404),
    (f"/contacts?after={HUGE}", 200),
    (f"/contacts?before={HUGE}", 200),
    ("/contacts?page=²", 200),
    (f"/contacts?page={HUGE}", 200),
    ("/support/2025-²", 404),
    ("/support/²-1", 404),
    (f"/support/{HUGE}-1", 404),
    ("/support?view=all&q=2025-²", 200),
    ("/support/２０２５-１", 404),            # fullwidth digits
    ("/support/٢٠٢٥-١", 404),              # Arabic-Indic digits
    ("/contacts/１", 404),
    ("/contacts/٣", 404),
    ("/support?view=all&q=２０２５-１", 200),
    ("/support?view=all&q=٢٠٢٥-١", 200),
    ("/contacts?page=٢", 200),
    (f"/support?view=all&q={HUGE}-1", 200),
    (f"/users/invite?employee={HUGE}", 200),
    ("/users/invite?employee=²", 200),
    (f"/support?view=all&page={HUGE}", 200),
    ("/support?page=²", 200),
    (f"/employees?page={HUGE}", 200),
    (f"/admin/outbox?page={HUGE}", 200),
    (f"/admin/audit?page={HUGE}", 200),
])
def test_odd_numbers_in_urls_answer_like_any_other_miss(admin_client, url, expected):
    assert admin_client.get(url).status_code == expected


def test_a_case_number_in_other_digits_finds_no_case_by_number(admin_client, desk):
    """The case list's search takes a case number only in ASCII digits: "２０２６-１" is
    searched as text (in subjects and names), on purpose, and finds nothing here."""
    number = open_case(admin_client, desk.customer, desk.category, desk.type,
                       subject="Printer offline")
    assert number in admin_client.get(f"/support?view=all&q={number}").get_data(as_text=True)
    for digits in (str.maketrans("0123456789", "０１２３４５６７８９"),
                   str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")):
        other = number.translate(digits)
        assert admin_client.get(f"/support/{other}").status_code == 404
        page = admin_client.get(f"/support?view=all&q={other}").get_data(as_text=True)
        assert f"/support/{number}" not in page


def test_an_odd_contact_number_in_the_case_wizard_is_no_choice(admin_client):
    assert admin_client.get("/support/new?start=1").status_code == 200
    for chosen in ("²", HUGE):
        response = admin_client.form("/support/new", {"contact_id": chosen})
        assert response.status_code == 400
        assert "Choose" in response.get_data(as_text=True)


def test_every_route_with_a_number_answers_404_for_one_past_a_database_integer(app,
                                                                               admin_client):
    """Every `<int:...>` in the URL map, given a number no database integer holds."""
    walked = 0
    for rule in app.url_map.iter_rules():
        numbers = {name for name, converter in rule._converters.items()
                   if isinstance(converter, DatabaseInteger)}
        if not numbers:
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>",
                     lambda m, numbers=numbers: HUGE if m.group(1) in numbers else "categories",
                     rule.rule)
        response = admin_client.open(url, method="GET" if "GET" in rule.methods else "POST")
        assert response.status_code == 404, (url, response.status_code)
        walked += 1
    assert walked >= 20, f"only {walked} routes with a number"


@pytest.mark.parametrize("path", ["/contacts/１", "/contacts/٣", "/contacts/²",
                                  "/contacts/1/persons/２/edit"])
def test_a_route_matches_ascii_digits_only(app, path):
    """Found by a new user: the served app opened contact 1 at /contacts/１ (Werkzeug's \\d+
    matched it, and int() read it). The router itself must refuse such a path."""
    with pytest.raises(NotFound):
        app.url_map.bind("localhost").match(path)
    assert app.url_map.bind("localhost").match("/contacts/1") == (
        "contacts.show", {"contact_id": 1})
