"""Contacts in and out: reading a CSV file for import (preview, per-line errors; the import
itself, all or nothing, is kontor/contact_import.py), CSV export and vCard (SPEC section 6).

CSV columns may be headed in any of Kontor's four languages (see COLUMNS; README lists them);
the export uses the reader's language. Separators `,` `;` and tab are recognised, and lines
may end in CR LF, LF or CR alone (old Mac files); the file may be UTF-8 (with or without BOM),
UTF-16 (Excel's "Unicode text") or Windows-1252, as spreadsheets write them.
"""
import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from peewee import CharField

from kontor import config, languages
from kontor.contacts.register import has_at_most_two_decimals
from kontor.countries import country_code
from kontor.mail import InvalidAddress, normalise_address, normalise_email
from kontor.matching import duplicates_in_register
from kontor.text import (
    decode_text,
    is_web_address,
    one_line,
    web_link,
    whole_number,
    without_controls,
)
from models import Contact
from models.db import stream

# canonical key → header in en, nl, nb, de (the first is what the export writes)
COLUMNS = {
    "customer_number": ("Customer number", "Klantnummer", "Kundenummer", "Kundennummer"),
    "kind": ("Type", "Soort", "Type", "Art"),
    "name": ("Name", "Naam", "Navn", "Name"),
    "org_number": ("Organisation number", "KvK-nummer", "Organisasjonsnummer",
                   "Handelsregisternummer"),
    "vat_number": ("VAT number", "Btw-nummer", "MVA-nummer", "USt-IdNr."),
    "email": ("E-mail", "E-mail", "E-post", "E-Mail"),
    "phone": ("Phone", "Telefoon", "Telefon", "Telefon"),
    "mobile": ("Mobile", "Mobiel", "Mobil", "Mobil"),
    "fax": ("Fax", "Fax", "Faks", "Fax"),
    "website": ("Website", "Website", "Nettsted", "Webseite"),
    "street": ("Street", "Straat", "Gateadresse", "Straße"),
    "postcode": ("Postcode", "Postcode", "Postnummer", "PLZ"),
    "city": ("City", "Plaats", "Poststed", "Ort"),
    "country": ("Country", "Land", "Land", "Land"),
    "visit_street": ("Visiting street", "Bezoekadres straat", "Besøksadresse",
                     "Besuchsadresse Straße"),
    "visit_postcode": ("Visiting postcode", "Bezoekadres postcode", "Besøkspostnummer",
                       "Besuchsadresse PLZ"),
    "visit_city": ("Visiting city", "Bezoekadres plaats", "Besøkssted", "Besuchsadresse Ort"),
    "visit_country": ("Visiting country", "Bezoekadres land", "Besøksland",
                      "Besuchsadresse Land"),
    "discount": ("Discount %", "Korting %", "Rabatt %", "Rabatt %"),
}
# The headings above are in the order of languages.CODES: en, nl, nb, de.
LANGUAGE_INDEX = {code: index for index, code in enumerate(languages.CODES)}
KINDS = {"company": "company", "bedrijf": "company", "firma": "company", "foretak": "company",
         "bedrift": "company", "unternehmen": "company", "organisation": "company",
         "organization": "company", "person": "person", "persoon": "person",
         "privatperson": "person", "": "company"}
# the type as the export writes it, in the order of languages.CODES (the words the contact
# form shows in that language; issue 11 item 19), each read back by KINDS
KIND_NAMES = {"company": ("company", "bedrijf", "firma", "firma"),
              "person": ("person", "persoon", "person", "person")}


# other headings spreadsheets commonly use for the same columns
ALIASES = {
    "customer_number": ("customer no", "klantnr", "kundenr", "kundennr"),
    "org_number": ("kvk", "kvk nummer", "organisatienummer", "orgnr", "org nr",
                   "registration number", "company number"),
    "vat_number": ("vat", "btw", "btw nummer", "mva", "ust id", "ustid"),
    "email": ("email", "e-mail address", "e-mailadres", "epost", "e-mail-adresse"),
    "website": ("web", "url", "homepage", "website", "webseite", "hjemmeside"),
    "postcode": ("zip", "zip code", "postal code", "postleitzahl", "postnr"),
    "city": ("town", "woonplaats", "stadt", "sted"),
    "phone": ("telephone", "tel", "tlf"),
}


