"""Ordering from the portal and the orders on the staff side (SPEC section 7; issue 14 items
2-4; seed 001: "registered customers see prices with the discount that applies to them, and
need not register their details every time they buy").

The rules, as plain functions the portal's views, the staff views, the coming "Fetch website
data" queue (issue 15) and the tests share:

- Prices: the website's protection decides who sees them (`shows_prices`); a signed-in customer
  whose web account is linked to a contact gets that contact's discount (`discount_of`). Every
  amount comes from kontor.pricing.price_line: the products page, the basket and the order
  never disagree.
- Only an active product that the website offers can go into a basket or an order
  (`product_on_offer`), whatever a form posts; a quantity is a whole number from 1 to
  pricing.MAX_QUANTITY (`parse_quantity`).
- The basket lives on the server, per web account (BasketLine). An order is made from it, not
  from posted lines or prices (SECURITY.md 39), and only while it is what the customer saw
  at checkout (`Basket.fingerprint`).
- `place_order` stores the order with its prices, discount and VAT as they are at that moment,
  numbers it `year-seq`, hands it to the queue as an IncomingItem(kind "order"), empties the
  basket and mails the confirmation, all in one transaction; the checkout form's one-time key
  makes a double submit (two clicks, Back and send again) one order (`order_for_key`).
- Status: received → confirmed → shipped, or cancelled (`TRANSITIONS`); a change needs the
  version the staff member saw (kontor/versions.py), is an event of the order, is audited and
  is mailed to the customer.
- Customers see their own orders and their contact's on that website (`for_customer`), every
  other order id is "not found".

Amounts are Decimals in the company's currency, stored as whole cents; times naive UTC.
"""
import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_

from peewee import JOIN, IntegrityError, fn

from kontor import audit, form_keys, languages, order_mail, pricing
from kontor.contact_io import safe_cell
from kontor.errors import Refused
from kontor.search import contains, contains_all
from kontor.support import case_year
from kontor.text import search_terms, whole_number, without_controls
from kontor.versions import ChangedMeanwhile, update_if_unchanged
from models import (
    BasketLine,
    Company,
    Contact,
    ContactPerson,
    IncomingItem,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    ProductWebsite,
    User,
    WebAccount,
    Website,
    db,
    locked,
)
from models.clock import utcnow
from models.db import stream
from models.orders import ORDER_STATUSES

# received → confirmed → shipped, or cancelled before it is shipped; shipped and cancelled end
TRANSITIONS = {"received": ("confirmed", "cancelled"), "confirmed": ("shipped", "cancelled"),
               "shipped": (), "cancelled": ()}
# The order form's fields (issue 14 item 3): pre-filled from the contact, editable for this
# order only; their maximum lengths are the columns'.
FORM_FIELDS = ("company_name", "contact_person", "email", "phone",
               "delivery_street", "delivery_postcode", "delivery_city", "delivery_country",
               "invoice_street", "invoice_postcode", "invoice_city", "invoice_country",
               "reference", "remark")
MAX_BASKET_LINES = 200


class NotOffered(Refused):
    """The product is not active or not offered on this website (or there is no such
    product): it cannot go into a basket or an order."""

    def __init__(self):
        super().__init__("not_offered")


class BadQuantity(Refused):
    """A quantity that is no whole number from 1 to pricing.MAX_QUANTITY. `reason`:
    "not_whole" (no whole number: "abc", "1.5", "-2"), "zero", "too_large", or "at_most"
    (adding to the basket would pass the maximum: `in_basket` is the quantity there)."""

    def __init__(self, reason, in_basket=0):
        super().__init__(reason)
        self.in_basket = in_basket


class CannotOrder(Refused):
    """The basket cannot be ordered as it is: "empty", "prices_changed" (a price or the
    discount changed since the checkout page showed it), "changed" (it is not what the checkout
    page showed), "unavailable" (`names`: products no longer offered) or "too_many_lines"."""

    def __init__(self, reason, names=()):
        super().__init__(reason)
        self.names = list(names)


class StatusNotAllowed(Refused):
    """The order cannot go from its status to the one asked for (TRANSITIONS)."""

    def __init__(self, current):
        super().__init__("status_not_allowed")
        self.current = current


