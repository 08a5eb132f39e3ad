"""The products the portal offers (SPEC section 7; issue 14 item 1): adding and changing them
(two superusers editing one product: the second save is refused, kontor/versions.py), taking
them out of the offer, which websites offer each, the list with a folded search, and the CSV
export for the business system. Staff may view; superusers change.

Values come in as a form gives them: `price` and `vat_rate` as Decimals (the form reads the
reader's comma or point), `websites` as a list of website ids.
"""
import csv
import functools
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import get_currency_symbol
from peewee import IntegrityError

from kontor import form_keys, languages
from kontor.contact_io import decode, dialect_of, safe_cell, unquoted_cell
from kontor.errors import Refused
from kontor.search import contains_all
from kontor.text import fold, search_terms, without_controls
from kontor.versions import update_if_unchanged
from models import Company, Product, ProductWebsite, Website, db
from models.clock import utcnow

FIELDS = ("number", "name", "description", "unit", "price", "vat_rate", "active")
MAX_PRICE = Decimal("9999999.99")
VAT_RATES = ("0", "9", "15", "19", "21", "25")     # the usual ones, offered as suggestions


class Duplicate(Refused):
    """Another product has this number (compared folded: "a-100" is "A-100")."""

    def __init__(self):
        super().__init__("number_taken")


def number_key(number: str) -> str:
    """A product number as compared for uniqueness: folded (case, accents, spaces)."""
    return fold(" ".join((number or "").split()))[:40]


def company_currency() -> str:
    """The company's currency (ISO 4217): what every price and order is in. EUR before setup."""
    company = Company.select(Company.currency).order_by(Company.id).first()
    return company.currency if company is not None else "EUR"


def visible_line(text) -> str:
    """`text` on one line without control and format characters (zero-width spaces,
    right-to-left overrides: a product number must look like what it is), spaces collapsed.
    "" for None. What is left may be empty: then nothing visible was typed."""
    text = "".join(char for char in without_controls(text or "")
                   if unicodedata.category(char) != "Cf")
    return " ".join(text.split())


def cleaned(values) -> dict:
    """The stored columns for `values` (see the module docstring): text trimmed to one line
    where it is one, the price in whole cents, the VAT rate in hundredths of a percent, the
    derived sort and search columns. Raises ValueError for a price or VAT rate with more than
    two decimals or out of range (the form checks these first)."""
    number = visible_line(values.get("number"))
    name = visible_line(values.get("name"))
    price = Decimal(values.get("price") or 0)
    vat_rate = Decimal(values.get("vat_rate") or 0)
    if not 0 <= price <= MAX_PRICE or not 0 <= vat_rate <= 100:
        raise ValueError("price or VAT rate out of range")
    if price != price.quantize(Decimal("0.01")) or vat_rate != vat_rate.quantize(Decimal("0.01")):
        raise ValueError("more than two decimals")
    return {"number": number, "number_key": number_key(number), "name": name,
            "description": (values.get("description") or "").replace("\r\n", "\n").strip(),
            "unit": " ".join((values.get("unit") or "").split()),
            "price_cents": int(price * 100), "vat_rate_bp": int(vat_rate * 100),
            "active": bool(values.get("active", True)),
            "sort_name": fold(name).strip()[:200],
            "search_text": " ".join([fold(number), fold(name)])}


def save(product, values, website_ids=(), opened_version=None, form_key=None):
    """Add (`product` None) or change a product with `values`, offered on the websites
    `website_ids` (ids of existing websites; others are ignored). Returns the saved Product.
    Raises Duplicate when another product has the number, versions.ChangedMeanwhile when
    someone saved it since `opened_version`, form_keys.AlreadySaved when adding with a used
    `form_key`; then nothing is saved."""
    columns = cleaned(values)
    try:
        with db.atomic():
            if product is None:
                form_keys.claim(form_key)
            taken = Product.select().where(Product.number_key == columns["number_key"])
            if product is not None:
                taken = taken.where(Product.id != product.id)
            if taken.exists():
                raise Duplicate()
            if product is None:
                saved = Product.create(**columns)
            else:
                update_if_unchanged(Product, product.id, opened_version, updated_at=utcnow(),
                                    **columns)
                saved = Product.get_by_id(product.id)
            _offer_on(saved, website_ids)
            return saved
    except IntegrityError:      # a racing save took the number first
        raise Duplicate() from None


