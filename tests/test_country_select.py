"""The country select (issue 12 item 26: its 258 options took about 10 ms of every contact
form through WTForms): built once per language, the same HTML as WTForms' own select, with
the stored country chosen."""
import re

import pytest
from flask_babel import force_locale
from helpers import make_user, sign_in
from wtforms import Form, SelectField

from blueprints.forms import CountrySelect
from kontor.countries import country_choices, options_html


class Plain(Form):
    country = SelectField("Country", choices=country_choices, validate_choice=False)


class Cached(Form):
    country = SelectField("Country", choices=country_choices, validate_choice=False,
                          widget=CountrySelect())


@pytest.mark.parametrize("language", ["en", "nl", "nb", "de"])
@pytest.mark.parametrize("stored", ["", "NO", "JP", "XX", '"><b>'])
def test_the_country_select_is_what_wtforms_renders(app, language, stored):
    with app.test_request_context(), force_locale(language):
        plain, cached = Plain(data={"country": stored}), Cached(data={"country": stored})
        assert str(cached.country()) == str(plain.country())


def test_the_options_are_built_once_per_language(app):
    with app.test_request_context(), force_locale("nb"):
        options_html.cache_clear()
        for _ in range(3):
            str(Cached(data={"country": "NL"}).country())
        assert options_html.cache_info().misses == 1


def test_the_contact_form_shows_the_stored_countries(app, client):
    make_user("anna@jansen.example", superuser=True)
    sign_in(client, "anna@jansen.example")
    client.fill("/contacts/new", {"name": "Tokyo Trading", "country": "JP",
                                  "visit_country": "NO"})
    page = client.get("/contacts/1/edit").get_data(as_text=True)
    assert re.search(r'<select id="country"[^>]*>.*<option selected value="JP">', page, re.S)
    assert re.search(r'<select id="visit_country"[^>]*>.*<option selected value="NO">', page,
                     re.S)
    assert page.count("<option selected") == 2
