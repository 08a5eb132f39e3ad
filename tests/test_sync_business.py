"""The business database as the sync sees it (issue 16 items 1-2): the default layout, the
mapping file, "Test connection" saying exactly what is wrong, the sealed password and the demo
database (`flask --app app business-demo`). Each test runs on a real SQLite file and, in the
PostgreSQL run, on a real PostgreSQL database too."""
import os
import stat
import uuid
from pathlib import Path

import pytest
from conftest import BUSINESS_DATABASES, ON_POSTGRES, PG_URL

from kontor.sync import business, demo, secret
from kontor.sync.business import BusinessDatabaseError, try_connection
from kontor.sync.layout import MappingError, default_layout, parse_mapping


@pytest.fixture(params=BUSINESS_DATABASES)
def business_url(request, tmp_path, pg_server):
    """An empty business database: a new SQLite file, or (PostgreSQL run) a new database on
    the test server, dropped afterwards. Its URL has no password."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'business.db'}"
        return
    name = f"kontor_b_{uuid.uuid4().hex[:10]}"
    url = pg_server.create(name)
    yield url
    pg_server.drop(name)


def made_demo(url, contacts=30):
    database = business.open_business(url, create=True)
    try:
        return demo.create_demo(database, contacts)
    finally:
        database.close()


def problem(url, layout=None, password=""):
    with pytest.raises(BusinessDatabaseError) as raised:
        try_connection(url, password, layout or default_layout())
    return raised.value.code, raised.value.params


def test_the_demo_database_passes_the_connection_test_with_its_row_counts(business_url):
    counts = made_demo(business_url, contacts=30)
    assert counts["contacts"] == 30 and counts["employees"] == 8
    assert counts["contact_persons"] >= 30 and counts["note_entries"] > 0
    report = try_connection(business_url, "", default_layout())
    assert report.counts == counts


def test_the_demo_is_the_same_every_time_and_speaks_three_languages():
    first, second = demo.rows(60), demo.rows(60)
    assert first == second
    countries = {row["country"] for row in first["contacts"]}
    assert countries == {"NL", "NO", "DE"}
    names = " ".join(row["name"] for row in first["contacts"])
    assert any(form in names for form in ("B.V.", "AS", "GmbH"))
    assert len({row["customer_number"] for row in first["contacts"]}) == 60
    assert len({row["uid"] for row in first["note_entries"]}) == len(first["note_entries"])


def test_a_demo_never_overwrites_a_database_that_has_the_tables(business_url):
    made_demo(business_url, contacts=3)
    with pytest.raises(ValueError, match="has these tables already"):
        made_demo(business_url, contacts=3)
    assert try_connection(business_url, "", default_layout()).counts["contacts"] == 3


def test_a_missing_table_column_or_wrong_type_is_named(business_url):
    made_demo(business_url, contacts=2)
    assert problem(business_url, parse_mapping(
        '[contacts]\ntable = "KUNDE"\n[contacts.columns]\ncustomer_number = "customer_number"\n'
        'name = "name"\n')) == ("table_missing", {"table": "KUNDE", "entity": "contacts"})
    assert problem(business_url, parse_mapping(
        '[contacts]\n[contacts.columns]\ncustomer_number = "KUNDENR"\nname = "name"\n')) == \
        ("column_missing", {"table": "contacts", "column": "KUNDENR"})
    code, params = problem(business_url, parse_mapping(
        '[contacts]\n[contacts.columns]\ncustomer_number = "name"\nname = "city"\n'))
    assert code == "wrong_type"
    assert params["table"] == "contacts" and params["column"] == "name"
    assert params["expected"] == "integer" and "char" in params["found"].lower()
    assert problem(business_url, parse_mapping(
        '[employees]\nkey = "nummer"\n[employees.columns]\nemail = "email"\nname = "name"\n'
    )) == ("column_missing", {"table": "employees", "column": "nummer"})


def test_a_mapping_maps_other_names_and_leaves_out_what_it_does_not_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    database = business.open_business(url, create=True)
    database.execute_sql('CREATE TABLE "KUNDE" ("KNR_ID" INTEGER PRIMARY KEY, '
                         '"KUNDENR" INTEGER NOT NULL, "NAVN" VARCHAR(80), "TLF" TEXT)')
    database.execute_sql('INSERT INTO "KUNDE" VALUES (7, 10007, \'Fjord Rør AS\', \'22 33 44 55\')')
    database.close()
    made_demo(url, contacts=1)   # the other tables in the default layout; KUNDE is extra
    layout = parse_mapping('[contacts]\ntable = "KUNDE"\nkey = "KNR_ID"\n'
                           '[contacts.columns]\ncustomer_number = "KUNDENR"\nname = "NAVN"\n'
                           'phone = "TLF"\n')
    assert layout["contacts"].columns == {"customer_number": "KUNDENR", "name": "NAVN",
                                          "phone": "TLF"}
    assert layout["employees"] == default_layout()["employees"]
    assert try_connection(url, "", layout).counts["contacts"] == 1


@pytest.mark.parametrize("text, code", [
    ("[contacts\n", "syntax"),
    ("[kunder]\ntable = 'x'\n", "section"),
    ("[contacts]\n[contacts.columns]\ncustomer_number = 'a'\nname = 'b'\nshoe_size = 'c'\n",
     "unknown_field"),
    ("[contacts]\n[contacts.columns]\nname = 'b'\n", "required"),
    ("[contacts]\ntable = 'a\"; DROP TABLE contacts; --'\n[contacts.columns]\n"
     "customer_number = 'a'\nname = 'b'\n", "name"),
    ("[contacts]\ntable = ''\n[contacts.columns]\ncustomer_number = 'a'\nname = 'b'\n", "name"),
    ("[contacts]\nkey_type = 'uuid'\n[contacts.columns]\ncustomer_number = 'a'\nname = 'b'\n",
     "key_type"),
    ("contacts = 3\n", "section"),
])
def test_a_mapping_file_that_cannot_be_used_says_why(text, code):
    with pytest.raises(MappingError) as raised:
        parse_mapping(text)
    assert raised.value.code == code


def test_an_empty_mapping_is_the_default_layout():
    assert parse_mapping("") == parse_mapping("  \n") == default_layout()
    assert [table.table for table in default_layout().tables] == [
        "employees", "contacts", "contact_persons", "note_entries"]


def test_a_sqlite_file_that_does_not_exist_is_not_created(tmp_path):
    path = tmp_path / "typo.db"
    assert problem(f"sqlite:///{path}") == ("no_file", {"path": str(path)})
    assert not path.exists()


def test_a_sqlite_file_on_a_network_share_is_refused(tmp_path):
    mounts = tmp_path / "mounts"
    share = tmp_path / "share"
    share.mkdir()
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\n//nas/firma {share} cifs rw 0 0\n")
    assert business.is_network_path(share / "firm.db", mounts_file=mounts)
    assert not business.is_network_path(tmp_path / "firm.db", mounts_file=mounts)
    assert business.is_network_path(Path("\\\\nas\\firma\\firm.db"))


@pytest.mark.parametrize("url", ["mysql://localhost/firm", "sqlite:///", "ftp://x/y",
                                 "postgresql://host-only", "", "postgresql:///nohost"])
def test_a_url_kontor_does_not_support_is_refused(url):
    with pytest.raises(BusinessDatabaseError) as raised:
        business.split_password(url)
    assert raised.value.code == "bad_url"


def test_a_password_typed_into_the_url_is_taken_out():
    assert business.split_password("postgresql://bob:s3cr%40t@db.firm.example:5433/erp") == \
        ("postgresql://bob@db.firm.example:5433/erp", "s3cr@t")
    assert business.split_password("postgresql://bob@db.firm.example/erp") == \
        ("postgresql://bob@db.firm.example/erp", "")
    assert business.redacted("FATAL: password s3cr@t wrong", "s3cr@t") == \
        "FATAL: password *** wrong"


@pytest.mark.skipif(not ON_POSTGRES, reason="needs the PostgreSQL server of the PostgreSQL run")
def test_postgresql_problems_are_told_apart(pg_server):
    parts = pg_server.parts
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    user = parts.username or "postgres"
    # nothing listens on port 1
    assert problem(f"postgresql://{user}@{host}:1/x")[0] == "unreachable"
    assert problem(f"postgresql://{user}@{host}:{port}/no_such_db_{uuid.uuid4().hex[:6]}"
                   )[0] == "no_database"
    assert problem(f"postgresql://nobody_{uuid.uuid4().hex[:6]}@{host}:{port}/postgres",
                   password="wrong")[0] == "login_refused"
    assert PG_URL


def test_the_password_is_sealed_with_a_private_key_in_the_data_folder(tmp_path):
    sealed = secret.seal(tmp_path, "Fjord-2026!")
    assert "Fjord" not in sealed and sealed != secret.seal(tmp_path, "Fjord-2026!")
    assert secret.unseal(tmp_path, sealed) == "Fjord-2026!"
    key = tmp_path / secret.KEY_FILE
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert secret.seal(tmp_path, "") == "" and secret.unseal(tmp_path, "") == ""
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(secret.SecretUnreadable):
        secret.unseal(other, sealed)


def test_business_demo_command_creates_the_database_once(app, tmp_path):
    path = tmp_path / "firma.db"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["business-demo", str(path), "--contacts", "12"])
    assert result.exit_code == 0, result.output
    assert "12 contacts" in result.output and f"sqlite:///{path}" in result.output
    assert try_connection(f"sqlite:///{path}", "", default_layout()).counts["contacts"] == 12
    again = runner.invoke(args=["business-demo", str(path)])
    assert again.exit_code != 0 and "exists already" in again.output
    assert runner.invoke(args=["business-demo", str(tmp_path / "x.db"), "--contacts", "0"]
                         ).exit_code != 0
