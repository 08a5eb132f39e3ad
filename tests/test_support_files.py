"""Files on support cases (SECURITY.md 29-31): a limit per file and per request (413 with a
clear page, nothing half-saved), an allow-list checked by content, random names inside the
upload folder with the original name kept only as data, and downloads only for those who may
see the case, always as an attachment with a safe RFC 6266 name and headers that stop a
browser from rendering it.
"""
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import error_beside, text, text_of
from support_helpers import (
    PDF,
    PNG,
    add_information,
    case_by_number,
    choose_customer,
    details,
    open_case,
)

from kontor import uploads
from models import CaseFile, CaseMessage, User

MB = 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32


def docx():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def zip_of(name="readme.txt"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "hello")
    return buffer.getvalue()


def upload_folder(app):
    return Path(app.config["DATA_DIR"]) / "uploads"


def stored_files(app):
    folder = upload_folder(app)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def everything_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def to_files_step(client, desk):
    choose_customer(client, desk.customer)
    response = client.form("/support/new/details",
                           details(desk.category, desk.type, needs_files="y"))
    assert response.headers["Location"].endswith("/support/new/files")


def upload_in_wizard(client, files):
    return client.form("/support/new/files", {
        "files": [(io.BytesIO(data), name) for name, data in files], "upload": "Upload"},
        content_type="multipart/form-data")


def raw_multipart(client, url, fields, file_header, content, boundary="kontorBOUNDARY"):
    """A hand-made multipart body, for file names a browser library would not produce
    (RFC 2231 `filename*` with CR/LF in it)."""
    fields = dict(fields, csrf_token=client.csrf_token())
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                 f"{file_header}\r\nContent-Type: text/plain\r\n\r\n".encode()
                 + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return client.post(url, data=b"".join(parts),
                       content_type=f"multipart/form-data; boundary={boundary}")


def assert_too_large_page(response):
    assert response.status_code == 413
    page = text(response)
    assert "<h1>Too large</h1>" in page
    assert "Nothing was saved." in page




# --- size limits ----------------------------------------------------------------------------

def test_a_file_over_the_per_file_limit_in_the_wizard_is_an_error_beside_the_field(
        app, staff_client, desk):
    # issue 10 item 7: the per-file limit is the form's rule, not a 413 for the whole request
    app.config["UPLOAD_MAX_MB"] = 1
    to_files_step(staff_client, desk)
    assert "up to 1 MB each" in text(staff_client.get("/support/new/files"))
    response = upload_in_wizard(staff_client, [("fine.png", PNG),
                                               ("big.png", PNG + b"\x00" * MB)])
    assert response.status_code == 400
    assert text_of(error_beside(text(response), "files")) == "“big.png” is larger than 1 MB."
    assert stored_files(app) == [], "the small file of the same batch is not stored either"
    assert "No files added yet." in text(staff_client.get("/support/new/files"))


def test_a_file_of_exactly_the_limit_is_accepted(app, staff_client, desk):
    app.config["UPLOAD_MAX_MB"] = 1
    to_files_step(staff_client, desk)
    exactly = PNG + b"\x00" * (MB - len(PNG))
    assert upload_in_wizard(staff_client, [("exact.png", exactly)]).status_code == 302
    [name] = stored_files(app)
    assert (upload_folder(app) / name).stat().st_size == MB


def test_a_file_over_the_limit_added_to_a_case_keeps_the_text_and_says_so_beside_the_field(
        app, admin_client, staff_client, desk):
    # issue 10 item 7: a bare 413 page lost the reply; now the reply stays in its field
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       files=[("first.png", PNG)])
    before_files = stored_files(app)
    app.config["UPLOAD_MAX_MB"] = 1
    reply = "Here are two files:\nthe offer and the drawing."
    response = add_information(admin_client, number, reply,
                               files=[("ok.pdf", PDF), ("huge.pdf", PDF + b" " * (MB + 1))])
    assert response.status_code == 400
    page = text(response)
    assert error_beside(page, "files") == "“huge.pdf” is larger than 1 MB."
    assert re.search(r'<textarea[^>]*id="body"[^>]*>\s*' + re.escape(reply) + "</textarea>",
                     page), "the reply is still in its field"
    assert 'aria-describedby="files-hint files-error"' in page
    case = case_by_number(number)
    assert case.status == "open"
    assert CaseFile.select().count() == 1
    assert CaseMessage.select().count() == 1
    assert stored_files(app) == before_files


