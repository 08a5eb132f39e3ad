"""Customers' baskets and orders from the portals (SPEC section 7; issue 14 items 3-4).

Money is whole cents of the company's currency (as `models.catalog`), percentages hundredths
of a percent (1250 is 12.5 %). An order keeps what the customer saw when they confirmed: the
lines' product numbers, names, prices, discount and VAT are copied, so a later price change or
a renamed product never alters it (`OrderLine.product` is only a link back, NULL once the
product is gone).
"""
from decimal import Decimal

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.accounts import User
from models.catalog import Product
from models.clock import utcnow
from models.contacts import Contact
from models.db import BaseModel
from models.portal import Website
from models.web_accounts import WebAccount

ORDER_STATUSES = ("received", "confirmed", "shipped", "cancelled")


def _amount(cents):
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


class _Amounts:
    """`net`, `vat` and `gross` as Decimals from the row's `*_cents` columns (an order and
    each of its lines carry all three)."""

    @property
    def net(self) -> Decimal:
        return _amount(self.net_cents)

    @property
    def vat(self) -> Decimal:
        return _amount(self.vat_cents)

    @property
    def gross(self) -> Decimal:
        return _amount(self.gross_cents)


class BasketLine(BaseModel):
    """One product in a web account's basket (kept on the server: the basket works without
    JavaScript and follows the customer from one browser to another). Prices are never kept
    here: the basket is priced afresh each time it is shown (kontor/pricing.py)."""
    web_account = ForeignKeyField(WebAccount, backref="basket", on_delete="CASCADE")
    product = ForeignKeyField(Product, backref="+", on_delete="CASCADE")
    quantity = IntegerField(default=1)
    added_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("web_account", "product"), True),)


class Order(_Amounts, BaseModel):
    """An order placed on a website's portal. `contact` is the web account's contact when it
    was linked at the moment of ordering, else NULL until the "Fetch website data" queue links
    it (kontor.orders.link_to_contact). The number is `year`-`seq` (unique). The delivery and
    invoice details are the order form's, as sent. `form_key` is the one-time key of the form
    that placed it (a second post of that form finds this order instead of making another).
    `version` guards staff's status changes (kontor/versions.py)."""
    website = ForeignKeyField(Website, backref="orders", on_delete="CASCADE")
    web_account = ForeignKeyField(WebAccount, null=True, backref="orders", on_delete="SET NULL")
    contact = ForeignKeyField(Contact, null=True, backref="orders", on_delete="SET NULL")
    year = IntegerField()
    seq = IntegerField()
    status = CharField(max_length=10, default="received")
    currency = CharField(max_length=3, default="EUR")
    discount_bp = IntegerField(default=0)     # the customer's discount when ordering
    net_cents = IntegerField(default=0)
    vat_cents = IntegerField(default=0)
    gross_cents = IntegerField(default=0)
    company_name = CharField(max_length=200, default="")
    contact_person = CharField(max_length=200, default="")
    email = CharField(max_length=254, default="")
    phone = CharField(max_length=50, default="")
    delivery_street = CharField(max_length=200, default="")
    delivery_postcode = CharField(max_length=20, default="")
    delivery_city = CharField(max_length=100, default="")
    delivery_country = CharField(max_length=2, default="")
    invoice_street = CharField(max_length=200, default="")
    invoice_postcode = CharField(max_length=20, default="")
    invoice_city = CharField(max_length=100, default="")
    invoice_country = CharField(max_length=2, default="")
    reference = CharField(max_length=100, default="")
    remark = TextField(default="")
    language = CharField(max_length=5, default="")
    form_key = CharField(max_length=64, null=True, unique=True)
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "customer_order"     # "order" is an SQL keyword
        indexes = ((("year", "seq"), True), (("contact", "created_at"), False),
                   (("website", "created_at"), False), (("web_account", "created_at"), False),
                   (("created_at",), False))

    @property
    def number(self) -> str:
        return f"{self.year}-{self.seq:04d}"

    @property
    def discount(self) -> Decimal:
        return (Decimal(self.discount_bp) / 100).quantize(Decimal("0.01"))


class OrderLine(_Amounts, BaseModel):
    """One line of an order as priced when it was placed (kontor.pricing.price_line)."""
    order = ForeignKeyField(Order, backref="lines", on_delete="CASCADE")
    position = IntegerField(default=1)
    product = ForeignKeyField(Product, null=True, backref="+", on_delete="SET NULL")
    product_number = CharField(max_length=40)
    name = CharField(max_length=200)
    unit = CharField(max_length=30, default="")
    quantity = IntegerField()
    list_price_cents = IntegerField()
    unit_price_cents = IntegerField()
    discount_bp = IntegerField(default=0)
    vat_rate_bp = IntegerField(default=0)
    net_cents = IntegerField()
    vat_cents = IntegerField()
    gross_cents = IntegerField()

    class Meta:
        indexes = ((("order", "position"), False),)

    @property
    def list_price(self) -> Decimal:
        return _amount(self.list_price_cents)

    @property
    def unit_price(self) -> Decimal:
        return _amount(self.unit_price_cents)

    @property
    def vat_rate(self) -> Decimal:
        return (Decimal(self.vat_rate_bp) / 100).quantize(Decimal("0.01"))


class OrderEvent(BaseModel):
    """What happened to an order: placed, its status changed (`old` → `new`), linked to a
    contact. `contact` is the order's contact (set on every event when the order is linked),
    for the contact's timeline; `user` the staff member, NULL for the customer."""
    order = ForeignKeyField(Order, backref="events", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, backref="+", on_delete="SET NULL")
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = CharField(max_length=20)
    old = CharField(max_length=200, default="")
    new = CharField(max_length=200, default="")
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("contact", "at"), False), (("order", "at"), False))
