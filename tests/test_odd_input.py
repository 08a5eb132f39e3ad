"""Odd input is refused or cleaned, never a 500, and never stored as it came (issue 10, items
6 and 24): control characters in any query or form value (a NUL breaks FTS5 and PostgreSQL),
line breaks in single-line fields (they cut e-mail subjects), ids that cannot be ids, websites
that are not http(s), and CSV files as any spreadsheet program writes them. The last test walks
every route with such values."""
import codecs
import html
import io
import re
from urllib.parse import quote

import pytest
from flask import url_for
from helpers import assert_walked, body, error_beside, sign_in
from markupsafe import escape
from support_helpers import PDF, add_information, open_case
from wtforms.fields.core import UnboundField

from blueprints.forms import Form, database_id
from kontor import contact_io, contacts, notes
from kontor.text import is_web_address, one_line, web_link, without_controls
from kontor.web import DatabaseInteger
from models import CaseFile, Company, Contact, Employee, SupportCase

HUGE = "99999999999999999999"
# issue 10 item 24: what a website field refuses and what it takes
BAD_WEBSITES = ["javascript:alert(1)", "java\nscript:x", "http://", "http:/x",
                "http://exa mple.com", "http://user@evil.example", "https://a..b"]
GOOD_WEBSITES = ["https://bakker-jansen.nl", "http://müller.de/pfad?x=1",
                 "https://192.168.1.10:8443/", "www.bakker-jansen.nl",
                 "bakker-jansen.nl:8080/shop"]
NUL = "abc\x00def"


# --- the rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("abc\x00def", "abcdef"), ("tab\tand\nline\r\n", "tab\tand\nline\r\n"),
    ("\x07bell\x1b[0m\x7f", "bell[0m"), ("", ""), (None, None)])
def test_control_characters_go_but_tab_and_line_ends_stay(text, expected):
    assert without_controls(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Printer\r\nBcc: all@example.com", "Printer Bcc: all@example.com"),
    ("one\rtwo\nthree", "one two three"), ("a \u2028 b\x85c", "a b c"), ("plain", "plain")])
def test_one_line_makes_line_breaks_spaces(text, expected):
    assert one_line(text) == expected


@pytest.mark.parametrize("address", [
    "https://jansen.example", "http://jansen.example/shop?x=1", "www.jansen.example",
    "jansen.example:8080/shop", "localhost:8080", "HTTPS://JANSEN.EXAMPLE", "",
    *GOOD_WEBSITES])
def test_websites_people_type_are_web_addresses(address):
    assert is_web_address(address)


@pytest.mark.parametrize("address", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "mailto:a@b.example",
    "file:///etc/passwd", "ftp://jansen.example", "https:", "https:jansen.example",
    "//evil.example", "www.jansen .example", *BAD_WEBSITES, "http://999.1.1.1",
    "http://-jansen.example", "https://jansen.example:99999", "jansen", "a@jansen.example",
    "http://jansen.example\\@evil.example", "https://jan\u200bsen.example"])
def test_other_schemes_and_spaces_are_not_web_addresses(address):
    assert not is_web_address(address)


@pytest.mark.parametrize("stored, link", [
    ("https://bakker-jansen.nl", "https://bakker-jansen.nl"),
    ("www.jansen.example", "https://www.jansen.example"),
    ("jansen.example:8080/shop", "https://jansen.example:8080/shop"),
    ("http://user@evil.example", None), ("", None)])
def test_a_stored_website_is_output_as_an_absolute_http_address(stored, link):
    assert web_link(stored) == link


@pytest.mark.parametrize("value, expected", [("17", 17), (17, 17), ("0", 0)])
def test_database_id_takes_an_id(value, expected):
    assert database_id(value) == expected


@pytest.mark.parametrize("value", [HUGE, "²", "١٢", "-1", "", None, "1.5", 2**40, True])
def test_database_id_refuses_what_cannot_be_an_id(value):
    with pytest.raises(ValueError):
        database_id(value)


