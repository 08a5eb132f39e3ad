"""The products the portal offers (SPEC section 7; issue 14 item 1): adding and changing them
(two superusers editing one product: the second save is refused, kontor/versions.py), taking
them out of the offer, which websites offer each, the list with a folded search, and the CSV
export for the business system. Staff may view; superusers change.

Values come in as a form gives them: `price` and `vat_rate` as Decimals (the form reads the
reader's comma or point), `websites` as a list of website ids.
"""
import csv
import io
from decimal import Decimal

from peewee import IntegrityError

from kontor import form_keys, languages
from kontor.contact_io import safe_cell
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


def cleaned(values) -> dict:
    """The stored columns for `values` (see the module docstring): text trimmed to one line
    where it is one, the price in whole cents, the VAT rate in hundredths of a percent, the
    derived sort and search columns. Raises ValueError for a price or VAT rate with more than
    two decimals or out of range (the form checks these first)."""
    number = " ".join(without_controls(values.get("number") or "").split())
    name = " ".join(without_controls(values.get("name") or "").split())
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
        vat = f"{product.vat_rate}"
        if comma:
            price, vat = price.replace(".", ","), vat.replace(".", ",")
        writer.writerow([safe_cell(value) for value in (
            product.number, product.name, product.description, product.unit, price, vat,
            yes if product.active else no, " ".join(sorted(offered.get(product.id, []))))])
        yield buffer.getvalue()