def _header_key(header):
    wanted = " ".join(header.strip().lower().replace("_", " ").split())
    for key, names in COLUMNS.items():
        if wanted == key.replace("_", " ") or wanted in (n.lower() for n in names) \
                or wanted in ALIASES.get(key, ()):
            return key
    return None


@dataclass
class Preview:
    rows: list = field(default_factory=list)      # (line number, values) to be created
    errors: list = field(default_factory=list)    # (line number, code, detail)
    unknown_columns: list = field(default_factory=list)
    duplicates: dict = field(default_factory=dict)   # line → likely the same contacts we have
    existing: str = "new"                         # what is done with those (EXISTING)
    skipped: list = field(default_factory=list)   # (line number, values) left out ("skip")
    updates: list = field(default_factory=list)   # (line number, values) to update ("update")

    @property
    def ok(self):
        return bool(self.rows or self.updates) and not self.errors


# What an import does with a line like a contact in the register (issue 11 item 10): "new"
# creates it (a customer number that is taken is an error, as before); "skip" leaves out every
# such line (a taken customer number or a likely duplicate by the "New contact" rules);
# "update" updates the contact with the line's customer number and creates the other lines.
EXISTING = ("new", "skip", "update")


def decode(raw: bytes) -> str:
    """The text of a CSV file in any encoding a spreadsheet writes, without control
    characters other than tab and line ends (a NUL would break the database)."""
    return without_controls(decode_text(raw))


def parse(raw: bytes, existing="new") -> Preview:
    """Read a CSV file into the contacts it would create and the lines that are wrong.

    In: the file's bytes. Out: a Preview; its errors are (line, code, detail): a header with two
    columns for one field ("Email" and "E-mail") is the error "same_field" on line 1 naming both
    headings, and then no line is read; a line with more values than there are headings is the
    error "extra_cells" (detail "values:headings"; empty cells at the end do not count), and a
    quote that is never closed the error "unclosed_quote" on the line where it opened, instead
    of the rest of the file read as one value (issue 11 item 10).

    `existing` (one of EXISTING) says what becomes of the lines like contacts in the register:
    every line's likely duplicates are in `duplicates` (matching.duplicates_in_register);
    with "skip" those lines and the lines whose customer number is taken are in `skipped`,
    with "update" the lines whose customer number is taken are in `updates` (only the file's
    columns: an empty cell empties the field, a missing column is left alone), and with "new"
    a taken number is the error "number_taken". Raises ValueError for another `existing`."""
    if existing not in EXISTING:
        raise ValueError(f"existing must be one of {EXISTING}")
    preview = Preview(existing=existing)
    text = decode(raw)
    if not text.strip():
        preview.errors.append((0, "empty", ""))
        return preview
    dialect = dialect_of(text)
    # newline="": the csv module finds the line ends itself, CR alone included
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    headers = next(reader, [])
    keys = [_header_key(h) for h in headers]
    preview.unknown_columns = [h for h, k in zip(headers, keys, strict=True)
                               if k is None and h.strip()]
    for key in dict.fromkeys(k for k in keys if k):   # two columns, one field: which counts?
        same = [h.strip() for h, k in zip(headers, keys, strict=True) if k == key]
        if len(same) > 1:
            preview.errors.append((1, "same_field", " / ".join(f"“{h}”" for h in same)))
    if preview.errors:
        return preview
    if "name" not in keys:
        preview.errors.append((1, "no_name_column", ""))
        return preview
    numbers_in_file = {}
    numbers = set()
    lines = io.StringIO(text, newline="").readlines()   # as the reader counts them
    next_start = reader.line_num + 1
    for line_number, cells in enumerate(reader, start=2):
        start, next_start = next_start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(preview.rows) + len(preview.errors) >= config.CSV_IMPORT_MAX_ROWS:
            preview.errors.append((line_number, "too_many", str(config.CSV_IMPORT_MAX_ROWS)))
            break
        if reader.line_num >= len(lines) and _quote_left_open(lines[start - 1:], dialect):
            # the csv module read the rest of the file into one value
            preview.errors.append((line_number, "unclosed_quote", ""))
            break
        used = len(cells)
        while used and not cells[used - 1].strip():
            used -= 1
        if used > len(headers):
            preview.errors.append((line_number, "extra_cells", f"{used}:{len(headers)}"))
            continue
        values = {k: unquoted_cell(one_line(cells[i]).strip() if i < len(cells) else "")
                  for i, k in enumerate(keys) if k}
        problem = _check(values, line_number, numbers_in_file)
        if problem:
            preview.errors.append((line_number, *problem))
        else:
            if values.get("customer_number"):
                numbers.add(values["customer_number"])
            preview.rows.append((line_number, values))
    _sort_existing(preview, numbers, "kind" in keys)
    return preview