class LinkedElsewhere(Refused):
    """The order belongs to another contact already."""

    def __init__(self):
        super().__init__("linked_elsewhere")


# --- prices -------------------------------------------------------------------------------

def shows_prices(website, signed_in: bool) -> bool:
    """Whether prices are shown: always when the website's protection is "none", else only
    to a signed-in customer ("prices and ordering only", "the whole site"; SPEC section 7)."""
    return website.protection == "none" or signed_in


def contact_of(account):
    """The contact a web account is linked to, or None (no account, not linked)."""
    if account is None or account.contact_id is None:
        return None
    return Contact.get_or_none(Contact.id == account.contact_id)


def discount_of(contact) -> Decimal:
    """The customer discount in percent of `contact` (0 for None): what a signed-in,
    approved customer linked to it gets off every list price."""
    if contact is None or contact.discount is None:
        return Decimal(0)
    return min(max(Decimal(contact.discount), Decimal(0)), Decimal(100))


def priced(product, quantity=1, discount=0):
    """The pricing.Line of `quantity` units of `product` for a customer with `discount` %."""
    return pricing.price_line(product.price, quantity, discount, product.vat_rate)


def _cents(amount) -> int:
    return int(amount * 100)


def _bp(percent) -> int:
    return int(Decimal(percent) * 100)


# --- the products a website offers --------------------------------------------------------

def offered(website, text=""):
    """The active products `website` offers whose number or name hold every folded word of
    `text`, by name then number (the portal's products page)."""
    query = (Product.select(Product).join(ProductWebsite, on=(
        (ProductWebsite.product == Product.id) & (ProductWebsite.website == website.id)))
        .where(Product.active == True))  # noqa: E712
    words = contains_all([Product.search_text], search_terms(without_controls(text or "")))
    if words is not None:
        query = query.where(words)
    return query.order_by(Product.sort_name, Product.number_key, Product.id)


def product_on_offer(website, product_id):
    """The product `product_id` (an int, or text as a form posts it) when it is active and
    `website` offers it, else None."""
    number = product_id if isinstance(product_id, int) and not isinstance(product_id, bool) \
        else whole_number(str(product_id or ""))
    if number is None:
        return None
    return offered(website).where(Product.id == number).first()


def parse_quantity(text) -> int:
    """A quantity as typed ("3", " 12 ") as an int from 1 to pricing.MAX_QUANTITY. Raises
    BadQuantity("not_whole") for anything else than ASCII digits ("1.5", "-1", "٣", "1e3"),
    BadQuantity("zero") and BadQuantity("too_large")."""
    typed = str(text if text is not None else "").strip()
    if not typed.isascii() or not typed.isdigit():
        raise BadQuantity("not_whole")
    if len(typed.lstrip("0")) > len(str(pricing.MAX_QUANTITY)) \
            or int(typed) > pricing.MAX_QUANTITY:
        raise BadQuantity("too_large")
    if int(typed) == 0:
        raise BadQuantity("zero")
    return int(typed)


# --- the basket ---------------------------------------------------------------------------

@dataclass
class BasketItem:
    """A product in the basket: `line` is its pricing.Line, None when the product is no
    longer offered (it stays in the basket, marked, until removed)."""
    product: object
    quantity: int
    line: object = None


@dataclass
class Basket:
    """A web account's basket as priced now for its contact's `discount`."""
    items: list = field(default_factory=list)
    discount: Decimal = Decimal(0)
    totals: object = None

    @property
    def available(self):
        return [item for item in self.items if item.line is not None]

    @property
    def unavailable(self):
        return [item for item in self.items if item.line is None]

    @property
    def fingerprint(self) -> str:
        """What the basket holds and what it costs ("12x3,15x1|12=2.18/21,15=85.00/9|d12.5"):
        the checkout page carries it, and an order is placed only from the basket, at the
        prices, the page showed (a price changed meanwhile is never charged unseen)."""
        items = sorted(self.items, key=lambda item: item.product.id)
        held = ",".join(f"{item.product.id}x{item.quantity}" for item in items)
        prices = ",".join(f"{item.product.id}={item.line.unit_price}/{item.line.vat_rate}"
                          for item in items if item.line is not None)
        return f"{held}|{prices}|d{self.discount}"

    @property
    def count(self):
        return len(self.items)


