"""Faults a new user met with the sync's settings (issue 16 items 1-2, 5): a text key in the
mapping, Test connection on files that are no database and on odd ports, Test connection
leaving the desktop program's file as it was, layouts that cannot work, a relative SQLite
path, and the deleted-record page of the sync history."""
import sqlite3
import uuid
from contextlib import closing

import pytest
from helpers import error_beside, text, text_of

from kontor.sync import business, service
from kontor.sync.business import BusinessDatabaseError, try_connection
from kontor.sync.layout import business_models, default_layout
from models import SyncState


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


def test_the_sync_cycle_keeps_the_files_journal_mode(tmp_path):
    path = sqlite_file(tmp_path, "create table x(a)")
    database = business.open_business(f"sqlite:///{path}")
    database.execute_sql("INSERT INTO x VALUES (1)")
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