def _sort_existing(preview, numbers, kind_given):
    """Move the lines like contacts in the register where `preview.existing` wants them."""
    numbers = list(numbers)
    taken = set()
    for start in range(0, len(numbers), 1000):
        taken.update(n for (n,) in Contact.select(Contact.customer_number).where(
            Contact.customer_number.in_(numbers[start:start + 1000])).tuples())
    preview.duplicates = duplicates_in_register(preview.rows)
    rows, preview.rows = preview.rows, []
    for line_number, values in rows:
        number_taken = values.get("customer_number") in taken
        if preview.existing == "skip" and (number_taken or line_number in preview.duplicates):
            preview.skipped.append((line_number, values))
        elif preview.existing == "update" and number_taken:
            if not kind_given:
                values.pop("kind")      # not in the file: the contact's type stays
            preview.updates.append((line_number, values))
        elif number_taken:
            preview.errors.append((line_number, "number_taken", str(values["customer_number"])))
        else:
            preview.rows.append((line_number, values))
    preview.errors.sort()


def dialect_of(text):
    """The CSV dialect of `text` as csv.Sniffer sees it; when it cannot tell (lines with
    different numbers of separators, such as a short line added to an export), the
    spreadsheet's own with the separator the heading line has most of. The sniffer counts
    separators per line and knows only LF as a line end: lines ending in CR alone (an old
    Mac export) are shown to it as LF lines, or a comma inside "12,50" won over the
    semicolons of one long "line"."""
    sample = text[:4096].replace("\r\n", "\n").replace("\r", "\n")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        heading = text.splitlines()[0] if text.strip() else ""
        separator = max((",", ";", "\t"), key=heading.count)
        return type("Dialect", (csv.excel,), {"delimiter": separator})


