"""The portal's products, basket, checkout and "My orders" (SPEC section 7; issue 14 items
2-3). Routes on the portal's blueprint; the rules are in kontor/orders.py and the prices in
kontor/pricing.py. Everything works without JavaScript: the basket is a form with a quantity
box per line and a Remove button per line, kept on the server per web account."""
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from blueprints.forms import ALREADY_SAVED, Form, country_field, email_field, form_key_field
from blueprints.portal.views import bp, page_language
from blueprints.portal.website import current_website
from kontor import form_keys, orders, pricing, web_accounts
from kontor.access import portal_sign_in_required, public, signed_in_customer
from kontor.order_mail import STATUS_LABELS
from kontor.paging import paginate
from kontor.text import whole_number

PRODUCTS_PER_PAGE = 20
ORDERS_PER_PAGE = 20

QUANTITY_MESSAGES = {
    "not_whole": _l("Enter the quantity as a whole number, such as 3."),
    "zero": _l("Enter a quantity of at least 1 (use Remove to take a product out)."),
    "too_large": _l("Enter at most %(max)s.", max=pricing.MAX_QUANTITY),
}
CANNOT_ORDER = {
    "empty": _l("Your basket is empty."),
    "changed": _l("Your basket changed meanwhile (in another window?). Check it below and "
                  "confirm again."),
    "prices_changed": _l("Prices changed since you opened the checkout. Check the new prices "
                         "below and confirm again."),
    "unavailable": _l("These products are no longer offered: %(names)s. Remove them from "
                      "your basket, then order."),
    "too_many_lines": _l("Your basket is full: order what is in it first."),
}


def quantity_message(reason, in_basket=0):
    """The message beside a quantity field; "at_most": adding would pass the maximum, with
    `in_basket` of the product in the basket already."""
    if reason == "at_most":
        if in_basket >= pricing.MAX_QUANTITY:
            return _("Your basket holds %(num)s of this product already, the most one order "
                     "can have.", num=in_basket)
        return _("Your basket holds %(have)s of this product already: add at most %(more)s "
                 "more (%(max)s in all).", have=in_basket,
                 more=pricing.MAX_QUANTITY - in_basket, max=pricing.MAX_QUANTITY)
    message = QUANTITY_MESSAGES.get(reason, QUANTITY_MESSAGES["not_whole"])
    return str(message)


@bp.app_context_processor
def basket_in_menu():
    """`basket_count()` for the portal's menu: how many products the signed-in customer's
    basket holds (counted once per page, only when the menu asks)."""
    def basket_count():
        if not signed_in_customer():
            return 0
        if "basket_count" not in g:
            g.basket_count = orders.basket_count(current_user)
        return g.basket_count
    return {"basket_count": basket_count}


def customer():
    """The signed-in customer's web account, or None."""
    return current_user._get_current_object() if signed_in_customer() else None


# --- products -----------------------------------------------------------------------------

@bp.route("/products")
@public
def products():
    """The products this website offers, searchable, 20 to a page; the prices as the
    website's protection allows, with the signed-in customer's own price after their
    discount."""
    return render_products()


def render_products(errors=None, typed=None, status=200):
    website = current_website()
    account = customer()
    text = request.values.get("q", "")[:100]
    page = paginate(orders.offered(website, text), request.values.get("page"),
                    per_page=PRODUCTS_PER_PAGE)
    contact = orders.contact_of(account)
    discount = orders.discount_of(contact)
    show_prices = orders.shows_prices(website, account is not None)
    rows = [(product, orders.priced(product, 1, discount)) for product in page.items]
    return render_template("portal/products.html", page=page, q=text, rows=rows,
                           show_prices=show_prices, discount=discount, account=account,
                           errors=errors or {}, typed=typed or {},
                           max_quantity=pricing.MAX_QUANTITY), status


