"""Fetch website data at scale (issue 15, "Speed"; bench/matching.py): classifying many items
at once gives each item what classifying it alone gives, and what a plain scan of the
register by the same rules finds; the queue page's paging is the queue's order; its kept
match statuses follow every change of the register, whoever writes."""
import json

import pytest
from helpers import make_company, text
from portal_helpers import make_account, open_website
from test_support_scale import queries

from kontor import contacts, incoming
from kontor.matching import address_key, normalise_name, number_key, phone_key, words_key
from kontor.paging import paginate
from models import Company, Contact, ContactPerson, IncomingItem, WebAccount, db


@pytest.fixture
def shop(app):
    site = open_website()
    make_company(country="NO")
    return site


def item_of(website, kind="registration", account=None, **values):
    base = {"company_name": "", "org_number": "", "contact_person": "", "phone": "",
            "street": "", "postcode": "", "city": "", "country": ""}
    base.update(values)
    return IncomingItem.create(website=website.id, kind=kind,
                               web_account=account.id if account else None,
                               values=json.dumps(base))


# The register: a contact of every kind of key, persons, look-alikes and near misses.
REGISTER = [
    ({"name": "Søren Ødegård AS", "email": "post@odegard.no"}, []),
    ({"name": "Bakkerij Jansen B.V.", "org_number": "NL 8123.45.678.B01"}, []),
    ({"name": "Jensen Bygg AS", "org_number": "987 654 321", "phone": "22 33 44 55",
      "street": "Storgata 1", "postcode": "0155"}, [{"name": "Maria Jensen"}]),
    ({"name": "Jensen Bygg A/S"}, []),                                    # a tie by name
    ({"name": "Fjord Handel AS", "vat_number": "NO 912345678 MVA", "mobile": "+47 41 22 33 44"},
     [{"name": "Kari Holm", "email": "kari@fjord.no", "mobile": "99 11 22 33"}]),
    ({"name": "Müller GmbH", "country": "DE", "phone": "030 1234567"},
     [{"name": "Jürgen Müller", "phone": "+49 30 7654321"}]),
    ({"name": "Ola Nordmann", "kind": "person", "email": "ola@nordmann.no"}, []),
    ({"name": "Near Miss AS", "org_number": "98765432", "phone": "+47 22 33 44 56",
      "street": "Storgata 2", "postcode": "0155", "email": "maria@example.org"}, []),
]

# Items: (values, account e-mail or None)
ITEMS = [
    ({"company_name": "soren odegard"}, None),                            # name, accents
    ({"company_name": "BAKKERIJ JANSEN"}, None),                          # legal form
    ({"company_name": "Other", "org_number": "812345678"}, None),         # VAT form
    ({"company_name": "Jensen Bygg AS"}, None),                           # a tie
    ({"company_name": "X", "org_number": "NO 987654321 MVA"}, None),      # org number
    ({"company_name": "Y", "phone": "0047 22334455"}, None),              # phone
    ({"company_name": "Z", "phone": "41223344"}, None),                   # mobile, national
    ({"company_name": "W", "street": "STORGATA  1.", "postcode": " 0155 "}, None),  # address
    ({"company_name": "V", "contact_person": "maria  jensen"}, None),     # person's name
    ({"company_name": "U"}, "kari@fjord.no"),                             # person's e-mail
    ({"company_name": "T", "phone": "+47 99 11 22 33"}, None),            # person's mobile
    ({"company_name": "S", "phone": "030 7654321", "country": "DE"}, None),   # person, DE
    ({"contact_person": "Ola Nordmann"}, None),                           # a person contact
    ({"company_name": "R"}, "post@odegard.no"),                           # contact's e-mail
    ({"company_name": "Jensen Bygg og Anlegg AS", "org_number": "98765433",
      "phone": "+47 22 33 44 57", "street": "Storgata 3", "postcode": "0155"}, None),  # new
    ({"company_name": "Brand New AS"}, "new@example.com"),                # new
    ({"company_name": "Fjord Handel", "phone": "+47 41 22 33 44",
      "contact_person": "Kari Holm"}, "kari@fjord.no"),                   # several fields
]


def fill(shop):
    made = []
    for values, persons in REGISTER:
        contact = contacts.create(values)
        for person in persons:
            contacts.save_person(contact, None, person)
        made.append(contact)
    items, accounts = [], {}
    for number, (values, email) in enumerate(ITEMS):
        email = email or f"someone{number}@example.com"
        if email not in accounts:
            accounts[email] = make_account(shop, email=email, status="pending", password=None)
        items.append(item_of(shop, account=accounts[email], **values))
    # a linked account's update is its contact's
    linked = make_account(shop, email="linked@example.com", contact=made[5].id, password=None)
    items.append(item_of(shop, "account_update", linked, company_name="Renamed GmbH"))
    return made, items


