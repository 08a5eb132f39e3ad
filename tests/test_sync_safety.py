"""Deletes and skipped records in the sync that must never pass silently (found by a new-user
test; SPEC section 8, SYNC.md step 5):

1. emptied business tables do not wipe Kontor: the mass-delete safeguard holds the deletes
   and logs an Error until a superuser confirms them (once, audited);
2. a person or note whose contact does not exist, or is not synced, is named in the Error
   line;
3. a note added in Kontor to a contact the business database deleted is a conflict, kept in
   the history; a note added in the business database to a contact Kontor deleted restores
   it;
4. a contact that support cases use is kept whole (with its persons and notes), and the
   Error says which cases and what to do.
Runs on the real business database of `firm` and on Kontor's database (SQLite, or
PostgreSQL in the PostgreSQL run)."""
import json
from datetime import datetime

from flask_babel import force_locale
from helpers import text_of
from peewee import PostgresqlDatabase
from sync_helpers import bound_contact, history

from blueprints.sync import record_lines
from kontor import notes
from kontor.contacts import saving
from kontor.sync import engine, service
from kontor.sync.layout import business_models, parse_mapping
from models import AuditEvent, Contact, ContactPerson, NoteEntry, SupportCase, SyncRun, User

FIRM = dict(customer_number=20001, kind="company", name="Fjord Rør AS", phone="+47 22 33 44 55",
            city="Oslo", country="NO", active=True)


def first_sync(firm, **values):
    key = firm.add("contacts", **dict(FIRM, **values))
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    return key, bound_contact(firm, key)


def lines_of(run):
    with force_locale("en"):
        return record_lines(json.loads(run.error))


def fill(firm, contacts):
    """The demo rows in the business database; on PostgreSQL its key sequences moved past
    them (the demo rows bring their own keys), so the sync's inserts get new keys."""
    firm.fill_demo(contacts)
    if isinstance(firm.database, PostgresqlDatabase):
        for model in firm.models.values():
            table, key = model._meta.table_name, model.key.column_name
            firm.database.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{key}'), "
                f'COALESCE((SELECT MAX("{key}") FROM "{table}"), 0) + 1, false)')


def empty_business(firm):
    for entity in ("note_entries", "contact_persons", "contacts"):
        firm.models[entity].delete().execute()


# --- 1. the mass-delete safeguard ------------------------------------------------------------

def test_emptied_business_tables_do_not_wipe_kontor_until_confirmed(firm, superuser):
    fill(firm, 50)
    assert firm.cycle(first=True).status == "ok"
    persons, entries = ContactPerson.select().count(), NoteEntry.select().count()
    assert (Contact.select().count(), persons > 20, entries > 20) == (50, True, True)
    # a Kontor change waiting to be synced on one of them
    pending = Contact.select().order_by(Contact.id).first()
    saving.update(pending.id, {"phone": "+31 20 000 0000"}, pending.version)
    empty_business(firm)
    for _attempt in range(2):          # every run says so, and writes nothing
        run = firm.cycle()
        assert run.status == "error"
        assert (Contact.select().count(), ContactPerson.select().count(),
                NoteEntry.select().count()) == (50, persons, entries)
    said = lines_of(run)
    assert ("50 of the 50 synced records of Contacts (table contacts) are missing in the "
            "business database. Kontor deleted none of them. If the business database was "
            "replaced or emptied by mistake, restore it; if the deletes are intended, confirm "
            "them under Administration → Sync, Sync log.") in said
    assert any(line.startswith(f"{persons} of the {persons} synced records of Contact persons")
               for line in said)
    assert not firm.rows("contacts")           # nothing put back either
    # confirmed once: the next run applies them, the pending change is a logged conflict
    confirmed = service.confirm_deletes(run.id, superuser, ip="127.0.0.1")
    assert {entry["entity"] for entry in confirmed} == {"contacts", "contact_persons"}
    [audit] = AuditEvent.select().where(AuditEvent.action == "sync.deletes_confirmed")
    assert "50 of 50 in contacts" in audit.detail
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert (Contact.select().count(), ContactPerson.select().count(),
            NoteEntry.select().count()) == (0, 0, 0)
    assert run.conflicts == 1
    kept = [h for h in history() if h.resolution == "deleted"]
    assert len(kept) == 50
    assert any(json.loads(h.row).get("phone") == "+31 20 000 0000" for h in kept)
    assert firm.cycle().status == "ok"


