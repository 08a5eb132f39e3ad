"""The sync cycle against a real business database (SYNC.md "Tests that convince a sceptic"
1-8; issue 16 item 3): field-level three-way merge, the business side winning conflicts,
notes as a union, deletes, natural-key binding, interruption at every write position,
quiet cycles, and rows changed between read and write."""
import json

import pytest
from sync_helpers import bound_contact, history, sync_rows

from kontor import notes
from kontor.contacts import saving
from kontor.matching import person_keys
from kontor.sync import engine
from models import Contact, ContactPerson, Employee, NoteEntry, SyncRun

FIRM = dict(customer_number=20001, kind="company", name="Fjord Rør AS", phone="+47 22 33 44 55",
            fax="", email="post@fjordror.example", city="Oslo", country="NO", active=True)


def first_sync(firm, **values):
    key = firm.add("contacts", **dict(FIRM, **values))
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    return key, bound_contact(firm, key)


def edit(contact, **values):
    return saving.update(contact.id, values, Contact.get_by_id(contact.id).version)


def test_the_first_sync_copies_each_way_and_binds(firm):
    firm.add("employees", email="Lars@Firma.example", name="Lars Berg", active=True)
    key = firm.add("contacts", **FIRM)
    firm.add("contact_persons", contact_id=key, name="Kari Nordmann", email="kari@fjord.example",
             active=True)
    firm.add("note_entries", uid="b-note-1", contact_id=key, text="Ring tilbake.",
             author="Lars Berg", created_at="2026-03-01 10:00:00")
    here = saving.create({"name": "Jansen B.V.", "city": "Utrecht", "country": "NL"})
    notes.add_entry(here, "Offerte verstuurd.")
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    contact = bound_contact(firm, key)
    assert (contact.name, contact.phone, contact.customer_number) == \
        ("Fjord Rør AS", "+47 22 33 44 55", 20001)
    assert [p.name for p in contact.persons] == ["Kari Nordmann"]
    assert [n.text for n in contact.note_entries] == ["Ring tilbake."]
    assert Employee.get(Employee.email == "lars@firma.example").name == "Lars Berg"
    names = {row["name"]: row for row in firm.rows("contacts")}
    assert names["Jansen B.V."]["customer_number"] == here.customer_number
    assert [row["text"] for row in firm.rows("note_entries")
            if row["contact_id"] == names["Jansen B.V."]["key"]] == ["Offerte verstuurd."]
    assert run.to_kontor >= 4 and run.to_business >= 2
    quiet = firm.cycle()
    assert (quiet.status, quiet.to_kontor, quiet.to_business, quiet.conflicts) == \
        ("ok", 0, 0, 0)


def test_1_phone_here_and_fax_there_are_both_kept(firm):
    key, contact = first_sync(firm)
    edit(contact, phone="+47 99 88 77 66")
    firm.set("contacts", key, fax="+47 22 33 44 56")
    run = firm.cycle()
    assert run.status == "ok" and run.conflicts == 0
    contact = Contact.get_by_id(contact.id)
    assert (contact.phone, contact.fax) == ("+47 99 88 77 66", "+47 22 33 44 56")
    row = firm.contact(key)
    assert (row.phone, row.fax) == ("+47 99 88 77 66", "+47 22 33 44 56")
    assert history() == []


def test_2_the_same_field_on_both_sides_is_a_conflict_the_business_wins(firm):
    key, contact = first_sync(firm)
    edit(contact, phone="+47 11 11 11 11")
    firm.set("contacts", key, phone="+47 22 22 22 22")
    run = firm.cycle()
    assert run.conflicts == 1
    assert Contact.get_by_id(contact.id).phone == "+47 22 22 22 22"
    assert firm.contact(key).phone == "+47 22 22 22 22"
    [conflict] = history()
    assert (conflict.field, conflict.base_value, conflict.kontor_value,
            conflict.business_value, conflict.resolution) == \
        ("phone", "+47 22 33 44 55", "+47 11 11 11 11", "+47 22 22 22 22", "business")
    assert conflict.label == "Fjord Rør AS" and conflict.kontor_id == contact.id


def test_3_the_same_new_value_on_both_sides_is_no_conflict(firm):
    key, contact = first_sync(firm)
    edit(contact, city="Bergen")
    firm.set("contacts", key, city="Bergen")
    run = firm.cycle()
    assert run.conflicts == 0 and history() == []
    assert Contact.get_by_id(contact.id).city == firm.contact(key).city == "Bergen"


