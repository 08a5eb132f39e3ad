"""Fetch website data (SPEC section 10; issue 15; seeds 001 and 002): the queue's tabs and
counts, the match status of each rule with its normalisation, the item page's keep / take,
corrections, another contact or a new one, Import / Reject / Import all / reject several, the
Processed view, access, double submits and two people importing at once, the audit log and
the contact's timeline."""
import json
import re
import threading

import pytest
from helpers import make_company, signed_in, text
from order_helpers import add, customer_of, offer, place
from portal_helpers import make_account, open_website, signed_in_customer
from test_support_scale import queries

from kontor import contacts, incoming
from kontor.matching import address_key, normalise_name, number_key, phone_key, words_key
from models import (
    AuditEvent,
    Contact,
    ContactPerson,
    IncomingItem,
    NoteEntry,
    Order,
    OutboxMessage,
    WebAccount,
    db,
)


@pytest.fixture
def shop(app):
    site = open_website()
    make_company(country="NO")
    return site


def item_of(website, kind="registration", account=None, **values):
    """An incoming item as the portal stores one."""
    if kind in ("registration", "account_update"):
        base = {"company_name": "Jensen Bygg AS", "org_number": "987654321",
                "contact_person": "Maria Jensen", "phone": "+47 22 33 44 55",
                "street": "Storgata 1", "postcode": "0155", "city": "Oslo", "country": "NO"}
    else:
        base = {}
    base.update(values)
    base = {k: v for k, v in base.items() if v is not None}
    return IncomingItem.create(website=website.id, kind=kind,
                               web_account=account.id if account else None,
                               values=json.dumps(base))


def pending(website, email="maria@example.com", **fields):
    return make_account(website, email=email, status="pending", **fields)


def match_of(item):
    return incoming.classify([incoming.get(item.id)])[item.id]


def form_of(page):
    """The import form's fields as the page fills them in (what a browser would send)."""
    html = page.get_data(as_text=True)
    form = html[html.index('<form method="post" action="/website-data/'):]
    form = form[:form.index("</form>")]
    data = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        kind = kind.group(1) if kind else "text"
        value = re.search(r'value="([^"]*)"', tag)
        value = value.group(1) if value else ""
        if kind == "submit" or kind in ("radio", "checkbox") and "checked" not in tag:
            continue
        data[name.group(1)] = value.replace("&#43;", "+").replace("&amp;", "&")
    return data


def open_and_send(client, item, changes=None, button="import_item", query=""):
    page = client.get(f"/website-data/{item.id}{query}")
    assert page.status_code == 200
    data = form_of(page)
    for name, value in (changes or {}).items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    data[button] = "x"
    return client.post(f"/website-data/{item.id}", data=data)


# --- normalisation ------------------------------------------------------------------------

@pytest.mark.parametrize("one, other, same", [
    ("Søren Ødegård AS", "soren odegard", True),
    ("Bakkerij Jansen B.V.", "bakkerij jansen", True),
    ("Bakkerij Jansen BV", "Bakkerij  JANSEN", True),
    ("Müller GmbH", "Muller", True),
    ("Siemens AG", "siemens", True),
    ("Acme Ltd.", "ACME Limited", True),
    ("Acme, Inc.", "acme", True),
    ("Philips N.V.", "philips", True),
    ("Statoil ASA", "statoil", True),
    ("Jansen & Zonen", "Jansen Zonen", True),
    ("Bakkerij Janssen", "Bakkerij Jansen", False),
    ("Jansen Bouw", "Jansen Bouwmarkt", False),
    ("AS", "", True),
])
def test_company_names_compare_without_case_accents_legal_forms_and_punctuation(one, other,
                                                                                 same):
    assert (normalise_name(one) == normalise_name(other)) is same