def _offer_on(product, website_ids):
    wanted = {website_id for (website_id,) in Website.select(Website.id).where(
        Website.id.in_([int(i) for i in website_ids] or [0])).tuples()}
    ProductWebsite.delete().where(ProductWebsite.product == product.id,
                                  ProductWebsite.website.not_in(wanted or [0])).execute()
    have = {w for (w,) in ProductWebsite.select(ProductWebsite.website)
            .where(ProductWebsite.product == product.id).tuples()}
    if wanted - have:
        ProductWebsite.insert_many([{"product": product.id, "website": w}
                                    for w in sorted(wanted - have)]).execute()


def offered_on(product) -> list:
    """The ids of the websites that offer `product`."""
    return [w for (w,) in ProductWebsite.select(ProductWebsite.website)
            .where(ProductWebsite.product == product.id).tuples()]


def set_active(product, active: bool) -> bool:
    """Offer a product again or take it out of the offer; whether that changed anything (a
    second click or a stale tab changes nothing). An inactive product cannot be ordered."""
    with db.atomic():
        return bool(Product.update(active=active, updated_at=utcnow()).where(
            Product.id == product.id, Product.active == (not active)).execute())


def listing(text="", include_inactive=False):
    """The products matching `text` (every folded word in the number or name: "kuhlschrank"
    finds "Kühlschrank"), active ones only unless `include_inactive`, by name then number."""
    query = Product.select()
    if not include_inactive:
        query = query.where(Product.active == True)  # noqa: E712
    words = contains_all([Product.search_text], search_terms(without_controls(text or "")))
    if words is not None:
        query = query.where(words)
    return query.order_by(Product.sort_name, Product.number_key, Product.id)


EXPORT_COLUMNS = {   # key: heading in en, nl, nb, de (the order of languages.CODES)
    "number": ("Number", "Nummer", "Nummer", "Nummer"),
    "name": ("Name", "Naam", "Navn", "Name"),
    "description": ("Description", "Omschrijving", "Beskrivelse", "Beschreibung"),
    "unit": ("Unit", "Eenheid", "Enhet", "Einheit"),
    "price": ("Price excl. VAT", "Prijs excl. btw", "Pris ekskl. mva.", "Preis netto"),
    "vat_rate": ("VAT %", "Btw %", "Mva. %", "USt. %"),
    "active": ("Active", "Actief", "Aktiv", "Aktiv"),
    "websites": ("Websites", "Websites", "Nettsteder", "Websites"),
}
YES_NO = {"en": ("yes", "no"), "nl": ("ja", "nee"), "nb": ("ja", "nei"), "de": ("ja", "nein")}


def export_csv(query, language=languages.DEFAULT):
    """Yield the products of `query` as CSV lines for the business system: headings, yes/no
    and the decimal comma in `language`, the websites by their address part; formula-like
    cells quoted as the contacts' export does (contact_io)."""
    index = languages.CODES.index(language) if language in languages.CODES else 0
    comma = language != "en"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if comma else ",")
    writer.writerow([names[index] for names in EXPORT_COLUMNS.values()])
    yield "\ufeff" + buffer.getvalue()
    slugs = dict(Website.select(Website.id, Website.slug).tuples())
    offered = {}
    for product_id, website_id in ProductWebsite.select(
            ProductWebsite.product, ProductWebsite.website).tuples():
        offered.setdefault(product_id, []).append(slugs.get(website_id, ""))
    yes, no = YES_NO.get(language, YES_NO["en"])
    for product in query.iterator():
        buffer.seek(0)
        buffer.truncate()
        price = f"{product.price:.2f}"
        vat = f"{product.vat_rate.normalize():f}"
        if comma:
            price, vat = price.replace(".", ","), vat.replace(".", ",")
        writer.writerow([safe_cell(value) for value in (
            product.number, product.name, product.description, product.unit, price, vat,
            yes if product.active else no, " ".join(sorted(offered.get(product.id, []))))])
        yield buffer.getvalue()



# --- the CSV import -----------------------------------------------------------------------------

MAX_IMPORT_LINES = 5000
YES = {"yes", "ja", "j", "y", "1", "true", "x", "aktiv", "actief", "active", "offered"}
NO = {"no", "nee", "nei", "nein", "n", "0", "false", "inactive", "inactief", "inaktiv"}
HEADER_ALIASES = {"price": {"price", "prijs", "pris", "preis"},
                  "vat_rate": {"vat", "btw", "mva", "ust", "mwst", "vat rate", "mva sats"},
                  "number": {"product number", "productnummer", "produktnummer",
                             "artikelnummer", "nr", "no"}}


@dataclass
class ImportPreview:
    """What importing a product file would do: `new` and `updated` are (line, columns,
    website ids) of products to add and to change (by their number); `errors` are (line,
    code, detail). Nothing is saved until `import_file` runs with a clean preview."""
    new: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    unknown_columns: list = field(default_factory=list)
    # the version of each product to change as the check found it ({number_key: version}):
    # the import refuses to overwrite one saved since (ChangedSinceCheck)
    versions: dict = field(default_factory=dict)

    @property
    def ok(self):
        return bool(self.new or self.updated) and not self.errors