def basket_of(account, website, discount=None):
    """The account's basket on `website`, priced with `discount` (default: its contact's),
    in the order the lines were added. One query for the lines and their products."""
    if discount is None:
        discount = discount_of(contact_of(account))
    offered_here = {product_id for (product_id,) in ProductWebsite.select(
        ProductWebsite.product).join(BasketLine, on=(
            (BasketLine.product == ProductWebsite.product)
            & (BasketLine.web_account == account.id)))
        .where(ProductWebsite.website == website.id).tuples()}
    rows = (BasketLine.select(BasketLine, Product).join(Product)
            .where(BasketLine.web_account == account.id)
            .order_by(BasketLine.added_at, BasketLine.id))
    items = []
    for row in rows:
        product = row.product
        orderable = product.active and product.id in offered_here
        line = priced(product, row.quantity, discount) if orderable else None
        items.append(BasketItem(product, row.quantity, line))
    basket = Basket(items=items, discount=discount)
    basket.totals = pricing.totals(item.line for item in basket.available)
    return basket


def basket_count(account) -> int:
    """How many products the account's basket holds (the portal's menu shows it)."""
    return BasketLine.select().where(BasketLine.web_account == account.id).count()


def add_to_basket(account, website, product_id, quantity, ip=""):
    """Put `quantity` (parsed already: an int) of product `product_id` into the account's
    basket, or add it to the quantity there; an audit line records it. Returns the product.
    Raises NotOffered for a product that is not active or not offered on `website`,
    BadQuantity("too_large") for more than pricing.MAX_QUANTITY, BadQuantity("at_most",
    in_basket=n) when the basket's quantity would pass it, CannotOrder("too_many_lines") past
    MAX_BASKET_LINES products."""
    product = product_on_offer(website, product_id)
    if product is None:
        raise NotOffered()
    if not isinstance(quantity, int) or quantity < 1:
        raise BadQuantity("zero")
    with db.atomic():
        row = locked(BasketLine.select().where(BasketLine.web_account == account.id,
                                               BasketLine.product == product.id)).first()
        if row is not None:
            if row.quantity + quantity > pricing.MAX_QUANTITY:
                raise BadQuantity("at_most" if quantity <= pricing.MAX_QUANTITY
                                  else "too_large", in_basket=row.quantity)
            BasketLine.update(quantity=BasketLine.quantity + quantity).where(
                BasketLine.id == row.id).execute()
            _audit_basket("basket.added", account, product, f"+{quantity}", ip)
            return product
        if quantity > pricing.MAX_QUANTITY:
            raise BadQuantity("too_large")
        if basket_count(account) >= MAX_BASKET_LINES:
            raise CannotOrder("too_many_lines")
        try:
            with db.atomic():
                BasketLine.create(web_account=account.id, product=product.id,
                                  quantity=quantity)
        except IntegrityError:     # a racing add of the same product came first
            BasketLine.update(quantity=fn.MIN(BasketLine.quantity + quantity,
                                              pricing.MAX_QUANTITY)).where(
                BasketLine.web_account == account.id,
                BasketLine.product == product.id).execute()
        _audit_basket("basket.added", account, product, f"+{quantity}", ip)
    return product


def _audit_basket(action, account, product, detail, ip):
    """The audit line of a basket change (issue 14 follow-up: a customer's basket changes are
    in the audit log like their other actions): the website and the account, the product's
    number, what changed."""
    product_number = getattr(product, "number", product)
    audit.record(action, target=f"{account.website.slug}: {account.email}",
                 detail=f"{product_number} {detail}".strip(), ip=ip)


def set_quantities(account, quantities, ip=""):
    """Change the quantities of products in the account's basket: `quantities` is
    {product id: int from 1 to MAX_QUANTITY} (parsed already); products not in the basket are
    ignored. An audit line records each change. Returns how many lines changed."""
    changed = 0
    with db.atomic():
        for product_id, quantity in quantities.items():
            if not isinstance(quantity, int) or not 1 <= quantity <= pricing.MAX_QUANTITY:
                raise BadQuantity("not_whole")
            row = (BasketLine.select(BasketLine.quantity, Product.number)
                   .join(Product, on=(BasketLine.product == Product.id))
                   .where(BasketLine.web_account == account.id,
                          BasketLine.product == product_id).tuples().first())
            if row is None or row[0] == quantity:
                continue
            changed += BasketLine.update(quantity=quantity).where(
                BasketLine.web_account == account.id, BasketLine.product == product_id,
                BasketLine.quantity != quantity).execute()
            _audit_basket("basket.changed", account, row[1], f"{row[0]} → {quantity}", ip)
    return changed


