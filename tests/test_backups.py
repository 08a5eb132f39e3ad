"""Backups and restore (issue 17 items 5 and 6; SECURITY.md 40-42), on SQLite and PostgreSQL:
Administration → Backups for superusers only, a backup as one zip with the database, the
uploads and a manifest with a checksum (never the sync's key), the backup folder checked, the
nightly job with its lease, its days and its alert, every refusal of a restore, a tampered
file refused with nothing changed, a restore round trip with the sync asking to be
reactivated, a failure half-way leaving the old state, and `flask restore` onto a new PC."""
import hashlib
import io
import json
import os
import sqlite3
import threading
import uuid
import zipfile
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import (
    ON_POSTGRES,
    PASSWORD,
    KontorClient,
    error_beside,
    make_user,
    sign_in,
    text,
    text_of,
)
from portal_helpers import open_website, signed_in_customer
from sync_helpers import bound_contact

from app import create_app
from kontor import alerts, backups, contacts, jobs, storage
from kontor.contacts import saving
from kontor.sync import secret
from models import (
    AlertSent,
    AuditEvent,
    BackupSetting,
    Contact,
    OutboxMessage,
    SyncConflict,
    SyncState,
    UserSession,
    db,
)
from models.clock import utcnow

GETS = ["/admin/backups", "/admin/backups/restore",
        "/admin/backups/files/kontor-backup-20260101-020000-nightly.zip"]
POSTS = ["/admin/backups/new", "/admin/backups/folder", "/admin/backups/restore",
         "/admin/backups/restore/end-sessions"]


