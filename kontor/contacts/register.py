"""The register's rules for one contact (SPEC section 6): its fields and its persons' fields,
the fields derived from them for searching, sorting and the duplicate check, customer
numbering, and reading a contact and its persons."""
from decimal import Decimal

from peewee import fn

from kontor.matching import contact_keys, digits, normalise_name
from kontor.text import fold
from models import Contact, ContactPerson, Prepared

FIELDS = ("kind", "name", "org_number", "vat_number", "email", "phone", "mobile", "fax",
          "website", "street", "postcode", "city", "country", "visit_street", "visit_postcode",
          "visit_city", "visit_country", "discount", "active")
PERSON_FIELDS = ("name", "title", "email", "phone", "mobile", "active")
FIRST_CUSTOMER_NUMBER = 10001


def search_text_for(values) -> str:
    """The text search looks in, from a dict of contact fields (with `customer_number`):
    name, number, organisation number, e-mail, phones (also as digits only), cities; folded."""
    parts = [values.get("name"), str(values.get("customer_number") or ""),
             values.get("org_number"), values.get("email"), values.get("city"),
             values.get("visit_city")]
    phones = [values.get(k) for k in ("phone", "mobile")]
    parts += phones + [digits(p) for p in phones if p]
    return " ".join(fold(p) for p in parts if p)


def city_sort_key(city):
    """`contact.sort_city` for a city as typed (str or None): "0" and the folded city, or "1"
    for none, so that contacts without a city come after every city (issue 11 item 19) under
    any collation, SQLite's and PostgreSQL's alike, while the list keeps one indexed column
    to page by (migration 0015 gave existing rows the prefix)."""
    folded = fold(city or "").strip()
    return "0" + folded[:99] if folded else "1"


def derived_fields(values, home=None):
    """The columns kept in step with a contact's fields (a dict with at least `name`): the
    normalised name of the duplicate check, the sort keys, the search text and the import
    queue's matching keys (kontor.matching.contact_keys; `home`: the company's country, looked
    up when None and needed)."""
    return {"name_norm": normalise_name(values["name"])[:200],
            "sort_name": fold(values["name"]).strip()[:200],
            "sort_city": city_sort_key(values.get("city")),
            "search_text": search_text_for(values),
            **contact_keys(values, home)}


def next_customer_number():
    """The customer number after the highest one given, at least FIRST_CUSTOMER_NUMBER. Read
    it in the transaction that creates the contact: a unique index refuses a number taken
    meanwhile (IntegrityError)."""
    highest = Contact.select(fn.MAX(Contact.customer_number)).scalar()
    return max(FIRST_CUSTOMER_NUMBER, (highest or 0) + 1)


_BY_ID = Prepared(lambda contact_id: Contact.select().where(Contact.id == contact_id).limit(1))
_PERSON = Prepared(lambda contact_id, person_id: ContactPerson.select().where(
    ContactPerson.id == person_id, ContactPerson.contact == contact_id).limit(1))
_PERSONS = Prepared(lambda contact_id: ContactPerson.select().where(
    ContactPerson.contact == contact_id).order_by(ContactPerson.active.desc(),
                                                  ContactPerson.name))


def get(contact_id):
    """The contact with this id, or None."""
    found = _BY_ID(contact_id)
    return found[0] if found else None


def get_person(contact, person_id):
    """The contact person with this id if they belong to `contact`, or None."""
    found = _PERSON(contact.id, person_id)
    return found[0] if found else None


def persons(contact):
    """The contact's persons (a list), active ones first, by name."""
    return _PERSONS(contact.id)


def has_at_most_two_decimals(value) -> bool:
    """True when the Decimal `value` (a discount in percent) has no digits past the second
    decimal ("12.50" and "12.5" yes, "12.345" no): the register stores hundredths of a
    percent, and a third decimal would be rounded without a word (issue 11 item 19)."""
    return value == value.quantize(Decimal("0.01"))