def remove_from_basket(account, product_id, ip="") -> bool:
    """Take a product out of the account's basket (an audit line records it); whether it was
    there."""
    number = product_id if isinstance(product_id, int) else whole_number(str(product_id or ""))
    if number is None:
        return False
    with db.atomic():
        row = (BasketLine.select(BasketLine.quantity, Product.number)
               .join(Product, on=(BasketLine.product == Product.id))
               .where(BasketLine.web_account == account.id, BasketLine.product == number)
               .tuples().first())
        removed = bool(BasketLine.delete().where(BasketLine.web_account == account.id,
                                                 BasketLine.product == number).execute())
        if removed and row is not None:
            _audit_basket("basket.removed", account, row[1], f"-{row[0]}", ip)
    return removed


# --- checkout -----------------------------------------------------------------------------

def _person_of(contact, email):
    if contact is None or not email:
        return None
    return (ContactPerson.select().where(ContactPerson.contact == contact.id,
                                         fn.LOWER(ContactPerson.email) == email.lower(),
                                         ContactPerson.active == True)  # noqa: E712
            .order_by(ContactPerson.id).first())


def checkout_defaults(account, details=None):
    """The order form pre-filled (issue 14 item 3: "ordering without retyping"): from the
    account's contact when it is linked (its name, the person at it with the account's
    e-mail, its phone; delivery to the visiting address when it has one, else the postal
    address; invoice to the postal address), else from the details the customer gave
    (`details`: kontor.web_accounts.details_of). A dict of FORM_FIELDS."""
    contact = contact_of(account)
    values = dict.fromkeys(FORM_FIELDS, "")
    values["email"] = account.email
    if contact is not None:
        person = _person_of(contact, account.email)
        values.update(company_name=contact.name,
                      contact_person=(person.name if person else "") or account.name,
                      phone=(person.phone or person.mobile if person else "")
                      or contact.phone or contact.mobile)
        postal = (contact.street, contact.postcode, contact.city, contact.country)
        visit = (contact.visit_street, contact.visit_postcode, contact.visit_city,
                 contact.visit_country or contact.country)
        delivery = visit if contact.visit_street else postal
        for prefix, address in (("delivery", delivery), ("invoice", postal)):
            for part, value in zip(("street", "postcode", "city", "country"), address,
                                   strict=True):
                values[f"{prefix}_{part}"] = value or ""
        return values
    details = details or {}
    values.update(company_name=details.get("company_name", ""),
                  contact_person=details.get("contact_person") or account.name,
                  phone=details.get("phone", ""))
    for prefix in ("delivery", "invoice"):
        for part in ("street", "postcode", "city", "country"):
            values[f"{prefix}_{part}"] = details.get(part, "")
    return values


def cleaned_form(values) -> dict:
    """The order form's `values` as stored: FORM_FIELDS only, each trimmed to its column's
    length (one line, but the remark keeps its line breaks)."""
    cleaned = {}
    for name in FORM_FIELDS:
        text = without_controls(str(values.get(name) or ""))
        if name == "remark":
            text = text.replace("\r\n", "\n").strip()[:2000]
        else:
            text = " ".join(text.split())[:Order._meta.fields[name].max_length]
        cleaned[name] = text
    cleaned["delivery_country"] = cleaned["delivery_country"].upper()[:2]
    cleaned["invoice_country"] = cleaned["invoice_country"].upper()[:2]
    return cleaned


def order_for_key(account, key):
    """The account's order placed by the form with the one-time key `key`, or None: where a
    second post of the same checkout form leads."""
    key = form_keys.usable(key)
    if key is None:
        return None
    return Order.get_or_none(Order.form_key == key, Order.web_account == account.id)


def _next_seq(year):
    return (Order.select(fn.MAX(Order.seq)).where(Order.year == year).scalar() or 0) + 1