def audits(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def data_folder(app):
    return storage.DataFolder(app.config["DATA_DIR"])


def an_upload(app, name="a1b2c3d4", content=b"%PDF-1.4 the offer\n"):
    folder = data_folder(app).folder("uploads")
    storage.write_private(folder / name, content)
    return folder / name


def make_backup(client):
    """Back up now through the page; the downloaded bytes and the kept file's path."""
    response = client.form("/admin/backups/new")
    assert response.status_code == 200, text_of(response)[:500]
    name = response.headers["Content-Disposition"].split("filename=")[1].strip('"')
    return response.get_data(), name


def backup_path(app, name):
    return data_folder(app).backups / name


def restore(client, backup="", upload=None, password=PASSWORD):
    data = {"backup": backup, "password": password}
    if upload is not None:
        data["upload"] = (io.BytesIO(upload), "kontor-backup.zip")
    return client.form("/admin/backups/restore", data, content_type="multipart/form-data")


def contact_names():
    return sorted(c.name for c in Contact.select())


def new_contact(name):
    return contacts.create({"name": name, "kind": "company"})


# --- access -----------------------------------------------------------------------------------

def test_staff_get_403_and_strangers_are_sent_to_sign_in(client, staff_client, superuser):
    for url in GETS:
        assert staff_client.get(url).status_code == 403, url
        assert client.get(url).status_code == 302, url
    for url in POSTS:
        assert staff_client.form(url, {"password": PASSWORD}).status_code == 403, url


def test_the_page_is_in_the_administration_and_says_it_is_no_backup_of_the_business_database(
        admin_client):
    page = admin_client.get("/admin/backups")
    assert page.status_code == 200
    assert 'href="/admin/backups" aria-current="page"' in page.get_data(as_text=True)
    said = text_of(page)
    assert "Kontor's database is not a backup of the business database" in said
    assert "There are no backups in the backup folder yet." in said
    assert "Kontor's database is not a backup of the business database" in text_of(
        admin_client.get("/admin/backups/restore"))
    assert "Kontor's database is not a backup of the business database" in text_of(
        admin_client.get("/admin/sync"))


# --- making a backup --------------------------------------------------------------------------

def test_a_backup_holds_the_database_the_uploads_and_a_manifest_but_not_the_sync_key(
        app, admin_client):
    an_upload(app)
    secret.seal(app.config["DATA_DIR"], "business secret")      # makes sync.key
    assert (Path(app.config["DATA_DIR"]) / secret.KEY_FILE).exists()
    new_contact("Bakkerij De Korenschoof")
    content, name = make_backup(admin_client)
    assert backups.FILE_NAME.fullmatch(name) and name.endswith("-manual.zip")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    member = "database/kontor.dump" if ON_POSTGRES else "database/kontor.db"
    assert sorted(names) == sorted([member, "uploads/a1b2c3d4", "manifest.json"])
    assert not any("key" in name or "secret" in name for name in names)
    assert manifest["database"] == ("postgresql" if ON_POSTGRES else "sqlite")
    assert manifest["migrations"] == backups.known_migrations()
    assert manifest["checksum"] == backups.contents_checksum(manifest["files"])
    # the kept copy is the same file, private, and listed with its size
    kept = backup_path(app, name)
    assert kept.read_bytes() == content
    assert kept.stat().st_mode & 0o777 == 0o600
    page = text_of(admin_client.get("/admin/backups"))
    assert name in page and "Made by hand" in page
    assert [e.target for e in audits("backup.made")] == [name]


def test_a_backup_downloads_as_an_attachment_and_odd_names_are_not_found(app, admin_client):
    _content, name = make_backup(admin_client)
    response = admin_client.get(f"/admin/backups/files/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.get_data() == backup_path(app, name).read_bytes()
    assert audits("backup.downloaded")
    for odd in ("..%2Fkontor.db", "kontor.db", "kontor-backup-20260101-020000-nightly.zip",
                "secret_key", "%00", "x" * 5000):
        assert admin_client.get(f"/admin/backups/files/{odd}").status_code == 404, odd


def test_the_sqlite_backup_is_consistent_while_others_write(app, admin_client):
    if ON_POSTGRES:
        pytest.skip("SQLite's online backup")
    for number in range(50):
        new_contact(f"Firm {number}")
    content, _name = make_backup(admin_client)
    new_contact("Written after the backup")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        copy = Path(app.config["DATA_DIR"]) / "check.db"
        copy.write_bytes(archive.read("database/kontor.db"))
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM contact").fetchone()[0] == 50


def test_without_pg_dump_a_postgresql_backup_says_so_clearly(app, monkeypatch, tmp_path):
    monkeypatch.setattr(backups, "_program", lambda name: None)
    with pytest.raises(backups.BackupRefused) as refused:
        backups._copy_database("postgresql://kontor@127.0.0.1/kontor", tmp_path / "x")
    assert refused.value.reason == "no_pg_dump"


@pytest.mark.skipif(not ON_POSTGRES, reason="the page's PostgreSQL notice")
def test_the_page_says_when_pg_dump_is_missing(admin_client, monkeypatch):
    monkeypatch.setattr(backups, "_program", lambda name: None)
    said = text_of(admin_client.get("/admin/backups"))
    assert "the program pg_dump is not installed" in said
    response = admin_client.form("/admin/backups/new", follow_redirects=True)
    assert "the program pg_dump is not installed" in text_of(response)


# --- the backup folder ------------------------------------------------------------------------

@pytest.mark.parametrize(("folder", "message"), [
    ("backups", "Write the folder's full path"),
    ("/no/such/folder/anywhere", "There is no such folder on this computer."),
    ("/etc/hostname", "This is a file, not a folder."),
    ("/proc", "Kontor cannot write into this folder"),
])
def test_a_backup_folder_that_cannot_be_used_is_refused_beside_the_field(admin_client, folder,
                                                                          message):
    response = admin_client.form("/admin/backups/folder", {"folder": folder, "version": "1"})
    assert response.status_code == 400
    assert error_beside(text(response), "folder").startswith(message)
    assert BackupSetting.get_or_none(BackupSetting.id == 1) is None


def test_the_chosen_folder_gets_the_backups_and_a_stale_form_is_409(admin_client, tmp_path,
                                                                    other_client, superuser):
    usb = tmp_path / "usb-disk"
    usb.mkdir()
    response = admin_client.form("/admin/backups/folder", {"folder": str(usb), "version": "1"})
    assert response.status_code == 302
    assert backups.settings().folder == str(usb)
    _content, name = make_backup(admin_client)
    assert (usb / name).exists()
    assert audits("backup.folder")[0].target == str(usb)
    sign_in(other_client, superuser.email)
    stale = other_client.form("/admin/backups/folder", {"folder": "", "version": "1"})
    assert stale.status_code == 409
    assert "Someone else saved the backup folder" in text_of(stale)


def test_a_backup_folder_that_went_away_is_said(admin_client, tmp_path):
    usb = tmp_path / "usb-disk"
    usb.mkdir()
    admin_client.form("/admin/backups/folder", {"folder": str(usb), "version": "1"})
    usb.rmdir()
    said = text_of(admin_client.get("/admin/backups"))
    assert "The backup folder cannot be used: There is no such folder" in said


# --- the nightly backup -----------------------------------------------------------------------

def test_the_nightly_backup_is_due_once_a_night_after_its_hour():
    night = datetime(2026, 12, 1, 2, 0)
    assert backups.nightly_due(night, 2, None)
    assert not backups.nightly_due(night + timedelta(hours=5), 2, night + timedelta(minutes=1))
    assert backups.nightly_due(night + timedelta(days=1), 2, night + timedelta(minutes=1))
    # switched off at night: made when Kontor runs again in the morning
    assert backups.nightly_due(night + timedelta(days=1, hours=7), 2, night)
    # before the hour, yesterday's counts
    assert not backups.nightly_due(night + timedelta(hours=23), 2, night)


def test_the_nightly_job_runs_once_with_several_processes_and_keeps_the_days(app, superuser):
    config = dict(app.config, BACKUP_DAYS=14)
    folder = data_folder(app).folder("backups")
    for days in (20, 15, 13):
        old = utcnow() - timedelta(days=days)
        (folder / f"kontor-backup-{old:%Y%m%d-%H%M%S}-nightly.zip").write_bytes(b"old")
    (folder / "holiday-photos.zip").write_bytes(b"not ours")
    ran = [jobs.run_job("nightly_backup", backups.nightly_job, config, holder=f"node-{n}")
           for n in range(3)]
    assert ran == [True, False, False]     # the lease: one process makes it
    names = sorted(path.name for path in folder.iterdir())
    assert len([n for n in names if n.endswith("-nightly.zip")]) == 2   # today's and 13 days
    assert "holiday-photos.zip" in names
    assert backups.settings().last_nightly_file in names
    assert [e.target for e in audits("backup.nightly")] == [backups.settings().last_nightly_file]
    # the same night again: not due
    assert backups.nightly(config) is None


def test_the_newest_backup_is_never_pruned(tmp_path):
    old = utcnow() - timedelta(days=40)
    only = tmp_path / f"kontor-backup-{old:%Y%m%d-%H%M%S}-nightly.zip"
    only.write_bytes(b"the last good one")
    assert backups.prune(tmp_path, 14) == 0 and only.exists()


def test_a_failed_nightly_backup_mails_the_superusers_at_most_once_an_hour(app, superuser,
                                                                            admin_client):
    make_user("ben@jansen.example", superuser=True, name="Ben Bakker", language="nl")
    make_user("piet@jansen.example", name="Piet de Vries")
    gone = Path(app.config["DATA_DIR"]).parent / "usb-disk"
    gone.mkdir()
    backups.save_folder(str(gone), 1, superuser)
    gone.rmdir()
    config = dict(app.config)
    with pytest.raises(backups.BackupRefused):
        backups.nightly(config)
    mails = list(OutboxMessage.select().where(OutboxMessage.kind == "alert.backup_failed"))
    assert sorted(m.to_addr for m in mails) == ["anna@jansen.example", "ben@jansen.example"]
    english = next(m for m in mails if m.to_addr == "anna@jansen.example")
    assert english.subject == "Kontor: the nightly backup failed"
    assert "folder_missing" in english.body and "http://kontor.test/admin/backups" in english.body
    dutch = next(m for m in mails if m.to_addr == "ben@jansen.example")
    assert dutch.subject != english.subject
    # the job records it, and the page shows it
    assert "folder_missing" in backups.settings().last_error
    assert "folder_missing" in audits("backup.nightly.failed")[0].detail
    assert "folder_missing" in text_of(admin_client.get("/admin/backups"))
    # the next failure within the hour: no mail
    with pytest.raises(backups.BackupRefused):
        backups.nightly(config)
    assert OutboxMessage.select().where(OutboxMessage.kind == "alert.backup_failed").count() == 2
    # an hour later: mailed again, saying how many were held back
    later = utcnow() + timedelta(hours=1, minutes=1)
    with pytest.raises(backups.BackupRefused):
        backups.nightly(config, clock=lambda: later)
    newest = OutboxMessage.select().where(OutboxMessage.kind == "alert.backup_failed",
                                          OutboxMessage.to_addr == "anna@jansen.example") \
        .order_by(OutboxMessage.id.desc()).first()
    assert "1 more alert of this kind was held back" in newest.body


def test_send_alert_is_throttled_per_kind(app, superuser):
    now = utcnow()
    assert alerts.claim("sync_failed", now)
    assert not alerts.claim("sync_failed", now + timedelta(minutes=59))
    assert alerts.claim("backup_failed", now)          # another kind: its own hour
    assert alerts.claim("sync_failed", now + timedelta(minutes=61))
    assert AlertSent.get(AlertSent.kind == "sync_failed").held_back == 0


# --- restore: refusals ------------------------------------------------------------------------

def test_a_restore_is_refused_while_the_sync_is_active(app, admin_client):
    _content, name = make_backup(admin_client)
    SyncState.insert(id=1, active=True, business_url="sqlite:////tmp/firm.db").execute()
    page = admin_client.get("/admin/backups/restore")
    assert "The sync with the business database is active. Deactivate it first" in text_of(page)
    response = restore(admin_client, backup=name)
    assert response.status_code == 409
    assert "The sync with the business database is active" in text_of(response)
    assert [e.detail for e in audits("backup.restore.refused")] == ["sync_active"]
    assert len(backups.listed(data_folder(app).backups)) == 1      # nothing kept, nothing done


def test_a_restore_is_refused_while_others_are_signed_in_who_can_be_signed_out(
        app, admin_client, staff_client, superuser):
    _content, name = make_backup(admin_client)
    own_other_browser = app.test_client()
    sign_in(own_other_browser, superuser.email)     # the superuser's own: no hindrance
    website = open_website()
    _customer, _account = signed_in_customer(app, website)
    page = admin_client.get("/admin/backups/restore")
    said = text_of(page)
    assert "Other people are signed in" in said
    assert "Piet de Vries" in said and "A customer on the portal" in said
    response = restore(admin_client, backup=name)
    assert response.status_code == 409 and "Piet de Vries" in text_of(response)
    ended = admin_client.form("/admin/backups/restore/end-sessions", follow_redirects=True)
    assert "3 sessions ended." in text_of(ended)
    assert staff_client.get("/contacts").status_code == 302          # signed out
    assert audits("backup.sessions_ended")
    assert "Other people are signed in" not in text_of(admin_client.get("/admin/backups/restore"))


def test_a_wrong_password_or_no_backup_is_refused_beside_the_field(admin_client):
    _content, name = make_backup(admin_client)
    response = restore(admin_client, backup=name, password="not my password at all")
    assert response.status_code == 400
    assert error_beside(text(response), "password") == "This is not your password."
    response = restore(admin_client, backup="")
    assert error_beside(text(response), "backup") == "Choose a listed backup or a backup file."
    response = restore(admin_client, backup="../../kontor.db")
    assert error_beside(text(response), "backup") == "There is no such backup in the backup folder."


def tampered(content, change):
    """The backup `content` with its members changed by `change(dict of name: bytes)`."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _with_manifest(members, **changes):
    manifest = json.loads(members["manifest.json"])
    manifest.update(changes)
    members["manifest.json"] = json.dumps(manifest).encode()


def _newer(members):
    manifest = json.loads(members["manifest.json"])
    manifest["migrations"].append("0999_from_the_future")
    members["manifest.json"] = json.dumps(manifest).encode()


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda c: c[: len(c) // 2], "This file is not a Kontor backup."),
    (lambda c: b"PK\x03\x04 not really a zip", "This file is not a Kontor backup."),
    (lambda c: tampered(c, lambda m: m.update({"uploads/a1b2c3d4": b"changed"})),
     "This backup is damaged: its contents do not match their checksum"),
    (lambda c: tampered(c, lambda m: m.update({"uploads/extra": b"smuggled"})),
     "This backup is damaged: its contents do not match their checksum"),
    (lambda c: tampered(c, lambda m: _with_manifest(m, checksum="0" * 64)),
     "This backup is damaged: its contents do not match their checksum"),
    (lambda c: tampered(c, lambda m: _with_manifest(m, format=2)),
     "This backup was made by a newer version of Kontor. Update Kontor first."),
    (lambda c: tampered(c, _newer),
     "This backup was made by a newer version of Kontor (it has the changes "
     "0999_from_the_future"),
])
def test_a_damaged_tampered_or_newer_backup_is_refused_and_nothing_changes(
        app, admin_client, spoil, message):
    an_upload(app)
    content, _name = make_backup(admin_client)
    new_contact("Made after the backup")
    response = restore(admin_client, upload=spoil(content))
    assert response.status_code == 400
    assert message in error_beside(text(response), "upload")
    assert contact_names() == ["Made after the backup"]
    assert len(backups.listed(data_folder(app).backups)) == 1       # no before-restore copy
    assert admin_client.get("/admin/backups").status_code == 200   # still signed in


def test_a_backup_of_a_damaged_database_is_refused(app, admin_client):
    if ON_POSTGRES:
        pytest.skip("SQLite's integrity check")
    content, _name = make_backup(admin_client)

    def damage(members):
        database = bytearray(members["database/kontor.db"])
        database[4096: 4096 * 12] = b"\x0d\xff" * (4096 * 11 // 2)    # pages 2 to 12 garbled
        members["database/kontor.db"] = bytes(database)
        manifest = json.loads(members["manifest.json"])
        entry = manifest["files"]["database/kontor.db"]
        entry["sha256"] = hashlib.sha256(members["database/kontor.db"]).hexdigest()
        manifest["checksum"] = backups.contents_checksum(manifest["files"])
        members["manifest.json"] = json.dumps(manifest).encode()

    response = restore(admin_client, upload=tampered(content, damage))
    assert response.status_code == 400
    assert "The database in this backup is damaged" in error_beside(text(response), "upload")


# --- restore: the round trip ------------------------------------------------------------------

def test_a_restore_brings_back_the_data_and_the_sync_asks_to_be_reactivated(
        app, admin_client, superuser):
    upload = an_upload(app, content=b"the offer as it was")
    new_contact("Bakkerij De Korenschoof")
    gone = new_contact("Firma Weg")
    SyncState.insert(id=1, active=False, owner=superuser.id, business_url="sqlite:////tmp/f.db",
                     business_password=secret.seal(app.config["DATA_DIR"], "pw"),
                     first_sync_done_at=utcnow()).execute()
    _content, name = make_backup(admin_client)
    # the day goes on
    Contact.delete().where(Contact.id == gone.id).execute()
    new_contact("Made after the backup")
    upload.write_bytes(b"changed later")
    an_upload(app, "later1", b"uploaded later")

    response = restore(admin_client, backup=name)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    login = admin_client.get("/login")
    assert "Kontor was restored from the backup made" in text_of(login)

    assert contact_names() == ["Bakkerij De Korenschoof", "Firma Weg"]
    uploads = data_folder(app).uploads
    assert sorted(p.name for p in uploads.iterdir()) == ["a1b2c3d4"]
    assert (uploads / "a1b2c3d4").read_bytes() == b"the offer as it was"
    # the sync is off and says it must be reactivated; same PC: the password is still readable
    state = SyncState.get_by_id(1)
    assert not state.active and state.restored_at is not None
    assert state.first_sync_done_at is None and state.owner_id == superuser.id
    assert secret.unseal(app.config["DATA_DIR"], state.business_password) == "pw"
    # everyone signs in again, the restorer too
    assert not UserSession.select().where(UserSession.ended_at.is_null(),
                                          UserSession.user.is_null(False)).exists()
    assert admin_client.get("/admin/backups").status_code == 302
    sign_in(admin_client, superuser.email)
    said = text_of(admin_client.get("/admin/sync"))
    assert "Kontor was restored from a backup on" in said and "Reactivate it" in said
    # the state before is kept as a backup, and the restore is in the audit log
    kinds = [b.kind for b in backups.listed(data_folder(app).backups)]
    assert sorted(kinds) == ["before-restore", "manual"]
    restored = audits("backup.restored")
    assert restored[0].target == name and "anna@jansen.example" in restored[0].detail
    audit_page = text_of(admin_client.get("/admin/audit"))
    assert "Backup restored" in audit_page


def test_a_restore_by_upload_works_too(app, admin_client, superuser):
    new_contact("Bakkerij De Korenschoof")
    content, _name = make_backup(admin_client)
    new_contact("Made after the backup")
    response = restore(admin_client, upload=content)
    assert response.status_code == 302, text_of(response)[:600]
    assert contact_names() == ["Bakkerij De Korenschoof"]


def test_a_restore_failing_half_way_leaves_the_old_state(app, admin_client, monkeypatch):
    an_upload(app, content=b"the offer as it was")
    new_contact("In the backup")
    _content, name = make_backup(admin_client)
    new_contact("Made after the backup")
    an_upload(app, "later1", b"uploaded later")
    if ON_POSTGRES:    # fails inside psql's transaction, after the dump was loaded
        monkeypatch.setattr(backups, "_PG_SWITCH_OFF", backups._PG_SWITCH_OFF + "SELECT 1 / 0;")
    else:              # fails while the pages are copied into the live database

        def fail_point(stage):
            if stage == "database":
                raise RuntimeError("the disk was pulled")
        monkeypatch.setattr(backups, "fail_point", fail_point)
    response = restore(admin_client, backup=name)
    assert response.status_code == 400
    assert "The restore failed and nothing was changed" in text_of(response)
    assert contact_names() == ["In the backup", "Made after the backup"]
    assert sorted(p.name for p in data_folder(app).uploads.iterdir()) == ["a1b2c3d4", "later1"]
    assert admin_client.get("/admin/backups").status_code == 200      # still signed in
    assert not list(Path(app.config["DATA_DIR"]).glob(".uploads-*"))


# --- the command line, onto a new PC ----------------------------------------------------------

def test_flask_restore_onto_a_fresh_instance_folder(app, admin_client, superuser, tmp_path,
                                                     pg_server, runner):
    an_upload(app, content=b"the offer")
    new_contact("Bakkerij De Korenschoof")
    SyncState.insert(id=1, active=False, owner=superuser.id, business_url="sqlite:////tmp/f.db",
                     business_password=secret.seal(app.config["DATA_DIR"], "pw")).execute()
    _content, name = make_backup(admin_client)
    source = tmp_path / "stick" / name
    source.parent.mkdir()
    source.write_bytes(backup_path(app, name).read_bytes())
    # refused on the old PC while someone is signed in; --end-sessions signs them out
    refused = runner.invoke(args=["restore", str(source), "--yes"])
    assert refused.exit_code != 0 and "anna@jansen.example" in refused.output
    assert backups.end_other_sessions(None, None) == 1 and not backups.others_signed_in()

    fresh_dir = tmp_path / "new-pc" / "instance"
    if ON_POSTGRES:
        database_name = f"kontor_n_{uuid.uuid4().hex[:10]}"
        url = pg_server.create(database_name)
    else:
        url = f"sqlite:///{fresh_dir / 'kontor.db'}"
    try:
        fresh = create_app(dict(app.config, DATA_DIR=str(fresh_dir), DATABASE_URL=url))
        fresh.test_client_class = KontorClient
        with fresh.app_context():
            result = fresh.test_cli_runner().invoke(args=["restore", str(source), "--yes"])
            assert result.exit_code == 0, (result.output, result.exception)
            assert "Restored the backup made" in result.output
            with db.connection_context():
                assert contact_names() == ["Bakkerij De Korenschoof"]
                state = SyncState.get_by_id(1)
                assert state.restored_at is not None and not state.active
                assert state.business_password == ""       # the key stayed on the old PC
                assert audits("backup.restored")[0].detail.startswith("by the command line")
            assert (storage.DataFolder(fresh_dir).uploads / "a1b2c3d4").read_bytes() \
                == b"the offer"
            assert os.stat(fresh_dir).st_mode & 0o777 == 0o700
            # a superuser of the backup signs in on the new PC and is asked to reactivate
            browser = fresh.test_client()
            assert sign_in(browser, superuser.email).status_code == 302
            said = text_of(browser.get("/admin/sync"))
            assert "enter it again" in said
    finally:
        if db.obj is not None and hasattr(db.obj, "close_all"):
            db.obj.close_all()
        if ON_POSTGRES:
            pg_server.drop(database_name)


def test_a_backup_of_an_older_version_is_migrated_when_restored(app, admin_client):
    if ON_POSTGRES:
        pytest.skip("the SQLite file in the backup is edited into an older version's")
    new_contact("In the backup")
    content, _name = make_backup(admin_client)

    def older(members):
        path = Path(app.config["DATA_DIR"]) / "older.db"
        path.write_bytes(members["database/kontor.db"])
        with closing(sqlite3.connect(path)) as conn:      # closing folds the log in
            conn.execute("DROP TABLE backup_setting")
            conn.execute("DROP TABLE alert_sent")
            conn.execute("ALTER TABLE sync_state DROP COLUMN restored_at")
            conn.execute("DELETE FROM schema_migration WHERE name = '0026_backups'")
            conn.commit()
        members["database/kontor.db"] = path.read_bytes()
        manifest = json.loads(members["manifest.json"])
        manifest["migrations"].remove("0026_backups")
        manifest["files"]["database/kontor.db"] = {
            "size": len(members["database/kontor.db"]),
            "sha256": hashlib.sha256(members["database/kontor.db"]).hexdigest()}
        manifest["checksum"] = backups.contents_checksum(manifest["files"])
        members["manifest.json"] = json.dumps(manifest).encode()

    new_contact("Made after the backup")
    response = restore(admin_client, upload=tampered(content, older))
    assert response.status_code == 302, error_beside(text(response), "upload")
    assert contact_names() == ["In the backup"]
    assert backups.applied_migrations(db) == backups.known_migrations()
    assert backups.settings().folder == ""          # the table is back


def test_a_backup_larger_than_other_requests_may_be_uploaded_for_a_restore(app, admin_client):
    content, _name = make_backup(admin_client)
    app.config["MAX_CONTENT_LENGTH"] = 4096            # every other request: at most 4 kB
    assert len(content) > 4096
    big_note = admin_client.form("/admin/backups/folder", {"folder": "x" * 5000, "version": "1"})
    assert big_note.status_code == 413
    response = restore(admin_client, upload=content)
    assert response.status_code == 302, text_of(response)[:800]


def test_the_alert_is_written_from_the_schedulers_thread_too(app, superuser):
    """A job runs on a thread of its own, outside any app context (kontor/jobs.py)."""
    gone = Path(app.config["DATA_DIR"]).parent / "usb-disk"
    gone.mkdir()
    backups.save_folder(str(gone), 1, superuser)
    gone.rmdir()
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(
        jobs.run_job("nightly_backup", backups.nightly_job, dict(app.config))))
    worker.start()
    worker.join()
    assert outcome == [False]
    lease = jobs.status()["nightly_backup"]
    assert "folder_missing" in lease["last_error"]
    message = OutboxMessage.get(OutboxMessage.kind == "alert.backup_failed")
    assert message.to_addr == superuser.email and "Backup folder:" in message.body


def business_rows(firm):
    return {entity: firm.rows(entity) for entity in firm.models}


def test_the_business_database_is_unchanged_row_for_row_after_restore_and_reactivation(
        app, admin_client, firm):
    firm.fill_demo(12)
    if firm.url.startswith("postgresql"):   # the demo's rows came with their keys
        for table in firm.models:
            firm.database.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100000)")
    gone_there = firm.add("contacts", key=9001, customer_number=20001, kind="company",
                          name="Fjord Rør AS", city="Oslo", country="NO", active=True)
    run = firm.cycle(first=True)
    assert run.status == "ok", run.error
    gone_here = saving.create({"name": "Alleen Hier B.V.", "city": "Delft", "country": "NL"})
    assert firm.cycle().status == "ok"
    assert not SyncConflict.select().exists()
    _content, name = make_backup(admin_client)
    # after the backup, the day goes on on both sides and is synced
    keys = [row["key"] for row in firm.rows("contacts")]
    firm.set("contacts", keys[0], phone="+47 11 22 33 44")           # changed in the business
    firm.delete("contacts", gone_there)                               # deleted in the business
    changed = bound_contact(firm, keys[2])
    saving.update(changed.id, {"city": "Bergen"}, changed.version)    # changed in Kontor
    saving.create({"name": "Nieuw na de back-up B.V.", "city": "Utrecht", "country": "NL"})
    Contact.delete().where(Contact.id == gone_here.id).execute()      # deleted in Kontor
    assert firm.cycle().status == "ok"
    before = business_rows(firm)
    # the restore (the sync is off for it, as after a deactivation) and the fresh first sync
    response = restore(admin_client, backup=name)
    assert response.status_code == 302
    assert SyncState.get_or_none(SyncState.id == 1) is None or not SyncState.get_by_id(1).active
    for first in (True, False):
        run = firm.cycle(first=first)
        assert run.status == "ok", run.error
    assert business_rows(firm) == before
    # and Kontor has caught up with what happened after the backup
    assert bound_contact(firm, keys[0]).phone == "+47 11 22 33 44"
    assert bound_contact(firm, keys[2]).city == "Bergen"
    names = contact_names()
    assert "Nieuw na de back-up B.V." in names
    assert "Fjord Rør AS" not in names and "Alleen Hier B.V." not in names
    assert len(names) == len(firm.rows("contacts"))