@pytest.mark.parametrize("one, other, same", [
    ("987654321", "987 654 321", True),
    ("NO 987 654 321 MVA", "987654321", True),
    ("NO987654321MVA", "987.654.321", True),
    ("NL812345678B01", "812345678", True),
    ("NL 8123.45.678.B01", "812 345 678", True),
    ("DE123456789", "123 456 789", True),
    ("987654321", "98765432", False),
    ("987654321", "987654322", False),
])
def test_organisation_and_vat_numbers_compare_by_their_digits(one, other, same):
    assert number_key(one) and number_key(other)
    assert (number_key(one) == number_key(other)) is same


def test_too_short_numbers_are_no_key():
    assert number_key("123") == "" and number_key("MVA") == "" and number_key(None) == ""


@pytest.mark.parametrize("one, other, country, same", [
    ("+47 22 33 44 55", "0047 22334455", "NO", True),
    ("22 33 44 55", "+4722334455", "NO", True),
    ("0047 22 33 44 55", "22-33-44-55", "NO", True),
    ("020 123 4567", "+31 20 1234567", "NL", True),
    ("0031 20 123 4567", "020-1234567", "NL", True),
    ("22 33 44 55", "22 33 44 56", "NO", False),
    ("+47 22 33 44 55", "+45 22 33 44 55", "NO", False),
])
def test_phone_numbers_compare_as_e164_for_the_country(one, other, country, same):
    assert phone_key(one, country) and phone_key(other, country)
    assert (phone_key(one, country) == phone_key(other, country)) is same


@pytest.mark.parametrize("number", ["12", "abc", "", None, "+47 12"])
def test_what_is_no_phone_number_is_no_key(number):
    assert phone_key(number, "NO") == ""


def test_addresses_and_person_names_compare_folded():
    assert address_key("Storgata 1", "0155") == address_key("STORGATA  1.", " 0155 ")
    assert address_key("Dorpsstraat 1", "1234 AB") == address_key("dorpsstraat 1", "1234ab")
    assert address_key("Storgata 1", "") == ""
    assert words_key("Søren  Ødegård") == words_key("soren odegard")


# --- the keys stay current whoever writes a contact ---------------------------------------

def test_every_save_keeps_the_matching_keys_current(shop):
    contact = contacts.create({"name": "Jensen Bygg AS", "org_number": "NO 987 654 321 MVA",
                               "phone": "22 33 44 55", "street": "Storgata 1",
                               "postcode": "0155"})
    assert (contact.org_key, contact.phone_key, contact.address_key) == \
        ("987654321", "+4722334455", "storgata 1|0155")
    contact = contacts.update(contact.id, {"phone": "+47 99 88 77 66", "country": "NO"},
                              contact.version)
    assert contact.phone_key == "+4799887766"
    person = contacts.save_person(contact, None, {"name": "Søren Ødegård",
                                                  "mobile": "99 11 22 33"})
    assert (person.name_key, person.mobile_key) == ("soren odegard", "+4799112233")
    person = contacts.save_person(contact, person, {"phone": "0047 22 11 00 99"},
                                  person.version)
    assert ContactPerson.get_by_id(person.id).phone_key == "+4722110099"
    with db.atomic():
        contacts.create_many([(20001, {"name": "Many AS", "vat_number": "NO 912345678 MVA",
                                       "mobile": "41 22 33 44"})])
    many = Contact.get(Contact.customer_number == 20001)
    assert (many.vat_key, many.mobile_key) == ("912345678", "+4741223344")


# --- match status -------------------------------------------------------------------------

def test_an_equal_normalised_company_name_is_an_existing_customer(shop):
    known = contacts.create({"name": "Søren Ødegård AS"})
    match = match_of(item_of(shop, company_name="soren odegard", org_number="",
                             phone="", street=""))
    assert (match.status, match.contact.id, match.fields) == ("existing", known.id, ("name",))


@pytest.mark.parametrize("register, incoming_number", [
    ({"org_number": "987 654 321"}, "NO 987654321 MVA"),
    ({"vat_number": "NO 987654321 MVA"}, "987654321"),
    ({"vat_number": "NL812345678B01"}, "812 345 678"),
])
def test_an_equal_organisation_number_is_an_existing_customer(shop, register, incoming_number):
    known = contacts.create({"name": "Something Else Entirely", **register})
    match = match_of(item_of(shop, org_number=incoming_number))
    assert (match.status, match.contact.id, match.fields) == \
        ("existing", known.id, ("org_number",))