def place_order(account, website, values, fingerprint, form_key=None, language="", ip=""):
    """Order what the account's basket on `website` holds, with the order form's `values`
    (FORM_FIELDS). The basket must still be what the checkout page showed (`fingerprint`,
    Basket.fingerprint) and every product in it must be offered. Returns the Order.

    In one transaction: the order is numbered year-seq (the company's year), its lines are
    priced with the contact's discount as it is now (kontor.pricing), it belongs to the
    account's contact when the account is linked (else its contact is NULL until the queue
    links it, `link_to_contact`), an IncomingItem(kind "order") carries it to "Fetch website
    data" ({"order_id", "number", the form's values, the lines, the totals}), the basket is
    emptied, the event "placed" and an audit line are written and the confirmation is
    mailed (the website's text "order_confirmation", Bcc'd to its copy address).

    Raises form_keys.AlreadySaved when `form_key` placed an order before (`order_for_key`
    finds it), CannotOrder("empty" / "changed" / "prices_changed" / "unavailable" /
    "too_many_lines")."""
    form = cleaned_form(values)
    company = Company.current()
    currency = company.currency if company is not None else "EUR"
    now = utcnow()
    year = case_year(now, company.timezone if company else "")
    key = form_keys.usable(form_key)
    for attempt in range(5):
        try:
            with db.atomic():
                form_keys.claim(key)
                account_now = WebAccount.get_by_id(account.id)
                contact = contact_of(account_now)
                basket = basket_of(account_now, website, discount_of(contact))
                if not basket.items:
                    raise CannotOrder("empty")
                if basket.fingerprint != fingerprint:
                    held = str(fingerprint or "").split("|", 1)[0]
                    raise CannotOrder("changed" if basket.fingerprint.split("|", 1)[0] != held
                                      else "prices_changed")
                if basket.unavailable:
                    raise CannotOrder("unavailable",
                                      [item.product.name for item in basket.unavailable])
                order = Order.create(
                    website=website.id, web_account=account_now.id,
                    contact=contact.id if contact else None, year=year, seq=_next_seq(year),
                    status="received", currency=currency, discount_bp=_bp(basket.discount),
                    net_cents=_cents(basket.totals.net), vat_cents=_cents(basket.totals.vat),
                    gross_cents=_cents(basket.totals.gross), language=language or "",
                    form_key=key, created_at=now, updated_at=now, **form)
                OrderLine.insert_many([dict(
                    order=order.id, position=position, product=item.product.id,
                    product_number=item.product.number, name=item.product.name,
                    unit=item.product.unit, quantity=item.quantity,
                    list_price_cents=_cents(item.line.list_price),
                    unit_price_cents=_cents(item.line.unit_price),
                    discount_bp=_bp(item.line.discount),
                    vat_rate_bp=item.product.vat_rate_bp, net_cents=_cents(item.line.net),
                    vat_cents=_cents(item.line.vat), gross_cents=_cents(item.line.gross))
                    for position, item in enumerate(basket.items, start=1)]).execute()
                OrderEvent.create(order=order.id, contact=order.contact_id, action="placed",
                                  new=order.number, at=now)
                IncomingItem.create(website=website.id, web_account=account_now.id,
                                    kind="order", received_at=now,
                                    values=json.dumps(incoming_values(order, basket, form),
                                                      ensure_ascii=False))
                BasketLine.delete().where(BasketLine.web_account == account_now.id).execute()
                audit.record("order.placed", target=f"{website.slug}: {order.number}",
                             detail=f"{account_now.email}, {len(basket.items)} lines, "
                                    f"{basket.totals.gross} {currency}", ip=ip)
                order_mail.send_confirmation(website, account_now, order)
                return order
        except IntegrityError:     # a racing order took the number: take the next
            if attempt == 4:
                raise
    raise RuntimeError("unreachable")


def incoming_values(order, basket, form):
    """The values an order hands to the "Fetch website data" queue (IncomingItem.values):
    its id and number, the order form's fields, and its lines and totals as strings of
    decimals (never floats)."""
    return {"order_id": order.id, "number": order.number, **form,
            "currency": order.currency, "discount": str(basket.discount),
            "lines": [{"product_id": item.product.id, "number": item.product.number,
                       "name": item.product.name, "quantity": item.quantity,
                       "unit_price": str(item.line.unit_price), "vat_rate":
                       str(item.line.vat_rate), "net": str(item.line.net)}
                      for item in basket.items],
            "net": str(basket.totals.net), "vat": str(basket.totals.vat),
            "gross": str(basket.totals.gross)}


