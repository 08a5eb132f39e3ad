"""Values that do not fit where the sync would write them (issue 16, "Must hold": a value that
does not fit logs an Error line naming the record and field; found by a new-user test: a
300-character name was copied into Kontor, a NUL in a city was written back corrupted).

Such a record is written on neither side, its agreed state stays where it was, the run's
Error line names it as a person knows it (a contact by customer number and name, an employee
by e-mail, a person by name and contact) and the field; every other record of the cycle is
synced; each next cycle tries again and says so again, until the value is corrected.
On the real business database of `firm` (a SQLite file; a PostgreSQL database too in the
PostgreSQL run) and Kontor's own database (SQLite, or PostgreSQL in that run)."""
import json

import pytest
from conftest import ON_POSTGRES
from sync_helpers import Business, bound_contact

from kontor.contacts import saving
from kontor.sync import engine, values
from kontor.sync.layout import BY_NAME, parse_mapping
from models import Contact, ContactPerson, Employee, NoteEntry, SyncBase, SyncBinding

FIRM = dict(customer_number=20001, kind="company", name="Fjord Rør AS", phone="+47 22 33 44 55",
            email="post@fjordror.example", city="Oslo", country="NO", active=True)
GOOD = dict(FIRM, customer_number=20003, name="Berg Bygg AS", email="post@berg.example")


def problems(run):
    """The run's record problems (its Error line's entries)."""
    assert run.status == "error", "the run should be an Error line"
    error = json.loads(run.error)
    assert error["code"] == "records", error
    return error["records"]


def one_problem(run):
    [found] = problems(run)
    assert found["reason"] == "unfit_value"
    assert not found["label"].isdigit(), "named by its number and name, not by a key"
    return found


def control(firm):
    """A control character each database takes (PostgreSQL refuses NUL in any text)."""
    return "\x01" if "postgresql" in firm.url else "\x00"


def kontor_control():
    return "\x01" if ON_POSTGRES else "\x00"