def every_form_class():
    found, todo = [], [*Form.__mro__[1].__subclasses__()]
    while todo:
        form = todo.pop()
        todo.extend(form.__subclasses__())
        if form.__module__.startswith("blueprints"):
            found.append(form)
    return found


def test_every_form_of_kontor_is_a_kontor_form(app):
    """The rules of blueprints.forms.Form (single-line fields stay single-line) hold for every
    form added later: each descends from it, not from FlaskForm directly."""
    forms = every_form_class()
    assert len(forms) >= 15
    assert [f.__qualname__ for f in forms if not issubclass(f, Form)] == []


# --- control characters: search boxes and saved fields ---------------------------------------

@pytest.mark.parametrize("url", [
    "/contacts?q=abc%00def", "/contacts?q=%00", "/contacts?q=ans%00", "/contacts?q=%00%01%1f",
    "/contacts/export.csv?q=abc%00def", "/employees?q=abc%00def", "/users?q=abc%00def",
    "/support?view=all&q=abc%00def", "/support?view=all&q=2026%00-1", "/admin/audit?action=%00",
    "/admin/outbox?status=%00"])
def test_a_nul_in_any_search_box_is_no_error(admin_client, url):
    customer = contacts.create({"name": "Jansen Installatie", "kind": "company"})
    assert customer.id
    response = admin_client.get(url)
    assert response.status_code == 200, body(response)[:300]


def test_a_nul_in_the_contact_search_finds_what_the_text_without_it_finds(admin_client):
    contacts.create({"name": "Jansen Installatie", "kind": "company"})
    contacts.create({"name": "Bakkerij De Korenschoof", "kind": "company"})
    page = body(admin_client.get("/contacts?q=jan%00sen"))
    assert "Jansen Installatie" in page and "Korenschoof" not in page


def test_a_nul_in_a_saved_field_is_dropped(admin_client):
    response = admin_client.fill("/contacts/new", {
        "kind": "company", "name": "Jan\x00sen BV", "city": "Utr\x00echt", "country": "NL",
        "discount": "0", "active": "y"})
    assert response.status_code == 302, body(response)[:500]
    contact = Contact.get()
    assert (contact.name, contact.city) == ("Jansen BV", "Utrecht")
    response = admin_client.fill(f"/contacts/{contact.id}/notes",
                                 {"note-text": "Called\x00 today\r\nabout the invoice"})
    assert response.status_code == 302
    assert [text for _, _, text in notes.entries(contact)] == [
        "Called today\nabout the invoice"]


def test_a_nul_in_a_sign_in_is_a_failed_sign_in(client, superuser):
    response = client.form("/login", {"email": "ad\x00min@jansen.example", "password": "x\x00"})
    assert response.status_code in (200, 400)


def test_a_nul_in_the_user_agent_is_no_error(client, superuser):
    """The session list stores the User-Agent header; PostgreSQL refuses a NUL in it."""
    client.environ_base["HTTP_USER_AGENT"] = "Evil\x00Agent/1.0"
    response = sign_in(client, superuser.email)
    assert response.status_code == 302
    assert client.get("/profile").status_code == 200


def test_a_nul_in_an_uploaded_file_name_is_dropped(admin_client, desk):
    number = open_case(admin_client, desk.customer, desk.category, desk.type)
    response = add_information(admin_client, number, "The scan",
                               files=[("scan\x00\x1b Bcc.pdf", PDF)])
    assert response.status_code == 302, body(response)[:500]
    assert CaseFile.get().original_name == "scan Bcc.pdf"


# --- line breaks in single-line fields ---------------------------------------------------------

def test_a_line_break_in_a_contact_name_becomes_a_space(admin_client):
    response = admin_client.fill("/contacts/new", {
        "kind": "company", "name": "Jansen\r\nBcc: all@example.com", "country": "NL",
        "discount": "0", "active": "y"})
    assert response.status_code == 302, body(response)[:500]
    assert Contact.get().name == "Jansen Bcc: all@example.com"


