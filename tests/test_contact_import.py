"""A large CSV import never locks everyone out (issue 10 item 1): it writes in short batches under
one import id, all or nothing (a failed batch takes out every row of the import), a note saved by
someone else while it runs is saved, and a long import shows its progress, to its owner only.

The batch size is set small here (config.CSV_IMPORT_BATCH_ROWS) so that a few lines make
several batches; `bench/import_load.py` runs the full-size case against 20 clients.
"""
import io
import json
import threading

import pytest
from helpers import ago, body, text_of

from kontor import config, contact_import, contact_io, contacts, jobs, support
from models import AuditEvent, Contact, ContactChange, ContactImport, NoteEntry, db


@pytest.fixture
def small_batches(monkeypatch):
    """Three contacts a batch."""
    monkeypatch.setattr(config, "CSV_IMPORT_BATCH_ROWS", 3)


def preview_of(lines):
    """The checked preview of a CSV file with these lines under the header."""
    preview = contact_io.parse(("\n".join(lines) + "\n").encode())
    assert preview.ok, preview.errors
    return preview


def named(count, start=1):
    return ["Name"] + [f"Firma {i:03d}" for i in range(start, start + count)]


def in_another_thread(work, connect=True):
    """Run `work()` in a thread of its own (its own database connection, as another user's
    request has; `connect=False` when `work` is a request, which connects itself) and return
    what it returned; its exception is raised here."""
    outcome = {}

    def target():
        try:
            if connect:
                with db.connection_context():
                    outcome["value"] = work()
            else:
                outcome["value"] = work()
        except BaseException as exc:   # noqa: BLE001 - handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def upload_and_confirm(client, csv_text):
    response = client.form("/contacts/import", {"file": (io.BytesIO(csv_text.encode()),
                                                         "contacts.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200, body(response)[:500]
    return client.form("/contacts/import/confirm")


def test_an_import_larger_than_a_batch_commits_each_batch_under_one_import_id(app, superuser,
                                                                              small_batches):
    preview = preview_of(named(10))
    record = contact_import.start(preview, user=superuser.id)
    seen_by_others = []

    def after_batch(done, total):
        # another connection sees each batch as soon as it is committed
        seen_by_others.append((done, total, in_another_thread(
            lambda: Contact.select().where(Contact.contact_import == record.id).count())))

    assert contact_import.run(record.id, preview, user=superuser.id,
                              after_batch=after_batch) == 10
    # the first transaction writes the line with the highest number, then batches of three
    assert seen_by_others == [(1, 10, 1), (4, 10, 4), (7, 10, 7), (10, 10, 10)]
    imported = list(Contact.select().order_by(Contact.customer_number))
    assert {c.contact_import_id for c in imported} == {record.id}
    # automatic numbers follow the file's order, and each contact has its "created" history
    assert [(c.customer_number, c.name) for c in imported] == \
        [(10000 + i, f"Firma {i:03d}") for i in range(1, 11)]
    assert ContactChange.select().where(ContactChange.contact.in_([c.id for c in imported]),
                                        ContactChange.version == 1).count() == 10
    assert contacts.search("firma 007").total == 1          # in the search index at once
    record = ContactImport.get_by_id(record.id)
    assert (record.status, record.done, record.total) == ("done", 10, 10)
    assert AuditEvent.get(AuditEvent.action == "contacts.imported").detail == "10 contacts"


def test_an_import_runs_the_same_statements_for_ten_lines_as_for_a_hundred(app):
    """No query per line: the work grows in rows per statement, not in statements."""
    counts = []
    for start, count in ((1, 10), (101, 100)):
        statements = []
        original = db.obj.execute_sql

        def counting(sql, params=None, *args, _original=original, _seen=statements, **kwargs):
            _seen.append(sql.split()[0])
            return _original(sql, params, *args, **kwargs)

        db.obj.execute_sql = counting
        try:
            contact_import.import_rows(preview_of(named(count, start)))
        finally:
            del db.obj.execute_sql
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert Contact.select().count() == 110


def test_a_contact_created_between_batches_gets_a_number_after_the_import(app, small_batches):
    preview = preview_of(named(7))
    record = contact_import.start(preview)
    meanwhile = []

    def after_batch(done, total):
        if not meanwhile:
            meanwhile.append(in_another_thread(lambda: contacts.create({"name": "Meanwhile"})))

    contact_import.run(record.id, preview, after_batch=after_batch)
    assert meanwhile[0].customer_number == 10008
    assert ContactImport.get_by_id(record.id).status == "done"
    assert Contact.select().count() == 8


def test_a_number_taken_between_batches_leaves_nothing_of_the_import(app, superuser,
                                                                     admin_client,
                                                                     small_batches):
    contacts.create({"name": "Already here"})                               # 10001
    lines = ["Name,Customer number"] + [f"Given {n},{n}" for n in range(20001, 20008)] \
        + [f"Automatic {i}," for i in range(1, 5)]
    preview = preview_of(lines)
    record = contact_import.start(preview, user=superuser.id)

    def after_batch(done, total):
        if done == 1:   # someone else saves a contact with a number a later batch needs
            in_another_thread(lambda: contacts.create({"name": "Quicker"},
                                                      customer_number=20001))

    with pytest.raises(contact_import.ImportFailed) as failed:
        contact_import.run(record.id, preview, user=superuser.id, after_batch=after_batch)
    assert (failed.value.reason, failed.value.detail) == ("number_taken", "20001")
    # the register is as before, plus the other user's contact: no contact, no history and
    # no search entry of the import is left
    assert sorted(c.name for c in Contact.select()) == ["Already here", "Quicker"]
    assert ContactChange.select().count() == 2
    assert contacts.search("given").total == 0 and contacts.search("automatic").total == 0
    assert Contact.select().where(Contact.contact_import == record.id).count() == 0
    page = admin_client.get(f"/contacts/import/{record.id}")
    assert page.status_code == 200
    assert "Customer number 20001 was given to another contact while the import ran." \
        in text_of(page)
    assert "the contact register is as it was before the import" in text_of(page)
    assert 'http-equiv="refresh"' not in body(page)


def test_another_users_note_is_saved_while_an_import_runs(app, superuser, staff_client,
                                                          small_batches):
    customer = contacts.create({"name": "Bakker Transport"})
    preview = preview_of(named(9))
    record = contact_import.start(preview, user=superuser.id)
    answers = []

    def after_batch(done, total):
        if done == 4:
            answers.append(in_another_thread(lambda: staff_client.fill(
                f"/contacts/{customer.id}/notes", {"note-text": "Called about the invoice"}),
                connect=False))

    contact_import.run(record.id, preview, user=superuser.id, after_batch=after_batch)
    assert answers[0].status_code == 302
    assert [e.text for e in NoteEntry.select()] == ["Called about the invoice"]
    assert Contact.select().where(Contact.contact_import == record.id).count() == 9


def test_a_large_file_is_imported_in_the_background_and_shows_its_result(admin_client,
                                                                         small_batches):
    response = upload_and_confirm(admin_client, "\n".join(named(8)) + "\n")
    assert response.status_code == 302
    record = ContactImport.get()
    assert response.headers["Location"].endswith(f"/contacts/import/{record.id}")
    contact_import.wait(timeout=60)
    page = admin_client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "8 contacts imported." in text_of(page)
    assert 'http-equiv="refresh"' not in body(page)
    first = Contact.get(Contact.name == "Firma 001")
    assert f'href="/contacts/{first.id}"' in body(page)
    assert Contact.select().where(Contact.contact_import == record.id).count() == 8


def test_a_file_of_one_batch_is_imported_within_the_request(admin_client, small_batches):
    response = upload_and_confirm(admin_client, "\n".join(named(3)) + "\n")
    assert response.headers["Location"].endswith("/contacts")
    assert "3 contacts imported." in body(admin_client.get("/contacts"))


def test_the_progress_page_shows_how_far_a_running_import_is_and_refreshes_itself(
        admin_client, superuser):
    record = ContactImport.create(user=superuser.id, total=50000, done=12000)
    page = admin_client.get(f"/contacts/import/{record.id}")
    assert page.status_code == 200
    assert "12000 of 50000 contacts imported so far." in text_of(page)
    assert f'<meta http-equiv="refresh" content="{config.CSV_IMPORT_REFRESH_SECONDS}">' \
        in body(page)
    assert '<progress value="12000" max="50000"' in body(page)


def test_only_the_importer_and_superusers_see_an_import(app, superuser, staff, admin_client,
                                                        staff_client):
    theirs = ContactImport.create(user=superuser.id, total=5)
    mine = ContactImport.create(user=staff.id, total=5)
    assert staff_client.get(f"/contacts/import/{theirs.id}").status_code == 404
    assert staff_client.get(f"/contacts/import/{mine.id}").status_code == 200
    assert admin_client.get(f"/contacts/import/{mine.id}").status_code == 200   # superuser
    assert staff_client.get(f"/contacts/import/{mine.id + 100}").status_code == 404


def test_an_interrupted_import_is_taken_out_by_the_job(app, admin_client, superuser):
    record = ContactImport.create(user=superuser.id, total=50000, done=3)
    with db.atomic():
        contacts.create_many([(30001, {"name": "Half A"}), (30002, {"name": "Half B"}),
                              (30003, {"name": "Half C"})], contact_import=record.id)
    jobs.undo_abandoned_imports(app.config)          # still moving: left alone
    assert Contact.select().count() == 3
    ContactImport.update(updated_at=ago(minutes=10)).where(
        ContactImport.id == record.id).execute()
    jobs.undo_abandoned_imports(app.config)
    assert Contact.select().count() == 0 and ContactChange.select().count() == 0
    assert ContactImport.get_by_id(record.id).status == "failed"
    page = admin_client.get(f"/contacts/import/{record.id}")
    assert "The import was interrupted (the server stopped)." in text_of(page)


def test_a_number_taken_between_preview_and_confirmation_imports_nothing(admin_client,
                                                                         small_batches):
    """A large file is read again in the background: a line that is wrong by then stops it."""
    page = admin_client.form("/contacts/import", {"file": (io.BytesIO(
        b"Name,Customer number\nA,30001\nB,30002\nC,30003\nD,30004\nE,30005\n"),
        "contacts.csv")}, content_type="multipart/form-data")
    assert "Import 5 contacts" in body(page)
    contacts.create({"name": "Quicker"}, customer_number=30004)
    response = admin_client.form("/contacts/import/confirm")
    contact_import.wait(timeout=60)
    result = admin_client.get(response.headers["Location"])
    assert "The file has errors now" in text_of(result)
    assert [c.name for c in Contact.select()] == ["Quicker"]
    assert ContactImport.get().status == "failed"


def test_undoing_an_import_keeps_a_contact_someone_opened_a_case_for(app, desk):
    record = ContactImport.create(user=desk.superuser.id, total=50000, done=2)
    with db.atomic():
        contacts.create_many([(30001, {"name": "Half A"}), (30002, {"name": "Half B"})],
                             contact_import=record.id)
    in_use = Contact.get(Contact.name == "Half B")
    support.create(support.Draft(in_use.id, desk.category.id, desk.type.id, "Boiler", "Leaks.",
                                 desk.superuser.id, False, ""), desk.superuser)
    contact_import.undo(record.id)
    assert Contact.get_or_none(Contact.name == "Half A") is None
    kept = Contact.get(Contact.name == "Half B")
    assert kept.contact_import_id is None and kept.cases.count() == 1


def test_a_failed_import_also_puts_back_the_contacts_it_updated(app, superuser, small_batches):
    """All or nothing includes "update the existing contact" (issue 10 item 1): a later batch
    fails, and the contacts updated by earlier batches get their old values back, except one
    that someone edited after the import had updated it (their edit stands)."""
    for number in range(10001, 10006):
        contacts.create({"name": f"Klant {number}", "city": "Utrecht", "discount": "5"},
                        customer_number=number)
    lines = ["Name,Customer number,City,Discount"] + [
        f"Klant {number},{number},Amersfoort,12.5" for number in range(10001, 10006)] + [
        "Nieuw BV,,Zwolle,0"]
    preview = contact_io.parse(("\n".join(lines) + "\n").encode(), existing="update")
    assert preview.ok and len(preview.updates) == 5, preview.errors
    record = contact_import.start(preview, user=superuser.id)
    calls = []

    def after_batch(done, total):
        calls.append(done)
        if done == 4:     # the new contact and the first three updates are committed
            def meanwhile():
                edited = Contact.get(Contact.customer_number == 10002)
                contacts.update(edited.id, {"phone": "030 111"}, edited.version)
                Contact.delete().where(Contact.customer_number == 10005).execute()
            in_another_thread(meanwhile)

    with pytest.raises(contact_import.ImportFailed):
        contact_import.run(record.id, preview, user=superuser.id, after_batch=after_batch)
    register = {c.customer_number: (c.city, f"{c.discount:.2f}", c.phone)
                for c in Contact.select().order_by(Contact.customer_number)}
    assert register == {10001: ("Utrecht", "5.00", ""),
                        10002: ("Amersfoort", "12.50", "030 111"),   # edited since: stands
                        10003: ("Utrecht", "5.00", ""),
                        10004: ("Utrecht", "5.00", "")}
    assert ContactImport.get_by_id(record.id).status == "failed"
    history = json.loads(ContactChange.select().where(
        ContactChange.contact == Contact.get(Contact.customer_number == 10001).id)
        .order_by(ContactChange.version.desc()).first().changes)
    assert history["city"] == ["Amersfoort", "Utrecht"]


@pytest.mark.parametrize(("raw", "contacts_in_it"), [
    (b"Name\nA\nB\n", 2), (b"Name\nA\nB", 2), (b"Name\r\nA\r\nB", 2), (b"Name\rA\rB\r", 2),
    (b"Name\n", 0), (b"Name", 0), (b"", 0)])
def test_the_progress_total_counts_a_last_line_without_a_line_break(raw, contacts_in_it):
    assert contact_import.lines_in(raw) == contacts_in_it