def test_4a_a_business_delete_against_a_kontor_edit_deletes_and_keeps_the_record(firm):
    key, contact = first_sync(firm)
    notes.add_entry(contact, "Viktig avtale.")
    firm.cycle()
    edit(contact, phone="+47 12 34 56 78")
    firm.delete("note_entries", firm.rows("note_entries")[0]["key"])
    firm.delete("contacts", key)
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert Contact.get_or_none(Contact.id == contact.id) is None
    [kept] = [h for h in history() if h.resolution == "deleted"]
    row = json.loads(kept.row)
    assert row["phone"] == "+47 12 34 56 78"
    assert [n["text"] for n in row["notes"]] == ["Viktig avtale."]


def test_4b_a_kontor_delete_against_a_business_edit_restores_the_record(firm):
    key, contact = first_sync(firm)
    Contact.delete().where(Contact.id == contact.id).execute()
    firm.set("contacts", key, phone="+47 55 55 55 55")
    run = firm.cycle()
    assert run.status == "ok", run.error
    restored = bound_contact(firm, key)
    assert restored.phone == "+47 55 55 55 55" and restored.name == "Fjord Rør AS"
    assert [h.resolution for h in history()] == ["restored"]


def test_4c_a_kontor_delete_of_an_untouched_record_deletes_it_in_the_business(firm):
    key, contact = first_sync(firm)
    Contact.delete().where(Contact.id == contact.id).execute()
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert firm.contact(key) is None
    [kept] = history()
    assert kept.resolution == "deleted" and json.loads(kept.row)["name"] == "Fjord Rør AS"


def test_5_the_same_record_created_on_both_sides_is_bound_not_duplicated(firm):
    here = saving.create({"name": "Fjord Rør A/S", "phone": "+47 22 33 44 55"},
                         customer_number=20001)
    firm.add("contacts", **dict(FIRM, name="FJORD RØR AS", city="Oslo"))
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    assert Contact.select().count() == 1 and firm.count("contacts") == 1
    contact = Contact.get_by_id(here.id)
    assert contact.name == "FJORD RØR AS" and contact.city == "Oslo"     # business wins
    assert {h.field for h in history()} == {"name", "city", "email", "country"}


def test_a_number_that_matches_with_another_name_is_listed_not_bound(firm):
    saving.create({"name": "Bakkerij Jansen"}, customer_number=20001)
    firm.add("contacts", **FIRM)
    run = firm.cycle(first=True)
    assert Contact.select().count() == 1 and firm.count("contacts") == 1
    [listed] = history()
    assert (listed.resolution, listed.business_value, listed.label) == \
        ("unbound", "20001", "Fjord Rør AS")
    firm.cycle()
    assert len(history()) == 1, "listed once, not every cycle"
    assert run.status == "ok"


@pytest.mark.parametrize("position", ["business", "business-commit", "kontor",
                                      "kontor-commit"])
def test_6_an_interrupted_cycle_repeated_equals_an_uninterrupted_one(firm, position):
    key, contact = first_sync(firm)
    other = firm.add("contacts", **dict(FIRM, customer_number=30002, name="Berg Bygg AS"))
    edit(contact, phone="+47 11 11 11 11", city="Bergen")
    firm.set("contacts", key, phone="+47 22 22 22 22", fax="+47 33")
    new_here = saving.create({"name": "Müller GmbH", "city": "Köln"})
    calls = []

    def interrupt(at):
        if at == position:
            calls.append(at)
            if len(calls) == 1:
                raise engine.Interrupted(at)

    with pytest.raises(engine.Interrupted):
        firm.cycle(interrupt=interrupt)
    firm.cycle()
    firm.cycle()
    contact = Contact.get_by_id(contact.id)
    assert (contact.phone, contact.fax, contact.city) == ("+47 22 22 22 22", "+47 33", "Bergen")
    row = firm.contact(key)
    assert (row.phone, row.fax, row.city) == ("+47 22 22 22 22", "+47 33", "Bergen")
    assert bound_contact(firm, other).name == "Berg Bygg AS"
    assert [r["name"] for r in firm.rows("contacts")].count("Müller GmbH") == 1
    assert Contact.select().where(Contact.name == "Müller GmbH").count() == 1
    assert Contact.select().count() == firm.count("contacts") == 3
    assert [(h.field, h.resolution) for h in history()] == [("phone", "business")]
    assert new_here.id in {b[1] for b in sync_rows()[0] if b[0] == "contacts"}


def test_7_a_second_quiet_cycle_writes_nothing_and_folds_into_one_line(firm):
    first_sync(firm)
    before = sync_rows()
    lines = SyncRun.select().count()
    for _ in range(3):
        run = firm.cycle()
    assert sync_rows() == before
    assert SyncRun.select().count() == lines + 1
    assert (run.status, run.quiet_runs, run.to_kontor, run.to_business, run.conflicts) == \
        ("ok", 3, 0, 0, 0)