@pytest.mark.parametrize("register, field", [
    ({"email": "Maria@Example.com"}, "email"),
    ({"phone": "0047 22334455"}, "phone"),
    ({"mobile": "22 33 44 55"}, "phone"),
    ({"street": "STORGATA 1", "postcode": "0155"}, "address"),
])
def test_an_equal_email_phone_or_address_should_be_checked(shop, register, field):
    known = contacts.create({"name": "Other Name AS", **register})
    account = pending(shop)
    match = match_of(item_of(shop, account=account, org_number=""))
    assert (match.status, match.contact.id, match.fields) == ("check", known.id, (field,))


@pytest.mark.parametrize("person, field", [
    ({"name": "Maria  Jensen"}, "contact_person"),
    ({"name": "Someone", "email": "maria@example.com"}, "email"),
    ({"name": "Someone", "mobile": "+47 22 33 44 55"}, "phone"),
])
def test_a_contact_persons_name_email_or_phone_should_be_checked(shop, person, field):
    known = contacts.create({"name": "Other Name AS"})
    contacts.save_person(known, None, person)
    match = match_of(item_of(shop, account=pending(shop), org_number="", street=""))
    assert (match.status, match.contact.id, match.fields) == ("check", known.id, (field,))


def test_near_misses_stay_new_customers(shop):
    contacts.create({"name": "Jensen Bygg og Anlegg AS", "org_number": "98765432",
                     "phone": "+47 22 33 44 56", "street": "Storgata 2", "postcode": "0155",
                     "email": "maria@example.org"})
    match = match_of(item_of(shop, account=pending(shop)))
    assert (match.status, match.contact) == ("new", None)


def test_several_contacts_matching_equally_should_be_checked_with_the_candidates(shop):
    first = contacts.create({"name": "Jensen Bygg AS"})
    second = contacts.create({"name": "Jensen Bygg A/S"})
    match = match_of(item_of(shop, org_number=""))
    assert match.status == "check"
    assert {c.id for c, _fields in match.candidates} == {first.id, second.id}


def test_an_account_update_of_a_linked_account_is_its_contacts(shop):
    known = contacts.create({"name": "Quite Different AS"})
    account = make_account(shop, contact=known.id)
    match = match_of(item_of(shop, "account_update", account, company_name="New Name AS"))
    assert (match.status, match.contact.id, match.fields) == \
        ("existing", known.id, ("web_account",))


def test_classifying_takes_the_same_few_queries_for_any_number_of_items(shop):
    contacts.create({"name": "Jensen Bygg AS"})
    for number in range(3):
        item_of(shop, company_name=f"Firma {number}", org_number=f"91234567{number}")
    with queries() as few:
        incoming.classify(list(incoming.unprocessed("contacts")))
    for number in range(3, 40):
        item_of(shop, company_name=f"Firma {number}", org_number=f"9123456{number:02}",
                phone=f"+47 22 33 44 {number:02}")
    with queries() as many:
        incoming.classify(list(incoming.unprocessed("contacts")))
    assert len(many) == len(few) <= 16


# --- the list -----------------------------------------------------------------------------

def test_the_queue_shows_tabs_with_counts_and_each_match_with_its_field(shop, staff_client):
    contacts.create({"name": "Jensen Bygg AS", "customer_number": None})
    item_of(shop, account=pending(shop))
    item_of(shop, company_name="Nye Firma AS", org_number="912345678",
            account=pending(shop, "ola@example.com"))
    item_of(shop, "activity", subject="Price?", message="How much?", email="x@example.com")
    page = text(staff_client.get("/website-data/"))
    assert re.search(r"Contacts <span class=\"badge\">2</span>", page)
    assert re.search(r"Activities <span class=\"badge\">1</span>", page)
    assert re.search(r"Orders <span class=\"badge\">0</span>", page)
    assert "Existing customer" in page and "matched on company name" in page
    assert "New customer" in page
    assert 'Fetch website data <span class="badge badge-count">3</span>' in page
    activities = text(staff_client.get("/website-data/?tab=activities"))
    assert "Inquiry" in activities and "x@example.com" in activities