def test_a_line_break_in_an_employee_name_becomes_a_space(admin_client):
    response = admin_client.fill("/employees/new", {
        "name": "Piet\nJansen", "email": "piet@jansen.example", "active": "y"})
    assert response.status_code == 302, body(response)[:500]
    assert Employee.get(Employee.email == "piet@jansen.example").name == "Piet Jansen"


def test_a_line_break_in_the_company_name_becomes_a_space(admin_client, app):
    page = body(admin_client.get("/admin/company"))
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page))
    fields.update({"name": "Bakker &\r\nJansen", "country": "NL"})
    response = admin_client.form("/admin/company", fields)
    assert response.status_code == 302, body(response)[:800]
    assert Company.current().name == "Bakker & Jansen"


def test_a_line_break_in_a_case_subject_becomes_a_space(admin_client, desk):
    number = open_case(admin_client, desk.customer, desk.category, desk.type,
                       subject="Printer\r\nBcc: all@example.com",
                       description="Line one\nline two")
    year, seq = number.split("-")
    case = SupportCase.get(SupportCase.year == int(year), SupportCase.seq == int(seq))
    assert case.subject == "Printer Bcc: all@example.com"


def test_a_text_area_keeps_its_lines(admin_client, desk):
    number = open_case(admin_client, desk.customer, desk.category, desk.type,
                       description="Line one\nline two")
    assert "Line one\nline two" in body(admin_client.get(f"/support/{number}")) \
        or "Line one<br>line two" in body(admin_client.get(f"/support/{number}"))


# --- ids in posted forms -----------------------------------------------------------------------

@pytest.mark.parametrize("value", [HUGE, "²", "-1", "abc", NUL])
def test_an_odd_employee_on_the_invitation_is_a_form_error(admin_client, value):
    response = admin_client.form("/users/invite", {"employee": value, "language": "en"})
    assert response.status_code in (200, 400), body(response)[:300]


@pytest.mark.parametrize("field", ["category", "type", "owner"])
@pytest.mark.parametrize("value", [HUGE, "²"])
def test_an_odd_choice_in_the_case_wizard_is_a_form_error(admin_client, desk, field, value):
    admin_client.get("/support/new?start=1")
    assert admin_client.form("/support/new", {"contact_id": str(desk.customer.id)}) \
        .status_code == 302
    data = {"category": str(desk.category.id), "type": str(desk.type.id), "subject": "Printer",
            "description": "Offline", "submit": "Next", field: value}
    response = admin_client.form("/support/new/details", data)
    assert response.status_code in (200, 400), body(response)[:300]
    assert SupportCase.select().count() == 0


@pytest.mark.parametrize("value", [HUGE, "²"])
def test_an_odd_new_owner_of_a_case_is_no_error(admin_client, desk, value):
    number = open_case(admin_client, desk.customer, desk.category, desk.type)
    response = admin_client.form(f"/support/{number}/owner", {"owner": value})
    assert response.status_code < 500, body(response)[:300]


@pytest.mark.parametrize("version", [HUGE, "²", NUL, ""])
def test_an_odd_version_on_a_contact_edit_is_no_error(admin_client, version):
    contact = contacts.create({"name": "Jansen", "kind": "company"})
    response = admin_client.form(f"/contacts/{contact.id}/edit", {
        "kind": "company", "name": "Jansen BV", "country": "NL", "discount": "0",
        "version": version})
    assert response.status_code < 500


# --- websites ----------------------------------------------------------------------------------

@pytest.mark.parametrize("website", ["javascript:alert(1)", "data:text/html,x",
                                     "java\tscript:alert(1)"])