def as_plain(match):
    return (match.status, match.contact.id if match.contact else None, match.fields,
            [(c.id, fields) for c, fields in match.candidates])


def scanned(item, home):
    """The contacts matching `item` found by reading every contact and person and comparing
    keys made on the fly (the rules of SPEC section 10 without an index): {id: fields}."""
    values = incoming.values_of(item)
    country = values["country"] or home
    wanted = {"name": normalise_name(values["name"]) if values["kind"] == "company" else "",
              "org_number": number_key(values["org_number"]), "email": values["email"],
              "phone": phone_key(values["phone"], country),
              "address": address_key(values["street"], values["postcode"]),
              "person": words_key(values["contact_person"])[:200],
              "person_norm": normalise_name(values["contact_person"])[:200]}
    found = {}
    account = WebAccount.get_or_none(WebAccount.id == item.web_account_id)
    if account is not None and account.contact_id:
        found.setdefault(account.contact_id, set()).add("web_account")
    for contact in Contact.select():
        ccountry = contact.country or home
        pairs = [("name", normalise_name(contact.name), "name"),
                 ("org_number", number_key(contact.org_number), "org_number"),
                 ("org_number", number_key(contact.vat_number), "org_number"),
                 ("email", contact.email, "email"),
                 ("phone", phone_key(contact.phone, ccountry), "phone"),
                 ("phone", phone_key(contact.mobile, ccountry), "phone"),
                 ("address", address_key(contact.street, contact.postcode), "address")]
        if contact.kind == "person":
            pairs.append(("person_norm", normalise_name(contact.name), "contact_person"))
        for person in ContactPerson.select().where(ContactPerson.contact == contact.id):
            pairs += [("email", person.email, "email"),
                      ("phone", phone_key(person.phone, ccountry), "phone"),
                      ("phone", phone_key(person.mobile, ccountry), "phone"),
                      ("person", words_key(person.name)[:200], "contact_person")]
        for kind, key, name in pairs:
            if key and wanted[kind] == key:
                found.setdefault(contact.id, set()).add(name)
    return {contact_id: set(fields) for contact_id, fields in found.items()}


def test_classifying_many_at_once_is_classifying_each_alone_and_a_plain_scan(shop):
    _made, items = fill(shop)
    together = incoming.classify([incoming.get(item.id) for item in items])
    queue = incoming.classify_queue("contacts")
    page = incoming.page_matches(incoming.queue_page("contacts", None).items)
    statuses = set()
    for item in items:
        alone = incoming.classify([incoming.get(item.id)])[item.id]
        assert as_plain(together[item.id]) == as_plain(alone) == as_plain(queue[item.id]) \
            == as_plain(page[item.id]), item.values
        found = scanned(incoming.get(item.id), "NO")
        matched = {c.id: set(f) for c, f in alone.candidates} or (
            {alone.contact.id: set(alone.fields)} if alone.contact else {})
        assert matched == found, item.values
        statuses.add(alone.status)
    assert statuses == {"existing", "check", "new"}


def test_the_rules_give_the_expected_status_per_case(shop):
    made, items = fill(shop)
    got = {n: as_plain(m) for n, m in enumerate(
        incoming.classify([incoming.get(i.id) for i in items])[i.id] for i in items)}
    expect = {0: ("existing", made[0].id, ("name",)), 1: ("existing", made[1].id, ("name",)),
              2: ("existing", made[1].id, ("org_number",)), 4: ("existing", made[2].id,
                                                              ("org_number",)),
              5: ("check", made[2].id, ("phone",)), 6: ("check", made[4].id, ("phone",)),
              7: ("check", made[2].id, ("address",)),
              8: ("check", made[2].id, ("contact_person",)),
              9: ("check", made[4].id, ("email",)), 10: ("check", made[4].id, ("phone",)),
              11: ("check", made[5].id, ("phone",)),
              12: ("check", made[6].id, ("contact_person",)),
              13: ("check", made[0].id, ("email",)), 14: ("new", None, ()),
              15: ("new", None, ()),
              16: ("existing", made[4].id, ("name", "email", "contact_person", "phone")),
              17: ("existing", made[5].id, ("web_account",))}
    for number, (status, contact_id, fields) in expect.items():
        assert got[number][:3] == (status, contact_id, fields), (number, ITEMS[number:][:1])
    assert got[3][0] == "check" and {c for c, _f in got[3][3]} == {made[2].id, made[3].id}


