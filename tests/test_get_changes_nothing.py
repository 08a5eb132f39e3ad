"""A GET never changes anything (issue 10, item 23; STYLE.md "Habits"): a link on another site
can make a signed-in browser GET any URL, so every GET route, walked with real ids and with
query strings that once meant "do something" (`?start=1`), must leave the database, the
wizard's draft and its stored files as they were. Throwing the draft away is a POST."""
import io
from pathlib import Path

from flask import url_for
from helpers import assert_walked, url_values
from support_helpers import PNG, case_by_number, choose_customer, details, open_case

from kontor import contacts
from models import AuditEvent, CaseFile, Employee, User, db

# The bookkeeping a GET may write: the session's own row (last seen, the draft's home), and
# the audit log's record that someone downloaded the contact register or the products (checked
# below).
BOOKKEEPING = {"user_session", "audit_event"}
QUERIES = ("", "?start=1", "?start=1&q=Korenschoof", "?note=all", "?clear=1&remove=0")


def database_state():
    """Every row of every table but the session bookkeeping, as sorted text."""
    state = {}
    for table in db.get_tables():
        if table in BOOKKEEPING:
            continue
        rows = db.execute_sql(f'SELECT * FROM "{table}"').fetchall()
        state[table] = sorted(repr(tuple(row)) for row in rows)
    return state


def case_draft(client):
    with client.session_transaction() as session:
        return session.get("case_draft")


def test_no_get_route_changes_the_database_or_the_wizards_draft(app, admin_client, staff,
                                                                 desk):
    uploads = Path(app.config["DATA_DIR"]) / "uploads"
    person = contacts.save_person(desk.customer, None, {"name": "Piet Jansen", "active": True})
    number = open_case(admin_client, desk.customer, desk.category, desk.type,
                       files=[("photo.png", PNG)])
    values = {"contact_id": desk.customer.id, "person_id": person.id, "number": number,
              "file_id": CaseFile.get(CaseFile.case == case_by_number(number).id).id,
              "employee_id": Employee.select().first().id, "user_id": User.select().first().id,
              "filename": "kontor.css"}
    # a draft with a stored file, half way through the wizard
    choose_customer(admin_client, desk.customer)
    admin_client.form("/support/new/details", details(desk.category, desk.type, needs_files="y"))
    admin_client.form("/support/new/files", {"files": [(io.BytesIO(PNG), "draft.png")],
                                             "upload": "Upload"},
                      content_type="multipart/form-data")
    draft, files, before = case_draft(admin_client), sorted(uploads.iterdir()), database_state()
    audited = AuditEvent.select().count()
    assert draft and draft["files"]

    walked = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        with app.test_request_context():
            filled = url_values(rule, 4242, "x")
            filled.update({k: v for k, v in values.items() if k in rule.arguments})
            url = url_for(rule.endpoint, **filled)
        for query in QUERIES:
            response = admin_client.get(url + query)
            response.get_data()   # a streamed download runs to its end
            response.close()
            assert response.status_code < 500, (url + query, response.status_code)
            walked.append(url)
            assert case_draft(admin_client) == draft, url + query
            assert sorted(uploads.iterdir()) == files, url + query
    assert database_state() == before
    assert {e.action for e in AuditEvent.select().offset(audited)} <= {"contacts.exported",
                                                                       "products.exported",
                                                                       "orders.exported"}
    assert_walked(walked, 30, {"/support/new", f"/support/{number}",
                               f"/contacts/{desk.customer.id}/edit"})
