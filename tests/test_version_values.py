"""An edit form's version that is no number ("abc", "²", a number past a database integer) is
refused as a conflict: it never lets a save through unchecked (found by trying Kontor as a new
user would, after issue 10 item 3)."""
import re

import pytest
from helpers import make_company

from kontor import contacts
from models import Company, Contact


@pytest.mark.parametrize("version", ["abc", "²", "99999999999999999999"])
def test_a_company_form_with_an_odd_version_is_not_saved(admin_client, version):
    make_company(phone="+31 30 123 4567")
    response = admin_client.form("/admin/company", {
        "name": "Jansen Installatie BV", "street": "Dorpsstraat 1", "postcode": "1234 AB",
        "city": "Utrecht", "country": "NL", "phone": "zzz", "email": "info@jansen.example",
        "vat_number": "NL001234567B01", "org_number": "12345678", "language": "en",
        "timezone": "Europe/Amsterdam", "version": version})
    assert response.status_code == 409
    assert Company.current().phone == "+31 30 123 4567"


@pytest.mark.parametrize("version", ["abc", "²"])
def test_a_contact_form_with_an_odd_version_is_not_saved(admin_client, version):
    contact = contacts.create({"name": "Jansen Installatie BV", "city": "Utrecht"})
    response = admin_client.form(f"/contacts/{contact.id}/edit", {
        "kind": "company", "name": "Jansen Installatie BV", "city": "Bergen",
        "version": version})
    assert response.status_code == 409
    assert Contact.get_by_id(contact.id).city == "Utrecht"


def test_save_clicked_twice_on_a_new_contact_makes_one_contact(admin_client):
    """The new-contact form carries a one-time key like the other forms that add something:
    the same form posted twice stores one contact and tells the second post so."""
    page = admin_client.get("/contacts/new").get_data(as_text=True)
    key = re.search(r'name="form_key" type="hidden" value="([^"]+)"', page).group(1)
    form = {"kind": "company", "name": "Twin BV", "confirm_duplicate": "1", "form_key": key}
    first = admin_client.form("/contacts/new", form)
    second = admin_client.form("/contacts/new", form)
    assert first.status_code == second.status_code == 302
    assert Contact.select().where(Contact.name == "Twin BV").count() == 1
    followed = admin_client.get(second.headers["Location"]).get_data(as_text=True)
    assert "This was saved already" in followed


def test_a_new_contact_sent_again_is_saved_already_not_a_duplicate_of_itself(admin_client):
    """Found by a new user: the same new-contact form sent again (without having confirmed a
    duplicate) answered 409 "may exist already" with the contact it had just made, and
    "create anyway" asked again, forever."""
    page = admin_client.get("/contacts/new").get_data(as_text=True)
    key = re.search(r'name="form_key" type="hidden" value="([^"]+)"', page).group(1)
    form = {"kind": "company", "name": "Twin BV", "email": "info@twin.example", "form_key": key}
    assert admin_client.form("/contacts/new", form).status_code == 302
    again = admin_client.form("/contacts/new", form)
    assert again.status_code == 302
    assert "This was saved already" in admin_client.get(again.headers["Location"]).get_data(
        as_text=True)
    anyway = admin_client.form("/contacts/new", {**form, "confirm_duplicate": "1"})
    assert anyway.status_code == 302
    assert Contact.select().where(Contact.name == "Twin BV").count() == 1