class ChangedSinceCheck(Refused):
    """A product of the file was saved by someone after the file was checked; `numbers`
    are those products' numbers. Nothing was imported."""

    def __init__(self, numbers):
        super().__init__("changed_since_check")
        self.numbers = numbers


def _header_key(heading):
    wanted = " ".join(fold(heading).replace(".", " ").replace("%", " ").split())
    for key, names in EXPORT_COLUMNS.items():
        if wanted in {" ".join(fold(n).replace(".", " ").replace("%", " ").split())
                      for n in names} | HEADER_ALIASES.get(key, set()) | {key}:
            return key
    return None


def read_amount(text, maximum, currency=None):
    """A price or rate as a spreadsheet or a person writes it in any of the four languages
    ("1249,5", "1.249,50", "1,249.50", "1 249,50", "21 %", and with `currency` (ISO 4217) its
    code or symbol: "€ 12", "12,50 kr") as a Decimal; None when it is no such amount, has
    more than two decimals, is outside 0..`maximum`, names another currency, or is
    ambiguous: one separator followed by three digits ("12.505" is 12505 in Dutch and
    12.505 in English)."""
    cleaned = (text or "").replace("\u00a0", " ").replace("\u202f", " ").strip()
    for mark in (["%"] + sorted(_currency_marks(currency), key=len, reverse=True)):
        if cleaned.startswith(mark):
            cleaned = cleaned[len(mark):].strip()
        elif cleaned.endswith(mark):
            cleaned = cleaned[:-len(mark)].strip()
    cleaned = cleaned.replace("'", " ")
    if not re.fullmatch(r"[0-9]+([., ][0-9]+)*", cleaned):
        return None
    parts = re.split(r"([., ])", cleaned)
    numbers, separators = parts[0::2], parts[1::2]
    if separators and separators[-1] != " " and len(numbers[-1]) in (1, 2):   # decimals
        decimals, numbers, decimal_mark = numbers[-1], numbers[:-1], separators[-1]
        separators = separators[:-1]
    else:
        decimals, decimal_mark = "", None
        if len(separators) == 1 and separators[0] != " ":
            return None                                    # "12.505": ambiguous
    if separators and (len(set(separators)) > 1 or separators[0] == decimal_mark
                       or any(len(group) != 3 for group in numbers[1:])
                       or len(numbers[0]) > 3):
        return None                                        # not thousands groups
    amount = Decimal(f"{''.join(numbers)}.{decimals or '0'}")
    return amount if 0 <= amount <= maximum else None


@functools.lru_cache(maxsize=32)
def _currency_marks(currency):
    """The code and the symbols of `currency` in the four languages ("EUR", "€"; "NOK",
    "kr"), or nothing for None."""
    if not currency:
        return frozenset()
    return frozenset({currency} | {get_currency_symbol(currency, locale)
                                   for locale in ("en", "nl", "nb", "de", "en_GB")})


