"""Record matching: when two records probably mean the same customer.

The keys records are compared by (a name without legal forms and punctuation, an organisation
or VAT number's digits, a phone number in E.164, a postal address, a person's name), the
duplicate check the contact register runs before it creates a contact, and the import queue's
matching of incoming records to the register (SPEC section 10, issue 15 item 2), which looks
the keys up in indexed columns (`contact.org_key`, `contact.phone_key`...; migration 0024)
that `contact_keys` and `person_keys` keep in step on every save. Plain functions over the
models: no Flask, no knowledge of the register's saving rules.
"""
import functools
import re

import phonenumbers

from kontor.mail import normalise_email
from kontor.text import fold
from models import Company, Contact, Prepared

_LEGAL_FORMS = re.compile(
    r"\b(b\.?v\.?|n\.?v\.?|v\.?o\.?f\.?|a/?s|asa|ans|da|gmbh|ag|kg|ohg|e\.?k\.?|ug|ltd|"
    r"limited|llc|inc|plc|co|company|and|og|en|und)\b\.?")


_NOT_WORD = re.compile(r"[^\w]+")
_NOT_DIGIT = re.compile(r"\D")
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")
_NUMBER_SUFFIX = re.compile(r"(MVA|B\d{2})$")


def normalise_name(name: str) -> str:
    """The name as a duplicate check sees it: folded, legal forms and punctuation dropped.

    "Jansen B.V." and "jansen bv" both give "jansen"; "" for a name of legal forms only."""
    text = _LEGAL_FORMS.sub(" ", fold(name))
    return " ".join(_NOT_WORD.sub(" ", text).split())


def digits(text: str) -> str:
    """Only the digits of `text` ("" for None): how a phone number is compared and found."""
    return _NOT_DIGIT.sub("", text or "")


MIN_NUMBER_DIGITS = 5   # an organisation number shorter than this is no key (too many alike)
_NUMBER_NOISE = re.compile(r"[\s.\-/_]+")


def number_key(text: str) -> str:
    """An organisation or VAT number as matching compares it: its digits, without a country
    prefix ("NO", "NL", "DE"...), the Norwegian "MVA" suffix or the Dutch "B01" suffix.
    "NO 987 654 321 MVA", "987654321" and "987 654 321" give "987654321";
    "NL8123.45.678.B01" gives "812345678". "" for fewer than MIN_NUMBER_DIGITS digits.
    Rule: issue 15 item 2."""
    text = _NUMBER_NOISE.sub("", fold(text or "")).upper()
    text = _COUNTRY_PREFIX.sub("", text)
    text = _NUMBER_SUFFIX.sub("", text)
    key = digits(text)
    return key if len(key) >= MIN_NUMBER_DIGITS else ""


_PHONE_NOISE = re.compile(r"\(0\)|[\s\-./()]")
_INTERNATIONAL = re.compile(r"\+[1-9]\d{6,14}")
_DIALLED_ABROAD = re.compile(r"00[1-9]\d{6,14}")