def test_a_confirmation_is_used_once(firm, superuser):
    fill(firm, 30)
    assert firm.cycle(first=True).status == "ok"
    empty_business(firm)
    run = firm.cycle()
    service.confirm_deletes(run.id, superuser)
    assert firm.cycle().status == "ok"
    assert Contact.select().count() == 0
    fill(firm, 30)                       # filled again, bound again, emptied again
    firm.cycle()
    assert Contact.select().count() == 30
    empty_business(firm)
    assert firm.cycle().status == "error"
    assert Contact.select().count() == 30


def test_a_few_deletes_need_no_confirmation(firm):
    fill(firm, 30)
    assert firm.cycle(first=True).status == "ok"
    keys = [row["key"] for row in firm.rows("contacts")][:2]
    for key in keys:
        for entity in ("note_entries", "contact_persons"):
            model = firm.models[entity]
            model.delete().where(model.contact_id == key).execute()
        firm.delete("contacts", key)
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert Contact.select().count() == 28


def test_the_threshold_is_a_setting(firm):
    fill(firm, 10)
    assert firm.cycle(first=True).status == "ok"
    empty_business(firm)
    run = firm.cycle(mass_delete=(5, 10))
    assert run.status == "error"
    assert Contact.select().count() == 10


def test_a_superuser_confirms_on_the_sync_log(app, firm, admin_client, staff_client):
    fill(firm, 30)
    assert firm.cycle(first=True).status == "ok"
    empty_business(firm)
    run = firm.cycle()
    page = admin_client.get("/admin/sync/log").get_data(as_text=True)
    url = f"/admin/sync/log/{run.id}/confirm-deletes"
    assert url in page and "Confirm these deletes" in page
    assert staff_client.form(url).status_code == 403
    assert admin_client.post(url).status_code == 400             # no CSRF token
    assert "confirmed" not in json.loads(SyncRun.get_by_id(run.id).error)
    response = admin_client.form(url)
    assert response.status_code == 302
    assert json.loads(SyncRun.get_by_id(run.id).error)["confirmed"]["by"] == \
        "anna@jansen.example"
    page = admin_client.get("/admin/sync/log").get_data(as_text=True)
    assert "Deletes confirmed by anna@jansen.example" in page
    assert firm.cycle().status == "ok"
    assert Contact.select().count() == 0


# --- 2. records skipped are named ---------------------------------------------------------

def test_a_person_and_a_note_of_a_contact_that_does_not_exist_are_named(firm):
    first_sync(firm)
    person = firm.add("contact_persons", contact_id=99999, name="Kari Nordmann", active=True)
    firm.add("note_entries", uid="n-orphan", contact_id=99999, text="Ring tilbake",
             created_at=datetime(2026, 3, 1, 9, 30))
    run = firm.cycle()
    assert run.status == "error"
    said = lines_of(run)
    assert (f"Contact person Kari Nordmann (business key {person}) belongs to contact 99999, "
            "which does not exist in the table contacts. It is not synced: correct its "
            "Contact in the business database, or delete it there.") in said
    assert any(line.startswith("Note 2026-03-01 09:30 (business key")
               and "belongs to contact 99999" in line for line in said)


