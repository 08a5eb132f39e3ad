"""The products the portal offers (SPEC section 7; issue 14 item 1): number, name, text, unit,
price and VAT rate, and on which websites each is offered.

Money is exact: the price is whole cents of the company's currency (`Company.currency`), the
VAT rate hundredths of a percent (1250 is 12.5 %); `price` and `vat_rate` give them as
Decimals. SQLite would keep a DECIMAL column as a binary float.
"""
from decimal import Decimal

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.clock import utcnow
from models.db import BaseModel
from models.portal import Website


class Product(BaseModel):
    number = CharField(max_length=40)
    number_key = CharField(max_length=40, unique=True)   # the number folded: unique
    name = CharField(max_length=200)
    description = TextField(default="")
    unit = CharField(max_length=30, default="")
    price_cents = IntegerField(default=0)          # per unit, excluding VAT
    vat_rate_bp = IntegerField(default=0)          # hundredths of a percent
    active = BooleanField(default=True)
    sort_name = CharField(max_length=200, default="", index=True)   # the name folded
    search_text = TextField(default="")            # number and name folded, for search
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    @property
    def price(self) -> Decimal:
        """The price per unit excluding VAT, in the company's currency."""
        return (Decimal(self.price_cents) / 100).quantize(Decimal("0.01"))

    @property
    def vat_rate(self) -> Decimal:
        """The VAT rate in percent, to two decimals (Decimal("12.50"))."""
        return (Decimal(self.vat_rate_bp) / 100).quantize(Decimal("0.01"))


class ProductWebsite(BaseModel):
    """A website that offers a product."""
    product = ForeignKeyField(Product, backref="websites", on_delete="CASCADE")
    website = ForeignKeyField(Website, backref="products", on_delete="CASCADE")

    class Meta:
        indexes = ((("product", "website"), True), (("website", "product"), False))