# --- the queue's part ---------------------------------------------------------------------

def link_to_contact(order, contact, user=None) -> bool:
    """Let `order` (an Order) belong to `contact` (a Contact): what the "Fetch website data"
    queue (issue 15; SPEC section 10) calls when it imports an order whose web account was
    not linked when it was placed. Flask-free; needs no request. `user`: the staff member
    importing (a User, an id or None).

    Idempotent: linking an order to the contact it belongs to already changes nothing and
    returns False; it returns True when it linked the order now. It never creates, copies or
    reprices an order (an order exists once: place_order made it). Its events move to the
    contact's timeline with it; an event "linked" and an audit line record the change.
    Raises LinkedElsewhere when the order belongs to another contact already (the queue must
    not silently move an order between customers)."""
    user_id = getattr(user, "id", user)
    with db.atomic():
        current = locked(Order.select().where(Order.id == order.id)).first()
        if current is None:
            raise Order.DoesNotExist(f"order {order.id}")
        if current.contact_id == contact.id:
            return False
        if current.contact_id is not None:
            raise LinkedElsewhere()
        Order.update(contact=contact.id, updated_at=utcnow()).where(
            Order.id == current.id, Order.contact.is_null()).execute()
        OrderEvent.update(contact=contact.id).where(OrderEvent.order == current.id).execute()
        OrderEvent.create(order=current.id, contact=contact.id, user=user_id, action="linked",
                          new=contact.name[:200])
        audit.record("order.linked", user=user_id, target=current.number,
                     detail=f"contact {contact.id}")
    order.contact = contact.id
    return True


# --- status -------------------------------------------------------------------------------

def next_statuses(order):
    """The statuses `order` may go to from its own (TRANSITIONS)."""
    return TRANSITIONS.get(order.status, ())


def change_status(order, status, user, opened_version=None, ip=""):
    """Staff set `order`'s status to `status` (one of ORDER_STATUSES, allowed from its
    status by TRANSITIONS). `opened_version` is the version the staff member saw: a change
    saved by someone else since is refused (versions.ChangedMeanwhile) rather than
    overwritten. Records the event, the audit line, and mails the customer (the website's
    text "order_status") when the order's web account is still open. Returns the order as
    saved. Raises StatusNotAllowed and versions.ChangedMeanwhile."""
    if status not in ORDER_STATUSES:
        raise StatusNotAllowed(order.status)
    user_id = getattr(user, "id", user)
    with db.atomic():
        current = Order.get_by_id(order.id)
        if opened_version is not None and current.version != opened_version:
            raise ChangedMeanwhile(current)
        if status not in next_statuses(current):
            raise StatusNotAllowed(current.status)
        update_if_unchanged(Order, current.id, current.version, status=status,
                            updated_at=utcnow())
        OrderEvent.create(order=current.id, contact=current.contact_id, user=user_id,
                          action="status", old=current.status, new=status)
        audit.record("order.status_changed", user=user_id, target=current.number,
                     detail=f"{current.status} → {status}", ip=ip)
        saved = Order.get_by_id(current.id)
        account = WebAccount.get_or_none(WebAccount.id == saved.web_account_id) \
            if saved.web_account_id else None
        if account is not None and account.closed_at is None:
            order_mail.send_status(saved.website, account, saved)
    return saved


# --- finding ------------------------------------------------------------------------------

def for_customer(account):
    """The orders the signed-in `account` may see, newest first: on its website, those it
    placed and, when it is linked to a contact, every order of that contact (a colleague's
    at the same company)."""
    mine = Order.web_account == account.id
    if account.contact_id is not None:
        mine = mine | (Order.contact == account.contact_id)
    return (Order.select().where(Order.website == account.website_id, mine)
            .order_by(Order.created_at.desc(), Order.id.desc()))


def customer_order(account, order_id):
    """The order `order_id` if `account` may see it (for_customer), else None: another
    customer's order is not found (SECURITY.md 38)."""
    return for_customer(account).where(Order.id == order_id).first()


