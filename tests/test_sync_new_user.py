"""Faults a new user met with the sync's settings (issue 16 items 1-2, 5): a text key in the
mapping, Test connection on files that are no database and on odd ports, Test connection
leaving the desktop program's file as it was, layouts that cannot work, a relative SQLite
path, and the deleted-record page of the sync history."""
import json
import re
import sqlite3
import uuid
from contextlib import closing

import pytest
from conftest import BUSINESS_DATABASES
from helpers import body, error_beside, text, text_of
from peewee import PostgresqlDatabase

from kontor import notes
from kontor.contacts import saving
from kontor.sync import business, engine, service
from kontor.sync.business import BusinessDatabaseError, try_connection
from kontor.sync.layout import MappingError, business_models, default_layout, parse_mapping
from models import Contact, ContactPerson, NoteEntry, SyncConflict, SyncState


def save(client, url, password="", mapping=""):
    return client.form("/admin/sync", {"url": url, "password": password, "mapping": mapping,
                                       "version": str(service.state().version)})


def connection_said(client):
    response = client.form("/admin/sync/test")
    assert response.status_code < 500
    return text_of(response)


def sqlite_file(tmp_path, *statements):
    folder = tmp_path / f"desk-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    path = folder / "firm.db"
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    return path


def journal_mode(path):
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


# --- Test connection never answers 500 ---------------------------------------------------------