def parse_file(raw: bytes) -> ImportPreview:
    """Read a product file (CSV; headings in English, Dutch, Norwegian or German, as the export
    writes them) into an ImportPreview. Lines whose number a product has are updates, the
    others new products. Errors, each (line, code, detail): "empty", "no_columns" (number,
    name or price missing; detail: the missing ones), "too_many", "number_missing",
    "name_missing", "number_twice" (detail: the first line), "bad_price", "bad_vat",
    "bad_active", "unknown_website" (detail: the address part), "too_long" (detail: the
    column), "extra_cells"."""
    preview = ImportPreview()
    text = decode(raw)
    if not text.strip():
        preview.errors.append((0, "empty", ""))
        return preview
    reader = csv.reader(io.StringIO(text, newline=""), dialect_of(text))
    headings = next(reader, [])
    keys = [_header_key(h) for h in headings]
    preview.unknown_columns = [h for h, k in zip(headings, keys, strict=True)
                               if k is None and h.strip()]
    for key in dict.fromkeys(k for k in keys if k):     # two columns, one field: which counts?
        same = [h.strip() for h, k in zip(headings, keys, strict=True) if k == key]
        if len(same) > 1:
            preview.errors.append((1, "same_field", " / ".join(f"“{h}”" for h in same)))
    missing = [key for key in ("number", "name", "price") if key not in keys]
    if missing:
        preview.errors.append((1, "no_columns", ",".join(missing)))
    if preview.errors:
        return preview
    present = set(keys)
    slugs = {slug: website_id for website_id, slug in Website.select(Website.id, Website.slug)
             .tuples()}
    existing = {key: (product_id, version) for key, product_id, version in Product.select(
        Product.number_key, Product.id, Product.version).tuples()}
    currency = company_currency()
    seen = {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if line > MAX_IMPORT_LINES + 1:
            preview.errors.append((line, "too_many", str(MAX_IMPORT_LINES)))
            break
        if len([c for c in cells if c.strip()]) and len(cells) > len(headings) \
                and any(c.strip() for c in cells[len(headings):]):
            preview.errors.append((line, "extra_cells", ""))
            continue
        values = {k: unquoted_cell(cells[i].strip()) if i < len(cells) else ""
                  for i, k in enumerate(keys) if k}
        problem, columns, website_ids = _check_line(values, slugs, currency)
        if problem:
            preview.errors.append((line, *problem))
            continue
        key = columns["number_key"]
        if key in seen:
            preview.errors.append((line, "number_twice", str(seen[key])))
            continue
        seen[key] = line
        if key in existing:
            # a column the file does not have leaves that field as it is (issue 14 item 1)
            preview.updated.append((line, _only_given(columns, present),
                                    website_ids if "websites" in present else None))
            preview.versions[key] = existing[key][1]
        else:
            preview.new.append((line, columns, website_ids))
    if not preview.new and not preview.updated and not preview.errors:
        preview.errors.append((0, "no_lines", ""))
    return preview


# the stored columns each column of a file decides
_STORED = {"number": ("number", "number_key", "search_text"),
           "name": ("name", "sort_name", "search_text"), "description": ("description",),
           "unit": ("unit",), "price": ("price_cents",), "vat_rate": ("vat_rate_bp",),
           "active": ("active",)}


def _only_given(columns, present):
    keep = {stored for key in present if key in _STORED for stored in _STORED[key]}
    return {name: value for name, value in columns.items() if name in keep}


def _check_line(values, slugs, currency="EUR"):
    if not values.get("number"):
        return ("number_missing", ""), None, None
    if not values.get("name"):
        return ("name_missing", ""), None, None
    if not visible_line(values["number"]):
        return ("number_missing", ""), None, None
    if not visible_line(values["name"]):
        return ("name_missing", ""), None, None
    price = read_amount(values["price"], MAX_PRICE, currency)
    if price is None:
        return ("bad_price", values["price"]), None, None
    vat = read_amount(values.get("vat_rate") or "0", Decimal(100))
    if vat is None:
        return ("bad_vat", values.get("vat_rate", "")), None, None
    active = fold(values.get("active") or "yes").strip()
    if active not in YES | NO:
        return ("bad_active", values.get("active", "")), None, None
    website_ids = []
    for slug in re.split(r"[\s,;]+", (values.get("websites") or "").strip().lower()):
        if slug:
            if slug not in slugs:
                return ("unknown_website", slug), None, None
            website_ids.append(slugs[slug])
    for key, limit in (("number", 40), ("name", 200), ("unit", 30), ("description", 5000)):
        if len(values.get(key) or "") > limit:
            return ("too_long", key), None, None
    columns = cleaned({**values, "price": price, "vat_rate": vat, "active": active in YES})
    return None, columns, website_ids


def import_file(preview: ImportPreview, checked_versions=None) -> tuple:
    """Save a clean `preview` all at once, in one transaction: add its new products and
    change the others (by number) with the file's columns (a column the file lacks is left
    as it is; without a Websites column the offer stays). `checked_versions`
    ({number_key: version}, what the check showed; default the preview's own) guards the
    changes: a product saved since is not overwritten. Returns (added, changed). Raises
    ValueError for a preview with errors, ChangedSinceCheck when a product to change was
    saved since the check, Duplicate when a new product's number was taken since; then
    nothing is saved."""
    if not preview.ok:
        raise ValueError("the preview has errors")
    checked = preview.versions if checked_versions is None else checked_versions
    try:
        with db.atomic():
            for _line, columns, website_ids in preview.new:
                _offer_on(Product.create(**columns), website_ids)
            changed = []
            for _line, columns, website_ids in preview.updated:
                product = Product.get(Product.number_key == columns["number_key"])
                if product.version != checked.get(columns["number_key"]):
                    changed.append(product.number)
                    continue
                update_if_unchanged(Product, product.id, product.version,
                                    updated_at=utcnow(), **columns)
                if website_ids is not None:
                    _offer_on(product, website_ids)
            if changed:
                raise ChangedSinceCheck(changed)
    except IntegrityError:
        raise Duplicate() from None
    return len(preview.new), len(preview.updated)
