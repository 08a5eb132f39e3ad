"""The data folder is Kontor's alone (issue 10 item 17): it holds the database, live single-use
links in `mail/*.eml`, customers' files and CSV files waiting for an import, so every folder
in it is 0700 and every file Kontor writes 0600 — on a new install whatever the umask, and on
an old install once Kontor starts or migrates.
"""
import io
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from helpers import ON_POSTGRES, KontorClient, make_user, sign_in
from support_helpers import PDF, category, customer, open_case, type_of_request

from app import create_app
from kontor import mail, migrate, storage
from models import OutboxMessage, db

pytestmark = pytest.mark.empty_database


def mode(path):
    return stat.S_IMODE(Path(path).stat().st_mode)


def modes_under(root):
    """Every folder and file under `root` (itself included), with its mode."""
    found = {Path(root): mode(root)}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            found[Path(folder) / name] = mode(Path(folder) / name)
    return found


@pytest.fixture
def usual_umask():
    """The umask most systems give a service (0022: new files 0644, folders 0755)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def fresh_install(tmp_path, app_config, usual_umask):
    """A new data folder, with the SQLite database inside it as by default; the app on it."""
    data = tmp_path / "new-install"
    config = dict(app_config, DATA_DIR=str(data))
    if not ON_POSTGRES:
        config["DATABASE_URL"] = f"sqlite:///{data / storage.DATABASE_FILE}"
    app = create_app(config)
    app.test_client_class = KontorClient
    with app.app_context():
        yield app


def test_a_real_run_leaves_only_private_folders_and_files(fresh_install):
    app = fresh_install
    assert migrate.upgrade(db.obj)
    superuser = make_user("anna@jansen.example", superuser=True, name="Anna Jansen")
    client = app.test_client()
    assert sign_in(client, superuser.email).status_code == 302
    # a reset link written to a file, as without SMTP
    client.form("/forgot", {"email": superuser.email})
    assert mail.deliver_due(app.config) == (1, 0, 0)
    # a case file
    open_case(client, customer(), category("Invoicing", position=1),
              type_of_request("Question", position=1), files=[("invoice.pdf", PDF)])
    # a CSV waiting between preview and confirmation
    response = client.form("/contacts/import",
                           {"file": (io.BytesIO(b"name\nBakkerij Jansen\n"),
                                     "contacts.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    data = storage.DataFolder(app.config["DATA_DIR"])
    found = modes_under(data.root)
    written = {path.parent.name for path in found if path.is_file()}
    assert {"mail", "uploads", "imports"} <= written
    if not ON_POSTGRES:
        assert data.database in found
        assert Path(f"{data.database}-wal") in found   # open in WAL mode right now
    wrong = {str(path.relative_to(data.root.parent)): oct(m) for path, m in found.items()
             if m != (0o700 if path.is_dir() else 0o600)}
    assert wrong == {}


def test_the_database_and_its_write_ahead_log_are_private_from_the_first_write(fresh_install):
    if ON_POSTGRES:
        pytest.skip("PostgreSQL keeps its files itself")
    database = storage.DataFolder(fresh_install.config["DATA_DIR"]).database
    assert mode(database) == 0o600 and database.stat().st_size == 0   # before SQLite opens it
    migrate.upgrade(db.obj)
    with db.connection_context():
        OutboxMessage.create(to_addr="a@jansen.example", subject="s", body="b")
        for end in ("", "-wal", "-shm"):
            assert mode(f"{database}{end}") == 0o600, end


def test_starting_on_an_old_install_makes_its_folder_private(tmp_path, app_config, usual_umask):
    data = tmp_path / "old-install"
    for name in ("mail", "uploads", "imports"):
        (data / name).mkdir(parents=True)
    (data / "mail" / "20260101-000000-000001.eml").write_text("Subject: reset\n")
    (data / "uploads" / "0123abcd").write_bytes(PDF)
    database = data / storage.DATABASE_FILE
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        os.chmod(data, 0o755)
        (data / "kontor.db-wal").touch()
        assert mode(database) == 0o644
        config = dict(app_config, DATA_DIR=str(data))
        if not ON_POSTGRES:
            config["DATABASE_URL"] = f"sqlite:///{database}"
        app = create_app(config)
        result = app.test_cli_runner().invoke(args=["migrate"])
        assert result.exit_code == 0, result.output
        found = modes_under(data)   # while the old database is open: its -wal is there
    assert {p.name for p in found} >= {"kontor.db", "kontor.db-wal", "0123abcd", "mail"}
    assert {str(p): oct(m) for p, m in found.items()
            if m != (0o700 if p.is_dir() else 0o600)} == {}


def test_tighten_leaves_what_a_symbolic_link_points_at_alone(tmp_path):
    outside = tmp_path / "shared.txt"
    outside.write_text("not Kontor's")
    os.chmod(outside, 0o644)
    data = tmp_path / "data"
    data.mkdir()
    (data / "link").symlink_to(outside)
    storage.DataFolder(data).tighten()
    assert mode(outside) == 0o644 and mode(data) == 0o700


def test_write_private_replaces_a_readable_file_with_a_private_one(tmp_path, usual_umask):
    path = tmp_path / "waiting.csv"
    path.write_bytes(b"old")
    assert mode(path) == 0o644
    storage.write_private(path, b"new")
    assert (path.read_bytes(), mode(path)) == (b"new", 0o600)


def test_only_known_sub_folders_are_made(tmp_path):
    with pytest.raises(ValueError):
        storage.DataFolder(tmp_path).folder("secret_key")
