"""Helpers for the portal's products, basket and orders (issue 14 items 2-4): products offered
on a website, a customer of a company with a discount, and the steps a customer takes (add to
the basket, check out) as a browser sends them."""
import html
import re
from decimal import Decimal

from helpers import form_keys_on
from portal_helpers import csrf_of, make_account, portal_sign_in

from kontor import contacts, products
from models import Order


def offer(number, name, price, vat="21", websites=(), active=True, unit="piece",
          description=""):
    """A product saved as the product form saves one, offered on `websites`."""
    return products.save(None, {"number": number, "name": name, "price": Decimal(price),
                                "vat_rate": Decimal(vat), "active": active, "unit": unit,
                                "description": description},
                         [site.id for site in websites])


def company_customer(name="Jensen Bygg AS", discount="10", **fields):
    """A company contact with a customer discount and full addresses."""
    values = {"name": name, "kind": "company", "discount": discount, "street": "Postboks 12",
              "postcode": "0101", "city": "Oslo", "country": "NO",
              "visit_street": "Storgata 1", "visit_postcode": "0155", "visit_city": "Oslo",
              "phone": "+47 22 33 44 55", "email": "post@jensen.example"}
    values.update(fields)
    return contacts.create(values)


def customer_of(app, website, contact, email="maria@example.com", language="en", **fields):
    """A new browser with an approved customer of `website`, linked to `contact` (or not,
    for None), signed in; (browser, account)."""
    account = make_account(website, email=email, contact=contact.id if contact else None,
                           language=language, **fields)
    browser = app.test_client()
    assert portal_sign_in(browser, website.slug, account.email).status_code == 302
    return browser, account


def add(client, product, quantity="1", slug="shop"):
    """Press "Add to basket" beside `product` on the products page."""
    page = client.get(f"/w/{slug}/products")
    return client.post(f"/w/{slug}/basket/add", data={
        "csrf_token": csrf_of(page), "product_id": str(product.id), "quantity": quantity})


def checkout_form(client, slug="shop", **changes):
    """Open the checkout page; (page, the form's values as pre-filled, with `changes`)."""
    page = client.get(f"/w/{slug}/checkout")
    assert page.status_code == 200, page.status_code
    markup = page.get_data(as_text=True)
    values = {"csrf_token": csrf_of(page), **form_keys_on(page)}
    for name, value in re.findall(r'<input[^>]*\bname="([\w-]+)"[^>]*\bvalue="([^"]*)"', markup):
        values.setdefault(name, value)
    for name, value in re.findall(
            r'<input[^>]*\bvalue="([^"]*)"[^>]*\bname="([\w-]+)"', markup):
        values.setdefault(value, name)
    for name, body in re.findall(r'<select[^>]*\bname="([\w-]+)"[^>]*>(.*?)</select>', markup,
                                 re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', body)
        values[name] = chosen.group(1) if chosen else ""
    remark = re.search(r'<textarea[^>]*name="remark"[^>]*>(.*?)</textarea>', markup, re.S)
    values["remark"] = remark.group(1).strip() if remark else ""
    values = {name: html.unescape(value) for name, value in values.items()}
    values.pop("q", None)
    values.update(changes)
    return page, {name: value for name, value in values.items() if value is not None}


def place(client, slug="shop", **changes):
    """Check out with the pre-filled form (and `changes`); the response to Place order."""
    _page, values = checkout_form(client, slug, **changes)
    return client.post(f"/w/{slug}/checkout", data=values)


def newest_order():
    return Order.select().order_by(Order.id.desc()).first()