def test_the_queue_page_takes_the_same_queries_for_more_items(shop, staff_client):
    for number in range(3):
        item_of(shop, company_name=f"Firma {number}", account=pending(shop, f"a{number}@x.no"))
    staff_client.get("/website-data/")
    with queries() as few:
        assert staff_client.get("/website-data/").status_code == 200
    for number in range(3, 30):
        item_of(shop, company_name=f"Firma {number}", account=pending(shop, f"a{number}@x.no"))
    staff_client.get("/website-data/")     # what the app reads once in a while (websites)
    with queries() as many:
        assert staff_client.get("/website-data/").status_code == 200
    assert len(many) == len(few)


@pytest.mark.parametrize("query", ["?tab=nothing", "?tab=%00", "/99999999999", "/abc",
                                   "/1?contact=abc", "/1?contact=99999999999"])
def test_odd_addresses_answer_404(shop, staff_client, query):
    item_of(shop)
    assert staff_client.get(f"/website-data{'/' if query.startswith('?') else ''}{query}"
                            ).status_code == 404


@pytest.mark.parametrize("query", ["?page=abc", "?page=99999999999999", "?page=-1",
                                   "?tab=orders&page=%00"])
def test_odd_page_numbers_show_a_page(shop, staff_client, query):
    assert staff_client.get(f"/website-data/{query}").status_code == 200
    assert staff_client.get(f"/website-data/processed{query}").status_code == 200


def test_odd_item_form_values_are_refused_without_a_500(shop, staff_client):
    for changes in ({"target": "x\x00"}, {"target": "99999999999999"},
                    {"value_name": "x" * 5000}, {"value_name": "a\x00b"},
                    {"take_name": "nonsense"}, {"version": "abc"},
                    {"value_email": "not an address"}, {"value_country": "NOR"}):
        item = item_of(shop)
        response = open_and_send(staff_client, item, changes)
        assert response.status_code in (302, 400, 404), (changes, response.status_code)
        if "value_email" in changes or "value_country" in changes:
            assert response.status_code == 400
            assert IncomingItem.get_by_id(item.id).status == "unprocessed"


# --- access -------------------------------------------------------------------------------

def test_only_staff_open_the_queue(app, shop, client, superuser, staff):
    item = item_of(shop)
    for path in ("/website-data/", f"/website-data/{item.id}", "/website-data/processed"):
        assert client.get(path).status_code == 302          # to the sign-in page
        assert signed_in(app, staff).get(path).status_code == 200
        assert signed_in(app, superuser).get(path).status_code == 200
    assert client.post(f"/website-data/{item.id}/reject").status_code in (302, 400)
    assert IncomingItem.get_by_id(item.id).status == "unprocessed"


def test_a_customer_signed_in_on_the_portal_cannot_open_it(app, shop):
    browser, _account = signed_in_customer(app, shop)
    assert browser.get("/website-data/").status_code in (302, 403, 404)


# --- the item page and importing ----------------------------------------------------------

