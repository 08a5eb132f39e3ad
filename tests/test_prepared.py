"""models.Prepared: a query's SQL made once, then run with new arguments, giving the same rows
the query itself gives."""
from datetime import datetime

import peewee
from peewee import JOIN

from kontor import contacts
from models import Contact, ContactPerson, NoteEntry, Prepared, as_datetime, db


def test_prepared_rows_are_the_querys_rows_for_each_set_of_arguments(app):
    jansen = contacts.create({"name": "Jansen BV", "city": "Utrecht"})
    bakker = contacts.create({"name": "Bakker", "city": "Utrecht"})
    for contact, names in ((jansen, ["Piet", "Anna", "Zoë"]), (bakker, ["Kees"])):
        for name in names:
            contacts.save_person(contact, None, {"name": name, "active": name != "Anna"})

    def build(city, contact_id, limit):     # arguments in the WHERE, the JOIN and the LIMIT
        return (ContactPerson.select(ContactPerson, Contact)
                .join(Contact, JOIN.INNER, on=((ContactPerson.contact == Contact.id) &
                                               (Contact.city == city)))
                .where(ContactPerson.contact == contact_id, ContactPerson.active == True)  # noqa
                .order_by(ContactPerson.name).limit(limit))
    prepared = Prepared(build)
    for args in (("Utrecht", jansen.id, 10), ("Utrecht", jansen.id, 1), ("Utrecht", bakker.id, 5),
                 ("Oslo", jansen.id, 10)):
        expected = [(p.name, p.contact.name) for p in build(*args)]
        assert [(p.name, p.contact.name) for p in prepared(*args)] == expected
    assert [p.name for p in prepared("Utrecht", jansen.id, 10)] == ["Piet", "Zoë"]
    assert prepared("Oslo", jansen.id, 10) == []
    assert list(prepared._compiled) == [type(db.obj)]       # compiled once


def test_prepared_raw_rows_and_their_datetimes(app):
    contact = contacts.create({"name": "Jansen BV"})
    at = datetime(2026, 3, 29, 1, 30, 15, 250000)
    NoteEntry.create(contact=contact, text="Called", author_name="Anna", created_at=at, uid="x1")
    stamps = Prepared(lambda contact_id: NoteEntry.select(NoteEntry.created_at, NoteEntry.text)
                      .where(NoteEntry.contact == contact_id))
    [(created, text)] = stamps.rows(contact.id)
    assert as_datetime(created) == at and text == "Called"
    assert stamps.rows(contact.id + 1) == []


def test_prepared_models_are_made_without_working_out_their_columns_again(app, monkeypatch):
    """Issue 12 item 26: matching the cursor's columns with fields and joins with models cost
    as much as a small query; a prepared query works it out at its first rows only."""
    jansen = contacts.create({"name": "Jansen BV", "city": "Utrecht"})
    bakker = contacts.create({"name": "Bakker", "city": "Oslo"})
    contacts.save_person(jansen, None, {"name": "Piet"})
    contacts.save_person(bakker, None, {"name": "Kees"})
    contacts.save_person(bakker, None, {"name": "Anna"})
    prepared = Prepared(lambda contact_id: (
        ContactPerson.select(ContactPerson, Contact).join(Contact)
        .where(ContactPerson.contact == contact_id).order_by(ContactPerson.name)))
    assert prepared(0) == []             # no rows: nothing worked out yet
    assert [(p.name, p.contact.city) for p in prepared(jansen.id)] == [("Piet", "Utrecht")]
    worked_out = []
    resolve = peewee._resolve_model_columns
    monkeypatch.setattr(peewee, "_resolve_model_columns",
                        lambda *args: worked_out.append(1) or resolve(*args))
    again = prepared(bakker.id)
    assert [(p.name, p.contact.name, p.contact.city) for p in again] == [
        ("Anna", "Bakker", "Oslo"), ("Kees", "Bakker", "Oslo")]
    assert not again[0]._dirty and again[0].contact_id == bakker.id
    assert not worked_out