def test_the_413_page_is_a_kontor_page_in_the_users_language(app, staff_client, staff, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    User.update(language="nl").where(User.id == staff.id).execute()
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = staff_client.form(f"/support/{number}/add", {
        "body": "Te veel ineens.", "files": [(io.BytesIO(PDF + b" " * (100 * 1024)), "big.pdf")]},
        content_type="multipart/form-data",
        headers={"Referer": f"http://localhost/support/{number}"})
    assert response.status_code == 413
    page = text(response)
    assert '<html lang="nl">' in page and "<h1>Te groot</h1>" in page
    assert "Kontor" in text_of(page) and 'class="topbar"' in page
    assert 'name="next" value="/support/' + number + '"' in page   # the language switch


def test_a_request_over_max_content_length_is_413(app, staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = PDF + b" " * (100 * 1024)
    response = add_information(staff_client, number, "Too much at once.",
                               files=[("big.pdf", big)])
    assert_too_large_page(response)
    assert CaseMessage.select().count() == 1 and CaseFile.select().count() == 0
    assert stored_files(app) == []

    to_files_step(staff_client, desk)
    assert_too_large_page(upload_in_wizard(staff_client, [("big.pdf", big)]))
    assert stored_files(app) == []


# --- the allow-list, by content ------------------------------------------------------------

@pytest.mark.parametrize("name, content", [
    ("report.pdf", PDF), ("screen.png", PNG), ("photo.jpg", JPEG), ("photo.JPEG", JPEG),
    ("anim.gif", GIF), ("log.txt", "Fehler: Überlauf\n".encode()), ("data.csv", b"a;b\n1;2\n"),
    ("letter.rtf", b"{\\rtf1\\ansi Hello}"), ("offer.docx", docx()), ("bundle.zip", zip_of()),
    # text in the other encodings spreadsheets and editors write (issue 11 item 12)
    ("excel.csv", "Naam;Straße;Plaats\r\nMüller;Ærøgade 1;Tromsø\r\n".encode("cp1252")),
    ("notepad.txt", "Fehler: Überlauf\r\n".encode("utf-16")),
    ("export.csv", "Navn;By\nØdegård;Bodø\n".encode("utf-16-le")),
    ("bom.csv", "Name;Ort\nMüller;Köln\n".encode("utf-8-sig")),
], ids=lambda value: value if isinstance(value, str) else "")
def test_allowed_types_are_accepted(app, staff_client, desk, name, content):
    to_files_step(staff_client, desk)
    assert upload_in_wizard(staff_client, [(name, content)]).status_code == 302
    assert name in text(staff_client.get("/support/new/files"))
    assert len(stored_files(app)) == 1


@pytest.mark.parametrize("name, content", [
    ("screen.pdf", PNG),                       # a PNG renamed .pdf
    ("invoice.png", PDF),                      # and the other way round
    ("x.py", b"import os\nos.system('rm -rf /')\n"),
    ("page.html", b"<script>alert(1)</script>"),
    ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256))),
    ("tool.txt", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256))),   # binary named .txt
    ("blob.csv", bytes(range(32, 127)) + b"\x01\x02\x03" * 10),   # control bytes: no text
    ("fake.docx", zip_of()),                   # a ZIP without [Content_Types].xml
    ("broken.zip", b"PK\x03\x04 not really a zip"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_types_outside_the_allow_list_are_refused_with_a_message(app, staff_client, desk,
                                                                 name, content):
    to_files_step(staff_client, desk)
    response = upload_in_wizard(staff_client, [(name, content)])
    assert response.status_code == 400
    assert f"“{name}” is not a file type Kontor accepts" in text(response)
    assert stored_files(app) == []
    assert "No files added yet." in text(staff_client.get("/support/new/files"))


def test_a_pdf_with_a_201_character_name_is_accepted_and_stays_a_pdf(app, staff_client, desk):
    """Issue 11 item 12: the name was cut at 200 characters, ".pdf" with it, and the file was
    refused as "not a file type Kontor accepts"."""
    name = "Offerte " + "x" * (201 - len("Offerte .pdf")) + ".pdf"
    assert len(name) == 201
    to_files_step(staff_client, desk)
    assert upload_in_wizard(staff_client, [(name, PDF)]).status_code == 302
    kept = name[:200 - len(".pdf")] + ".pdf"
    assert kept in text(staff_client.get("/support/new/files"))
    assert len(stored_files(app)) == 1


@pytest.mark.parametrize("sent, kept", [
    ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ("C:\\Users\\kari\\" + "b" * 250 + ".docx", "b" * 195 + ".docx"),
    ("c" * 250, "c" * 200),                                  # no ending: cut
    ("d" * 190 + "." + "e" * 40, ("d" * 190 + "." + "e" * 40)[:200]),  # no real ending
    ("  ", "file"),
    ("kort.txt", "kort.txt"),
])
def test_long_names_are_shortened_keeping_their_ending(sent, kept):
    assert uploads.short_name(sent) == kept


def test_an_empty_file_is_refused(app, staff_client, desk):
    to_files_step(staff_client, desk)
    response = upload_in_wizard(staff_client, [("empty.txt", b"")])
    assert response.status_code == 400
    assert "“empty.txt” is empty." in text(response)
    assert stored_files(app) == []


def test_one_refused_file_keeps_the_whole_batch_out(app, staff_client, desk):
    to_files_step(staff_client, desk)
    response = upload_in_wizard(staff_client, [("good.png", PNG), ("screen.pdf", PNG)])
    assert response.status_code == 400
    assert stored_files(app) == []


def test_a_png_renamed_pdf_is_refused_when_adding_information(app, admin_client, staff_client,
                                                              desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    response = add_information(admin_client, number, "See the attachment.",
                               files=[("screen.pdf", PNG)])
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error_beside(page, "files").startswith("“screen.pdf” is not a file type")
    assert "“screen.pdf” is not a file type Kontor accepts" in text(response)
    assert "See the attachment." in text(response), "what was typed is kept"
    assert CaseMessage.select().count() == 1 and CaseFile.select().count() == 0
    assert case_by_number(number).status == "open"
    assert stored_files(app) == []


# --- names and where files go ------------------------------------------------------------

def send_with_raw_file_name(client, desk, file_header, content):
    """The wizard with one file whose multipart header is written by hand; the case number."""
    to_files_step(client, desk)
    response = raw_multipart(client, "/support/new/files", {"upload": "Upload"}, file_header,
                             content)
    assert response.status_code == 302, text(response)[:1000]
    client.form("/support/new/files", {"submit": "Next"})
    response = client.fill("/support/new/summary", {"submit": "Send"})
    assert response.status_code == 302
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.mark.parametrize("name", ["../../x.txt", "..\\..\\x.txt", "/etc/x.txt",
                                  "C:\\Users\\piet\\x.txt"])
def test_a_path_in_the_name_stays_inside_the_upload_folder(app, staff_client, desk, tmp_path,
                                                           name):
    before = everything_under(tmp_path)
    header = f"filename*=UTF-8''{quote(name, safe='')}"
    number = send_with_raw_file_name(staff_client, desk, header, b"hello\n")
    [stored] = list(case_by_number(number).files)
    assert stored.original_name == "x.txt"
    assert re.fullmatch(r"[0-9a-f]{32}", stored.stored_name)
    assert stored_files(app) == [stored.stored_name]
    assert (upload_folder(app) / stored.stored_name).read_bytes() == b"hello\n"
    new = set(everything_under(tmp_path)) - set(before)
    assert f"data/uploads/{stored.stored_name}" in new
    assert not [p for p in new if "x.txt" in p or not p.startswith(("data/", "kontor.db"))], new
    assert not (tmp_path.parent / "x.txt").exists()
    assert "x.txt" in text(staff_client.get(f"/support/{number}"))


def test_a_python_file_with_a_path_is_refused_anyway(app, staff_client, desk):
    to_files_step(staff_client, desk)
    response = upload_in_wizard(staff_client, [("../../x.py", b"print('hi')\n")])
    assert response.status_code == 400
    assert "“x.py” is not a file type Kontor accepts" in text(response)
    assert stored_files(app) == []


def test_files_are_kept_outside_static_under_random_names(app, staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       files=[("a.png", PNG), ("a.png", PNG)])
    names = [f.stored_name for f in case_by_number(number).files]
    assert len(set(names)) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", n) for n in names)
    static = Path(app.static_folder).resolve()
    for name in names:
        path = (upload_folder(app) / name).resolve()
        assert path.exists() and static not in path.parents
    with pytest.raises(ValueError):
        uploads.path_of(upload_folder(app), "../kontor.db")


# --- downloads ----------------------------------------------------------------------------

def test_a_download_is_an_attachment_with_a_safe_name_and_headers(app, staff_client, desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       files=[("Überweisung März 2026.png", PNG), ("page.txt", b"<b>hi</b>\n")])
    by_name = {f.original_name: f for f in case_by_number(number).files}
    response = staff_client.get(
        f"/support/{number}/files/{by_name['Überweisung März 2026.png'].id}")
    assert response.status_code == 200
    assert response.get_data() == PNG
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('Überweisung März 2026.png')}" in disposition
    assert re.search(r'filename="[A-Za-z0-9._ -]+"', disposition), disposition
    assert disposition.isascii()
    # text is not served as text either
    response = staff_client.get(f"/support/{number}/files/{by_name['page.txt'].id}")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_name_with_cr_lf_cannot_split_a_header(app, staff_client, desk):
    number = send_with_raw_file_name(
        staff_client, desk, "filename*=UTF-8''a%0D%0ASet-Cookie%3A%20pwned%3D1%0D%0A%0D%0Ab.txt",
        b"hello\n")
    [stored] = list(case_by_number(number).files)
    assert "Set-Cookie" in stored.original_name    # kept as data
    response = staff_client.get(f"/support/{number}/files/{stored.id}")
    assert response.status_code == 200
    assert response.get_data() == b"hello\n"
    assert "Set-Cookie" not in response.headers
    assert "pwned" not in str(response.headers.get("Set-Cookie", ""))
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "%0D" not in disposition and "%0A" not in disposition


def test_only_those_who_may_see_the_case_download_its_files(app, admin_client, staff_client,
                                                            mila_client, desk, mila,
                                                            own_cases_only):
    number = open_case(staff_client, desk.customer, desk.category, desk.type,
                       files=[("a.png", PNG)])
    other = open_case(admin_client, desk.customer, desk.category, desk.type,
                      files=[("anna.pdf", PDF)])
    mine = CaseFile.get(CaseFile.original_name == "a.png")
    annas = CaseFile.get(CaseFile.original_name == "anna.pdf")
    url = f"/support/{number}/files/{mine.id}"
    assert staff_client.get(url).status_code == 200          # the requester
    assert admin_client.get(url).status_code == 200          # a superuser
    assert mila_client.get(url).status_code == 404           # someone else
    # a file id of another case, through a case one may see
    assert staff_client.get(f"/support/{number}/files/{annas.id}").status_code == 404
    assert staff_client.get(f"/support/{other}/files/{annas.id}").status_code == 404
    assert staff_client.get(f"/support/{number}/files/999999").status_code == 404
    # the owner may
    staff_client.form(f"/support/{number}/owner", {"owner": str(mila.id)})
    assert mila_client.get(url).status_code == 200
    # a file missing from the disk is a 404, not an error
    (upload_folder(app) / mine.stored_name).unlink()
    assert staff_client.get(url).status_code == 404


def test_several_files_added_at_once_belong_to_the_new_message(app, admin_client, staff_client,
                                                                desk):
    number = open_case(staff_client, desk.customer, desk.category, desk.type)
    response = add_information(admin_client, number, "Two files.",
                               files=[("one.pdf", PDF), ("two.png", PNG)])
    assert response.status_code == 302
    message = CaseMessage.get(CaseMessage.body == "Two files.")
    assert sorted(f.original_name for f in message.files) == ["one.pdf", "two.png"]
    assert all(f.uploaded_by_id == desk.superuser.id for f in message.files)
    page = staff_client.get(f"/support/{number}").get_data(as_text=True)
    for f in message.files:
        assert f'href="/support/{number}/files/{f.id}"' in page
        response = staff_client.get(f"/support/{number}/files/{f.id}")
        assert response.get_data() == (upload_folder(app) / f.stored_name).read_bytes()