def test_a_website_that_is_not_http_is_refused_beside_the_field(admin_client, website):
    response = admin_client.fill("/contacts/new", {
        "kind": "company", "name": "Jansen", "website": website, "country": "NL",
        "discount": "0", "active": "y"})
    assert response.status_code == 400
    assert "www.example.nl" in error_beside(body(response), "website")
    assert Contact.select().count() == 0


@pytest.mark.parametrize("website", BAD_WEBSITES)
def test_a_bad_website_is_refused_beside_the_field_and_nothing_typed_is_lost(admin_client,
                                                                            website):
    response = admin_client.fill("/contacts/new", {
        "kind": "company", "name": "Bakker & Jansen", "website": website, "city": "Utrecht",
        "phone": "+31 30 123 4567", "country": "NL", "discount": "0", "active": "y"})
    page = body(response)
    assert response.status_code == 400
    assert "www.example.nl" in error_beside(page, "website")
    for typed in ("Bakker &amp; Jansen", "Utrecht", "+31 30 123 4567"):
        assert f'value="{typed}"' in page
    assert f'value="{escape(one_line(website))}"' in page
    assert Contact.select().count() == 0


@pytest.mark.parametrize("website", BAD_WEBSITES)
def test_a_bad_website_on_an_edit_is_refused_and_the_old_one_stays(admin_client, website):
    contact = contacts.create({"name": "Jansen", "kind": "company",
                               "website": "https://jansen.example"})
    response = admin_client.form(f"/contacts/{contact.id}/edit", {
        "kind": "company", "name": "Jansen", "website": website, "country": "NL",
        "discount": "0", "active": "y", "version": "1"})
    assert response.status_code == 400
    assert error_beside(body(response), "website") is not None
    assert Contact.get_by_id(contact.id).website == "https://jansen.example"


@pytest.mark.parametrize("website", GOOD_WEBSITES)
def test_a_good_website_is_saved_as_typed(admin_client, website):
    response = admin_client.fill("/contacts/new", {
        "kind": "company", "name": "Jansen", "website": website, "country": "NL",
        "discount": "0", "active": "y"})
    assert response.status_code == 302
    assert Contact.get().website == website


def test_each_bad_website_in_an_import_is_an_error_on_its_line(admin_client):
    lines = [f'"Bad {n}","{website}"' for n, website in enumerate(BAD_WEBSITES)]
    lines += [f'"Good {n}","{website}"' for n, website in enumerate(GOOD_WEBSITES)]
    data = ("Name,Website\n" + "\n".join(lines) + "\n").encode("utf-8")

    preview = contact_io.parse(data)

    assert [(line, reason) for line, reason, _ in preview.errors] == [
        (n + 2, "bad_website") for n in range(len(BAD_WEBSITES))]
    assert [values["website"] for _, values in preview.rows] == GOOD_WEBSITES
    page = body(admin_client.form("/contacts/import",
                                  {"file": (io.BytesIO(data), "contacts.csv")},
                                  content_type="multipart/form-data"))
    assert "“http://user@evil.example” is not a website address" in html.unescape(page)
    assert "/contacts/import/confirm" not in page
    assert Contact.select().count() == 0


def test_a_website_typed_without_scheme_is_kept(admin_client):
    response = admin_client.fill("/contacts/new", {
        "kind": "company", "name": "Jansen", "website": "www.jansen.example", "country": "NL",
        "discount": "0", "active": "y"})
    assert response.status_code == 302
    assert Contact.get().website == "www.jansen.example"


def test_an_old_javascript_website_never_reaches_the_vcard(admin_client):
    contact = contacts.create({"name": "Jansen", "kind": "company",
                               "website": "javascript:alert(1)"})
    card = body(admin_client.get(f"/contacts/{contact.id}/vcard"))
    assert "javascript" not in card and "URL:" not in card


