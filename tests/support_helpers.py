"""Story helpers for support cases (tests/test_support.py, tests/test_support_files.py): a
customer to help, the "Create new" wizard walked as a browser would, information added to a case.
The `desk`, `mila` and `mila_client` fixtures (conftest.py) build on them.
"""
import io
import re

from helpers import text

from kontor import contacts
from kontor.text import list_key
from models import CaseCategory, CaseType, SupportCase

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def customer(name="Bakkerij De Korenschoof", **fields):
    return contacts.create({"name": name, "kind": "company", **fields})


def category(name="Invoicing", **fields):
    """A support category, as the settings page stores it (its folded key beside its name)."""
    return CaseCategory.create(name=name, name_key=list_key(name), **fields)


def type_of_request(name="Question", **fields):
    """A type of request, as the settings page stores it."""
    return CaseType.create(name=name, name_key=list_key(name), **fields)


def case_by_number(number):
    year, seq = number.split("-")
    return SupportCase.get(SupportCase.year == int(year), SupportCase.seq == int(seq))


def choose_customer(client, contact):
    assert client.form("/support/new/start-over", {}).status_code == 302
    assert client.get("/support/new").status_code == 200
    response = client.form("/support/new", {"contact_id": str(contact.id)})
    assert response.status_code == 302, text(response)[:500]
    assert response.headers["Location"].endswith("/support/new/details")


def details(category, type_, subject="Printer offline", description="Since Monday the printer "
            "in the office says it is offline.", **extra):
    return {"category": str(category.id) if category else "0",
            "type": str(type_.id) if type_ else "0",
            "subject": subject, "description": description, "submit": "Next", **extra}


def open_case(client, contact, category, type_, subject="Printer offline",
              description="Since Monday the printer says it is offline.", owner=None,
              files=(), include_tech=True):
    """Walk the whole wizard as a browser would and return the new case's number."""
    choose_customer(client, contact)
    extra = {}
    if owner is not None:
        extra["owner"] = str(owner.id)
    if files:
        extra["needs_files"] = "y"
    response = client.form("/support/new/details",
                           details(category, type_, subject, description, **extra))
    assert response.status_code == 302, text(response)[:2000]
    if files:
        assert response.headers["Location"].endswith("/support/new/files")
        response = client.form("/support/new/files", {
            "files": [(io.BytesIO(data), name) for name, data in files], "upload": "Upload"},
            content_type="multipart/form-data")
        assert response.status_code == 302, text(response)[:2000]
        response = client.form("/support/new/files", {"submit": "Next"})
    assert response.headers["Location"].endswith("/support/new/summary")
    data = {"submit": "Send"}
    if include_tech:
        data["include_tech"] = "y"
    response = client.fill("/support/new/summary", data)
    assert response.status_code == 302, text(response)[:2000]
    match = re.search(r"/support/(\d{4}-\d{4})$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def add_information(client, number, body, files=None):
    """Add information on the case page's form, as a browser does (with its one-time key)."""
    data = {"body": body, "submit": "Add information"}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
        return client.fill(f"/support/{number}/add", data, content_type="multipart/form-data")
    return client.fill(f"/support/{number}/add", data)
