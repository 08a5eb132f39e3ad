"""Orders (issue 14 items 3-4): the `basket_line` table (a web account's basket, kept on the
server), `customer_order` with its `order_line`s (prices, discount and VAT copied as they were
when ordered, in whole cents and hundredths of a percent) and `order_event` (placed, status
changed, linked to a contact: the contact's timeline and the customer's "My orders").
Depends on 0018 (web accounts) and 0020 (products) only.
"""
import datetime

from peewee import (
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

    class User(Base):
        class Meta:
            table_name = "user"

    class Contact(Base):
        class Meta:
            table_name = "contact"

    class WebAccount(Base):
        class Meta:
            table_name = "web_account"

    class Product(Base):
        class Meta:
            table_name = "product"

    class BasketLine(Base):
        web_account = ForeignKeyField(WebAccount, on_delete="CASCADE")
        product = ForeignKeyField(Product, on_delete="CASCADE")
        quantity = IntegerField(default=1)
        added_at = DateTimeField(default=_now)

        class Meta:
            table_name = "basket_line"
            indexes = ((("web_account", "product"), True),)

    class Order(Base):
        website = ForeignKeyField(Website, on_delete="CASCADE")
        web_account = ForeignKeyField(WebAccount, null=True, on_delete="SET NULL")
        contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
        year = IntegerField()
        seq = IntegerField()
        status = CharField(max_length=10, default="received")
        currency = CharField(max_length=3, default="EUR")
        discount_bp = IntegerField(default=0)
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
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)

        class Meta:
            table_name = "customer_order"
            indexes = ((("year", "seq"), True), (("contact", "created_at"), False),
                       (("website", "created_at"), False),
                       (("web_account", "created_at"), False), (("created_at",), False))

    class OrderLine(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        position = IntegerField(default=1)
        product = ForeignKeyField(Product, null=True, on_delete="SET NULL")
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
            table_name = "order_line"
            indexes = ((("order", "position"), False),)

    class OrderEvent(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        action = CharField(max_length=20)
        old = CharField(max_length=200, default="")
        new = CharField(max_length=200, default="")
        at = DateTimeField(default=_now)

        class Meta:
            table_name = "order_event"
            indexes = ((("contact", "at"), False), (("order", "at"), False))

    db.create_tables([BasketLine, Order, OrderLine, OrderEvent])