def test_a_website_typed_without_scheme_reaches_the_vcard_as_an_https_address(admin_client):
    contact = contacts.create({"name": "Jansen", "kind": "company",
                               "website": "www.jansen.example"})
    card = body(admin_client.get(f"/contacts/{contact.id}/vcard"))
    assert "URL:https://www.jansen.example\r\n" in card


def test_a_javascript_website_in_an_import_is_a_line_error():
    preview = contact_io.parse(b"Name,Website\nJansen,javascript:alert(1)\n"
                               b"Bakker,https://bakker.example\n")
    assert preview.errors == [(2, "bad_website", "javascript:alert(1)")]
    assert [values["name"] for _, values in preview.rows] == ["Bakker"]


# --- CSV files as spreadsheets write them ------------------------------------------------------

TABLE = [["Name", "City", "E-mail"], ["Søren Ærø AS", "Tromsø", "post@soren.example"],
         ["Café Müller", "Köln", ""]]


def csv_text(separator=";", line_end="\r\n"):
    return line_end.join(separator.join(row) for row in TABLE) + line_end


@pytest.mark.parametrize("raw", [
    pytest.param(csv_text(line_end="\r").encode("utf-8"), id="cr-only (old Mac)"),
    pytest.param(csv_text(line_end="\r").encode("cp1252"), id="cr-only cp1252"),
    pytest.param(csv_text(line_end="\n").encode("utf-8"), id="lf"),
    pytest.param(csv_text().encode("utf-8"), id="crlf utf-8"),
    pytest.param(codecs.BOM_UTF8 + csv_text().encode("utf-8"), id="utf-8 with BOM"),
    pytest.param(csv_text().encode("cp1252"), id="windows-1252"),
    pytest.param(csv_text("\t").encode("utf-16"), id="utf-16 with BOM (Excel Unicode text)"),
    pytest.param(codecs.BOM_UTF16_LE + csv_text("\t").encode("utf-16-le"), id="utf-16-le BOM"),
    pytest.param(codecs.BOM_UTF16_BE + csv_text("\t").encode("utf-16-be"), id="utf-16-be BOM"),
    pytest.param(csv_text("\t").encode("utf-16-le"), id="utf-16-le without BOM"),
    pytest.param(csv_text(",", "\r").encode("utf-16"), id="utf-16 cr-only"),
])
def test_the_import_reads_every_line_ending_and_encoding_a_spreadsheet_writes(raw):
    preview = contact_io.parse(raw)
    assert preview.errors == []
    assert [(v["name"], v["city"]) for _, v in preview.rows] == [
        ("Søren Ærø AS", "Tromsø"), ("Café Müller", "Köln")]


def test_a_cr_only_file_imports_through_the_page(admin_client):
    data = csv_text(line_end="\r").encode("utf-8")
    response = admin_client.form("/contacts/import", {"file": (io.BytesIO(data), "mac.csv")},
                                 content_type="multipart/form-data")
    assert response.status_code == 200
    assert admin_client.form("/contacts/import/confirm").status_code == 302
    assert sorted(c.name for c in Contact.select()) == ["Café Müller", "Søren Ærø AS"]


def test_control_characters_and_line_breaks_in_cells_are_cleaned():
    preview = contact_io.parse(b'Name,City\n"Jan\x00sen\r\nBV",Utr\x01echt\n')
    assert preview.errors == []
    assert [(v["name"], v["city"]) for _, v in preview.rows] == [("Jansen BV", "Utrecht")]


# --- every route -------------------------------------------------------------------------------

ODD = [HUGE, "²", NUL, "\x00", "x" * 5000, "a\r\nb", "-1", "javascript:alert(1)", "%", ""]
# a request that would end the walker's own session or rights: still walked, with ids no row
# has, or (without ids) with an odd CSRF token
# (the "confirm with your password" forms count wrong passwords toward the lockout, as
# "Change password" does: ten odd ones would lock the walker out)
ENDS_OWN_SESSION = {"auth.logout", "admin.end_session", "users.deactivate",
                    "users.withdraw_superuser", "profile.change_password", "sync.activate",
                    "sync_admin.become_owner", "sync_admin.deactivate", "backups.restore"}