def test_take_the_incoming_phone_keeps_every_other_field_and_approves(shop, staff_client):
    known = contacts.create({"name": "Jensen Bygg AS", "phone": "+47 99 99 99 99",
                             "city": "Bergen", "email": "maria@example.com"})
    account = pending(shop)
    item = item_of(shop, account=account, phone="+47 22 33 44 55", city="Oslo")
    page = staff_client.get(f"/website-data/{item.id}")
    assert "Existing customer" in text(page)
    data = form_of(page)
    assert data["target"] == str(known.id) and data["take_phone"] == "keep"
    assert data["approve"] == "y" and data["link"] == "y"   # the e-mail is the contact's
    response = open_and_send(staff_client, item, {"take_phone": "take"})
    assert response.status_code == 302
    after = Contact.get_by_id(known.id)
    assert (after.phone, after.city) == ("+47 22 33 44 55", "Bergen")
    assert [p.name for p in after.persons] == ["Maria Jensen"]
    account = WebAccount.get_by_id(account.id)
    assert (account.contact_id, account.status) == (known.id, "approved")
    assert OutboxMessage.select().where(OutboxMessage.to_addr == "maria@example.com").count()
    done = IncomingItem.get_by_id(item.id)
    assert (done.status, done.contact_id) == ("imported", known.id)
    assert json.loads(done.values)["city"] == "Oslo"          # the values as received stay
    assert AuditEvent.select().where(AuditEvent.action == "incoming.imported").count() == 1
    timeline = text(staff_client.get(f"/contacts/{known.id}"))
    assert "Website data imported from Shop" in timeline and "Changed: Phone" in timeline


def test_a_stranger_is_not_linked_unless_a_person_ticks_it(shop, staff_client):
    known = contacts.create({"name": "Jensen Bygg AS", "email": "post@jensen.no"})
    account = pending(shop, "stranger@example.com")
    item = item_of(shop, account=account)
    page = staff_client.get(f"/website-data/{item.id}")
    assert "link" not in form_of(page)
    open_and_send(staff_client, item)
    assert WebAccount.get_by_id(account.id).contact_id is None
    assert IncomingItem.get_by_id(item.id).contact_id == known.id
    other = item_of(shop, account=pending(shop, "second@example.com"))
    open_and_send(staff_client, other, {"link": "y"})
    assert WebAccount.get(WebAccount.email == "second@example.com").contact_id == known.id


def test_unticking_approve_leaves_the_account_pending(shop, staff_client):
    account = pending(shop)
    item = item_of(shop, account=account)
    open_and_send(staff_client, item, {"approve": None})
    account = WebAccount.get_by_id(account.id)
    assert account.status == "pending" and account.contact_id is not None


def test_create_new_even_when_a_match_exists_with_corrections(shop, staff_client):
    contacts.create({"name": "Jensen Bygg AS"})
    account = pending(shop)
    item = item_of(shop, account=account)
    response = open_and_send(staff_client, item, {"target": "new", "value_city": "Oslo S",
                                                  "value_name": "Jensen Bygg Oslo AS"},
                             query="?new=1")
    assert response.status_code == 302
    created = Contact.get(Contact.name == "Jensen Bygg Oslo AS")
    assert created.customer_number > 10001 and created.city == "Oslo S"
    assert created.phone == "+47 22 33 44 55" and created.org_number == "987654321"
    assert created.email == "maria@example.com"
    assert [p.name for p in created.persons] == ["Maria Jensen"]
    assert WebAccount.get_by_id(account.id).contact_id == created.id
    assert json.loads(IncomingItem.get_by_id(item.id).values)["city"] == "Oslo"


def test_a_new_customer_is_created_with_a_customer_number(shop, staff_client):
    item = item_of(shop, account=pending(shop))
    page = staff_client.get(f"/website-data/{item.id}")
    assert "New customer" in text(page) and form_of(page)["target"] == "new"
    open_and_send(staff_client, item)
    created = Contact.get(Contact.name == "Jensen Bygg AS")
    assert created.customer_number >= contacts.FIRST_CUSTOMER_NUMBER
    assert created.kind == "company" and created.country == "NO"


def test_another_contact_chosen_by_hand(shop, staff_client):
    contacts.create({"name": "Jensen Bygg AS"})
    chosen = contacts.create({"name": "Maria's Other Firm", "city": "Trondheim"})
    item = item_of(shop, account=pending(shop))
    search = text(staff_client.get(f"/website-data/{item.id}?q=other+firm"))
    assert f"/website-data/{item.id}?contact={chosen.id}" in search
    open_and_send(staff_client, item, {"take_street": "take"}, query=f"?contact={chosen.id}")
    after = Contact.get_by_id(chosen.id)
    assert (after.street, after.city) == ("Storgata 1", "Trondheim")
    assert IncomingItem.get_by_id(item.id).contact_id == chosen.id