@bp.route("/basket/add", methods=["POST"])
@portal_sign_in_required
def add_to_basket():
    """Put a product into the basket (a quantity beside it); back to the products page.
    A product not active or not offered here is refused, whatever the form says."""
    form = Form()
    if not form.validate_on_submit():
        abort(400)
    website = current_website()
    product_id = whole_number(request.form.get("product_id", ""))
    if orders.product_on_offer(website, product_id) is None:
        flash(_("This product is not offered (any more), so it cannot be ordered."), "error")
        return redirect(url_for("portal.products"))
    try:
        quantity = orders.parse_quantity(request.form.get("quantity", "1"))
        product = orders.add_to_basket(current_user, website, product_id, quantity,
                                       ip=request.remote_addr)
    except orders.BadQuantity as refused:
        return render_products(errors={product_id: quantity_message(refused.reason,
                                                                    refused.in_basket)},
                               typed={product_id: request.form.get("quantity", "")[:20]},
                               status=400)
    except orders.NotOffered:
        flash(_("This product is not offered (any more), so it cannot be ordered."), "error")
        return redirect(url_for("portal.products"))
    except orders.CannotOrder as refused:
        flash(CANNOT_ORDER[refused.reason], "error")
        return redirect(url_for("portal.basket"))
    flash(_("Added to your basket: %(quantity)s × %(name)s.", quantity=quantity,
            name=product.name), "success")
    back = {name: request.form.get(name) for name in ("q", "page")
            if request.form.get(name)}
    return redirect(url_for("portal.products", **back) + f"#product-{product.id}")


# --- the basket ---------------------------------------------------------------------------

@bp.route("/basket", methods=["GET", "POST"])
@portal_sign_in_required
def basket():
    """The basket: change quantities (one button for all), remove a line, go to checkout."""
    website = current_website()
    errors, typed = {}, {}
    if request.method == "POST":
        if not Form().validate_on_submit():
            abort(400)
        removed = request.form.get("remove")
        if removed is not None:
            if orders.remove_from_basket(current_user, removed, ip=request.remote_addr):
                flash(_("Removed from your basket."), "success")
            return redirect(url_for("portal.basket"))
        current = orders.basket_of(current_user, website)
        quantities = {}
        for item in current.items:
            name = f"quantity-{item.product.id}"
            if name not in request.form:
                continue
            typed[item.product.id] = request.form.get(name, "")[:20]
            try:
                quantities[item.product.id] = orders.parse_quantity(request.form[name])
            except orders.BadQuantity as refused:
                errors[item.product.id] = quantity_message(refused.reason)
        if not errors:
            if orders.set_quantities(current_user, quantities, ip=request.remote_addr):
                flash(_("Your basket is updated."), "success")
            if request.form.get("checkout"):
                return redirect(url_for("portal.checkout"))
            return redirect(url_for("portal.basket"))
    current = orders.basket_of(current_user, website)
    return render_template("portal/basket.html", basket=current, errors=errors, typed=typed,
                           form=Form(), max_quantity=pricing.MAX_QUANTITY), \
        400 if errors else 200


# --- checkout -----------------------------------------------------------------------------

class CheckoutForm(Form):
    """The order form, pre-filled from the customer's contact; editable for this order
    only (nothing here changes the contact)."""
    company_name = StringField(_l("Company name"), validators=[Optional(), Length(max=200)],
                               render_kw={"autocomplete": "organization"})
    contact_person = StringField(_l("Contact person"), validators=[DataRequired(),
                                                                   Length(max=200)],
                                 render_kw={"autocomplete": "name"})
    email = email_field(_l("E-mail"))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)],
                        render_kw={"autocomplete": "tel"})
    delivery_street = StringField(_l("Street and number"), validators=[DataRequired(),
                                                                       Length(max=200)],
                                  render_kw={"autocomplete": "shipping street-address"})
    delivery_postcode = StringField(_l("Postcode"), validators=[DataRequired(),
                                                                Length(max=20)],
                                    render_kw={"autocomplete": "shipping postal-code"})
    delivery_city = StringField(_l("City"), validators=[DataRequired(), Length(max=100)],
                                render_kw={"autocomplete": "shipping address-level2"})
    delivery_country = country_field(_l("Country"), validators=[Optional()],
                                     render_kw={"autocomplete": "shipping country"})
    invoice_street = StringField(_l("Street and number"), validators=[Optional(),
                                                                      Length(max=200)],
                                 render_kw={"autocomplete": "billing street-address"})
    invoice_postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=20)],
                                   render_kw={"autocomplete": "billing postal-code"})
    invoice_city = StringField(_l("City"), validators=[Optional(), Length(max=100)],
                               render_kw={"autocomplete": "billing address-level2"})
    invoice_country = country_field(_l("Country"), validators=[Optional()],
                                    render_kw={"autocomplete": "billing country"})
    reference = StringField(_l("Your reference (optional)"),
                            validators=[Optional(), Length(max=100)],
                            description=_l("Such as your purchase order number."))
    remark = TextAreaField(_l("Remark (optional)"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 3})
    basket = HiddenField()
    form_key = form_key_field()
    submit = SubmitField(_l("Place order"))

    def values(self):
        return {name: getattr(self, name).data or "" for name in orders.FORM_FIELDS}


