"""Products with the customer's prices, the basket, ordering and orders (issue 14 items 2-4):
prices per website protection and discount, computed by one function for page, basket and
order (against a table worked by hand); the basket without JavaScript; checkout pre-filled from
the contact; one order per checkout form; inactive products and odd quantities refused; the
confirmation mail; My orders and its access checks between customers of two companies; the
staff's list, order page, status and export; the contact's timeline; the import queue's
`link_to_contact`; and bounded query counts. SECURITY.md 20, 21, 38, 39."""
import csv
import io
import json
import threading
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from helpers import error_beside, make_company, make_user, sign_in, text_of
from order_helpers import (
    add,
    checkout_form,
    company_customer,
    customer_of,
    newest_order,
    offer,
    place,
)
from portal_helpers import csrf_of, open_website
from test_support_scale import queries

from kontor import orders, pricing, products, website_texts
from models import (
    AuditEvent,
    BasketLine,
    Contact,
    IncomingItem,
    Order,
    OrderEvent,
    OrderLine,
    OutboxMessage,
    Product,
)

D = Decimal
ADDRESS = {"delivery_street": "Nyveien 3", "delivery_postcode": "0300",
           "delivery_city": "Oslo"}


@pytest.fixture
def shop(app):
    return open_website()


@pytest.fixture
def fridge(shop):
    return offer("KS-300", "Kühlschrank Eco 300", "499.95", websites=[shop])


@pytest.fixture
def visit(shop):
    return offer("SV-10", "Service visit", "85.00", vat="9", websites=[shop], unit="hour")


@pytest.fixture
def jensen(app):
    return company_customer()


@pytest.fixture
def maria(app, shop, jensen):
    """Maria of Jensen Bygg (10 % discount), signed in: her browser."""
    browser, _account = customer_of(app, shop, jensen)
    return browser


def basket_rows():
    return {line.product_id: line.quantity for line in BasketLine.select()}


def money(amount, currency="EUR", locale="en_NL"):
    """An amount as the portal writes it (English in a Dutch company: en_NL), its no-break
    spaces as the plain ones `text_of` makes of them."""
    return flat(format_currency(D(amount), currency, locale=locale))


def flat(text):
    return text.replace("\u202f", " ").replace("\xa0", " ")


# --- prices -------------------------------------------------------------------------------

# list price, quantity, discount %, VAT %  ->  unit price, net, VAT, gross (worked by hand)
PRICE_TABLE = [
    ("10.00", 1, "0", "21", "10.00", "10.00", "2.10", "12.10"),
    ("0.50", 1, "0", "9", "0.50", "0.50", "0.05", "0.55"),           # VAT 0.045: half-up
    ("1.50", 1, "0", "19", "1.50", "1.50", "0.29", "1.79"),          # VAT 0.285
    ("3.30", 1, "0", "15", "3.30", "3.30", "0.50", "3.80"),          # VAT 0.495
    ("2.25", 1, "0", "0", "2.25", "2.25", "0.00", "2.25"),
    ("0.30", 1, "12.5", "21", "0.26", "0.26", "0.05", "0.31"),       # 0.2625, VAT 0.0546
    ("0.04", 1, "12.5", "25", "0.04", "0.04", "0.01", "0.05"),       # 0.035 → 0.04, VAT 0.01
    ("19.99", 999, "12.5", "25", "17.49", "17473.76", "4368.44", "21842.20"),
    ("0.01", 999, "0", "25", "0.01", "9.99", "2.50", "12.49"),       # VAT 2.4975
    ("0.05", 999, "10", "9", "0.05", "44.96", "4.05", "49.01"),      # 44.955, VAT 4.0464
    ("249.00", 999, "100", "21", "0.00", "0.00", "0.00", "0.00"),
    ("249.00", 1, "100", "9", "0.00", "0.00", "0.00", "0.00"),
]


@pytest.mark.parametrize(("price", "quantity", "discount", "vat", "unit", "net", "tax",
                          "gross"), PRICE_TABLE)
def test_page_basket_and_order_agree_with_the_price_table(app, shop, price, quantity,
                                                           discount, vat, unit, net, tax,
                                                           gross):
    product = offer("P-1", "Pump", price, vat=vat, websites=[shop])
    contact = company_customer(discount=discount)
    browser, _account = customer_of(app, shop, contact)
    page = text_of(browser.get("/w/shop/products"))
    assert money(unit) in page                              # the customer's price per unit
    assert add(browser, product, str(quantity)).status_code == 302
    basket = text_of(browser.get("/w/shop/basket"))
    assert f"Total excluding VAT {money(net)}" in basket
    assert f"Total including VAT {money(gross)}" in basket
    assert f"{money(tax)} Total including VAT" in basket
    assert place(browser).status_code == 302
    order = newest_order()
    line = OrderLine.get()
    assert (line.unit_price, line.net, line.vat, line.gross) == (D(unit), D(net), D(tax),
                                                                 D(gross))
    assert (order.net, order.vat, order.gross) == (D(net), D(tax), D(gross))
    assert order.discount == D(discount) and line.list_price == D(price)
    assert (line.quantity, line.vat_rate) == (quantity, D(vat))
    # the same function priced all three (kontor.pricing.price_line)
    expected = pricing.price_line(D(price), quantity, D(discount), D(vat))
    assert (expected.net, expected.vat, expected.gross) == (D(net), D(tax), D(gross))