def test_a_failed_import_leaves_the_item_unprocessed_and_says_why(shop, staff_client):
    known = contacts.create({"name": "Jensen Bygg AS"})
    item = item_of(shop)
    page = staff_client.get(f"/website-data/{item.id}")
    contacts.update(known.id, {"city": "Moss"}, known.version)    # a colleague meanwhile
    data = dict(form_of(page), take_city="take", import_item="x")
    response = staff_client.post(f"/website-data/{item.id}", data=data, follow_redirects=True)
    assert "Someone changed the contact" in text(response)
    assert IncomingItem.get_by_id(item.id).status == "unprocessed"
    assert Contact.get_by_id(known.id).city == "Moss"


def test_a_double_submit_imports_once(shop, staff_client):
    item = item_of(shop, account=pending(shop))
    page = staff_client.get(f"/website-data/{item.id}")
    data = dict(form_of(page), import_item="x")
    assert staff_client.post(f"/website-data/{item.id}", data=data).status_code == 302
    again = staff_client.post(f"/website-data/{item.id}", data=data, follow_redirects=True)
    assert "imported already" in text(again)
    assert Contact.select().where(Contact.name == "Jensen Bygg AS").count() == 1


def test_two_people_importing_at_once_import_once(app, shop, staff):
    item = item_of(shop, account=pending(shop))
    decision = incoming.Decision("new", None, incoming.FIELDS)
    barrier = threading.Barrier(2)
    outcomes = []

    def import_once():
        with app.test_request_context(), db.connection_context():
            barrier.wait()
            try:
                incoming.import_item(item.id, staff.id, decision)
                outcomes.append("imported")
            except incoming.AlreadyProcessed:
                outcomes.append("already")
    threads = [threading.Thread(target=import_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "imported"]
    assert Contact.select().where(Contact.name == "Jensen Bygg AS").count() == 1
    assert ContactPerson.select().count() == 1


# --- Import all, reject several, processed ------------------------------------------------

def test_import_all_imports_new_and_existing_and_leaves_the_rest(shop, staff_client):
    safe = contacts.create({"name": "Safe Firma AS", "email": "safe@example.com"})
    contacts.create({"name": "Known Firma AS", "email": "post@known.no"})
    contacts.create({"name": "Probable AS", "phone": "+47 55 44 33 22"})
    new = item_of(shop, company_name="Brand New AS", org_number="911111111",
                  contact_person="Nina Nilsen", street="Kirkegata 9",
                  account=pending(shop, "new@example.com"))
    existing = item_of(shop, company_name="safe firma", org_number="",
                       account=pending(shop, "safe@example.com"))
    stranger = item_of(shop, company_name="Known Firma", org_number="",
                       account=pending(shop, "stranger@example.com"))
    check = item_of(shop, company_name="Whatever", org_number="", phone="55 44 33 22",
                    contact_person="Kari Holm", street="Elvegata 3",
                    account=pending(shop, "check@example.com"))
    response = staff_client.post("/website-data/", data={
        "csrf_token": staff_client.csrf_token(), "tab": "contacts", "import_all": "x"},
        follow_redirects=True)
    assert "2 items imported." in text(response)
    assert "2 items wait for a person" in text(response)
    status = {i.id: i.status for i in IncomingItem.select()}
    assert status == {new.id: "imported", existing.id: "imported",
                      stranger.id: "unprocessed", check.id: "unprocessed"}
    created = Contact.get(Contact.name == "Brand New AS")
    assert WebAccount.get(WebAccount.email == "new@example.com").contact_id == created.id
    linked = WebAccount.get(WebAccount.email == "safe@example.com")
    assert (linked.contact_id, linked.status) == (safe.id, "approved")
    assert Contact.get_by_id(safe.id).phone == ""          # the register's value kept
    # the probable one, once a person opened and confirmed it, goes with the next Import all
    open_and_send(staff_client, check, {"take_phone": "take", "link": "y"}, button="confirm")
    assert IncomingItem.get_by_id(check.id).status == "unprocessed"
    staff_client.post("/website-data/", data={
        "csrf_token": staff_client.csrf_token(), "tab": "contacts", "import_all": "x"})
    assert IncomingItem.get_by_id(check.id).status == "imported"
    assert WebAccount.get(WebAccount.email == "check@example.com").contact_id == \
        Contact.get(Contact.name == "Probable AS").id
    assert IncomingItem.get_by_id(stranger.id).status == "unprocessed"


def test_reject_several_and_the_processed_view_keeps_their_values(shop, staff_client, staff):
    items = [item_of(shop, company_name=f"Spam {n} AS") for n in range(3)]
    response = staff_client.post("/website-data/", data={
        "csrf_token": staff_client.csrf_token(), "tab": "contacts", "reject": "x",
        "item": [str(items[0].id), str(items[1].id), "abc", "99999999999"]},
        follow_redirects=True)
    assert "2 items rejected." in text(response)
    assert [IncomingItem.get_by_id(i.id).status for i in items] == \
        ["rejected", "rejected", "unprocessed"]
    processed = text(staff_client.get("/website-data/processed"))
    assert "Rejected" in processed and "Piet de Vries" in processed
    shown = text(staff_client.get(f"/website-data/{items[0].id}"))
    assert "Spam 0 AS" in shown and "Rejected" in shown
    assert Contact.select().count() == 0
    single = staff_client.post(f"/website-data/{items[2].id}/reject",
                               data={"csrf_token": staff_client.csrf_token()})
    assert single.status_code == 302
    again = staff_client.post(f"/website-data/{items[2].id}/reject",
                              data={"csrf_token": staff_client.csrf_token()},
                              follow_redirects=True)
    assert "rejected already" in text(again)


def test_rejecting_with_nothing_ticked_says_so(shop, staff_client):
    item_of(shop)
    response = staff_client.post("/website-data/", data={
        "csrf_token": staff_client.csrf_token(), "tab": "contacts", "reject": "x"},
        follow_redirects=True)
    assert "Tick the items to reject first." in text(response)


# --- inquiries and orders -----------------------------------------------------------------

def test_an_inquiry_becomes_an_activity_on_the_contacts_timeline(shop, staff_client):
    known = contacts.create({"name": "Jensen Bygg AS", "email": "maria@example.com"})
    account = make_account(shop, contact=known.id)
    item = item_of(shop, "activity", account, subject="Delivery time?",
                   message="When can you deliver 40 m² tiles?")
    assert match_of(item).status == "existing"
    open_and_send(staff_client, item)
    entry = NoteEntry.get(NoteEntry.contact == known.id)
    assert "Delivery time?" in entry.text and "40 m² tiles" in entry.text
    page = text(staff_client.get(f"/contacts/{known.id}"))
    assert "Delivery time?" in page and "Inquiry" in page


def test_an_order_item_shows_in_its_tab(shop, staff_client):
    item_of(shop, "order", order_id=1, number="2026-0001", company_name="Order Firma AS",
            email="buyer@example.com")
    page = text(staff_client.get("/website-data/?tab=orders"))
    assert "Order Firma AS" in page and "buyer@example.com" in page


def ordered_unlinked(app, shop, company_name="Order Firma AS"):
    """An approved customer whose account is linked to no contact orders a product on the
    portal (as a browser does): the order and the queue's "order" item it made."""
    product = offer("OF-1", "Flisekutter", "120.00", websites=[shop])
    browser, _account = customer_of(app, shop, None, email="buyer@example.com")
    assert add(browser, product, "2").status_code in (200, 302)
    address = {"delivery_street": "Nyveien 3", "delivery_postcode": "0300",
               "delivery_city": "Oslo"}
    assert place(browser, company_name=company_name, **address).status_code == 302
    order = Order.select().order_by(Order.id.desc()).get()
    item = IncomingItem.get(IncomingItem.kind == "order")
    return order, item


def test_the_order_import_path_links_the_existing_order_once(app, shop, staff_client, staff):
    known = contacts.create({"name": "Order Firma AS", "email": "buyer@example.com"})
    order, item = ordered_unlinked(app, shop)
    assert order.contact_id is None and match_of(item).status == "existing"
    page = staff_client.get(f"/website-data/{item.id}")
    assert f"Order {order.number}" in text(page)
    data = dict(form_of(page), import_item="x")
    assert staff_client.post(f"/website-data/{item.id}", data=data).status_code == 302
    staff_client.post(f"/website-data/{item.id}", data=data)        # a double submit
    assert Order.get_by_id(order.id).contact_id == known.id
    assert Order.select().count() == 1                                # never made twice
    assert json.loads(IncomingItem.get_by_id(item.id).result)["order"] == order.number
    assert Contact.select().count() == 1
    assert order.number in text(staff_client.get(f"/contacts/{known.id}"))


def test_an_order_that_is_gone_is_not_imported(shop, staff_client):
    item = item_of(shop, "order", order_id=99, company_name="Order Firma AS")
    response = open_and_send(staff_client, item)
    assert response.status_code == 302
    assert IncomingItem.get_by_id(item.id).status == "unprocessed"
    assert Contact.select().count() == 0


# --- what a new user found (issue 15 follow-up) -------------------------------------------

def test_orders_are_named_by_their_number_in_the_queue_the_processed_view_and_timeline(
        app, shop, staff_client):
    known = contacts.create({"name": "Order Firma AS", "email": "buyer@example.com"})
    order, item = ordered_unlinked(app, shop)
    queue = text(staff_client.get("/website-data/?tab=orders"))
    assert f"Order {order.number}" in queue and f"Order {item.id}" not in queue
    open_and_send(staff_client, item)
    timeline = text(staff_client.get(f"/contacts/{known.id}"))
    assert f"Order {item.id}" not in timeline.replace(f"Order {order.number}", "")
    assert f"Order {order.number}" in text(staff_client.get("/website-data/processed"))


def test_the_activities_tab_shows_each_inquirys_subject(shop, staff_client):
    item_of(shop, "activity", subject="Delivery time for tiles?", message="When?",
            email="maria@example.com")
    page = text(staff_client.get("/website-data/?tab=activities"))
    assert "Inquiry: Delivery time for tiles?" in page


def test_an_account_update_marks_the_fields_the_customer_changed(shop, staff_client):
    account = make_account(shop, email="maria@example.com")
    item_of(shop, "registration", account)
    update = item_of(shop, "account_update", account, phone="+47 99 88 77 66",
                     city="Bergen")
    assert incoming.changed_fields(incoming.get(update.id)) == {
        "phone": "+47 22 33 44 55", "city": "Oslo"}
    page = staff_client.get(f"/website-data/{update.id}").get_data(as_text=True)
    rows = {name.strip(): row for name, row in re.findall(
        r'<th scope="row">([^<]+)(.*?)</tr>', page, re.S)}
    assert "changed" in rows["Phone"] and "changed" in rows["City"]
    assert "before: +47 22 33 44 55" in rows["Phone"]
    assert "changed" not in rows["Street and number"]


def test_no_page_of_the_queue_writes_none_into_an_attribute(shop, staff_client):
    account = make_account(shop, email="maria@example.com")
    items = [item_of(shop, "registration", account), item_of(shop, "account_update", account),
             item_of(shop, "activity", account, subject="Hi", message="?"),
             item_of(shop, "order", order_id=5, number="2026-0005")]
    pages = ["/website-data/", "/website-data/?tab=orders", "/website-data/?tab=activities",
             "/website-data/processed", *[f"/website-data/{item.id}" for item in items]]
    for path in pages:
        html = staff_client.get(path).get_data(as_text=True)
        assert '="None"' not in html, path
    assert 'maxlength="254"' in staff_client.get(f"/website-data/{items[0].id}").get_data(
        as_text=True)