@functools.lru_cache(maxsize=300)
def _dials_00(country):
    """Whether "00" is how one dials abroad from `country` (most of Europe: yes; the United
    States: no, "011")."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(country) if country else None
    prefix = getattr(metadata, "international_prefix", None)
    return bool(prefix) and re.fullmatch(prefix, "00") is not None


@functools.lru_cache(maxsize=4096)
def phone_key(number: str, country: str = "") -> str:
    """A phone number as matching compares it: E.164 ("+4722334455"), a national number read
    as one of `country` (ISO 3166 alpha-2; the record's country, else the company's). "+47 22
    33 44 55", "0047 22334455" and "22 33 44 55" in Norway are one number. "" for text that
    is no possible phone number (too short, letters). Uses the `phonenumbers` library.
    Rule: issue 15 item 2."""
    number = (number or "").strip()
    if len(digits(number)) < 5:
        return ""
    # the common international forms need no parsing (the library takes 0.1-0.5 ms a number)
    compact = _PHONE_NOISE.sub("", number)
    if _INTERNATIONAL.fullmatch(compact):
        return compact
    if _DIALLED_ABROAD.fullmatch(compact) and _dials_00((country or "").upper()):
        return "+" + compact[2:]
    try:
        parsed = phonenumbers.parse(number, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def words_key(text: str) -> str:
    """Text folded (case, accents), punctuation dropped, whitespace collapsed: how a person's
    name and a street are compared ("Søren  Ødegård" and "soren odegard" are alike)."""
    return " ".join(_NOT_WORD.sub(" ", fold(text or "")).replace("_", " ").split())


def address_key(street: str, postcode: str) -> str:
    """A postal address as matching compares it: the street (`words_key`) and the postcode
    without spaces, upper-case, joined by "|"; "" unless both are given."""
    street = words_key(street)
    postcode = "".join(fold(postcode or "").split()).upper()
    return f"{street}|{postcode}"[:250] if street and postcode else ""


def home_country() -> str:
    """The company's country (ISO 3166 alpha-2, "" before setup): how a phone number
    without a country code is read when its record has no country."""
    company = Company.current()
    return company.country if company is not None else ""


def contact_keys(values, home=None) -> dict:
    """The matching keys of a contact (a dict of contact fields): {"org_key", "vat_key",
    "phone_key", "mobile_key", "address_key"}. `home`: the company's country, looked up when
    None and a national number needs it (pass it when keying many contacts)."""
    country = (values.get("country") or "").upper()
    phones = {}
    for name in ("phone", "mobile"):
        number = values.get(name) or ""
        if number.strip() and not country and home is None \
                and not number.strip().startswith("+"):
            home = home_country()
        phones[name] = phone_key(number, country or home or "")
    return {"org_key": number_key(values.get("org_number")),
            "vat_key": number_key(values.get("vat_number")),
            "phone_key": phones["phone"], "mobile_key": phones["mobile"],
            "address_key": address_key(values.get("street"), values.get("postcode"))}


def person_keys(values, country="", home=None) -> dict:
    """The matching keys of a contact person (a dict of person fields) at a contact in
    `country`: {"name_key", "phone_key", "mobile_key"}."""
    keys = {"name_key": words_key(values.get("name"))[:200]}
    for name in ("phone", "mobile"):
        number = values.get(name) or ""
        if number.strip() and not country and home is None:
            home = home_country()
        keys[f"{name}_key"] = phone_key(number, country or home or "")
    return keys


def likely_duplicates(values, exclude_id=None, limit=10):
    """Contacts that are probably the same as `values` (a dict of contact fields): the same
    organisation number, e-mail or normalised name. At most `limit` of them, by customer
    number, leaving out the contact `exclude_id`; [] when `values` has none of the three."""
    conditions = []
    if (values.get("org_number") or "").strip():
        conditions.append(Contact.org_number == values["org_number"].strip())
    if normalise_email(values.get("email")):
        conditions.append(Contact.email == normalise_email(values["email"]))
    norm = normalise_name(values.get("name") or "")
    if norm:
        conditions.append(Contact.name_norm == norm)
    if not conditions:
        return []
    match = conditions[0]
    for condition in conditions[1:]:
        match |= condition
    query = Contact.select().where(match)
    if exclude_id:
        query = query.where(Contact.id != exclude_id)
    return list(query.order_by(Contact.customer_number).limit(limit))


def _keys(values):
    """The keys `likely_duplicates` compares by: organisation number, e-mail, normalised name."""
    return ((values.get("org_number") or "").strip(), normalise_email(values.get("email")),
            normalise_name(values.get("name") or ""))


CHUNK = 500


def _contacts_with(column):
    """A prepared query of the contacts whose `column` is one of CHUNK values: its SQL is
    made once, not for every chunk of every file (peewee spent 2.7 s of a 50,000-line
    preview writing IN lists; issue 10 item 1)."""
    return Prepared(lambda *values: Contact.select().where(column.in_(list(values))),
                    arity=CHUNK)


_WITH_COLUMN = {name: _contacts_with(getattr(Contact, name))
                for name in ("org_number", "email", "name_norm")}


def duplicates_in_register(rows, limit=3):
    """For the lines of an import preview, the contacts in the register that are probably the
    same, by the rules of `likely_duplicates` (the "New contact" check): the same organisation
    number, e-mail or normalised name. In: (line, values) pairs. Out: {line: [Contact, ...]}
    (at most `limit` each, by customer number) for the lines that have any. A few queries for
    the whole file, CHUNK values at a time, not one per line. Rule: issue 11 item 10."""
    wanted = ({}, {}, {})           # per key: value → lines
    for line, values in rows:
        for index, value in enumerate(_keys(values)):
            if value:
                wanted[index].setdefault(value, []).append(line)
    found = {}
    for name, by_value in zip(("org_number", "email", "name_norm"), wanted, strict=True):
        values = list(by_value)
        for start in range(0, len(values), CHUNK):
            some = values[start:start + CHUNK]
            for contact in _WITH_COLUMN[name](*some, *[None] * (CHUNK - len(some))):
                for line in by_value.get(getattr(contact, name), ()):
                    found.setdefault(line, {})[contact.id] = contact
    return {line: sorted(contacts.values(), key=lambda c: c.customer_number)[:limit]
            for line, contacts in sorted(found.items())}