def with_lines(orders):
    """`orders` (a list of Orders) each with `line_list`, its lines in order, read in one
    query for all of them."""
    by_order = {order.id: order for order in orders}
    for order in orders:
        order.line_list = []
    if by_order:
        for line in OrderLine.select().where(OrderLine.order.in_(list(by_order))).order_by(
                OrderLine.order, OrderLine.position):
            by_order[line.order_id].line_list.append(line)
    return orders


def events_of(order):
    """The order's events, oldest first, each with its staff member (`user`, or None)."""
    return list(OrderEvent.select(OrderEvent, User).join(
        User, JOIN.LEFT_OUTER, on=(OrderEvent.user == User.id))
        .where(OrderEvent.order == order.id).order_by(OrderEvent.at, OrderEvent.id))


def number_parts(text):
    """(year, seq) of an order number as typed ("2026-0042", "2026-42"), else None."""
    parts = (text or "").strip().split("-")
    if len(parts) != 2:
        return None
    year, seq = whole_number(parts[0], 9999), whole_number(parts[1], 99_999_999)
    return (year, seq) if year and seq else None


def listing(website_id=None, status=None, text=""):
    """The orders for staff, newest first, with their website and contact: all of them, or
    one website's (`website_id`), one status's, or the one numbered `text` / those whose
    company name, contact person, e-mail or reference contains it."""
    query = (Order.select(Order, Website, Contact).join(Website)
             .switch(Order).join(Contact, JOIN.LEFT_OUTER, on=(Order.contact == Contact.id)))
    if website_id is not None:
        query = query.where(Order.website == website_id)
    if status in ORDER_STATUSES:
        query = query.where(Order.status == status)
    text = " ".join(without_controls(text or "").split())[:100]
    if text:
        parts = number_parts(text)
        if parts:
            query = query.where(Order.year == parts[0], Order.seq == parts[1])
        else:
            term = text.lower()
            query = query.where(reduce(or_, [contains(fn.LOWER(column), term) for column in (
                Order.company_name, Order.contact_person, Order.email, Order.reference)]))
    return query.order_by(Order.created_at.desc(), Order.id.desc())


def staff_order(order_id):
    """The order `order_id` with its website, web account and contact, or None."""
    return (Order.select(Order, Website, WebAccount, Contact).join(Website).switch(Order)
            .join(WebAccount, JOIN.LEFT_OUTER, on=(Order.web_account == WebAccount.id))
            .switch(Order).join(Contact, JOIN.LEFT_OUTER, on=(Order.contact == Contact.id))
            .where(Order.id == order_id).first())


# --- the CSV export -----------------------------------------------------------------------

