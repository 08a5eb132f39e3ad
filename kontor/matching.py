"""Record matching: when two records probably mean the same customer.

The keys records are compared by (a name without legal forms and punctuation, the digits of a
phone number) and the duplicate check the contact register runs before it creates a contact.
The import queue's matching of incoming records to the register will live here too and reuse
them. Plain functions over the models: no Flask, no knowledge of the register's saving rules.
"""
import re

from kontor.mail import normalise_email
from kontor.text import fold
from models import Contact, Prepared

_LEGAL_FORMS = re.compile(
    r"\b(b\.?v\.?|n\.?v\.?|v\.?o\.?f\.?|a/?s|asa|ans|da|gmbh|ag|kg|ohg|e\.?k\.?|ug|ltd|"
    r"limited|llc|inc|plc|co|company|and|og|en|und)\b\.?")


def normalise_name(name: str) -> str:
    """The name as a duplicate check sees it: folded, legal forms and punctuation dropped.

    "Jansen B.V." and "jansen bv" both give "jansen"; "" for a name of legal forms only."""
    text = _LEGAL_FORMS.sub(" ", fold(name))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def digits(text: str) -> str:
    """Only the digits of `text` ("" for None): how a phone number is compared and found."""
    return re.sub(r"\D", "", text or "")


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