@bp.route("/checkout", methods=["GET", "POST"])
@portal_sign_in_required
def checkout():
    """Check out: the order form pre-filled from the customer's contact, the basket as it
    will be ordered, and Place order. A second post of the same form (two clicks, Back and
    send again) leads to the order placed by the first."""
    website = current_website()
    account = current_user._get_current_object()
    if request.method == "GET":
        defaults = orders.checkout_defaults(account, web_accounts.details_of(account)
                                            if account.contact_id is None else None)
        form = CheckoutForm(data=defaults)
    else:
        form = CheckoutForm()
    current = orders.basket_of(account, website)
    if request.method == "POST" and form.validate_on_submit():
        try:
            order = orders.place_order(account, website, form.values(), form.basket.data,
                                       form.form_key.data, page_language(),
                                       ip=request.remote_addr or "")
        except form_keys.AlreadySaved:
            order = orders.order_for_key(account, form.form_key.data)
            flash(ALREADY_SAVED, "info")
            if order is not None:
                return redirect(url_for("portal.order_placed", order_id=order.id))
            return redirect(url_for("portal.my_orders"))
        except orders.CannotOrder as refused:
            if refused.reason in ("changed", "prices_changed"):
                flash(CANNOT_ORDER[refused.reason], "warning")
                form.basket.data = current.fingerprint
                form.form_key.data = form_keys.new_key()
                return render_template("portal/checkout.html", form=form, basket=current), 409
            flash(str(CANNOT_ORDER[refused.reason]) % {"names": ", ".join(refused.names)},
                  "error")
            return redirect(url_for("portal.basket"))
        return redirect(url_for("portal.order_placed", order_id=order.id))
    if not current.items and request.method == "GET":
        flash(CANNOT_ORDER["empty"], "info")
        return redirect(url_for("portal.basket"))
    if request.method == "GET" or not form.basket.data:
        form.basket.data = current.fingerprint
    return render_template("portal/checkout.html", form=form, basket=current), \
        400 if form.errors else 200


# --- my orders ----------------------------------------------------------------------------

def own_order(order_id):
    """The customer's order `order_id` (theirs or their contact's on this website); 404 for
    any other (SECURITY.md 38)."""
    order = orders.customer_order(current_user, order_id)
    if order is None:
        abort(404)
    return order


@bp.route("/orders/<int:order_id>/confirmation")
@portal_sign_in_required
def order_placed(order_id):
    """Thank you: the order as placed, its number, and that a confirmation is mailed."""
    order = orders.with_lines([own_order(order_id)])[0]
    return render_template("portal/order.html", order=order, placed=True,
                           events=orders.events_of(order), statuses=STATUS_LABELS)


@bp.route("/orders")
@portal_sign_in_required
def my_orders():
    """My orders: the customer's and their company's orders on this website, newest first,
    with status and lines."""
    page = paginate(orders.for_customer(current_user), request.args.get("page"),
                    per_page=ORDERS_PER_PAGE)
    orders.with_lines(page.items)
    return render_template("portal/orders.html", page=page, statuses=STATUS_LABELS)


@bp.route("/orders/<int:order_id>")
@portal_sign_in_required
def order(order_id):
    """One order: its lines, amounts, addresses and what happened to it."""
    found = orders.with_lines([own_order(order_id)])[0]
    return render_template("portal/order.html", order=found, placed=False,
                           events=orders.events_of(found), statuses=STATUS_LABELS)