@pytest.mark.parametrize(("language", "shown"), [
    ("en", "€ 1.234,50"), ("nl", "€ 1.234,50"), ("de", "1.234,50 €"),
    ("nb", "1 234,50 €")])
def test_each_language_writes_the_price_as_it_writes_money(app, client, shop, language,
                                                           shown):
    offer("B-1", "Boiler", "1234.50", websites=[shop])
    page = client.get("/w/shop/products", headers={"Accept-Language": language})
    written = flat(text_of(page))
    assert shown in written
    assert money("1234.50", locale={"en": "en_NL"}.get(language, language)) in written


def test_the_company_currency_is_the_one_shown(app, client, shop):
    make_company(currency="NOK", country="NO")
    offer("B-1", "Boiler", "1234.50", websites=[shop])
    written = text_of(client.get("/w/shop/products", headers={"Accept-Language": "nb"}))
    assert "1 234,50 kr" in flat(written)


@pytest.mark.parametrize("protection", ["prices", "site"])
def test_prices_are_hidden_from_visitors_when_the_website_protects_them(app, client, shop,
                                                                        fridge, protection):
    shop.protection = protection
    shop.save()
    page = client.get("/w/shop/products")
    if protection == "site":
        assert page.status_code == 302 and "/login" in page.headers["Location"]
        return
    assert page.status_code == 200
    assert "Kühlschrank Eco 300" in text_of(page)
    assert "499" not in text_of(page) and "Sign in to see prices" in text_of(page)
    assert "Add to basket" not in text_of(page)