def test_a_file_that_is_no_database_is_said_not_a_crash(admin_client, tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("Dear customer,\n" * 200, encoding="utf-8")
    before = text_file.read_bytes()
    for path in (text_file, "/etc/passwd"):
        assert save(admin_client, f"sqlite:///{path}").status_code == 302
        assert f"{path} is not a SQLite database file." in connection_said(admin_client)
    assert text_file.read_bytes() == before
    with pytest.raises(BusinessDatabaseError) as raised:
        business.open_business(f"sqlite:///{text_file}")
    assert raised.value.code == "not_database"


def test_a_port_out_of_range_is_refused_on_save_and_never_a_crash(admin_client):
    for url in ("postgresql://u@127.0.0.1:99999/db", "postgresql://u@127.0.0.1:0/db",
                "postgresql://u@127.0.0.1:abc/db"):
        response = save(admin_client, url)
        assert response.status_code == 400, url
        assert "not a number from 1 to 65535" in error_beside(text(response), "url")
        with pytest.raises(BusinessDatabaseError) as raised:
            business.open_business(url)
        assert raised.value.code == "bad_port"


def test_the_cycle_logs_an_error_line_for_a_file_that_is_no_database(app, tmp_path):
    text_file = tmp_path / "firm.db"
    text_file.write_text("not a database", encoding="utf-8")
    SyncState.insert(id=1, business_url=f"sqlite:///{text_file}", active=True).execute()
    run = service.run_sync(app.config)
    assert run is not None and run.status == "error"
    assert service.error_of(run) == {"code": "not_database", "path": str(text_file)}


# --- Test connection changes nothing ---------------------------------------------------------

def test_test_connection_leaves_the_desktop_programs_file_as_it_was(admin_client, tmp_path):
    path = sqlite_file(tmp_path, "create table x(a)")
    before = path.read_bytes()
    assert journal_mode(path) == "delete"
    save(admin_client, f"sqlite:///{path}")
    assert "The table employees is missing" in connection_said(admin_client)
    assert path.read_bytes() == before and journal_mode(path) == "delete"
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    # a whole default layout: counted, and still not changed
    database = business.open_business(f"sqlite:///{path}")
    database.create_tables(list(business_models(default_layout(), database).values()))
    database.close()
    before = path.read_bytes()
    report = try_connection(f"sqlite:///{path}", "", default_layout())
    assert report.counts == {"employees": 0, "contacts": 0, "contact_persons": 0,
                             "note_entries": 0}
    assert path.read_bytes() == before and journal_mode(path) == "delete"


def test_the_sync_cycle_keeps_the_files_journal_mode(app, tmp_path):
    path = sqlite_file(tmp_path, "create table x(a)")
    database = business.open_business(f"sqlite:///{path}")
    database.create_tables(list(business_models(default_layout(), database).values()))
    database.execute_sql("INSERT INTO contacts (customer_number, name) VALUES (20001, 'Fjord')")
    saving.create({"name": "Jansen B.V."})
    run = engine.run_cycle(database, default_layout(), node="test-node", first=True)
    assert run.status == "ok" and run.to_business == 1 and run.to_kontor == 1, run.error
    database.close()
    assert journal_mode(path) == "delete"


# --- a relative SQLite path -----------------------------------------------------------------

def test_a_relative_sqlite_path_is_refused_on_save(admin_client):
    for url, path in (("sqlite:///relative.db", "relative.db"),
                      ("sqlite:///data/firm.db", "data/firm.db")):
        response = save(admin_client, url)
        assert response.status_code == 400
        error = error_beside(text(response), "url")
        assert "full path" in error and f"{path} is a relative path" in error, error
    assert not service.state().business_url
    with pytest.raises(BusinessDatabaseError) as raised:
        business.split_password("sqlite:///relative.db")
    assert raised.value.code == "relative_path"
    assert business.split_password("sqlite:////srv/firm.db") == ("sqlite:////srv/firm.db", "")
    assert business.split_password("sqlite:///C:/Firma/firm.db")[0] == \
        "sqlite:///C:/Firma/firm.db"


# --- a text key (README's mapping example) ------------------------------------------------------

TEXT_MAPPING = '''
[contacts]
table = "KUNDE"
key = "KUNDE_ID"
key_type = "text"
[contacts.columns]
customer_number = "KUNDENR"
name = "NAVN"
phone = "TLF"

[contact_persons]
table = "KONTAKT"
key = "KONTAKT_ID"
key_type = "text"
[contact_persons.columns]
contact_id = "KUNDE_ID"
name = "NAVN"

[note_entries]
table = "NOTAT"
key = "NOTAT_ID"
key_type = "text"
[note_entries.columns]
uid = "UID"
contact_id = "KUNDE_ID"
person_id = "KONTAKT_ID"
text = "TEKST"
created_at = "OPPRETTET"
'''
TEXT_TABLES = (
    'CREATE TABLE "KUNDE" ("KUNDE_ID" VARCHAR(36) PRIMARY KEY, "KUNDENR" INTEGER NOT NULL '
    'UNIQUE, "NAVN" VARCHAR(60) NOT NULL, "TLF" VARCHAR(20))',
    'CREATE TABLE "KONTAKT" ("KONTAKT_ID" TEXT PRIMARY KEY, "KUNDE_ID" VARCHAR(36) NOT NULL, '
    '"NAVN" VARCHAR(60) NOT NULL)',
    'CREATE TABLE "NOTAT" ("NOTAT_ID" TEXT PRIMARY KEY, "UID" VARCHAR(40) NOT NULL UNIQUE, '
    '"KUNDE_ID" VARCHAR(36) NOT NULL, "KONTAKT_ID" TEXT, "TEKST" TEXT NOT NULL, '
    '"OPPRETTET" TIMESTAMP NOT NULL)',
    'CREATE TABLE employees (id INTEGER PRIMARY KEY, email VARCHAR(254) NOT NULL, '
    'name VARCHAR(200) NOT NULL, phone VARCHAR(50), mobile VARCHAR(50), title VARCHAR(100), '
    'department VARCHAR(100), active BOOLEAN)',
)


@pytest.fixture(params=BUSINESS_DATABASES)
def desk_url(request, app, tmp_path, pg_server):
    """An empty business database (a SQLite file; in the PostgreSQL run also a PostgreSQL
    database): its URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'desk.db'}"
        return
    name = f"kontor_b_{uuid.uuid4().hex[:10]}"
    yield pg_server.create(name)
    pg_server.drop(name)


def made(url, *statements):
    database = business.open_business(url, create=True)
    for statement in statements:
        database.execute_sql(statement.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY")
                             if isinstance(database, PostgresqlDatabase) else statement)
    return database


def cycle(database, layout, first=False):
    return engine.run_cycle(database, layout, node="test-node", first=first)


def all_rows(database, table):
    return database.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()


def test_a_text_key_gets_a_uuid_and_persons_and_notes_follow_it(desk_url):
    database = made(desk_url, *TEXT_TABLES)
    layout = parse_mapping(TEXT_MAPPING)
    database.execute_sql("INSERT INTO \"KUNDE\" VALUES ('K-1', 20001, 'Fjord Rør AS', '22')")
    database.execute_sql("INSERT INTO \"KONTAKT\" VALUES ('P-1', 'K-1', 'Kari Nordmann')")
    database.execute_sql("INSERT INTO \"NOTAT\" VALUES ('N-1', 'b-1', 'K-1', 'P-1', "
                         "'Ring tilbake.', '2026-03-01 10:00:00')")
    assert business.check_layout(database, layout).counts["contacts"] == 1
    here = saving.create({"name": "Jansen B.V.", "phone": "030 1"})
    person = saving.save_person(here.id, None, {"name": "Piet Jansen"})
    notes.add_entry(here, "Offerte verstuurd.", person=person)
    run = cycle(database, layout, first=True)
    assert run.status == "ok", run.error
    kunder = {row[2]: row for row in all_rows(database, "KUNDE")}
    new_key = kunder["Jansen B.V."][0]
    assert new_key and str(uuid.UUID(new_key)) == new_key          # a UUID, never NULL
    assert kunder["Jansen B.V."][1] == here.customer_number
    kontakter = {row[2]: row for row in all_rows(database, "KONTAKT")}
    assert kontakter["Piet Jansen"][1] == new_key and kontakter["Piet Jansen"][0]
    notat = {row[4]: row for row in all_rows(database, "NOTAT")}
    assert notat["Offerte verstuurd."][2] == new_key
    assert notat["Offerte verstuurd."][3] == kontakter["Piet Jansen"][0]
    assert all(row[0] for table in ("KUNDE", "KONTAKT", "NOTAT")
               for row in all_rows(database, table))
    fjord = Contact.get(Contact.customer_number == 20001)
    assert [p.name for p in fjord.persons] == ["Kari Nordmann"]
    assert [(n.text, n.person.name) for n in fjord.note_entries] == [
        ("Ring tilbake.", "Kari Nordmann")]
    # the next cycles are quiet: nothing is deleted on either side
    before = [all_rows(database, table) for table in ("KUNDE", "KONTAKT", "NOTAT")]
    for _ in range(2):
        quiet = cycle(database, layout)
        assert (quiet.status, quiet.to_kontor, quiet.to_business, quiet.conflicts) == \
            ("ok", 0, 0, 0), quiet.error
    assert [all_rows(database, table) for table in ("KUNDE", "KONTAKT", "NOTAT")] == before
    assert Contact.select().count() == 2 and ContactPerson.select().count() == 2
    assert NoteEntry.select().count() == 2
    # a change in Kontor reaches the row by its text key
    saving.update(here.id, {"phone": "030 2"}, Contact.get_by_id(here.id).version)
    assert cycle(database, layout).status == "ok"
    assert database.execute_sql('SELECT "TLF" FROM "KUNDE" WHERE "KUNDE_ID" = ' +
                                database.param, (new_key,)).fetchone()[0] == "030 2"
    database.close()


def test_default_person_and_note_tables_cannot_link_to_a_text_key(desk_url):
    database = made(desk_url, TEXT_TABLES[0])
    sides = business_models(default_layout(), database)
    database.create_tables([sides["employees"], sides["contact_persons"],
                            sides["note_entries"]])
    layout = parse_mapping(TEXT_MAPPING.split("[contact_persons]")[0])
    with pytest.raises(BusinessDatabaseError) as raised:
        business.check_layout(database, layout)
    assert raised.value.code == "wrong_type"
    assert raised.value.params["table"] == "contact_persons"
    assert raised.value.params["column"] == "contact_id"
    database.close()


def test_a_text_key_too_short_for_a_uuid_is_refused_and_never_inserted_null(desk_url):
    short = TEXT_TABLES[0].replace('"KUNDE_ID" VARCHAR(36)', '"KUNDE_ID" VARCHAR(10)')
    database = made(desk_url, short, *TEXT_TABLES[1:])
    layout = parse_mapping(TEXT_MAPPING)
    with pytest.raises(BusinessDatabaseError) as raised:
        business.check_layout(database, layout)
    assert (raised.value.code, raised.value.params["length"]) == ("key_too_short", "10")
    saving.create({"name": "Jansen B.V."})
    run = cycle(database, layout, first=True)
    assert run.status == "error"
    problem = service.error_of(run)
    assert [entry["reason"] for entry in problem["records"]] == ["no_key"]
    assert all_rows(database, "KUNDE") == []
    assert Contact.select().count() == 1
    database.close()


def test_a_row_without_a_key_is_named_and_never_bound_or_deleted(desk_url):
    database = made(desk_url, *TEXT_TABLES)
    layout = parse_mapping(TEXT_MAPPING)
    if isinstance(database, PostgresqlDatabase):
        pytest.skip("PostgreSQL never lets a primary key be NULL")
    database.execute_sql("INSERT INTO \"KUNDE\" VALUES (NULL, 10001, 'Fjord Rør AS', '22')")
    run = cycle(database, layout, first=True)
    assert run.status == "error"
    assert [e["reason"] for e in service.error_of(run)["records"]] == ["null_key"]
    assert Contact.select().count() == 0 and len(all_rows(database, "KUNDE")) == 1
    # a bound row whose key was emptied (as an earlier Kontor left it) deletes nothing
    database.execute_sql("INSERT INTO \"KUNDE\" VALUES ('K-2', 20002, 'Bakker B.V.', '1')")
    assert cycle(database, layout).status == "error"
    bakker = Contact.get(Contact.customer_number == 20002)
    database.execute_sql("UPDATE \"KUNDE\" SET \"KUNDE_ID\" = NULL WHERE \"KUNDENR\" = 20002")
    run = cycle(database, layout)
    assert [e["reason"] for e in service.error_of(run)["records"]] == ["null_key", "null_key"]
    assert Contact.get_or_none(Contact.id == bakker.id) is not None
    assert len(all_rows(database, "KUNDE")) == 2
    database.close()


def test_an_integer_key_the_database_does_not_assign_is_made(desk_url):
    database = made(desk_url, *TEXT_TABLES[1:])
    database.execute_sql('CREATE TABLE "KUNDE" ("KUNDE_ID" INT PRIMARY KEY, "KUNDENR" '
                         'INTEGER NOT NULL UNIQUE, "NAVN" VARCHAR(60) NOT NULL, '
                         '"TLF" VARCHAR(20))')
    database.execute_sql("INSERT INTO \"KUNDE\" VALUES (41, 20001, 'Fjord Rør AS', '22')")
    mapping = TEXT_MAPPING.replace('key_type = "text"\n[contacts.columns]',
                                   'key_type = "integer"\n[contacts.columns]')
    mapping = mapping.split("[contact_persons]")[0]
    sides = business_models(default_layout(), database)
    database.create_tables([sides["contact_persons"], sides["note_entries"]])
    layout = parse_mapping(mapping)
    business.check_layout(database, layout)
    saving.create({"name": "Jansen B.V."})
    assert cycle(database, layout, first=True).status == "ok"
    assert [row[0] for row in all_rows(database, "KUNDE")] == [41, 42]
    database.close()


# --- layouts that cannot work -----------------------------------------------------------------

def test_a_column_mapped_twice_is_refused_beside_the_mapping(admin_client):
    mapping = TEXT_MAPPING.replace('phone = "TLF"', 'phone = "NAVN"')
    with pytest.raises(MappingError) as raised:
        parse_mapping(mapping)
    assert raised.value.code == "duplicate_column"
    response = save(admin_client, "sqlite:////srv/firm.db", mapping=mapping)
    assert response.status_code == 400
    error = error_beside(text(response), "mapping")
    assert "maps the column NAVN twice (for name and phone)" in error, error
    keyed = TEXT_MAPPING.replace('phone = "TLF"', 'phone = "KUNDE_ID"')
    assert parse_mapping_code(keyed) == "duplicate_column"


def parse_mapping_code(text_):
    with pytest.raises(MappingError) as raised:
        parse_mapping(text_)
    return raised.value.code


def test_a_key_column_that_is_not_unique_fails_the_test(admin_client, desk_url):
    database = made(desk_url, TEXT_TABLES[0].replace('"KUNDENR" INTEGER NOT NULL UNIQUE',
                                                     '"KUNDENR" INTEGER NOT NULL'),
                    *TEXT_TABLES[1:])
    layout = parse_mapping(TEXT_MAPPING.replace('key = "KUNDE_ID"', 'key = "KUNDENR"')
                           .replace('key_type = "text"\n[contacts.columns]',
                                    'key_type = "integer"\n[contacts.columns]')
                           .replace('customer_number = "KUNDENR"\nname = "NAVN"\nphone = "TLF"',
                                    'customer_number = "TLF"\nname = "NAVN"'))
    with pytest.raises(BusinessDatabaseError) as raised:
        business.check_layout(database, layout)
    assert raised.value.code == "key_not_unique"
    database.execute_sql('CREATE UNIQUE INDEX kunde_nr ON "KUNDE" ("KUNDENR")')
    with pytest.raises(BusinessDatabaseError) as raised:   # unique now; TLF is text
        business.check_layout(database, layout)
    assert raised.value.code == "wrong_type"
    database.close()


# --- the deleted-record page ------------------------------------------------------------------

INTERNAL = ("org_key", "vat_key", "phone_key", "mobile_key", "address_key", "name_key",
            "author_name", "name_norm", "search_text", "Contact persons 1", "company",
            ".000", "version")


def test_a_deleted_contact_shows_its_fields_as_the_contact_form_names_them(admin_client):
    contact = saving.create({"name": "Bakker Techniek B.V.", "kind": "company",
                             "phone": "030 111", "country": "NL", "discount": "12.5",
                             "org_number": "12345678"})
    person = saving.save_person(contact.id, None, {"name": "Jan Bakker", "title": "Inkoper",
                                                   "phone": "06 1"})
    saving.save_person(contact.id, None, {"name": "Els Bakker"})
    notes.add_entry(contact, "Offerte verstuurd.", person=person)
    kept = engine.ADAPTERS["contacts"](default_layout()["contacts"]).whole(contact.id)
    entry = SyncConflict.create(entity="contacts", kontor_id=contact.id, resolution="deleted",
                                label="Bakker Techniek B.V.", row=kept)
    page = admin_client.get(f"/admin/sync/history/{entry.id}")
    assert page.status_code == 200
    said = text_of(page)
    for shown in ("Type Company", "Name Bakker Techniek B.V.", "Phone 030 111",
                  "Organisation number 12345678", "Country Netherlands",
                  "Active Yes",
                  f"Customer number {contact.customer_number}",
                  "Contact persons", "Name Job title E-mail Phone Mobile Active",
                  "Jan Bakker Inkoper 06 1 Yes", "Els Bakker",
                  "Text Author Created Contact person", "Offerte verstuurd."):
        assert shown in said, (shown, said[said.find("The record"):])
    for internal in INTERNAL:
        assert internal not in said, internal
    assert "Customer discount (%) 12.50" in said or "Customer discount (%) 12,50" in said
    assert re.search(r"Offerte verstuurd\. \d\d[./]\d\d[./]2\d{3}, \d\d:\d\d Jan Bakker", said)
    html = body(page)
    assert html.count("<table") == 2       # one table per group, not one per person


def test_a_record_kept_from_the_business_database_is_formatted_too(admin_client):
    row = {"key": "K-9", "customer_number": "20001", "kind": "person", "name": "Kari Nordmann",
           "active": "0", "discount": "0.00", "contact_persons": [
               {"key": "P-1", "contact_id": "K-9", "name": "Ola", "active": "1"}],
           "note_entries": [{"key": "N-1", "uid": "b-1", "contact_id": "K-9",
                             "person_id": "P-1", "text": "Ring.", "author": "Lars",
                             "created_at": "2026-03-01 10:00:00"}]}
    entry = SyncConflict.create(entity="contacts", resolution="restored", label="Kari",
                                row=json.dumps(row))
    said = text_of(admin_client.get(f"/admin/sync/history/{entry.id}"))
    for shown in ("Type Person", "Active No", "Ola Yes", "Ring. Lars", "Ola"):
        assert shown in said, (shown, said)
    for internal in ("K-9", "P-1", "b-1", "uid", "key"):
        assert internal not in said.replace("Kari", ""), internal
    assert "2026" in said and "10:00:00" not in said


def test_test_connection_shows_a_layout_problem_beside_the_mapping(admin_client, tmp_path):
    path = sqlite_file(tmp_path, *(TEXT_TABLES[0].replace("VARCHAR(36) PRIMARY KEY",
                                                          "VARCHAR(36)"),) + TEXT_TABLES[1:])
    assert save(admin_client, f"sqlite:///{path}", mapping=TEXT_MAPPING).status_code == 302
    response = admin_client.form("/admin/sync/test")
    assert response.status_code == 200
    error = error_beside(text(response), "mapping")
    assert "The key column KUNDE_ID of the table KUNDE is neither its primary key nor " \
           "unique" in error, error
    assert "The connection works." not in text_of(response)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database", encoding="utf-8")
    save(admin_client, f"sqlite:///{text_file}")
    response = admin_client.form("/admin/sync/test")
    assert f"{text_file} is not a SQLite database file." in error_beside(text(response), "url")


def test_a_conflict_shows_its_values_formatted(admin_client):
    entry = SyncConflict.create(entity="contacts", field="active", base_value="1",
                                kontor_value="0", business_value="1", label="Bakker",
                                resolution="business")
    kind = SyncConflict.create(entity="contacts", field="kind", base_value=None,
                               kontor_value="company", business_value="person", label="Bakker",
                               resolution="business")
    said = text_of(admin_client.get(f"/admin/sync/history/{entry.id}"))
    assert "Agreed value Yes Kontor's value No Business value Yes" in said
    said = text_of(admin_client.get(f"/admin/sync/history/{kind.id}"))
    assert "Agreed value — Kontor's value Company Business value Person" in said
    listed = text_of(admin_client.get("/admin/sync/history"))
    assert "Company" in listed and "Person" in listed