def test_persons_of_a_contact_not_bound_are_named_once_per_contact(firm):
    saving.create({"kind": "company", "name": "Andersen Bygg"}, customer_number=20001)
    key = firm.add("contacts", **FIRM)           # same number, another name: not bound
    for name in ("Kari Nordmann", "Ola Nordmann", "Per Hansen"):
        firm.add("contact_persons", contact_id=key, name=name, active=True)
    run = firm.cycle(first=True)
    assert run.status == "error"
    said = [line for line in lines_of(run) if "are not synced" in line]
    assert said == ["Contact person Kari Nordmann and others of contact 20001 Fjord Rør AS are "
                    "not synced, because that record is not synced (see the sync history, "
                    "for example a customer number that another contact has)."]


# --- 3. a delete against something new on the other side -----------------------------------

def test_a_kontor_note_on_a_contact_the_business_deleted_is_a_kept_conflict(firm):
    key, contact = first_sync(firm)
    notes.add_entry(contact, "Wants a quote for the new roof")
    firm.delete("contacts", key)
    run = firm.cycle()
    assert (run.status, run.conflicts) == ("ok", 1), run.error
    assert Contact.get_or_none(Contact.id == contact.id) is None
    [kept] = history()
    assert kept.resolution == "deleted"
    assert "Wants a quote for the new roof" in kept.kontor_value
    assert [n["text"] for n in json.loads(kept.row)["notes"]] == \
        ["Wants a quote for the new roof"]
    assert not firm.rows("note_entries")      # the business side won the delete


def test_a_field_edit_and_a_note_against_a_delete_count_alike(firm):
    key, contact = first_sync(firm)
    saving.update(contact.id, {"phone": "+47 99 99 99 99"}, contact.version)
    notes.add_entry(contact, "Called about the invoice")
    firm.delete("contacts", key)
    run = firm.cycle()
    assert (run.status, run.conflicts) == ("ok", 1), run.error


def test_a_business_note_on_a_contact_kontor_deleted_restores_it(firm):
    key, contact = first_sync(firm)
    Contact.delete().where(Contact.id == contact.id).execute()
    firm.add("note_entries", uid="n-new", contact_id=key, text="Order 12 delivered",
             created_at=datetime(2026, 3, 2, 10, 0))
    run = firm.cycle()
    assert run.status == "ok", run.error
    assert firm.contact(key) is not None
    restored = bound_contact(firm, key)
    assert [n.text for n in NoteEntry.select().where(NoteEntry.contact == restored.id)] == \
        ["Order 12 delivered"]
    [entry] = [h for h in history() if h.resolution == "restored"]
    assert "Order 12 delivered" in entry.business_value
    assert run.conflicts == 1


# --- 4. a contact in use is kept whole ---------------------------------------------------

def test_a_contact_with_a_support_case_is_kept_whole_and_the_error_says_why(firm, staff):
    key, contact = first_sync(firm)
    firm.add("contact_persons", contact_id=key, name="Kari Nordmann", active=True)
    firm.add("note_entries", uid="n-1", contact_id=key, text="First call",
             created_at=datetime(2026, 3, 1, 9, 0))
    assert firm.cycle().status == "ok"
    SupportCase.create(year=2026, seq=1, contact=contact.id, subject="Leak",
                       owner=staff.id, requester_user=staff.id)
    for entity in ("note_entries", "contact_persons"):
        model = firm.models[entity]
        model.delete().where(model.contact_id == key).execute()
    firm.delete("contacts", key)
    run = firm.cycle()
    assert run.status == "error"
    assert ContactPerson.select().where(ContactPerson.contact == contact.id).count() == 1
    assert NoteEntry.select().where(NoteEntry.contact == contact.id).count() == 1
    said = lines_of(run)
    assert ("Contact 20001 Fjord Rør AS was deleted in the business database, but Kontor "
            "keeps it, with its contact persons and notes, because these support cases belong "
            "to it: 2026-0001. If it was deleted by mistake, restore it in the business "
            "database; otherwise Kontor keeps it until the sync is set up again.") in said
    assert not firm.rows("note_entries")          # nothing put back half either
    assert engine.mass_deletes(run) == []