def _quote_left_open(lines, dialect):
    """Whether the last record of a file, from its first line (`lines`) to the end, has a
    quote that is never closed (issue 11 item 10)."""
    try:
        for _cells in csv.reader(io.StringIO("".join(lines), newline=""), dialect, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _check(values, line_number, numbers_in_file):
    if not values.get("name"):
        return "name_missing", ""
    kind = KINDS.get(values.get("kind", "").lower())
    if kind is None:
        return "bad_kind", values.get("kind", "")
    values["kind"] = kind
    if values.get("email"):
        try:
            values["email"] = normalise_email(normalise_address(values["email"]))
        except InvalidAddress:
            return "bad_email", values["email"]
    if values.get("discount"):
        try:
            discount = Decimal(values["discount"].replace("%", "").replace(",", ".").strip())
        except InvalidOperation:
            return "bad_discount", values["discount"]
        if not discount.is_finite() or not 0 <= discount <= 100:   # NaN cannot be compared
            return "bad_discount", values["discount"]
        if not has_at_most_two_decimals(discount):
            return "discount_decimals", values["discount"]
        values["discount"] = discount
    else:
        values.pop("discount", None)
    number = values.pop("customer_number", "")
    if number:
        if not whole_number(number):
            return "bad_number", number
        if int(number) in numbers_in_file:
            return "number_twice", f"{number}:{numbers_in_file[int(number)]}"
        numbers_in_file[int(number)] = line_number
        values["customer_number"] = int(number)
    if not is_web_address(values.get("website")):
        return "bad_website", values["website"]
    for key in ("country", "visit_country"):   # a code or a name (issue 11 item 10)
        if values.get(key):
            code = country_code(values[key])
            if code is None:
                return "bad_country", values[key]
            values[key] = code
    for key, value in values.items():   # the columns' limits: PostgreSQL enforces them
        column = Contact._meta.fields.get(key)
        if isinstance(column, CharField) and len(value) > column.max_length:
            return "too_long", key
    return None


FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def formula_like(text):
    """True when a spreadsheet could run `text` as a formula: it starts, after any blanks
    and line ends (which Excel and LibreOffice skip), with = + - @ or their full-width forms,
    or with a tab, line end or carriage return (OWASP "CSV injection")."""
    return text[:1] in ("\t", "\r", "\n") or text.lstrip(" \t\r\n\u00a0")[:1] in FORMULA_STARTS


def safe_cell(value):
    """A cell for a CSV export: text a spreadsheet would run as a formula (`formula_like`) is
    quoted with a leading apostrophe; anything else as it is. In: any value (None is "");
    out: str. Rule: issue 11 item 10, OWASP CSV injection."""
    text = "" if value is None else str(value)
    return "'" + text if formula_like(text) else text


def unquoted_cell(text):
    """A cell as read back: the apostrophe `safe_cell` puts before a value starting with
    = + - or @ is taken off again ("'+31 6 1234 5678" → "+31 6 1234 5678"), so that our own
    export, imported again, gives back exactly what was exported; any other apostrophe is left
    as it is ("'t Hoen"). In and out: str. Rule: issue 11 item 10."""
    return text[1:] if text[:1] == "'" and formula_like(text[1:]) else text


def export_csv(query, language=languages.DEFAULT):
    """Yield the CSV export line by line (streamed, also from the database: models/db.py
    `stream`; a large register never sits in memory):
    headings, type words and the decimal comma in `language` (en, nl, nb, de), so that
    `parse` reads it back."""
    index = LANGUAGE_INDEX.get(language, 0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if language in ("nl", "de", "nb") else ",")
    writer.writerow([names[index] for names in COLUMNS.values()])
    yield "\ufeff" + buffer.getvalue()
    for contact in stream(query):
        buffer.seek(0)
        buffer.truncate()
        row = []
        for key in COLUMNS:
            value = getattr(contact, key)
            if key == "discount":
                value = f"{value:.2f}".replace(".", "," if language != "en" else ".")
            elif key == "kind":
                value = KIND_NAMES.get(value, (value,) * len(languages.CODES))[index]
            row.append(safe_cell(value))
        writer.writerow(row)
        yield buffer.getvalue()


def _vcard_text(text):
    """A TEXT value for vCard 4.0 (RFC 6350 section 3.4): backslash, line break and comma
    escaped. A semicolon is left as it is: it separates fields only in compound properties
    (N, ADR, ORG), RFC 6350 leaves escaping it elsewhere optional, and some clients show an
    escaped one in TITLE or FN as `\\;` (issue 11 item 11)."""
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,")


def _vcard_field(text):
    """One field of a compound property (N, ADR, ORG; RFC 6350 sections 3.4, 6.2.2, 6.3.1,
    6.6.4): a TEXT value whose semicolons are escaped too, since a bare one would end the
    field."""
    return _vcard_text(text).replace(";", "\\;")


# Lower-case name particles that belong to the family name ("Jan van der Berg": family name
# "van der Berg"); Dutch, German, Norwegian and the common Romance ones.
_NAME_PARTICLES = frozenset({"van", "von", "der", "den", "de", "het", "ter", "ten", "te", "zu",
                             "zum", "zur", "vom", "af", "av", "da", "di", "del", "della", "la",
                             "le", "du", "des", "'t", "in"})


def name_parts(name):
    """Split a person's name as typed into (family name, given names) for vCard's N property.

    "Jansen, Piet" → ("Jansen", "Piet"); "Piet Jansen" → ("Jansen", "Piet"); "Jan van der
    Berg" → ("van der Berg", "Jan"): the last word and the lower-case particles before it are
    the family name ("de Vries" → ("de Vries", "")). A single word is a family name with no
    given name; an empty name gives ("", ""). Kontor stores one name
    field (SPEC section 5), so this is a best guess, used only for the exchange format.
    """
    name = " ".join(str(name or "").split())
    if "," in name:
        family, given = name.split(",", 1)
        return family.strip(), given.strip()
    words = name.split(" ") if name else []
    if len(words) < 2:
        return name, ""
    start = len(words) - 1
    while start > 0 and words[start - 1] in _NAME_PARTICLES:
        start -= 1
    return " ".join(words[start:]), " ".join(words[:start])


def _vcard_name(name):
    """The N property of a person (RFC 6350 section 6.2.2): family; given; additional; prefixes;
    suffixes. Outlook and iOS file a card by it."""
    family, given = name_parts(name)
    return f"N:{_vcard_field(family)};{_vcard_field(given)};;;"


def _vcard_fold(line):
    """RFC 6350 3.2: a line longer than 75 octets goes on after a line break and a space
    (never inside a UTF-8 character)."""
    parts, part, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            parts.append(part)
            part, size = " ", 1
        part += char
        size += width
    return "\r\n".join(parts + [part])


def vcard(contact, persons=()):
    """vCard 4.0 (RFC 6350) of a contact, with one more card per active contact person of a
    company: str with CRLF line ends, lines folded at 75 octets. A person (the contact itself
    when it is a person, and each contact person) gets N as well as FN; a company gets ORG.
    The web address is a URI value and is not text-escaped; one that does not pass today's
    rule (saved before it) is left out."""
    t, f = _vcard_text, _vcard_field
    lines = ["BEGIN:VCARD", "VERSION:4.0",
             f"KIND:{'org' if contact.kind == 'company' else 'individual'}",
             f"FN:{t(contact.name)}"]
    if contact.kind == "company":
        lines.append(f"ORG:{f(contact.name)}")
    else:
        lines.append(_vcard_name(contact.name))
    if contact.email:
        lines.append(f"EMAIL;TYPE=work:{t(contact.email)}")
    for kind, number in (("work,voice", contact.phone), ("cell", contact.mobile),
                         ("work,fax", contact.fax)):
        if number:
            lines.append(f"TEL;TYPE=\"{kind}\":{t(number)}")
    if contact.street or contact.city:
        lines.append(f"ADR;TYPE=work:;;{f(contact.street)};{f(contact.city)};;"
                     f"{f(contact.postcode)};{f(contact.country)}")
    website = web_link(contact.website)   # None for a value saved before the rule
    if website:                           # a URI value: not text-escaped (RFC 6350 6.7.8)
        lines.append(f"URL:{website}")
    lines += [f"X-KONTOR-CUSTOMER-NUMBER:{contact.customer_number}", "END:VCARD"]
    for person in persons:
        lines += ["BEGIN:VCARD", "VERSION:4.0", "KIND:individual", f"FN:{t(person.name)}",
                  _vcard_name(person.name), f"ORG:{f(contact.name)}"]
        if person.title:
            lines.append(f"TITLE:{t(person.title)}")
        if person.email:
            lines.append(f"EMAIL;TYPE=work:{t(person.email)}")
        if person.phone:
            lines.append(f"TEL;TYPE=\"work,voice\":{t(person.phone)}")
        if person.mobile:
            lines.append(f"TEL;TYPE=cell:{t(person.mobile)}")
        lines.append("END:VCARD")
    return "\r\n".join(_vcard_fold(line) for line in lines) + "\r\n"