def test_without_protection_visitors_see_list_prices_but_sign_in_to_order(app, client, shop,
                                                                          fridge):
    page = text_of(client.get("/w/shop/products"))
    assert money("499.95") in page and "Your price" not in page
    assert "Add to basket" not in page and "Sign in to order" in page
    response = client.post("/w/shop/basket/add", data={
        "csrf_token": csrf_of(client.get("/w/shop/products")), "product_id": fridge.id,
        "quantity": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not BasketLine.select().exists()


def test_a_linked_customer_sees_the_list_price_and_their_own(app, shop, fridge, maria):
    page = text_of(maria.get("/w/shop/products"))
    assert "List price Your price" in page
    assert f"{money('499.95')} {money('449.96')}" in page
    assert "discount of 10%" in page


def test_an_unlinked_customer_and_a_customer_of_another_company_see_their_own_prices(
        app, shop, fridge, maria):
    unlinked, _ = customer_of(app, shop, None, email="solo@example.com")
    page = text_of(unlinked.get("/w/shop/products"))
    assert money("499.95") in page and "Your price" not in page
    other = company_customer("Olsen Rør AS", discount="25")
    olsen, _ = customer_of(app, shop, other, email="ola@olsen.example")
    page = text_of(olsen.get("/w/shop/products"))
    assert money("374.96") in page and money("449.96") not in page


def test_a_posted_discount_or_price_is_ignored(app, shop, fridge, maria):
    page = maria.get("/w/shop/products")
    maria.post("/w/shop/basket/add", data={"csrf_token": csrf_of(page), "product_id":
                                           fridge.id, "quantity": "1", "discount": "100",
                                           "price": "0.01"})
    assert place(maria, discount="100", price="0.01", net="0").status_code == 302
    assert newest_order().net == D("449.96")


def test_the_products_page_searches_and_pages_only_this_websites_active_products(app, client,
                                                                                 shop):
    other = open_website("other")
    for n in range(25):
        offer(f"F-{n:02d}", f"Filter {n:02d}", "1.00", websites=[shop])
    offer("X-1", "Filter hidden", "1.00", websites=[shop], active=False)
    offer("X-2", "Filter elsewhere", "1.00", websites=[other])
    first = text_of(client.get("/w/shop/products"))
    assert "Filter 00" in first and "Filter 19" in first and "Filter 20" not in first
    second = text_of(client.get("/w/shop/products?page=2"))
    assert "Filter 24" in second and "Filter 00" not in second
    assert "hidden" not in first + second and "elsewhere" not in first + second
    found = text_of(client.get("/w/shop/products?q=filter+07"))
    assert "Filter 07" in found and "Filter 08" not in found
    assert "No products found" in text_of(client.get("/w/shop/products?q=elsewhere"))


@pytest.mark.parametrize("odd", ["abc", "-1", "99999999999999999999", "1.5", "\x00", "²",
                                 "x" * 500])
def test_odd_query_strings_on_the_portal_pages_answer_without_error(app, client, shop, maria,
                                                                     odd):
    for path in ("/w/shop/products", "/w/shop/orders", "/w/shop/basket"):
        response = maria.get(path, query_string={"page": odd, "q": odd})
        assert response.status_code == 200, (path, odd)
    for path in ("/w/shop/orders/abc", "/w/shop/orders/99999999999999999999",
                 "/w/shop/orders/1/confirmation"):
        assert maria.get(path).status_code == 404, path


# --- the basket ---------------------------------------------------------------------------

def test_the_basket_adds_changes_and_removes_without_javascript(app, shop, fridge, visit,
                                                                maria):
    assert add(maria, fridge, "2").status_code == 302
    assert add(maria, fridge, "1").status_code == 302     # again: the quantities add up
    assert add(maria, visit, "3").status_code == 302
    assert basket_rows() == {fridge.id: 3, visit.id: 3}
    page = maria.get("/w/shop/basket")
    assert "Basket 2 in the basket" in text_of(page)       # the count in the menu
    response = maria.post("/w/shop/basket", data={
        "csrf_token": csrf_of(page), f"quantity-{fridge.id}": "5",
        f"quantity-{visit.id}": "1", "update": "1"})
    assert response.status_code == 302
    assert basket_rows() == {fridge.id: 5, visit.id: 1}
    response = maria.post("/w/shop/basket", data={
        "csrf_token": csrf_of(page), f"quantity-{fridge.id}": "5",
        f"quantity-{visit.id}": "oops", "remove": str(visit.id)})
    assert response.status_code == 302 and basket_rows() == {fridge.id: 5}
    assert "Removed from your basket" in text_of(maria.get("/w/shop/basket"))


@pytest.mark.parametrize(("typed", "message"), [
    ("0", "at least 1"), ("-1", "whole number"), ("1.5", "whole number"),
    ("abc", "whole number"), ("", "whole number"), ("٣", "whole number"),
    ("1e3", "whole number"), (str(pricing.MAX_QUANTITY + 1), f"at most {pricing.MAX_QUANTITY}"),
    ("9" * 30, f"at most {pricing.MAX_QUANTITY}")])
def test_a_quantity_that_is_no_positive_whole_number_gets_a_message_and_keeps_the_basket(
        app, shop, fridge, visit, maria, typed, message):
    add(maria, visit, "2")
    response = add(maria, fridge, typed)
    assert response.status_code == 400
    assert message in error_beside(response.get_data(as_text=True), f"quantity-{fridge.id}")
    assert basket_rows() == {visit.id: 2}
    page = maria.get("/w/shop/basket")
    response = maria.post("/w/shop/basket", data={"csrf_token": csrf_of(page),
                                                  f"quantity-{visit.id}": typed, "update": "1"})
    assert response.status_code == 400
    assert message in error_beside(response.get_data(as_text=True), f"quantity-{visit.id}")
    assert f'value="{typed[:20]}"' in response.get_data(as_text=True) or typed == "٣"
    assert basket_rows() == {visit.id: 2}


def test_adding_past_the_maximum_in_two_steps_is_refused(app, shop, fridge, maria):
    add(maria, fridge, str(pricing.MAX_QUANTITY))
    response = add(maria, fridge, "1")
    assert response.status_code == 400
    assert basket_rows() == {fridge.id: pricing.MAX_QUANTITY}
    # the message says why: the basket is at the maximum already (not "Enter at most …")
    message = error_beside(response.get_data(as_text=True), f"quantity-{fridge.id}")
    assert f"holds {pricing.MAX_QUANTITY} of this product already, the most one order" \
        in message


def test_adding_more_than_fits_says_how_many_more_fit(app, shop, fridge, maria):
    add(maria, fridge, str(pricing.MAX_QUANTITY - 10))
    response = add(maria, fridge, "20")
    assert response.status_code == 400
    message = error_beside(response.get_data(as_text=True), f"quantity-{fridge.id}")
    assert f"holds {pricing.MAX_QUANTITY - 10} of this product already: add at most 10 " \
        f"more ({pricing.MAX_QUANTITY} in all)" in message
    assert add(maria, fridge, "10").status_code == 302
    assert basket_rows() == {fridge.id: pricing.MAX_QUANTITY}


def test_basket_changes_are_in_the_audit_log_with_the_address(app, shop, fridge, visit, maria):
    add(maria, fridge, "2")
    add(maria, fridge, "1")
    add(maria, visit, "1")
    page = maria.get("/w/shop/basket")
    maria.post("/w/shop/basket", data={"csrf_token": csrf_of(page),
                                       f"quantity-{fridge.id}": "7",
                                       f"quantity-{visit.id}": "1", "update": "1"})
    maria.post("/w/shop/basket", data={"csrf_token": csrf_of(page), "remove": str(visit.id)})
    lines = [(e.action, e.target, e.detail, e.ip) for e in
             AuditEvent.select().where(AuditEvent.action.startswith("basket."))
             .order_by(AuditEvent.id)]
    who = "shop: maria@example.com"
    assert lines == [("basket.added", who, f"{fridge.number} +2", "127.0.0.1"),
                     ("basket.added", who, f"{fridge.number} +1", "127.0.0.1"),
                     ("basket.added", who, f"{visit.number} +1", "127.0.0.1"),
                     ("basket.changed", who, f"{fridge.number} 3 → 7", "127.0.0.1"),
                     ("basket.removed", who, f"{visit.number} -1", "127.0.0.1")]


def test_an_inactive_product_or_one_of_another_website_cannot_be_put_in_the_basket(
        app, shop, fridge, maria):
    other = open_website("other")
    elsewhere = offer("E-1", "Elsewhere", "5.00", websites=[other])
    products.set_active(fridge, False)
    for product_id in (fridge.id, elsewhere.id, 987654, "abc"):
        page = maria.get("/w/shop/products")
        response = maria.post("/w/shop/basket/add", data={
            "csrf_token": csrf_of(page), "product_id": product_id, "quantity": "1"})
        assert response.status_code == 302
        assert "not offered" in text_of(maria.get(response.headers["Location"]))
    assert not BasketLine.select().exists()


def test_a_product_taken_out_of_the_offer_after_it_was_put_in_the_basket_is_not_ordered(
        app, shop, fridge, visit, maria):
    add(maria, fridge, "1")
    add(maria, visit, "1")
    _page, values = checkout_form(maria)
    products.set_active(fridge, False)
    response = maria.post("/w/shop/checkout", data=values)
    assert response.status_code in (302, 409)
    assert not Order.select().exists()
    basket = text_of(maria.get("/w/shop/basket"))
    assert "No longer offered" in basket
    # once removed, the rest can be ordered
    page = maria.get("/w/shop/basket")
    maria.post("/w/shop/basket", data={"csrf_token": csrf_of(page), "remove": fridge.id})
    assert place(maria).status_code == 302
    assert [line.name for line in OrderLine.select()] == ["Service visit"]


def test_one_customers_basket_is_not_anothers(app, shop, fridge, visit, maria):
    add(maria, fridge, "2")
    other, _ = customer_of(app, shop, company_customer("Olsen Rør AS"), email="ola@olsen.ex")
    add(other, visit, "1")
    page = maria.get("/w/shop/basket")
    assert "Service visit" not in text_of(page)
    # removing another customer's product id changes nothing of theirs
    maria.post("/w/shop/basket", data={"csrf_token": csrf_of(page), "remove": visit.id})
    assert basket_rows() == {fridge.id: 2, visit.id: 1}


# --- checkout and the order ---------------------------------------------------------------

def test_checkout_is_filled_in_from_the_contact(app, shop, fridge, jensen, maria):
    contacts_person = jensen.persons.model.create(contact=jensen, name="Maria Jensen-Berg",
                                                  email="Maria@Example.com", phone="+47 900")
    add(maria, fridge, "1")
    _page, values = checkout_form(maria)
    assert {name: values[name] for name in orders.FORM_FIELDS} == {
        "company_name": "Jensen Bygg AS", "contact_person": contacts_person.name,
        "email": "maria@example.com", "phone": "+47 900",
        "delivery_street": "Storgata 1", "delivery_postcode": "0155", "delivery_city": "Oslo",
        "delivery_country": "NO", "invoice_street": "Postboks 12", "invoice_postcode": "0101",
        "invoice_city": "Oslo", "invoice_country": "NO", "reference": "", "remark": ""}


def test_an_unlinked_customer_gets_what_they_registered_with(app, shop, fridge):
    browser, account = customer_of(app, shop, None)
    IncomingItem.create(website=shop.id, web_account=account.id, kind="registration",
                        values=json.dumps({"company_name": "Solo AS", "contact_person": "Maria",
                                           "phone": "+47 1", "street": "Vei 2",
                                           "postcode": "0200", "city": "Oslo",
                                           "country": "NO"}))
    add(browser, fridge, "1")
    _page, values = checkout_form(browser)
    assert (values["company_name"], values["delivery_street"], values["invoice_city"]) == (
        "Solo AS", "Vei 2", "Oslo")


def test_an_order_keeps_its_prices_and_the_form_changes_only_the_order(app, shop, fridge,
                                                                       visit, jensen, maria):
    add(maria, fridge, "2")
    add(maria, visit, "3")
    response = place(maria, delivery_street="Byggeplass 7", reference="PO 4711",
                     remark="Ring før levering\nTakk")
    assert response.status_code == 302
    order = newest_order()
    assert response.headers["Location"].endswith(f"/w/shop/orders/{order.id}/confirmation")
    assert (order.number, order.status, order.contact_id, order.currency) == (
        f"{order.year}-0001", "received", jensen.id, "EUR")
    assert (order.delivery_street, order.reference, order.remark) == (
        "Byggeplass 7", "PO 4711", "Ring før levering\nTakk")
    assert Contact.get_by_id(jensen.id).visit_street == "Storgata 1"    # unchanged
    lines = list(OrderLine.select().order_by(OrderLine.position))
    assert [(line.product_number, line.quantity, line.net) for line in lines] == [
        ("KS-300", 2, D("899.91")), ("SV-10", 3, D("229.50"))]
    assert order.gross == D("899.91") + D("188.98") + D("229.50") + D("20.66")
    assert not BasketLine.select().exists()
    # a later price change and a renamed product never alter it
    products.save(fridge, {"number": "KS-300", "name": "Renamed", "price": D("1"),
                           "vat_rate": D("25"), "active": True}, [shop.id])
    Contact.update(discount=50).where(Contact.id == jensen.id).execute()
    page = text_of(maria.get(f"/w/shop/orders/{order.id}"))
    assert "Kühlschrank Eco 300" in page and money("899.91") in page
    assert OrderLine.get(OrderLine.position == 1).net == D("899.91")
    confirmation = text_of(maria.get(response.headers["Location"]))
    assert f"Thank you for your order We have received your order {order.number}" in \
        confirmation


def test_the_order_lands_in_the_import_queue_and_the_audit_log(app, shop, fridge, maria):
    add(maria, fridge, "2")
    place(maria, reference="PO 1")
    order = newest_order()
    item = IncomingItem.get(IncomingItem.kind == "order")
    values = json.loads(item.values)
    assert (item.status, item.website_id, item.web_account_id) == (
        "unprocessed", shop.id, order.web_account_id)
    assert values["order_id"] == order.id and values["number"] == order.number
    assert {name: values[name] for name in ("company_name", "delivery_street", "reference")} \
        == {"company_name": "Jensen Bygg AS", "delivery_street": "Storgata 1",
            "reference": "PO 1"}
    assert values["lines"][0]["quantity"] == 2 and values["gross"] == str(order.gross)
    audit = AuditEvent.get(AuditEvent.action == "order.placed")
    assert order.number in audit.target


def test_the_confirmation_mail_comes_from_the_website_in_the_customers_language(
        app, shop, fridge, jensen):
    browser, _account = customer_of(app, shop, jensen, language="nl")
    add(browser, fridge, "2")
    place(browser)
    order = newest_order()
    mail = OutboxMessage.get(OutboxMessage.kind == "portal_order_confirmation")
    assert (mail.to_addr, mail.from_addr, mail.from_name, mail.bcc_addr) == (
        "maria@example.com", "shop@jansen.example", "Jansen Webshop", "office@jansen.example")
    assert mail.subject == f"Uw bestelling {order.number} bij Shop"
    assert "2 × KS-300 Kühlschrank Eco 300: € 899,91" in flat(mail.body)
    assert "€ 1.088,89" in flat(mail.body)
    assert f"https://shop.jansen.example/orders/{order.id}" in mail.body


def test_the_confirmation_is_the_websites_own_text_when_it_wrote_one(app, shop, fridge, maria):
    website_texts.save_text(shop, "order_confirmation", "en", "Order {order_number} is in",
                            "Hi {customer_name}, total {order_total}. Ref {reference}.", None)
    add(maria, fridge, "1")
    place(maria, reference="R-9")
    mail = OutboxMessage.get(OutboxMessage.kind == "portal_order_confirmation")
    assert mail.subject == f"Order {newest_order().number} is in"
    assert flat(mail.body).startswith(f"Hi Maria Jensen, total {money('544.45')}. Ref R-9.")


def test_the_order_confirmation_and_status_texts_are_editable_per_website(app, admin_client,
                                                                          shop):
    page = text_of(admin_client.get(f"/admin/websites/{shop.id}/texts"))
    assert "Order confirmation" in page and "Order status changed" in page
    page = admin_client.get(f"/admin/websites/{shop.id}/texts/order_confirmation/de")
    assert "{order_lines}" in text_of(page)
    assert "Ihre Bestellung {order_number}" in page.get_data(as_text=True)


def test_a_double_submitted_order_is_placed_once(app, shop, fridge, maria):
    add(maria, fridge, "1")
    _page, values = checkout_form(maria)
    first = maria.post("/w/shop/checkout", data=values)
    second = maria.post("/w/shop/checkout", data=values)        # two clicks / Back and send
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert Order.select().count() == 1 and OrderLine.select().count() == 1
    assert IncomingItem.select().where(IncomingItem.kind == "order").count() == 1
    assert OutboxMessage.select().where(
        OutboxMessage.kind == "portal_order_confirmation").count() == 1
    # Back to the checkout page (a fresh page, a fresh key): the basket is empty now
    again = maria.get("/w/shop/checkout")
    assert again.status_code == 302 and again.headers["Location"].endswith("/w/shop/basket")
    assert Order.select().count() == 1


def test_two_clicks_at_once_make_one_order(app, shop, fridge, maria):
    add(maria, fridge, "1")
    _page, values = checkout_form(maria)
    start = threading.Barrier(2)
    answers = []

    def click():
        start.wait()
        answers.append(maria.post("/w/shop/checkout", data=values))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [302, 302]
    assert Order.select().count() == 1 and OrderLine.select().count() == 1
    assert {answer.headers["Location"] for answer in answers} == {
        f"/w/shop/orders/{newest_order().id}/confirmation"}


def test_an_order_is_made_only_from_the_basket_the_checkout_showed(app, shop, fridge, visit,
                                                                   maria):
    add(maria, fridge, "1")
    _page, values = checkout_form(maria)
    add(maria, visit, "5")         # in another window, meanwhile
    response = maria.post("/w/shop/checkout", data=values)
    assert response.status_code == 409
    assert "Your basket changed meanwhile" in text_of(response)
    assert not Order.select().exists()
    assert place(maria).status_code == 302
    assert OrderLine.select().count() == 2


def test_a_price_changed_after_the_checkout_page_opened_is_not_charged_unseen(app, shop, fridge,
                                                                              maria):
    add(maria, fridge, "2")
    _page, values = checkout_form(maria)
    products.save(fridge, {"number": "KS-300", "name": "Kühlschrank Eco 300",
                           "price": D("999.00"), "vat_rate": D("21"), "active": True,
                           "unit": "piece", "description": ""}, [shop.id],
                  opened_version=fridge.version)
    response = maria.post("/w/shop/checkout", data=values)
    assert response.status_code == 409
    assert "Prices changed since you opened the checkout" in text_of(response)
    assert not Order.select().exists()
    assert place(maria).status_code == 302
    assert newest_order().net_cents == 2 * 89910          # the new price, seen and confirmed


def test_checkout_needs_a_delivery_address_and_a_valid_email(app, shop, fridge, maria):
    add(maria, fridge, "1")
    response = place(maria, delivery_street="", email="not an address")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error_beside(page, "delivery_street") and error_beside(page, "email")
    assert not Order.select().exists() and basket_rows() == {fridge.id: 1}


def test_an_empty_basket_cannot_be_ordered(app, shop, maria):
    response = maria.get("/w/shop/checkout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/basket")
    _page = maria.get("/w/shop/basket")
    response = maria.post("/w/shop/checkout", data={"csrf_token": csrf_of(_page),
                                                    "form_key": "k" * 32, "basket": "",
                                                    "contact_person": "M", "email": "m@x.io",
                                                    "delivery_street": "a",
                                                    "delivery_postcode": "1",
                                                    "delivery_city": "c"})
    assert response.status_code == 302 and not Order.select().exists()


def test_order_numbers_count_up_per_year(app, shop, fridge, maria):
    for _ in range(3):
        add(maria, fridge, "1")
        place(maria)
    numbers = [order.seq for order in Order.select().order_by(Order.id)]
    assert numbers == [1, 2, 3]


# --- the queue's link ---------------------------------------------------------------------

def test_an_unlinked_customers_order_waits_for_the_queue_to_link_it(app, shop, fridge, staff):
    browser, account = customer_of(app, shop, None, email="new@firma.example")
    add(browser, fridge, "1")
    place(browser, company_name="Ny Firma AS", **ADDRESS)
    order = newest_order()
    assert order.contact_id is None
    contact = company_customer("Ny Firma AS", discount="0")
    assert orders.link_to_contact(order, contact, staff) is True
    assert orders.link_to_contact(Order.get_by_id(order.id), contact, staff) is False
    assert Order.select().count() == 1 and OrderLine.select().count() == 1
    assert Order.get_by_id(order.id).contact_id == contact.id
    assert {event.contact_id for event in OrderEvent.select()} == {contact.id}
    assert AuditEvent.select().where(AuditEvent.action == "order.linked").count() == 1
    with pytest.raises(orders.LinkedElsewhere):
        orders.link_to_contact(order, company_customer("Someone Else"), staff)
    assert Order.get_by_id(order.id).contact_id == contact.id


# --- my orders and access -----------------------------------------------------------------

@pytest.fixture
def two_companies(app, shop, fridge, visit):
    """Maria and her colleague Per at Jensen Bygg, and Ola at Olsen Rør, each with an order."""
    jensen = company_customer()
    olsen = company_customer("Olsen Rør AS", discount="0")
    maria, _ = customer_of(app, shop, jensen)
    per, _ = customer_of(app, shop, jensen, email="per@jensen.example", name="Per")
    ola, _ = customer_of(app, shop, olsen, email="ola@olsen.example", name="Ola")
    placed = {}
    for name, browser, product in (("maria", maria, fridge), ("per", per, visit),
                                   ("ola", ola, visit)):
        add(browser, product, "1")
        place(browser)
        placed[name] = newest_order()
    return {"maria": maria, "per": per, "ola": ola, "orders": placed}


def test_my_orders_lists_mine_and_my_colleagues_with_status_and_lines(app, two_companies):
    placed = two_companies["orders"]
    page = text_of(two_companies["maria"].get("/w/shop/orders"))
    assert placed["maria"].number in page and placed["per"].number in page
    assert placed["ola"].number not in page
    assert "1 × Kühlschrank Eco 300" in page and "Received" in page
    page = text_of(two_companies["ola"].get("/w/shop/orders"))
    assert placed["ola"].number in page and placed["maria"].number not in page


@pytest.mark.parametrize("path", ["/w/shop/orders/{id}", "/w/shop/orders/{id}/confirmation"])
def test_a_customer_asking_for_another_companys_order_gets_404(app, two_companies, path):
    placed = two_companies["orders"]
    ola, maria = two_companies["ola"], two_companies["maria"]
    assert ola.get(path.format(id=placed["maria"].id)).status_code == 404
    assert ola.get(path.format(id=placed["per"].id)).status_code == 404
    assert maria.get(path.format(id=placed["ola"].id)).status_code == 404
    assert maria.get(path.format(id=placed["per"].id)).status_code == 200   # a colleague's
    assert ola.get(path.format(id=placed["ola"].id)).status_code == 200


def test_an_order_of_another_website_is_not_found_there(app, two_companies):
    open_website("other")
    placed = two_companies["orders"]["maria"]
    assert two_companies["maria"].get(f"/w/other/orders/{placed.id}").status_code in (302, 404)


def test_staff_pages_are_for_staff_only(app, client, two_companies):
    order = two_companies["orders"]["maria"]
    for path in ("/orders", f"/orders/{order.id}", "/orders/export.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    # a customer's portal session is no staff session
    assert two_companies["maria"].get(f"/orders/{order.id}").status_code == 302


# --- the staff side -----------------------------------------------------------------------

def test_staff_list_orders_of_all_websites_and_of_one(app, staff_client, two_companies):
    other = open_website("other")
    thing = offer("O-1", "Other thing", "3.00", websites=[other])
    browser, _ = customer_of(app, other, None, email="x@y.example")
    add(browser, thing, "1", slug="other")
    place(browser, slug="other", company_name="Other Customer", **ADDRESS)
    everything = text_of(staff_client.get("/orders"))
    assert "Other Customer" in everything and "Jensen Bygg AS" in everything
    shop_id = two_companies["orders"]["maria"].website_id
    only_shop = text_of(staff_client.get(f"/orders?website={shop_id}"))
    assert "Other Customer" not in only_shop and "Olsen Rør AS" in only_shop
    assert staff_client.get("/orders?website=987654").status_code == 404
    assert staff_client.get("/orders?website=abc").status_code == 404
    found = text_of(staff_client.get("/orders?q=olsen"))
    assert "Olsen Rør AS" in found and "Jensen Bygg AS" not in found
    number = two_companies["orders"]["per"].number
    found = text_of(staff_client.get(f"/orders?q={number}"))
    assert number in found and two_companies["orders"]["maria"].number not in found
    assert "No orders found" in text_of(staff_client.get("/orders?status=shipped"))
    assert staff_client.get("/orders?status=%00&page=x&q=%00").status_code == 200


def test_staff_move_an_order_on_and_the_customer_sees_it_and_is_mailed(app, staff_client,
                                                                       two_companies):
    order = two_companies["orders"]["maria"]
    page = staff_client.get(f"/orders/{order.id}")
    assert "Confirmed Cancelled" in text_of(page) and "Shipped" not in text_of(page).split(
        "New status")[1].split("The customer")[0]
    response = staff_client.form(f"/orders/{order.id}", {"status": "confirmed", "version": "1"})
    assert response.status_code == 302
    assert Order.get_by_id(order.id).status == "confirmed"
    mail = OutboxMessage.select().order_by(OutboxMessage.id.desc()).first()
    assert (mail.kind, mail.to_addr, mail.bcc_addr) == (
        "portal_order_status", "maria@example.com", "office@jansen.example")
    assert mail.subject == f"Your order {order.number}: Confirmed"
    response = staff_client.form(f"/orders/{order.id}", {"status": "shipped", "version": "2"})
    assert response.status_code == 302
    page = text_of(two_companies["maria"].get(f"/w/shop/orders/{order.id}"))
    assert "Status Shipped" in page and "Status: Confirmed" in page
    assert "Shipped" in text_of(two_companies["maria"].get("/w/shop/orders"))
    page = text_of(staff_client.get(f"/orders/{order.id}"))
    assert "its status no longer changes" in page and "Received → Confirmed" in page
    assert AuditEvent.select().where(AuditEvent.action == "order.status_changed").count() == 2


@pytest.mark.parametrize(("start", "asked"), [
    ("received", "shipped"), ("shipped", "cancelled"), ("cancelled", "received"),
    ("received", "received"), ("received", "lost"), ("received", "")])
def test_a_status_the_transitions_do_not_allow_is_refused(app, staff_client, staff,
                                                          two_companies, start, asked):
    order = two_companies["orders"]["maria"]
    Order.update(status=start).where(Order.id == order.id).execute()
    response = staff_client.form(f"/orders/{order.id}", {"status": asked, "version": "1"})
    assert response.status_code == 400
    assert Order.get_by_id(order.id).status == start
    with pytest.raises(orders.StatusNotAllowed):
        orders.change_status(order, asked, staff)


def test_two_staff_members_changing_one_order_lose_nothing(app, staff_client, two_companies):
    order = two_companies["orders"]["maria"]
    colleague = make_user("mila@jansen.example", name="Mila Bos")
    other = app.test_client()
    sign_in(other, colleague.email)
    assert other.form(f"/orders/{order.id}", {"status": "cancelled", "version": "1"}) \
        .status_code == 302
    response = staff_client.form(f"/orders/{order.id}", {"status": "confirmed",
                                                          "version": "1"})
    assert response.status_code == 409
    assert "Someone changed this order" in text_of(response)
    assert Order.get_by_id(order.id).status == "cancelled"


def test_the_contact_timeline_shows_its_orders(app, staff_client, two_companies):
    order = two_companies["orders"]["maria"]
    staff_client.form(f"/orders/{order.id}", {"status": "confirmed", "version": "1"})
    page = text_of(staff_client.get(f"/contacts/{order.contact_id}")).replace(" :", ":")
    assert f"Order {order.number}: placed on the portal" in page
    assert f"Order {order.number}: status Received → Confirmed" in page


def test_the_export_has_every_line_in_the_readers_language_and_is_safe(app, staff_client,
                                                                       shop, fridge, visit):
    browser, _ = customer_of(app, shop, company_customer("=HYPERLINK(\"x\")", discount="12.5"))
    add(browser, fridge, "2")
    add(browser, visit, "1")
    place(browser, reference="@SUM(A1)", remark="-2+3")
    response = staff_client.get("/orders/export.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Order number", "Date (UTC)", "Status"] and len(rows) == 3
    header = rows[0]
    first = dict(zip(header, rows[1], strict=True))
    assert first["Company name"] == "'=HYPERLINK(\"x\")"
    assert (first["Reference"], first["Remark"]) == ("'@SUM(A1)", "'-2+3")
    assert (first["Product number"], first["Quantity"], first["Unit price"],
            first["Line excl. VAT"], first["Discount %"]) == ("KS-300", "2", "437.46",
                                                               "874.91", "12.50")
    assert AuditEvent.select().where(AuditEvent.action == "orders.exported").exists()
    staff_client.form("/language", {"language": "de", "next": "/orders"})
    german = staff_client.get("/orders/export.csv").get_data(as_text=True)
    assert german.lstrip("\ufeff").startswith("Bestellnummer;Datum (UTC);Status")
    assert ";874,91;" in german


# --- query counts -------------------------------------------------------------------------

def count_queries(client, path):
    """The queries of the page `path`, without the session's own bookkeeping (its "last
    seen" is written now and then, not on every page)."""
    with queries() as ran:
        response = client.get(path)
        assert response.status_code == 200, path
    return len([sql for sql, _params in ran if '"user_session"' not in sql])


def test_pages_take_as_many_queries_for_many_rows_as_for_few(app, shop, staff_client, jensen):
    browser, account = customer_of(app, shop, jensen)
    few = [offer(f"A-{n}", f"Article {n}", "1.00", websites=[shop]) for n in range(2)]
    for product in few:
        add(browser, product, "1")
    place(browser)
    for product in few:
        add(browser, product, "1")
    small = {path: count_queries(browser, path) for path in (
        "/w/shop/products", "/w/shop/basket", "/w/shop/orders", "/w/shop/checkout")}
    first = newest_order()
    staff_pages = ("/orders", "/orders/{id}", f"/contacts/{jensen.id}")
    small_staff = [count_queries(staff_client, path.format(id=first.id)) for path in staff_pages]
    many = [offer(f"B-{n}", f"Bulk {n}", "1.00", websites=[shop]) for n in range(25)]
    for _ in range(12):
        for product in many[:12]:
            add(browser, product, "1")
        place(browser)
    for product in many:
        add(browser, product, "2")
    large = {path: count_queries(browser, path) for path in small}
    large_staff = [count_queries(staff_client, path.format(id=newest_order().id))
                   for path in staff_pages]
    # 12 orders and 25 basket lines more: a query per row would add 10 or more; a page may
    # differ by one with the session's time-dependent bookkeeping on a slow machine
    for path, count in large.items():
        assert count <= small[path] + 1, (path, count, small[path])
    for count, before in zip(large_staff, small_staff, strict=True):
        assert count <= before + 1, (large_staff, small_staff)
    assert max(large.values()) <= 12, large


def test_the_staff_order_page_of_an_unknown_order_is_not_found(app, staff_client):
    assert staff_client.get("/orders/987654").status_code == 404
    assert staff_client.get("/orders/99999999999999").status_code == 404


def test_products_not_offered_stay_out_of_the_page_even_with_their_id(app, client, shop):
    hidden = offer("H-1", "Hidden", "1.00", websites=[shop], active=False)
    assert hidden.id and "Hidden" not in text_of(client.get("/w/shop/products?q=H-1"))
    assert Product.get_by_id(hidden.id).active is False


ODD_VALUES = ["\x00", "-1", "99999999999999999999", "1e9", "x" * 5000, "١", "<script>", " "]


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_odd_values_posted_to_every_portal_form_answer_without_error(app, shop, fridge, maria,
                                                                     odd):
    add(maria, fridge, "1")
    token = csrf_of(maria.get("/w/shop/basket"))
    fields = {name: odd for name in (*orders.FORM_FIELDS, "product_id", "quantity", "basket",
                                     "form_key", "remove", "q", "page",
                                     f"quantity-{fridge.id}")}
    for path in ("/w/shop/basket/add", "/w/shop/basket", "/w/shop/checkout"):
        response = maria.post(path, data={**fields, "csrf_token": token})
        assert response.status_code < 500, (path, repr(odd[:10]))
        if path != "/w/shop/basket":   # Remove with an odd id removes nothing
            assert basket_rows() == {fridge.id: 1}
    assert not Order.select().exists()
    assert "<script>" not in maria.get("/w/shop/basket").get_data(as_text=True)
