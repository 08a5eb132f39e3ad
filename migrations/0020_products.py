"""Products (issue 14 item 1): the `product` table (prices in whole cents, VAT rates in
hundredths of a percent), `product_website` (which websites offer a product) and the company's
currency (`company.currency`, ISO 4217; existing companies get their country's, else EUR).
Depends on 0017 (websites) only."""
import datetime

from babel.numbers import get_territory_currencies
from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Website(Base):
        class Meta:
            table_name = "website"

    class Product(Base):
        number = CharField(max_length=40)
        number_key = CharField(max_length=40, unique=True)
        name = CharField(max_length=200)
        description = TextField(default="")
        unit = CharField(max_length=30, default="")
        price_cents = IntegerField(default=0)
        vat_rate_bp = IntegerField(default=0)
        active = BooleanField(default=True)
        sort_name = CharField(max_length=200, default="", index=True)
        search_text = TextField(default="")
        version = IntegerField(default=1)
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)

    class ProductWebsite(Base):
        product = ForeignKeyField(Product, on_delete="CASCADE")
        website = ForeignKeyField(Website, on_delete="CASCADE")

        class Meta:
            indexes = ((("product", "website"), True), (("website", "product"), False))

    db.create_tables([Product, ProductWebsite])
    db.execute_sql("ALTER TABLE company ADD COLUMN currency VARCHAR(3) NOT NULL DEFAULT 'EUR'")
    for company_id, country in db.execute_sql("SELECT id, country FROM company").fetchall():
        found = get_territory_currencies(country) if country else []
        if found and found[0] != "EUR":
            db.execute_sql(f"UPDATE company SET currency = {db.param} WHERE id = {db.param}",
                           [found[0], company_id])