# --- 5. sync changes say so; a value is shown as stored ------------------------------------

def test_the_timeline_says_a_change_came_from_the_sync(firm, admin_client):
    key, contact = first_sync(firm)
    firm.set("contacts", key, fax="+47 22 33 44 56")
    assert firm.cycle().status == "ok"
    view = text_of(admin_client.get(f"/contacts/{contact.id}"))
    assert "Sync: changed in the business database: Fax" in view
    assert "Sync (business database)" in view
    assert "Sync: contact created from the business database" in view
    # a person's own change still names the person
    admin_client.get(f"/contacts/{contact.id}")
    saving.update(contact.id, {"city": "Bergen"}, Contact.get_by_id(contact.id).version,
                  user=User.get(User.email == "anna@jansen.example").id)
    view = text_of(admin_client.get(f"/contacts/{contact.id}"))
    assert "Changed: City" in view


def test_an_unfit_value_is_shown_as_stored(firm):
    key, _contact = first_sync(firm)
    firm.set("contacts", key, country="n1")      # fits a PostgreSQL varchar(2) as well
    run = firm.cycle()
    assert run.status == "error"
    said = " ".join(lines_of(run))
    assert "“n1”" in said and "N1" not in said


def test_persons_of_the_default_table_under_a_remapped_contacts_table_are_named(firm):
    layout = parse_mapping('[contacts]\ntable = "KUNDE"\n[contacts.columns]\n'
                           'customer_number = "customer_number"\nname = "name"\n')
    kunde = business_models(layout, firm.database)["contacts"]
    firm.database.create_tables([kunde])
    firm.add("contacts", **FIRM)                 # the default table, not synced now
    old = firm.add("contacts", **dict(FIRM, customer_number=20002, name="Gammel AS"))
    kunde.insert(customer_number=30001, name="Ny Kunde AS").execute()
    firm.add("contact_persons", contact_id=old, name="Kari Nordmann", active=True)
    run = engine.run_cycle(firm.database, layout, node="test-node", first=True)
    assert run.status == "error"
    assert Contact.select().count() == 1
    said = lines_of(run)
    assert any(line.startswith("Contact person Kari Nordmann (business key")
               and f"belongs to contact {old}, which does not exist in the table KUNDE" in line
               for line in said), said


def test_a_kontor_person_edit_against_a_business_delete_of_its_contact_is_a_conflict(firm):
    key, contact = first_sync(firm)
    firm.add("contact_persons", contact_id=key, name="Kari Nordmann", active=True)
    assert firm.cycle().status == "ok"
    person = ContactPerson.get(ContactPerson.contact == contact.id)
    saving.save_person(None, person, {"phone": "+47 11 22 33 44"},
                       opened_version=person.version)
    firm.models["contact_persons"].delete().execute()
    firm.delete("contacts", key)
    run = firm.cycle()
    assert (run.status, run.conflicts) == ("ok", 1), run.error
    [kept] = [h for h in history() if h.resolution == "deleted"]
    assert "Kari Nordmann" in kept.kontor_value
    assert json.loads(kept.row)["persons"][0]["phone"] == "+47 11 22 33 44"


def test_kontor_persons_of_a_contact_not_bound_are_named_once_per_contact(firm):
    firm.add("contacts", **FIRM)
    contact = saving.create({"kind": "company", "name": "Andersen Bygg"},
                            customer_number=20001)
    for name in ("Kari Nordmann", "Ola Nordmann"):
        saving.save_person(contact.id, None, {"name": name})
    run = firm.cycle(first=True)
    assert run.status == "error"
    said = [line for line in lines_of(run) if "are not written" in line]
    assert len(said) == 1, said
    assert "of contact 20001 Andersen Bygg are not written to the business database" in said[0]
    assert not firm.rows("contact_persons")
