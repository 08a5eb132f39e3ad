"""How the sync log words what went wrong (issue 16: "errors never pass silently ... a clear
message naming the record and field"; found by a new-user test): a table or column gone from
the business database while the sync runs is named as Test connection names it, not as a
generic failure; a value that does not fit is named by the record as a person knows it, in
the reader's language. Real business databases (`firm`), HTTP through the app."""
import json

import pytest
from helpers import text_of
from sync_helpers import bound_contact

from kontor.sync import engine

FIRM = dict(customer_number=20001, kind="company", name="Fjord Rør AS", phone="+47 22 33 44 55",
            city="Oslo", country="NO", active=True)


def test_a_table_dropped_from_the_business_database_is_named(firm):
    firm.add("contacts", **FIRM)
    assert firm.cycle(first=True).status == "ok"
    firm.database.execute_sql('DROP TABLE "contact_persons"')
    run = firm.cycle()
    assert run.status == "error"
    assert json.loads(run.error) == {"code": "table_missing", "table": "contact_persons",
                                     "entity": "contact_persons"}


def test_a_column_dropped_from_the_business_database_is_named(firm):
    firm.add("contacts", **FIRM)
    assert firm.cycle(first=True).status == "ok"
    firm.database.execute_sql('ALTER TABLE "contacts" DROP COLUMN "fax"')
    run = firm.cycle()
    assert json.loads(run.error) == {"code": "column_missing", "table": "contacts",
                                     "column": "fax"}


def test_another_failure_is_still_a_failure_with_its_text(firm, monkeypatch):
    def broken(self, entity):
        raise RuntimeError("the disk is on fire")
    monkeypatch.setattr(engine.Cycle, "sync_entity", broken)
    run = firm.cycle(first=True)
    assert json.loads(run.error) == {"code": "failed",
                                     "detail": "RuntimeError: the disk is on fire"}


@pytest.mark.parametrize("language, table, record", [
    ("en", "The table contact_persons is missing (for Contact persons).",
     "Contact 20001 Fjord Rør AS, field City: the value cannot be stored in Kontor: it "
     "contains a control character (“Os␁lo”)."),
    ("nl", "De tabel contact_persons ontbreekt (voor Contactpersonen).",
     "Relatie 20001 Fjord Rør AS, veld Plaats: de waarde kan niet in Kontor worden "
     "opgeslagen: er staat een stuurteken in (“Os␁lo”)."),
    ("de", "Die Tabelle contact_persons fehlt (für Kontaktpersonen).",
     "Kontakt 20001 Fjord Rør AS, Feld Ort: Der Wert kann nicht in Kontor gespeichert "
     "werden: er enthält ein Steuerzeichen („Os␁lo“)."),
])
def test_the_log_words_a_missing_table_and_an_unfit_value(admin_client, superuser, firm,
                                                          language, table, record):
    superuser.language = language
    superuser.save()
    key = firm.add("contacts", **FIRM)
    assert firm.cycle(first=True).status == "ok"
    firm.set("contacts", key, city="Os\x01lo")
    firm.cycle()
    firm.database.execute_sql('DROP TABLE "note_entries"')
    firm.database.execute_sql('DROP TABLE "contact_persons"')
    firm.cycle()
    said = text_of(admin_client.get("/admin/sync/log"))
    assert table in said
    assert record in said
    assert bound_contact(firm, key).city == "Oslo"