def test_8_a_business_row_changed_between_read_and_write_is_not_overwritten(firm):
    key, contact = first_sync(firm)
    edit(contact, phone="+47 11 11 11 11")

    def meanwhile(at):
        pass

    # the business row changes after the cycle read it: the compare-and-set refuses
    original = engine.BusinessSide.current

    def changed_first(self, entity, row_key):
        if entity == "contacts" and not getattr(changed_first, "done", False):
            changed_first.done = True
            firm.set("contacts", key, fax="+47 99")
        return original(self, entity, row_key)

    engine.BusinessSide.current = changed_first
    try:
        firm.cycle(interrupt=meanwhile)
    finally:
        engine.BusinessSide.current = original
    assert firm.contact(key).fax == "+47 99"
    firm.cycle()
    contact = Contact.get_by_id(contact.id)
    row = firm.contact(key)
    assert (contact.phone, contact.fax) == (row.phone, row.fax) == ("+47 11 11 11 11", "+47 99")
    assert history() == []


def test_8b_a_kontor_record_changed_between_read_and_write_is_not_overwritten(firm):
    key, contact = first_sync(firm)
    firm.set("contacts", key, fax="+47 77")
    original = engine.Cycle.write

    def edited_meanwhile(self, adapter, items):
        if adapter.entity == "contacts" and not getattr(edited_meanwhile, "done", False):
            edited_meanwhile.done = True
            edit(Contact.get_by_id(contact.id), phone="+47 10 10 10 10")
        return original(self, adapter, items)

    engine.Cycle.write = edited_meanwhile
    try:
        firm.cycle()
    finally:
        engine.Cycle.write = original
    assert Contact.get_by_id(contact.id).phone == "+47 10 10 10 10"
    firm.cycle()
    contact = Contact.get_by_id(contact.id)
    row = firm.contact(key)
    assert (contact.phone, contact.fax) == (row.phone, row.fax) == ("+47 10 10 10 10", "+47 77")


def test_notes_merge_as_a_union_and_are_never_lost(firm):
    key, contact = first_sync(firm)
    notes.add_entry(contact, "Skrevet i Kontor.")
    firm.add("note_entries", uid="from-desktop-1", contact_id=key, text="Skrevet på kontoret.",
             author="Lars", created_at="2026-05-01 08:00:00")
    firm.cycle()
    texts = {"Skrevet i Kontor.", "Skrevet på kontoret."}
    assert {n.text for n in NoteEntry.select().where(NoteEntry.contact == contact.id)} == texts
    assert {row["text"] for row in firm.rows("note_entries")} == texts
    firm.delete("note_entries", firm.rows("note_entries")[0]["key"])
    firm.cycle()
    assert {row["text"] for row in firm.rows("note_entries")} == texts


def test_synced_persons_get_the_matching_keys_the_import_queue_finds_them_by(firm):
    key = firm.add("contacts", **FIRM)
    firm.add("contact_persons", contact_id=key, name="Kari Nordmann", phone="22 33 44 99",
             active=True)
    firm.cycle(first=True)
    person = ContactPerson.get(ContactPerson.name == "Kari Nordmann")
    expected = person_keys({"name": "Kari Nordmann", "phone": "22 33 44 99"}, "NO")
    assert expected and all(getattr(person, name) == value for name, value in expected.items())


def test_a_person_follows_its_contact_and_binds_by_name(firm):
    key, contact = first_sync(firm)
    saving.save_person(contact, None, {"name": "Kari Nordmann", "email": "kari@fjord.example"})
    firm.add("contact_persons", contact_id=key, name="Ola  Nordmann", active=True)
    firm.cycle()
    assert sorted(p.name for p in ContactPerson.select()) == ["Kari Nordmann", "Ola  Nordmann"]
    assert sorted(r["name"] for r in firm.rows("contact_persons")) == \
        ["Kari Nordmann", "Ola  Nordmann"]


def test_a_value_that_does_not_fit_is_an_error_naming_record_and_field(firm):
    firm.add("contacts", **FIRM)
    firm.database.execute_sql(
        "INSERT INTO contacts (customer_number, name, active) VALUES (20002, 'Berg AS', 1)"
        if "sqlite" in firm.url else
        "INSERT INTO contacts (customer_number, name, active) VALUES (20002, 'Berg AS', true)")
    if "sqlite" in firm.url:
        firm.database.execute_sql("UPDATE contacts SET discount = 'lots' WHERE "
                                  "customer_number = 20002")
    run = firm.cycle(first=True)
    assert Contact.select().where(Contact.customer_number == 20001).exists()
    if "sqlite" in firm.url:
        assert run.status == "error"
        [problem] = json.loads(run.error)["records"]
        assert (problem["entity"], problem["field"], problem["reason"], problem["problem"],
                problem["value"], problem["label"]) == \
            ("contacts", "discount", "unfit_value", "wrong_type", "lots", "20002 Berg AS")
        assert not Contact.select().where(Contact.customer_number == 20002).exists()