EXPORT_COLUMNS = {   # key: heading in en, nl, nb, de (the order of languages.CODES)
    "number": ("Order number", "Bestelnummer", "Ordrenummer", "Bestellnummer"),
    "date": ("Date (UTC)", "Datum (UTC)", "Dato (UTC)", "Datum (UTC)"),
    "status": ("Status", "Status", "Status", "Status"),
    "website": ("Website", "Website", "Nettsted", "Website"),
    "customer_number": ("Customer number", "Klantnummer", "Kundenummer", "Kundennummer"),
    "company_name": ("Company name", "Bedrijfsnaam", "Firmanavn", "Firmenname"),
    "contact_person": ("Contact person", "Contactpersoon", "Kontaktperson", "Ansprechpartner"),
    "email": ("E-mail", "E-mail", "E-post", "E-Mail"),
    "phone": ("Phone", "Telefoon", "Telefon", "Telefon"),
    "delivery_street": ("Delivery street", "Afleveradres", "Leveringsadresse",
                        "Lieferstraße"),
    "delivery_postcode": ("Delivery postcode", "Postcode aflevering", "Postnr. levering",
                          "PLZ Lieferung"),
    "delivery_city": ("Delivery city", "Plaats aflevering", "Poststed levering",
                      "Ort Lieferung"),
    "delivery_country": ("Delivery country", "Land aflevering", "Land levering",
                         "Land Lieferung"),
    "invoice_street": ("Invoice street", "Factuuradres", "Fakturaadresse", "Rechnungsstraße"),
    "invoice_postcode": ("Invoice postcode", "Postcode factuur", "Postnr. faktura",
                         "PLZ Rechnung"),
    "invoice_city": ("Invoice city", "Plaats factuur", "Poststed faktura", "Ort Rechnung"),
    "invoice_country": ("Invoice country", "Land factuur", "Land faktura", "Land Rechnung"),
    "reference": ("Reference", "Referentie", "Referanse", "Referenz"),
    "remark": ("Remark", "Opmerking", "Merknad", "Bemerkung"),
    "currency": ("Currency", "Valuta", "Valuta", "Währung"),
    "discount": ("Discount %", "Korting %", "Rabatt %", "Rabatt %"),
    "order_net": ("Order excl. VAT", "Bestelling excl. btw", "Ordre ekskl. mva.",
                  "Bestellung netto"),
    "order_vat": ("Order VAT", "Btw bestelling", "Mva. ordre", "USt. Bestellung"),
    "order_gross": ("Order incl. VAT", "Bestelling incl. btw", "Ordre inkl. mva.",
                    "Bestellung brutto"),
    "line": ("Line", "Regel", "Linje", "Position"),
    "product_number": ("Product number", "Productnummer", "Produktnummer", "Artikelnummer"),
    "product_name": ("Product", "Product", "Produkt", "Produkt"),
    "unit": ("Unit", "Eenheid", "Enhet", "Einheit"),
    "quantity": ("Quantity", "Aantal", "Antall", "Menge"),
    "list_price": ("List price", "Catalogusprijs", "Listepris", "Listenpreis"),
    "unit_price": ("Unit price", "Stukprijs", "Enhetspris", "Stückpreis"),
    "vat_rate": ("VAT %", "Btw %", "Mva. %", "USt. %"),
    "line_net": ("Line excl. VAT", "Regel excl. btw", "Linje ekskl. mva.", "Position netto"),
    "line_vat": ("Line VAT", "Btw regel", "Mva. linje", "USt. Position"),
    "line_gross": ("Line incl. VAT", "Regel incl. btw", "Linje inkl. mva.",
                   "Position brutto"),
}


def export_csv(query, language=languages.DEFAULT, time_format=None):
    """Yield the orders of `query` (listing) as CSV lines for the business system: one row
    per order line, the order's columns on each; headings and the decimal comma in
    `language`; amounts as plain decimals; formula-like cells quoted as the contacts' export
    does (contact_io.safe_cell). `time_format`: a function from a naive UTC datetime to its
    text (default ISO). The orders are streamed (models.db.stream: a large export never sits
    in memory) and their lines read per 200 orders, never one query per order."""
    index = languages.CODES.index(language) if language in languages.CODES else 0
    comma = language != "en"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if comma else ",")
    writer.writerow([names[index] for names in EXPORT_COLUMNS.values()])
    yield "\ufeff" + buffer.getvalue()
    show_time = time_format or (lambda moment: moment.isoformat(sep=" ", timespec="minutes"))

    def number(amount):
        text = f"{amount:.2f}"
        return text.replace(".", ",") if comma else text

    batch = []

    def rows_of(orders):
        with_lines(orders)
        for order in orders:
            head = [order.number, show_time(order.created_at), order.status,
                    order.website.slug,
                    order.contact.customer_number if order.contact_id else "",
                    order.company_name, order.contact_person, order.email, order.phone,
                    order.delivery_street, order.delivery_postcode, order.delivery_city,
                    order.delivery_country, order.invoice_street, order.invoice_postcode,
                    order.invoice_city, order.invoice_country, order.reference,
                    order.remark, order.currency, number(order.discount),
                    number(order.net), number(order.vat), number(order.gross)]
            for line in order.line_list:
                buffer.seek(0)
                buffer.truncate()
                writer.writerow([safe_cell(value) for value in head + [
                    line.position, line.product_number, line.name, line.unit, line.quantity,
                    number(line.list_price), number(line.unit_price),
                    number(line.vat_rate).rstrip("0").rstrip(".,") or "0",
                    number(line.net), number(line.vat), number(line.gross)]])
                yield buffer.getvalue()

    for order in stream(query):
        batch.append(order)
        if len(batch) == 200:
            yield from rows_of(batch)
            batch = []
    if batch:
        yield from rows_of(batch)