def test_many_keys_take_a_few_queries(shop):
    fill(shop)
    for number in range(600):          # more than one IN list of keys on SQLite
        item_of(shop, company_name=f"Firma {number}", phone=f"+47 22 00 {number:04}",
                contact_person=f"Person {number}")
    with queries() as ran:
        matches = incoming.classify_queue("contacts")
    assert len(matches) == 618 and len(ran) <= 40


# --- the queue page -----------------------------------------------------------------------

def test_the_page_is_the_queues_order_page_by_page(shop):
    account = make_account(shop, email="a@example.com", status="pending", password=None)
    for number in range(120):
        item_of(shop, "registration" if number % 3 else "account_update", account,
                company_name=f"Firma {number}")
    item_of(shop, "activity", subject="x")
    # equal times are ordered by id, as the queue's query orders them
    every_seventh = [item_id for (item_id,) in IncomingItem.select(IncomingItem.id).tuples()
                     if item_id % 7 == 0]
    IncomingItem.update(received_at=IncomingItem.select(IncomingItem.received_at)
                        .order_by(IncomingItem.id).limit(1).scalar()).where(
        IncomingItem.id.in_(every_seventh)).execute()
    for number in ("1", "2", "3", None, "abc", "99"):
        expected = paginate(incoming.unprocessed("contacts"), number, incoming.PAGE_SIZE)
        got = incoming.queue_page("contacts", number)
        assert [i.id for i in got.items] == [i.id for i in expected.items]
        assert (got.number, got.has_next) == (expected.number, expected.has_next)
    assert [i.id for i in incoming.queue_page("activities", None).items] == \
        [i.id for i in incoming.unprocessed("activities")]
    first = incoming.queue_page("contacts", None).items[0]
    assert first.website.name == shop.name and first.web_account.email == "a@example.com"


def status_shown(client, name):
    """The match status the queue page shows on the row of the item named `name`."""
    page = text(client.get("/website-data/"))
    row = page[page.index(name):]
    return next(s for s in ("Existing customer", "Should be checked", "New customer")
                if s in row[:row.index("</tr>")])


def test_the_kept_statuses_follow_every_change_of_the_register(shop, staff_client):
    account = make_account(shop, email="maria@example.com", status="pending", password=None)
    item_of(shop, account=account, company_name="Kept Firma AS", phone="22 11 00 99",
            contact_person="Nina Berg")
    assert status_shown(staff_client, "Kept Firma AS") == "New customer"
    assert status_shown(staff_client, "Kept Firma AS") == "New customer"    # kept
    known = contacts.create({"name": "Other Name AS"})                       # the form
    contacts.save_person(known, None, {"name": "Nina Berg"})                 # a person
    assert status_shown(staff_client, "Kept Firma AS") == "Should be checked"
    contacts.update(known.id, {"name": "Kept Firma"}, known.version)         # an edit
    assert status_shown(staff_client, "Kept Firma AS") == "Existing customer"
    with db.atomic():                                                        # the import
        contacts.create_many([(30001, {"name": "Kept Firma A/S"})])
    assert "2 candidates" in text(staff_client.get("/website-data/"))
    db.execute_sql("DELETE FROM contact WHERE customer_number = 30001")      # whoever writes
    ContactPerson.delete().execute()
    Contact.update(name="Renamed", name_norm="renamed").where(
        Contact.id == known.id).execute()
    assert status_shown(staff_client, "Kept Firma AS") == "New customer"
    other = contacts.create({"name": "Phone Owner AS", "phone": "+45 22 11 00 99"})
    assert status_shown(staff_client, "Kept Firma AS") == "New customer"    # Danish number
    Company.update(country="DK").execute()           # phones are read for the company's land
    assert status_shown(staff_client, "Kept Firma AS") == "Should be checked"
    WebAccount.update(contact=other.id).where(WebAccount.id == account.id).execute()
    assert status_shown(staff_client, "Kept Firma AS") == "Existing customer"


def test_the_queue_page_takes_the_same_few_queries_for_a_long_queue(shop, staff_client):
    account = make_account(shop, email="a@example.com", status="pending", password=None)
    item_of(shop, account=account, company_name="First AS")
    staff_client.get("/website-data/")
    with queries() as few:
        staff_client.get("/website-data/")
    for number in range(80):
        item_of(shop, account=account, company_name=f"Firma {number}")
    staff_client.get("/website-data/")
    with queries() as many:
        assert staff_client.get("/website-data/").status_code == 200
    assert len(many) == len(few) <= 10