def widen(firm, table, column, length):
    """Let the business column hold longer text than the default layout's (a desktop
    program's own schema); SQLite does not enforce a declared length anyway."""
    if "postgresql" in firm.url:
        firm.database.execute_sql(
            f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE varchar({length})')


def first_sync(firm, **values_):
    key = firm.add("contacts", **dict(FIRM, **values_))
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    return key, bound_contact(firm, key)


# --- the rule, on its own -----------------------------------------------------------------

@pytest.mark.parametrize("field, text, limit, problem", [
    ("name", "x" * 201, 200, "too_long"),
    ("name", "Fjord\x00Rør", 200, "control"),
    ("name", "Fjord\nRør", 200, "control"),
    ("city", "Os\x1blo", 100, "control"),
    ("email", "post at fjord", 254, "bad_email"),
    ("country", "NOR", 0, "bad_country"),
    ("kind", "firma", 10, "bad_kind"),
    ("discount", "150.00", 0, "out_of_range"),
    ("customer_number", "3000000000", 0, "out_of_range"),
    ("customer_number", "0", 0, "out_of_range"),
])
def test_a_value_that_does_not_fit_is_named_by_its_problem(field, text, limit, problem):
    with pytest.raises(values.UnfitValue) as raised:
        values.check_fit(BY_NAME["contacts"].field(field), text, limit)
    assert (raised.value.field, raised.value.problem) == (field, problem)


@pytest.mark.parametrize("entity, field, text", [
    ("contacts", "name", "x" * 200),
    ("contacts", "name", "Fjord Rør AS"),
    ("contacts", "email", "post@fjordror.example"),
    ("contacts", "country", ""),
    ("contacts", "discount", "100.00"),
    ("note_entries", "text", "Line one\r\nline two\twith a tab"),
])
def test_a_value_that_fits_passes(entity, field, text):
    values.check_fit(BY_NAME[entity].field(field), text, 200)


def test_a_number_field_with_no_number_or_a_bad_date_is_the_wrong_type():
    for entity, field, text in (("contacts", "discount", "lots"),
                                ("contacts", "discount", "NaN"),
                                ("contacts", "customer_number", "12a"),
                                ("note_entries", "created_at", "31.02.2026")):
        with pytest.raises(values.UnfitValue) as raised:
            values.canon(BY_NAME[entity].field(field), text)
        assert raised.value.problem == "wrong_type"


# --- business → Kontor ------------------------------------------------------------------------

def test_a_name_too_long_for_kontor_is_not_copied_and_the_rest_is(firm):
    widen(firm, "contacts", "name", 400)
    long_name = "Fjord Rør og Rørlegger " + "x" * 280
    firm.add("contacts", **dict(FIRM, name=long_name))
    firm.add("contacts", **GOOD)
    run = firm.cycle(first=True)
    found = one_problem(run)
    assert (found["entity"], found["field"], found["problem"], found["side"],
            found["limit"]) == ("contacts", "name", "too_long", "kontor", 200)
    assert found["label"].startswith("20001 Fjord Rør og Rørlegger") and \
        len(found["label"]) <= 100
    assert not Contact.select().where(Contact.customer_number == 20001).exists()
    assert Contact.get(Contact.customer_number == 20003).name == "Berg Bygg AS"
    assert run.to_kontor == 1
    # the next cycle tries again and says so again
    again = firm.cycle()
    assert one_problem(again)["field"] == "name"
    # corrected in the business database: copied
    model = firm.models["contacts"]
    model.update(name="Fjord Rør AS").where(model.customer_number == 20001).execute()
    fixed = firm.cycle()
    assert fixed.status == "ok", fixed.error
    assert Contact.get(Contact.customer_number == 20001).name == "Fjord Rør AS"


def test_a_control_character_from_the_business_database_is_not_copied(firm):
    key, contact = first_sync(firm)
    agreed = SyncBase.get(SyncBase.kontor_id == contact.id).agreed
    saving.update(contact.id, {"phone": "+47 99 88 77 66"}, contact.version)
    firm.set("contacts", key, city=f"Os{control(firm)}lo")
    found = one_problem(firm.cycle())
    assert (found["field"], found["problem"], found["side"], found["label"]) == \
        ("city", "control", "kontor", "20001 Fjord Rør AS")
    # written on neither side: Kontor keeps its city, the business row its phone
    assert Contact.get_by_id(contact.id).city == "Oslo"
    assert firm.contact(key).phone == "+47 22 33 44 55"
    assert SyncBase.get(SyncBase.kontor_id == contact.id).agreed == agreed
    firm.set("contacts", key, city="Oslo S")
    assert firm.cycle().status == "ok"
    assert (Contact.get_by_id(contact.id).city, firm.contact(key).phone) == \
        ("Oslo S", "+47 99 88 77 66")


def test_an_employee_whose_email_is_no_address_is_named_by_it(firm):
    firm.add("employees", email="lars.berg(at)firma", name="Lars Berg", active=True)
    firm.add("employees", email="kari@firma.example", name="Kari Dahl", active=True)
    found = one_problem(firm.cycle(first=True))
    assert (found["entity"], found["field"], found["problem"], found["label"]) == \
        ("employees", "email", "bad_email", "lars.berg(at)firma")
    assert [e.name for e in Employee.select()] == ["Kari Dahl"]


def test_a_person_is_named_with_its_contact(firm):
    key, _contact = first_sync(firm)
    firm.add("contact_persons", contact_id=key, name="Kari Nordmann", email="kari at fjord",
             active=True)
    firm.add("contact_persons", contact_id=key, name="Ola Nordmann", active=True)
    found = one_problem(firm.cycle())
    assert (found["entity"], found["label"], found["parent"], found["field"]) == \
        ("contact_persons", "Kari Nordmann", "20001 Fjord Rør AS", "email")
    assert [p.name for p in ContactPerson.select()] == ["Ola Nordmann"]


def test_a_note_with_a_control_character_is_refused_and_line_breaks_are_kept(firm):
    key, contact = first_sync(firm)
    firm.add("note_entries", uid="n-1", contact_id=key, text=f"Ring{control(firm)} tilbake",
             author="Lars", created_at="2026-03-01 10:00:00")
    firm.add("note_entries", uid="n-2", contact_id=key, text="Linje én\nlinje\tto",
             author="Lars", created_at="2026-03-01 11:00:00")
    found = one_problem(firm.cycle())
    assert (found["entity"], found["label"], found["parent"], found["problem"]) == \
        ("note_entries", "2026-03-01 10:00", "20001 Fjord Rør AS", "control")
    assert [n.text for n in NoteEntry.select().where(NoteEntry.contact == contact.id)] == \
        ["Linje én\nlinje\tto"]


def test_a_discount_out_of_range_or_a_number_that_is_none_is_refused(firm):
    firm.add("contacts", **dict(FIRM, discount="150.00"))
    firm.add("contacts", **GOOD)
    found = one_problem(firm.cycle(first=True))
    assert (found["field"], found["problem"], found["limit"]) == \
        ("discount", "out_of_range", ["0", "100"])
    assert Contact.select().count() == 1


def test_wrong_types_in_a_sqlite_business_database_are_named(tmp_path, app):
    # a SQLite column holds a value of any type, whatever it declares
    firm = Business(f"sqlite:///{tmp_path / 'typeless.db'}")
    firm.add("contacts", **FIRM)
    firm.database.execute_sql("INSERT INTO contacts (customer_number, name, active, discount) "
                              "VALUES (20002, 'Berg AS', 1, 'lots')")
    firm.database.execute_sql("INSERT INTO contacts (customer_number, name, active) "
                              "VALUES ('tjue', 'Dahl AS', 1)")
    run = firm.cycle(first=True)
    found = {entry["label"]: entry for entry in problems(run)}
    assert (found["20002 Berg AS"]["field"], found["20002 Berg AS"]["problem"],
            found["20002 Berg AS"]["kind"]) == ("discount", "wrong_type", "decimal")
    assert found["tjue Dahl AS"]["field"] == "customer_number"
    assert [c.customer_number for c in Contact.select()] == [20001]
    firm.database.close()


# --- Kontor → business ------------------------------------------------------------------------

def test_a_control_character_in_kontor_is_not_written_to_the_business_database(firm):
    key, contact = first_sync(firm)
    # a control character that reached Kontor's record by a way that does not clean input
    Contact.update(city=f"Os{kontor_control()}lo", version=Contact.version + 1).where(
        Contact.id == contact.id).execute()
    firm.set("contacts", key, phone="+47 11 11 11 11")
    found = one_problem(firm.cycle())
    assert (found["field"], found["problem"], found["side"], found["label"]) == \
        ("city", "control", "business", "20001 Fjord Rør AS")
    assert firm.contact(key).city == "Oslo"
    assert Contact.get_by_id(contact.id).phone == "+47 22 33 44 55"
    Contact.update(city="Oslo", version=Contact.version + 1).where(
        Contact.id == contact.id).execute()
    assert firm.cycle().status == "ok"
    assert Contact.get_by_id(contact.id).phone == "+47 11 11 11 11"


def test_a_text_longer_than_the_business_column_is_not_written_there(firm):
    firm.database.execute_sql(
        'CREATE TABLE "KUNDE" ("ID" INTEGER PRIMARY KEY, "KNR" INTEGER, "NAVN" VARCHAR(60))'
        if "sqlite" in firm.url else
        'CREATE TABLE "KUNDE" ("ID" SERIAL PRIMARY KEY, "KNR" INTEGER, "NAVN" VARCHAR(60))')
    layout = parse_mapping('[contacts]\ntable = "KUNDE"\nkey = "ID"\n[contacts.columns]\n'
                           'customer_number = "KNR"\nname = "NAVN"\n')
    saving.create({"name": "Stiftelsen for Norske Rørleggere og Varmetekniske Installatører"
                           " i Oslo og Akershus"}, customer_number=30001)
    saving.create({"name": "Berg Bygg AS"}, customer_number=30002)
    run = engine.run_cycle(firm.database, layout, node="test-node", first=True)
    found = one_problem(run)
    assert (found["field"], found["problem"], found["side"], found["limit"]) == \
        ("name", "too_long", "business", 60)
    assert found["label"].startswith("30001 Stiftelsen")
    rows = firm.database.execute_sql('SELECT "KNR", "NAVN" FROM "KUNDE"').fetchall()
    assert rows == [(30002, "Berg Bygg AS")]
    assert SyncBinding.select().where(SyncBinding.entity == "contacts").count() == 1
