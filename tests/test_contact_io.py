"""Contacts in and out (SPEC section 6): CSV import with a preview, per-line errors and nothing
half-imported; headers in English, Dutch, Norwegian or German, `;` or `,`, UTF-8 (with BOM) or
Windows-1252; CSV export headed in the reader's language with formula cells defused; vCard 4.0.
"""
import csv
import io
import re
from decimal import Decimal
from urllib.parse import quote

import pytest
import vobject
from helpers import body, error_beside, text
from markupsafe import escape

from kontor import config, contact_import, contact_io, contacts
from models import Contact, User


def upload(client, data, name="contacts.csv"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return client.form("/contacts/import", {"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def confirm(client):
    return client.form("/contacts/import/confirm")


def error_rows(page):
    """(line, problem) pairs of the preview's table of wrong lines."""
    table = page.split("Lines with errors", 1)
    if len(table) == 1:
        return []
    table = table[1].split("</table>", 1)[0]
    return [(int(line), problem) for line, problem in
            re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", table, re.S)]


def created_rows(page):
    """(line, name) pairs of the preview's table of contacts to be created."""
    table = page.split("Contacts to be created", 1)
    if len(table) == 1:
        return []
    table = table[1].split("</table>", 1)[0]
    return [(int(line), name) for line, name in
            re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td>", table, re.S)]


# --- the preview ----------------------------------------------------------------------------

GOOD = ("Name,E-mail,City,Discount %\n"
        "Jansen Installatie BV,info@jansen.example,Utrecht,12.5\n"
        "Bakkerij De Korenschoof,,Utrecht,\n")


def test_upload_shows_what_will_be_created_and_imports_nothing_yet(admin_client):
    response = upload(admin_client, GOOD)
    page = body(response)
    assert response.status_code == 200
    assert created_rows(page) == [(2, "Jansen Installatie BV"), (3, "Bakkerij De Korenschoof")]
    assert error_rows(page) == []
    assert "2 contacts will be created:" in page
    assert 'action="/contacts/import/confirm"' in page and "Import 2 contacts" in page
    assert Contact.select().count() == 0


def test_confirming_imports_every_line(admin_client, superuser):
    upload(admin_client, GOOD)
    response = confirm(admin_client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/contacts")
    assert "2 contacts imported." in body(admin_client.get("/contacts"))
    jansen = Contact.get(name="Jansen Installatie BV")
    assert (jansen.customer_number, jansen.email, jansen.city, jansen.discount) == \
        (10001, "info@jansen.example", "Utrecht", Decimal("12.5"))
    assert Contact.get(name="Bakkerij De Korenschoof").customer_number == 10002
    assert jansen.updated_by_id == superuser.id
    # imported contacts are searchable at once
    assert "Jansen Installatie BV" in body(admin_client.get("/contacts?q=instal"))
    # the preview is used up: confirming again imports nothing more
    again = confirm(admin_client)
    assert again.status_code == 302 and again.headers["Location"].endswith("/contacts/import")
    assert Contact.select().count() == 2


BAD = ("Name,E-mail,Discount %,Customer number,Country\n"
       "Good One,good@one.example,10,,NL\n"            # 2
       ",nobody@x.example,,,\n"                        # 3 no name
       "Bad Mail,not-an-address,,,\n"                  # 4
       "Too Much,,150,,\n"                             # 5
       "Negative,,-5,,\n"                              # 6
       "Words,,ten,,\n"                                # 7
       "Twice A,,,20001,\n"                            # 8
       "Twice B,,,20001,\n"                            # 9 the same number again
       "Taken,,,10001,\n"                              # 10 the number of a contact we have
       "Odd Number,,,12ab,\n"                          # 11
       "Odd Country,,,,Atlantis\n"                     # 12
       "\n"                                            # 13 empty lines are skipped
       "Good Two,,0,,\n"                               # 14
       "Not A Number,,NaN,,\n")                        # 15


def test_every_bad_line_is_shown_with_its_number_and_reason(admin_client):
    contacts.create({"name": "Existing"})              # has 10001
    page = body(upload(admin_client, BAD))
    assert error_rows(page) == [
        (3, "The name is missing."),
        (4, str(escape("“not-an-address” is not a valid e-mail address."))),
        (5, "“150” is not a discount from 0 to 100."),
        (6, "“-5” is not a discount from 0 to 100."),
        (7, "“ten” is not a discount from 0 to 100."),
        (9, "Customer number 20001:8 appears twice in the file (number:line)."),
        (10, "Customer number 10001 is taken by an existing contact."),
        (11, "“12ab” is not a valid customer number."),
        (12, "“Atlantis” is not a country: give its code (NL) or its name."),
        (15, "“NaN” is not a discount from 0 to 100."),
    ]
    assert "10 lines are wrong." in page
    assert created_rows(page) == [(2, "Good One"), (8, "Twice A"), (14, "Good Two")]
    assert "/contacts/import/confirm" not in page      # nothing to confirm


def test_a_file_with_a_bad_line_imports_nothing(admin_client):
    upload(admin_client, BAD)
    response = confirm(admin_client)                   # e.g. a forged or stale confirmation
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/contacts/import?again=1")
    page = body(admin_client.get(response.headers["Location"]))
    assert "Nothing was imported: the file has errors." in page
    assert error_rows(page)[0] == (3, "The name is missing.")     # the preview again
    assert Contact.select().count() == 0


def test_a_number_taken_after_the_preview_stops_the_whole_import(admin_client):
    upload(admin_client, "Name,Customer number\nFirst,30001\nSecond,30002\n")
    contacts.create({"name": "Quicker"}, customer_number=30002)
    response = confirm(admin_client)
    assert response.headers["Location"].endswith("/contacts/import?again=1")
    assert [c.name for c in Contact.select()] == ["Quicker"]


def test_a_line_the_database_refuses_leaves_nothing_of_the_import(app):
    """When the database refuses one line, the lines before it are gone too."""
    contacts.create({"name": "Existing"})              # 10001
    preview = contact_io.Preview(rows=[(2, {"name": "First", "customer_number": 40001}),
                                       (3, {"name": "Second"}),
                                       (4, {"name": "Clash", "customer_number": 10001})])
    with pytest.raises(contact_import.ImportFailed) as failed:
        contact_import.import_rows(preview)
    assert (failed.value.reason, failed.value.detail) == ("number_taken", "10001")
    assert [c.name for c in Contact.select()] == ["Existing"]


def test_automatic_and_given_numbers_in_one_file_do_not_collide(admin_client):
    """A line without a number must not take the number a later line asks for."""
    page = body(upload(admin_client, "Name,Customer number\nNo number,\nGiven,10001\n"))
    assert error_rows(page) == []
    response = confirm(admin_client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/contacts")
    assert {c.name: c.customer_number for c in Contact.select()} == \
        {"Given": 10001, "No number": 10002}


def test_values_too_long_for_their_field_are_a_line_error(admin_client):
    page = body(upload(admin_client, "Name,Organisation number,City\n"
                                     f"Fine,{'1' * 30},{'c' * 100}\n"
                                     f"Long Number,{'1' * 31},Utrecht\n"
                                     f"Long City,,{'c' * 101}\n"
                                     f"{'n' * 201},,\n"))
    assert [line for line, _ in error_rows(page)] == [3, 4, 5]
    assert all(problem == "A value is too long." for _, problem in error_rows(page))
    assert created_rows(page) == [(2, "Fine")]


@pytest.mark.parametrize("data, problem", [
    (b"", "The file is empty."),
    (b"   \n\n", "The file is empty."),
    (b"Company,City\nJansen,Utrecht\n",
     "The first line must name the columns, and one of them must be Name."),
])
def test_a_file_without_contacts_says_why(admin_client, data, problem):
    page = body(upload(admin_client, data))
    assert problem in page
    assert "/contacts/import/confirm" not in page


def test_unknown_columns_are_named_and_ignored(admin_client):
    page = body(upload(admin_client, "Name,Favourite colour,City\nJansen,blue,Utrecht\n"))
    assert "Columns that will be ignored: Favourite colour" in page
    confirm(admin_client)
    assert Contact.get().city == "Utrecht"


def test_no_file_is_an_error_beside_the_field(admin_client):
    response = admin_client.form("/contacts/import", {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert re.search(r'<p class="error" id="file-error">Choose a CSV file.</p>', body(response))


def test_confirming_without_a_preview_asks_for_the_file(admin_client):
    response = confirm(admin_client)
    assert response.headers["Location"].endswith("/contacts/import")
    assert "Upload the file again" in body(admin_client.get("/contacts/import"))
    assert Contact.select().count() == 0


def test_another_users_preview_is_not_theirs_to_confirm(admin_client, staff_client):
    upload(admin_client, GOOD)
    response = confirm(staff_client)
    assert response.headers["Location"].endswith("/contacts/import")
    assert Contact.select().count() == 0


def test_script_in_a_file_is_shown_escaped(admin_client):
    page = body(upload(admin_client, 'Name,E-mail,Favourite <script>x</script>\n'
                                     '<script>alert(1)</script>,"<script>y</script>@x",\n'
                                     '<img src=x onerror=alert(2)>,,\n'))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;script&gt;y&lt;/script&gt;@x" in page


# --- languages, separators, encodings -------------------------------------------------------

HEADERS = {
    "en": ("Customer number", "Name", "E-mail", "City", "Discount %", "Organisation number"),
    "nl": ("Klantnummer", "Naam", "E-mail", "Plaats", "Korting %", "KvK-nummer"),
    "nb": ("Kundenummer", "Navn", "E-post", "Poststed", "Rabatt %", "Organisasjonsnummer"),
    "de": ("Kundennummer", "Name", "E-Mail", "Ort", "Rabatt %", "Handelsregisternummer"),
}


@pytest.mark.parametrize("language", HEADERS)
@pytest.mark.parametrize("separator", [",", ";"])
def test_headers_in_every_language_and_either_separator(app, language, separator):
    header = separator.join(HEADERS[language])
    line = separator.join(["20001", "Søren Ærø AS", "post@aero.example", "Ålesund",
                           "12,5" if separator == ";" else "12.5", "987654321"])
    preview = contact_io.parse(f"{header}\n{line}\n".encode())
    assert preview.errors == [] and preview.unknown_columns == []
    assert preview.rows == [(2, {"customer_number": 20001, "name": "Søren Ærø AS",
                                 "email": "post@aero.example", "city": "Ålesund",
                                 "discount": Decimal("12.5"), "org_number": "987654321",
                                 "kind": "company"})]


def test_a_semicolon_file_may_have_commas_in_its_values(app):
    preview = contact_io.parse(b"Naam;Straat;Plaats\nJansen, Piet en Zn.;Dorpsstraat 1, a;"
                               b"Utrecht\n")
    assert preview.rows == [(2, {"name": "Jansen, Piet en Zn.", "street": "Dorpsstraat 1, a",
                                 "city": "Utrecht", "kind": "company"})]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_utf8_with_or_without_bom_and_windows_1252(admin_client, encoding):
    data = "Name;City;Street\nMüller € GmbH;Köln;Straße 5\n".encode(encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    page = body(upload(admin_client, data))
    assert created_rows(page) == [(2, "Müller € GmbH")]
    confirm(admin_client)
    contact = Contact.get()
    assert (contact.name, contact.city, contact.street) == ("Müller € GmbH", "Köln", "Straße 5")


def test_kinds_in_every_language(app):
    preview = contact_io.parse(b"Naam;Soort\nA;bedrijf\nB;persoon\nC;\nD;Person\nE;robot\n"
)
    assert [(line, values["kind"]) for line, values in preview.rows] == \
        [(2, "company"), (3, "person"), (4, "company"), (5, "person")]
    assert preview.errors == [(6, "bad_kind", "robot")]


# --- export ---------------------------------------------------------------------------------

def exported(client, **params):
    response = client.get("/contacts/export.csv", query_string=params)
    assert response.status_code == 200
    return response


def table(response, separator):
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")               # spreadsheets then read it as UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=separator))


@pytest.fixture
def two_contacts(app):
    contacts.create({"name": "Jansen Installatie BV", "city": "Utrecht", "discount": "12.5",
                     "email": "info@jansen.example", "phone": "030 123 4567"})
    contacts.create({"name": "Søren Ærø AS", "city": "Ålesund"})


def test_export_is_a_csv_download_of_the_list(admin_client, two_contacts):
    response = exported(admin_client)
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''contacts.csv" in disposition
    assert response.headers["Content-Security-Policy"] == "sandbox"
    rows = table(response, ",")
    assert rows[0] == [names[0] for names in contact_io.COLUMNS.values()]
    assert rows[0][:3] == ["Customer number", "Type", "Name"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("10001", "Jansen Installatie BV"),
                                               ("10002", "Søren Ærø AS")]
    record = dict(zip(rows[0], rows[1], strict=False))
    assert (record["E-mail"], record["City"], record["Discount %"], record["Phone"]) == \
        ("info@jansen.example", "Utrecht", "12.50", "030 123 4567")


def test_export_follows_the_search(admin_client, two_contacts):
    rows = table(exported(admin_client, q="soren"), ",")
    assert [r[2] for r in rows[1:]] == ["Søren Ærø AS"]
    assert table(exported(admin_client, q="nobody"), ",")[1:] == []


def test_export_leaves_out_inactive_contacts_unless_asked(admin_client, two_contacts):
    contacts.update(Contact.get(customer_number=10001).id, {"active": False}, 1)
    assert [r[0] for r in table(exported(admin_client), ",")[1:]] == ["10002"]
    assert [r[0] for r in table(exported(admin_client, inactive="1"), ",")[1:]] == \
        ["10001", "10002"]


@pytest.mark.parametrize("language, separator, first, discount, kind", [
    ("nl", ";", ["Klantnummer", "Soort", "Naam"], "12,50", "bedrijf"),
    ("nb", ";", ["Kundenummer", "Type", "Navn"], "12,50", "firma"),
    ("de", ";", ["Kundennummer", "Art", "Name"], "12,50", "firma"),
    ("en", ",", ["Customer number", "Type", "Name"], "12.50", "company"),
])
def test_export_is_headed_in_the_readers_language(admin_client, superuser, two_contacts,
                                                  language, separator, first, discount, kind):
    User.update(language=language).where(User.id == superuser.id).execute()
    rows = table(exported(admin_client), separator)
    assert rows[0][:3] == first
    assert [row[1] for row in rows[1:]] == [kind, kind]   # the type too (issue 11 item 19)
    index = list(contact_io.COLUMNS).index("discount")
    assert rows[0] == [names[contact_io.LANGUAGE_INDEX[language]]
                       for names in contact_io.COLUMNS.values()]
    assert rows[1][index] == discount
    # and the file reads back in: every header known, every number already taken
    preview = contact_io.parse(exported(admin_client).get_data())
    assert preview.unknown_columns == [] and preview.rows == []
    assert [code for _, code, _ in preview.errors] == ["number_taken", "number_taken"]


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil.example\",\"x\")",
                                   "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)"])
def test_export_defuses_formula_cells(admin_client, value):
    contacts.create({"name": value, "street": value})
    rows = table(exported(admin_client), ",")
    record = dict(zip(rows[0], rows[1], strict=False))
    assert record["Name"] == "'" + value
    assert record["Street"] == "'" + value


def test_cells_starting_with_a_tab_or_carriage_return_are_defused_too():
    # (the register strips both from the ends of what it stores, so they cannot get there)
    assert contact_io.safe_cell("\t=1") == "'\t=1"
    assert contact_io.safe_cell("\r=1") == "'\r=1"


@pytest.mark.parametrize("value", [" =1+1", "\n=1+1", "\u00a0@SUM(A1)", "\uff1dHYPERLINK(\"x\")",
                                   "\uff0b1", "\uff0d1", "\uff20A1", "  -2+3"])
def test_formulas_behind_blanks_or_in_full_width_are_defused_and_read_back(value):
    # Excel and LibreOffice skip leading blanks and take the full-width signs as formula starts
    assert contact_io.safe_cell(value) == "'" + value
    assert contact_io.unquoted_cell(contact_io.safe_cell(value)) == value
    assert contact_io.unquoted_cell("'t Hoen") == "'t Hoen"


def test_plain_cells_are_not_changed(admin_client):
    contacts.create({"name": "Plain 1 = 1", "street": "Dorpsstraat 1-3"})
    record = dict(zip(*table(exported(admin_client), ",")[:2], strict=False))
    assert (record["Name"], record["Street"]) == ("Plain 1 = 1", "Dorpsstraat 1-3")


# --- vCard ----------------------------------------------------------------------------------

def unfolded(card):
    """The content lines of a vCard, continuation lines joined (RFC 6350 3.2)."""
    assert card.endswith("\r\n")
    assert "\n" not in card.replace("\r\n", "") and "\r" not in card.replace("\r\n", "")
    return card.replace("\r\n ", "")[:-2].split("\r\n")


@pytest.fixture
def jansen(app):
    contact = contacts.create({
        "name": "Jansen, Zonen; Co\\ BV", "email": "info@jansen.example",
        "phone": "+31 30 123 4567", "mobile": "+31 6 1234 5678", "fax": "+31 30 123 4568",
        "website": "https://jansen.example", "street": "Dorpsstraat 1", "postcode": "1234 AB",
        "city": "Utrecht", "country": "NL"})
    contacts.save_person(contact, None, {"name": "Piet Jansen", "title": "Director",
                                         "email": "piet@jansen.example", "active": True})
    contacts.save_person(contact, None, {"name": "Gone Person", "active": False})
    return contact


def test_vcard_4_of_a_company_and_its_active_persons(admin_client, jansen):
    response = admin_client.get(f"/contacts/{jansen.id}/vcard")
    assert response.status_code == 200
    assert response.mimetype == "text/vcard"
    assert f"filename*=UTF-8''{quote('10001.vcf')}" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"] == "sandbox"
    lines = unfolded(body(response))
    assert lines[:4] == ["BEGIN:VCARD", "VERSION:4.0", "KIND:org",
                         "FN:Jansen\\, Zonen; Co\\\\ BV"]
    company = lines[:lines.index("END:VCARD") + 1]
    for expected in ("ORG:Jansen\\, Zonen\\; Co\\\\ BV", "EMAIL;TYPE=work:info@jansen.example",
                     'TEL;TYPE="work,voice":+31 30 123 4567', 'TEL;TYPE="cell":+31 6 1234 5678',
                     'TEL;TYPE="work,fax":+31 30 123 4568',
                     "ADR;TYPE=work:;;Dorpsstraat 1;Utrecht;;1234 AB;NL",
                     "URL:https://jansen.example", "X-KONTOR-CUSTOMER-NUMBER:10001"):
        assert expected in company
    person = lines[len(company):]
    assert person[:6] == ["BEGIN:VCARD", "VERSION:4.0", "KIND:individual", "FN:Piet Jansen",
                          "N:Jansen;Piet;;;", "ORG:Jansen\\, Zonen\\; Co\\\\ BV"]
    assert "TITLE:Director" in person and "EMAIL;TYPE=work:piet@jansen.example" in person
    assert person[-1] == "END:VCARD" and lines.count("BEGIN:VCARD") == 2
    assert "Gone Person" not in body(response)
    assert all(re.fullmatch(r"[A-Z-]+(;[^:]*)?:.*", line) for line in lines)


def test_vcard_of_a_person_contact(admin_client):
    contact = contacts.create({"name": "Zoë Ødegård", "kind": "person",
                               "email": "zoe@example.no"})
    lines = unfolded(body(admin_client.get(f"/contacts/{contact.id}/vcard")))
    assert lines == ["BEGIN:VCARD", "VERSION:4.0", "KIND:individual", "FN:Zoë Ødegård",
                     "N:Ødegård;Zoë;;;", "EMAIL;TYPE=work:zoe@example.no",
                     "X-KONTOR-CUSTOMER-NUMBER:10001",
                     "END:VCARD"]


def test_a_real_vcard_parser_reads_back_what_was_stored(admin_client):
    """Issue 11 item 11: RFC 6350 escaping, read by a real parser (vobject). A semicolon in a
    single-value property such as TITLE must arrive as a semicolon, not as `\\;`."""
    contact = contacts.create({
        "name": "Bakker; Zonen, Installatie\\Service BV", "kind": "company",
        "email": "info@bakker.example", "phone": "+31 20 123 4567",
        "street": "Kade 1; 2e etage\nAchterom", "postcode": "1011 AB", "city": "Amsterdam, NH",
        "country": "NL", "website": "https://bakker.example/over-ons?x=1"})
    contacts.save_person(contact, None, {"name": "Jan van der Berg",
                                         "title": "Sales; Support, Noord", "active": True,
                                         "email": "jan@bakker.example", "mobile": "06 1234 5678"})
    card = body(admin_client.get(f"/contacts/{contact.id}/vcard"))
    # escaped only where RFC 6350 requires it: a client that does not unescape `\\;` in a
    # single-value property shows what was typed
    assert "TITLE:Sales; Support\\, Noord" in unfolded(card)
    cards = list(vobject.readComponents(card))
    assert len(cards) == 2
    company, person = cards
    assert company.fn.value == "Bakker; Zonen, Installatie\\Service BV"
    assert company.org.value == ["Bakker; Zonen, Installatie\\Service BV"]
    address = company.adr.value
    assert (address.street, address.city, address.code, address.country) == (
        "Kade 1; 2e etage\nAchterom", "Amsterdam, NH", "1011 AB", "NL")
    assert company.email.value == "info@bakker.example"
    assert company.tel.value == "+31 20 123 4567"
    assert company.url.value == "https://bakker.example/over-ons?x=1"
    assert person.fn.value == "Jan van der Berg"
    assert (person.n.value.family, person.n.value.given) == ("van der Berg", "Jan")
    assert person.title.value == "Sales; Support, Noord"
    assert person.org.value == ["Bakker; Zonen, Installatie\\Service BV"]
    assert person.tel.value == "06 1234 5678"


def test_a_person_contacts_card_has_n_for_outlook_and_ios(admin_client):
    contact = contacts.create({"name": "Ingrid af Klint", "kind": "person"})
    card = vobject.readOne(body(admin_client.get(f"/contacts/{contact.id}/vcard")))
    assert (card.n.value.family, card.n.value.given) == ("af Klint", "Ingrid")
    assert card.fn.value == "Ingrid af Klint"


@pytest.mark.parametrize(("name", "parts"), [
    ("Piet Jansen", ("Jansen", "Piet")),
    ("Jansen, Piet", ("Jansen", "Piet")),
    ("Jan van der Berg", ("van der Berg", "Jan")),
    ("Anna Maria von Stein", ("von Stein", "Anna Maria")),
    ("de Vries", ("de Vries", "")),
    ("Cher", ("Cher", "")),
    ("  Kari   Nordmann ", ("Nordmann", "Kari")),
    ("", ("", "")),
])
def test_name_parts_for_the_vcard(name, parts):
    assert contact_io.name_parts(name) == parts


def test_vcard_lines_are_folded_and_line_breaks_escaped(admin_client):
    name = "Ærø " * 40 + "end"
    contact = contacts.create({"name": name, "street": "Line one\r\nLine two"})
    card = body(admin_client.get(f"/contacts/{contact.id}/vcard"))
    assert all(len(line.encode("utf-8")) <= 75 for line in card.split("\r\n"))
    lines = unfolded(card)
    assert f"FN:{name}" in lines
    assert "ADR;TYPE=work:;;Line one\\nLine two;;;;" in lines


@pytest.mark.parametrize("heading", ["Webseite", "Website", "homepage", "URL"])
def test_common_other_headings_are_understood(app, heading):
    preview = contact_io.parse(f"Name;{heading};KvK\nJansen BV;https://jansen.example;12345678\n"
                               .encode())
    assert preview.ok and not preview.unknown_columns
    _line, values = preview.rows[0]
    assert values["website"] == "https://jansen.example"
    assert values["org_number"] == "12345678"


def test_a_discount_with_more_than_two_decimals_is_a_line_error_not_rounded(app):
    """Issue 11 item 19: 12.345 became 12.35 without a word."""
    preview = contact_io.parse(b"Name;Korting %\nJansen BV;12,345\nBakker BV;12,50\n")
    assert [(line, code, detail) for line, code, detail in preview.errors] == \
        [(2, "discount_decimals", "12,345")]


def test_a_csv_over_the_size_limit_is_an_error_beside_the_field_not_a_413(
        admin_client, monkeypatch):
    # issue 10 item 7: a file over its per-file limit is the form's message, not a bare 413
    monkeypatch.setattr(config, "CSV_IMPORT_MAX_BYTES", 1024 * 1024)
    response = upload(admin_client, "name\n" + "Bakker\n" * 160_000, name="big.csv")
    assert response.status_code == 400
    assert error_beside(text(response), "file") == "“big.csv” is larger than 1 MB."
    assert Contact.select().count() == 0


# --- issue 11 item 10: country names, the round trip, columns, quotes --------------------------

@pytest.mark.parametrize("name, code", [
    ("Norway", "NO"), ("Norge", "NO"), ("Noorwegen", "NO"), ("Norwegen", "NO"),
    ("NORWAY", "NO"), ("Nederland", "NL"), ("Netherlands", "NL"), ("The Netherlands", "NL"),
    ("the netherlands", "NL"), ("Niederlande", "NL"), ("Deutschland", "DE"), ("Duitsland", "DE"),
    ("Tyskland", "DE"), ("Österreich", "AT"), ("Osterreich", "AT"), ("no", "NO"), ("NL", "NL")])
def test_country_names_in_four_languages_are_read_as_codes(admin_client, name, code):
    page = body(upload(admin_client, f"Name;Land;Bezoekadres land\nNoord AS;{name};{name}\n"))
    assert error_rows(page) == [] and created_rows(page) == [(2, "Noord AS")]
    confirm(admin_client)
    contact = Contact.get()
    assert (contact.country, contact.visit_country) == (code, code)


def test_an_unknown_country_is_a_line_error_naming_it(admin_client):
    page = body(upload(admin_client, "Name,Country,Visiting country\nA,Norway,\nB,,Narnia\n"))
    assert error_rows(page) == [(3, "“Narnia” is not a country: give its code (NL) or its name.")]
    assert Contact.select().count() == 0


@pytest.mark.parametrize("value", ["XX", "ZZ", "EU", "Narnia"])
def test_a_code_that_is_no_country_is_a_line_error_too(admin_client, value):
    """Found by a new user: "XX" and "ZZ" were stored as countries no page can show."""
    page = body(upload(admin_client, f"Name;Land\nA BV;{value}\n"))
    assert error_rows(page) == [
        (2, f"“{value}” is not a country: give its code (NL) or its name.")]


def test_an_imported_country_outside_the_usual_list_survives_an_edit(admin_client):
    """Found by a new user: an imported "Japan" showed as "—" in the edit form, and saving the
    form (the city changed) emptied the country."""
    upload(admin_client, "Name;Land;Bezoekadres land\nTokio KK;Japan;UK\n")
    confirm(admin_client)
    contact = Contact.get()
    assert (contact.country, contact.visit_country) == ("JP", "GB")
    assert "Japan" in text(admin_client.get(f"/contacts/{contact.id}"))
    edit = body(admin_client.get(f"/contacts/{contact.id}/edit"))
    assert '<option selected value="JP">' in edit or '<option value="JP" selected>' in edit
    fields = dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', edit))
    admin_client.form(f"/contacts/{contact.id}/edit", {
        "kind": "company", "name": "Tokio KK", "city": "Tokio", "country": "JP",
        "visit_country": "GB", "version": fields.get("version", "1")})
    contact = Contact.get()
    assert (contact.city, contact.country, contact.visit_country) == ("Tokio", "JP", "GB")


ROUND_TRIP = [
    {"name": "=Bakker & Zn.", "kind": "person", "phone": "+31 6 1234 5678",
     "mobile": "-47 912 34 567", "fax": "@fax 030 1", "street": "'t Hoenderveld 2",
     "postcode": "3511 AB", "city": "Utrecht", "country": "NL", "visit_street": "+Kelder 1",
     "visit_postcode": "0150", "visit_city": "Oslo", "visit_country": "NO",
     "email": "info@bakker.example", "website": "https://bakker.example/a?b=1",
     "org_number": "-12345678", "vat_number": "NL001234567B01", "discount": "12.5"},
    {"name": "Søren Ærø AS", "city": "Ålesund", "country": "DE", "discount": "0"},
]


@pytest.mark.parametrize("language", ["en", "nl", "nb", "de"])
def test_our_own_export_reads_back_exactly_what_was_exported(admin_client, superuser, language):
    for values in ROUND_TRIP:
        contacts.create(dict(values))
    stored = [{key: getattr(contact, key) for key in contact_io.COLUMNS}
              for contact in Contact.select().order_by(Contact.customer_number)]
    User.update(language=language).where(User.id == superuser.id).execute()
    data = exported(admin_client).get_data()
    assert "'+31 6 1234 5678" in data.decode("utf-8")          # the formula guard is there
    Contact.delete().execute()      # so that the numbers are free again
    preview = contact_io.parse(data)
    assert preview.errors == [] and preview.unknown_columns == []
    assert [values for _, values in preview.rows] == stored


@pytest.mark.parametrize("header, named", [
    ("Name,Email,E-mail", "“Email” / “E-mail”"),
    ("Naam;Phone;Telefoon", "“Phone” / “Telefoon”"),
    ("Name,Navn,City", "“Name” / “Navn”"),
])
def test_two_columns_for_one_field_are_an_error_naming_both(admin_client, header, named):
    separator = ";" if ";" in header else ","
    line = separator.join(["Jansen BV", "a@jansen.example", "b@jansen.example"])
    page = body(upload(admin_client, f"{header}\n{line}\n"))
    assert error_rows(page) == [
        (1, f"The columns {named} are the same field: keep one of them.")]
    assert created_rows(page) == [] and "/contacts/import/confirm" not in page
    confirm(admin_client)
    assert Contact.select().count() == 0


def test_a_line_with_more_values_than_columns_is_a_line_error(admin_client):
    page = body(upload(admin_client, "Name,City\nJansen BV,Utrecht\nBakker,Ede,Gelderland\n"
                                     "Trailing Separators,Ede,,\n"))
    assert error_rows(page) == [
        (3, "This line has more values than the first line has column names "
            "(values:columns 3:2).")]
    assert created_rows(page) == [(2, "Jansen BV"), (4, "Trailing Separators")]
    confirm(admin_client)
    assert Contact.select().count() == 0


@pytest.mark.parametrize("separator", [",", ";"])
def test_an_unclosed_quote_is_an_error_on_the_line_where_it_opened(admin_client, separator):
    data = ('Name,Street,City\nJansen BV,"Dorpsstraat 1, a",Utrecht\n'
            'Bakker,"Kerkstraat 2,Ede\nDe Vries,Molenweg 3,Zeist\nVisser,Laan 4,Baarn\n')
    if separator == ";":
        data = data.replace(",", ";").replace("1; a", "1, a")
    page = body(upload(admin_client, data))
    assert error_rows(page) == [
        (3, "A quote opened on this line is never closed: the rest of the file would be read "
            "as one value.")]
    assert created_rows(page) == [(2, "Jansen BV")]
    confirm(admin_client)
    assert Contact.select().count() == 0


def test_a_closed_quote_over_two_lines_is_still_one_value(app):
    preview = contact_io.parse(b'Name,Street\nJansen BV,"Dorpsstraat 1\nachterom"\n')
    assert preview.errors == []
    assert preview.rows[0][1]["street"] == "Dorpsstraat 1 achterom"


def duplicate_rows(page):
    """(line, name, existing contacts) of the preview's table of likely duplicates."""
    table = page.split("Lines that look like contacts you already have", 1)
    if len(table) == 1:
        return []
    table = table[1].split("</table>", 1)[0]
    return [(int(line), name, re.sub(r"<[^>]+>", "", existing)) for line, name, existing in
            re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td></tr>", table, re.S)]


def test_the_preview_flags_lines_like_contacts_we_have_by_the_new_contact_rules(admin_client):
    contacts.create({"name": "Jansen Installatie B.V.", "email": "info@jansen.example"})  # 10001
    contacts.create({"name": "Noord AS", "org_number": "987654321"})                      # 10002
    contacts.create({"name": "Bakker", "email": "Post@Bakker.example"})                   # 10003
    page = body(upload(admin_client, "Name,E-mail,Organisation number\n"
                                     "jansen installatie bv,,\n"          # 2 the same name
                                     "Other Name,,987654321\n"            # 3 org number
                                     "Bakkerij Zuid,post@bakker.example,\n"   # 4 e-mail
                                     "Someone New,new@new.example,123\n"))    # 5 new
    assert duplicate_rows(page) == [
        (2, "jansen installatie bv", "10001 Jansen Installatie B.V."),
        (3, "Other Name", "10002 Noord AS"),
        (4, "Bakkerij Zuid", "10003 Bakker")]
    assert "3 lines look like contacts you already have" in page
    assert created_rows(page)[-1] == (5, "Someone New")
    assert "/contacts/import/confirm" in page        # they may still be imported as new ones


def test_a_file_of_new_contacts_flags_nothing(admin_client):
    contacts.create({"name": "Jansen Installatie BV"})
    page = body(upload(admin_client, GOOD.replace("Jansen Installatie BV", "Visser BV")))
    assert duplicate_rows(page) == [] and "look like contacts you already have" not in page


def upload_choosing(client, data, existing):
    return client.form("/contacts/import", {"file": (io.BytesIO(data.encode("utf-8")),
                                                     "contacts.csv"), "existing": existing},
                       content_type="multipart/form-data")


@pytest.fixture
def exported_register(admin_client, superuser):
    """The register of two contacts, exported in Dutch and read as text."""
    contacts.create({"name": "Jansen Installatie BV", "city": "Utrecht", "kind": "company"})
    contacts.create({"name": "Piet de Vries", "kind": "person", "phone": "+31 6 1234 5678"})
    User.update(language="nl").where(User.id == superuser.id).execute()
    data = exported(admin_client).get_data().decode("utf-8")
    User.update(language="en").where(User.id == superuser.id).execute()
    return data


def test_a_reimported_export_updates_the_contacts_by_customer_number(admin_client,
                                                                     exported_register):
    data = exported_register.replace(";Utrecht;", ";Amersfoort;") + ";bedrijf;Visser BV\n"
    page = body(upload_choosing(admin_client, data, "update"))
    assert error_rows(page) == []
    assert "2 contacts will be updated (the same customer number):" in page
    assert created_rows(page) == [(4, "Visser BV")]
    assert "Import 3 contacts" in page
    confirm(admin_client)
    assert [(c.customer_number, c.name, c.kind, c.city, c.phone) for c in
            Contact.select().order_by(Contact.customer_number)] == [
        (10001, "Jansen Installatie BV", "company", "Amersfoort", ""),
        (10002, "Piet de Vries", "person", "", "+31 6 1234 5678"),
        (10003, "Visser BV", "company", "", "")]
    jansen = Contact.get(Contact.customer_number == 10001)
    assert jansen.version == 2                      # an ordinary edit, in its history
    assert Contact.get(Contact.customer_number == 10002).version == 1   # nothing changed


def test_an_update_leaves_the_columns_the_file_does_not_have(admin_client):
    contacts.create({"name": "Piet de Vries", "kind": "person", "city": "Ede"})
    page = body(upload_choosing(admin_client, "Customer number,Name\n10001,Piet de Vries Jr\n",
                                "update"))
    assert "1 contact will be updated" in page
    confirm(admin_client)
    contact = Contact.get()
    assert (contact.name, contact.kind, contact.city) == ("Piet de Vries Jr", "person", "Ede")


def test_skip_leaves_out_taken_numbers_and_likely_duplicates(admin_client, exported_register):
    data = exported_register + ";bedrijf;Jansen Installatie B.V.\n;bedrijf;Visser BV\n"
    page = body(upload_choosing(admin_client, data, "skip"))
    assert error_rows(page) == []
    assert "3 lines will be skipped: they look like contacts you already have " \
           "(lines 2, 3, 4)." in page
    assert created_rows(page) == [(5, "Visser BV")]
    confirm(admin_client)
    assert [c.name for c in Contact.select().order_by(Contact.customer_number)] == [
        "Jansen Installatie BV", "Piet de Vries", "Visser BV"]


def test_by_default_a_taken_number_is_still_an_error(admin_client, exported_register):
    page = body(upload_choosing(admin_client, exported_register, "new"))
    assert [problem for _, problem in error_rows(page)] == [
        "Customer number 10001 is taken by an existing contact.",
        "Customer number 10002 is taken by an existing contact."]


def test_a_large_reimport_updates_in_batches_in_the_background(admin_client, monkeypatch,
                                                                exported_register):
    monkeypatch.setattr(config, "CSV_IMPORT_BATCH_ROWS", 1)
    data = exported_register.replace(";Utrecht;", ";Amersfoort;") + ";bedrijf;Visser BV\n"
    upload_choosing(admin_client, data, "update")
    response = confirm(admin_client)
    assert "/contacts/import/" in response.headers["Location"]
    contact_import.wait(timeout=60)
    assert [(c.name, c.city) for c in Contact.select().order_by(Contact.customer_number)] == [
        ("Jansen Installatie BV", "Amersfoort"), ("Piet de Vries", ""), ("Visser BV", "")]
    record = contact_import.ContactImport.get()
    assert (record.status, record.done, record.total) == ("done", 3, 3)


def test_the_choice_can_be_made_again_in_the_preview_without_uploading_again(
        admin_client, exported_register):
    page = body(upload_choosing(admin_client, exported_register, "new"))
    assert len(error_rows(page)) == 2 and 'action="/contacts/import/existing"' in page
    response = admin_client.form("/contacts/import/existing", {"choice": "update"})
    page = body(admin_client.get(response.headers["Location"]))
    assert error_rows(page) == []
    assert "2 contacts will be updated (the same customer number):" in page
    assert re.search(r'<input checked id="choice-\d" name="choice" type="radio" '
                     r'value="update">', page)
    confirm(admin_client)
    assert "2 contacts imported." in body(admin_client.get("/contacts"))
    assert Contact.select().count() == 2