QUERY_NAMES = ["q", "page", "after", "before", "sort", "view", "status", "inactive", "action",
               "next", "employee", "start", "note", "again", "token"]


def form_field_names():
    """The name of every field of every Kontor form."""
    names = {name for form in every_form_class() for name in dir(form)
             if isinstance(getattr(form, name, None), UnboundField)}
    # and the values views read from request.form themselves
    names |= {"contact_id", "language", "email", "next", "note-text", "remove"}
    return sorted(names - {"csrf_token"})


def odd_requests(app, real):
    """(method, rule, url, odd value) for every GET and POST of the staff app: odd values in
    the query, and once more in each text part of the path; numbers in the path are `real`
    ids (no row's id where the request would end the walker's own session)."""
    found = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            for method in sorted({"GET", "POST"} & rule.methods):
                if rule.endpoint == "static":
                    continue
                own = rule.endpoint in ENDS_OWN_SESSION
                texts = [name for name in rule.arguments
                         if not isinstance(rule._converters[name], DatabaseInteger)]
                for odd in ODD:
                    for path_odd in ((False, True) if texts else (False,)):
                        values = {name: (987654 if own else real.get(name, 1))
                                  for name in rule.arguments if name not in texts}
                        values.update({name: (odd or "x") if path_odd else real.get(name, "x")
                                       for name in texts})
                        url = url_for(rule.endpoint, **values) + "?" + "&".join(
                            f"{q}={quote(odd)}" for q in QUERY_NAMES)
                        found.append((method, rule, url, odd))
    return found


def test_every_route_answers_odd_values_without_a_server_error(app, admin_client, desk):
    """Every GET and POST of the staff app and the portal, signed in as a superuser with a
    valid CSRF token, with odd values in the URL's text parts, in the query and in every form
    field any Kontor form has: nothing answers 5xx."""
    number = open_case(admin_client, desk.customer, desk.category, desk.type)
    person = contacts.save_person(desk.customer, None, {"name": "Piet Jansen", "active": True})
    employee = Employee.create(name="Piet Jansen", email="piet@jansen.example")
    real = {"contact_id": desk.customer.id, "person_id": getattr(person, "id", 1),
            "employee_id": employee.id, "number": number, "kind": "categories",
            "item_id": desk.category.id}
    names = form_field_names()
    assert {"name", "subject", "contact_id", "owner", "employee", "website"} <= set(names)
    token = admin_client.csrf_token()
    failures, walked = [], set()
    for method, rule, url, odd in odd_requests(app, real):
        if method == "GET":
            response = admin_client.get(url)
        elif rule.endpoint in ENDS_OWN_SESSION:   # with no row's id, or refused for its token
            response = admin_client.post(url, data={"csrf_token": token if rule.arguments
                                                    else odd})
        else:
            data = {name: odd for name in names}
            data["csrf_token"] = token
            response = admin_client.post(url, data=data)
        response.close()
        walked.add(f"{method} {rule.rule}")
        if response.status_code >= 500:
            failures.append((method, url[:120], repr(odd[:20]), response.status_code))
    for path in ("/w/{}/", "/w/{}/login", "/w/{}/account"):
        for odd in ODD:
            url = path.format(quote(odd or "x", safe=""))
            for method in ("GET", "POST"):
                response = admin_client.open(url, method=method, data={"email": odd,
                                                                       "password": odd})
                if response.status_code >= 500:
                    failures.append((method, url[:120], repr(odd[:20]), response.status_code))
    assert failures == []
    assert_walked(walked, 80, {"GET /contacts", "POST /contacts/new", "POST /support/new/details",
                               "POST /users/invite", "POST /support/<number>/owner"})
    assert admin_client.get("/contacts").status_code == 200   # still signed in throughout
