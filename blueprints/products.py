"""Products (SPEC section 7; issue 14 item 1): every staff member may look them up; superusers
add and change them, take them out of the offer, choose the websites that offer each, and
export them as CSV for the business system."""
import base64
import json
import re
from decimal import Decimal

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from markupsafe import escape
from playhouse.flask_utils import get_object_or_404
from wtforms import (
    BooleanField,
    HiddenField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from blueprints.common import ask_first
from blueprints.forms import ALREADY_SAVED, ActionForm, Form, LocalDecimalField, form_key_field
from kontor import audit, form_keys, languages, products, versions, websites
from kontor.access import superuser_required
from kontor.paging import paginate
from kontor.web import attachment, current_company
from models import Product

bp = Blueprint("products", __name__, url_prefix="/products")


class InRange(NumberRange):
    """NumberRange that says nothing about a value that is no number: the field's own "not a
    valid decimal value" is the one message beside it."""

    def __call__(self, form, field):
        if field.data is not None:
            super().__call__(form, field)


def currency():
    """The company's currency, from the company row the page reads anyway (current_company)."""
    company = current_company()
    return company.currency if company is not None else "EUR"


def amount_text(amount):
    """An amount in the reader's number format ("1,249.50", "1.249,50", "1 249,50"), as the
    price messages show their examples and limits."""
    return format_decimal(Decimal(amount), format="#,##0.00")


def N_(text):   # noqa: N802 (babel's keyword for a message translated later)
    """Mark `text` for translation without translating it now (LocalMessage does, later)."""
    return text


class LocalMessage:
    """A validator's message with amounts, written when it is shown: in the reader's
    language and number format (a message made once, when the form class is, would keep the
    first reader's)."""

    def __init__(self, text, **amounts):
        self.text, self.amounts = text, amounts

    def __str__(self):
        return _(self.text, **{name: amount_text(value)
                               for name, value in self.amounts.items()})

    def __html__(self):
        return str(escape(str(self)))

    def __mod__(self, values):   # WTForms' NumberRange formats its message: ours formats itself
        return self


PRICE_EXAMPLE = "1249.50"
# "-5", "− 5", "€ -5": a price with a minus sign gets its own message (issue 14 follow-up)
_NEGATIVE = re.compile(r"^\s*(?:\S{1,3}\s*)?[-\u2212]\s*[0-9]")


class PriceField(LocalDecimalField):
    """A price as the reader writes it, with or without thousands separators ("1.249,50",
    "1 249,50", "1,249.50", "1249.50") and the company's currency sign: the import's rules
    (kontor/products.py read_amount). One separator before three digits is ambiguous and
    refused; a negative amount is refused with a message of its own."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0].strip():
            typed = valuelist[0]
            amount = products.read_amount(typed, Decimal("1e12"), currency())
            if amount is None:
                self.data = None
                if _NEGATIVE.match(typed):
                    raise ValueError(_("A price cannot be negative: enter %(zero)s or more.",
                                       zero=amount_text(0)))
                raise ValueError(_("Write the price like %(example)s.",
                                   example=amount_text(PRICE_EXAMPLE)))
            self.data = amount
            return
        super().process_formdata(valuelist)


class WebsiteChoices(SelectMultipleField):
    """The websites that offer a product: ids of ASCII digits only ("١" is no id; an id of
    no website is left out when saving)."""

    def process_formdata(self, valuelist):
        if not all(isinstance(v, str) and v.isascii() and v.isdigit() for v in valuelist):
            self.data = []
            raise ValueError(_("Choose websites from the list."))
        self.data = [int(v) for v in valuelist]


def visible(form, field):
    """A required text must have something visible (not only zero-width characters)."""
    if not products.visible_line(field.data):
        raise StopValidation(_("This field is required."))


class ProductForm(Form):
    number = StringField(_l("Product number"), validators=[visible, Length(max=40)])
    name = StringField(_l("Name"), validators=[visible, Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)],
                                render_kw={"rows": 4})
    unit = StringField(_l("Unit"), validators=[Length(max=30)],
                       description=_l("Such as “piece”, “box of 10” or “hour”."))
    price = PriceField(_l("Price excluding VAT"), places=2, validators=[
        InputRequired(LocalMessage(N_("Enter a price, such as %(example)s."),
                                    example="12.50")),
        InRange(0, products.MAX_PRICE, LocalMessage(
            N_("Enter a price from %(min)s to %(max)s."), min=0, max=products.MAX_PRICE))])
    vat_rate = LocalDecimalField(_l("VAT rate (%)"), places=2, default=0, validators=[
        InputRequired(_l("Enter a VAT rate, such as 21.")),
        InRange(0, 100, _l("Enter a VAT rate from 0 to 100."))])
    active = BooleanField(_l("Offered (active)"), default=True)
    websites = WebsiteChoices(_l("Offered on these websites"), coerce=int,
                                   widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput(), validate_choice=False)
    version = HiddenField()
    submit = SubmitField(_l("Save product"))

    def validate_price(self, field):
        if field.data is not None and field.data != round(field.data, 2):
            raise ValidationError(_("Use at most two decimals."))

    validate_vat_rate = validate_price


class NewProductForm(ProductForm):
    form_key = form_key_field()


def website_choices():
    return [(site.id, site.name) for site in websites.listed()]


def get_product(product_id):
    return get_object_or_404(Product, Product.id == product_id)


@bp.route("")
def index():
    """The products, searchable, 50 to a page; superusers also see inactive ones."""
    text = request.args.get("q", "")[:100]
    show_inactive = current_user.is_superuser and request.args.get("inactive") == "1"
    page = paginate(products.listing(text, include_inactive=show_inactive),
                    request.args.get("page"))
    return render_template("products/list.html", page=page, q=text, inactive=show_inactive,
                           currency=currency(), form=ActionForm())


def save_from_form(product, form):
    values = {name: getattr(form, name).data for name in products.FIELDS}
    try:
        saved = products.save(product, values, form.websites.data or [],
                              versions.opened_version(form.version.data)
                              if product is not None else None,
                              form.form_key.data if product is None else None)
    except products.Duplicate:
        form.number.errors.append(_("Another product already has this number."))
        return render_form(form, product, 400)
    except form_keys.AlreadySaved:
        flash(ALREADY_SAVED, "info")
        return redirect(url_for("products.index"))
    except versions.ChangedMeanwhile as clash:
        form.version.data = clash.current.version   # saving again now overwrites knowingly
        return render_form(form, product, 409, conflict=clash.current)
    audit.record("product.created" if product is None else "product.updated",
                 user=current_user, target=f"{saved.number} {saved.name}", ip=request.remote_addr)
    flash(_("Product %(number)s saved.", number=saved.number), "success")
    return redirect(url_for("products.index", q=saved.number))


def render_form(form, product, status=200, conflict=None):
    return render_template("products/form.html", form=form, product=product,
                           conflict=conflict, currency=currency()), status


@bp.route("/new", methods=["GET", "POST"])
@superuser_required
def new():
    """Add a product."""
    form = NewProductForm()
    form.websites.choices = website_choices()
    if form.validate_on_submit():
        return save_from_form(None, form)
    return render_form(form, None, 400 if form.errors else 200)


@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@superuser_required
def edit(product_id):
    """Change a product: its details, price, VAT rate and websites."""
    product = get_product(product_id)
    form = ProductForm(obj=product)
    form.websites.choices = website_choices()
    if request.method == "GET":
        form.websites.data = products.offered_on(product)
    if form.validate_on_submit():
        return save_from_form(product, form)
    return render_form(form, product, 400 if form.errors else 200)


@bp.route("/<int:product_id>/deactivate", methods=["POST"])
@superuser_required
def deactivate(product_id):
    """Take a product out of the offer (it can no longer be ordered), after a confirmation."""
    product = get_product(product_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if product.active:
        asked = ask_first(_("Take %(name)s out of the offer?", name=product.name),
                          _("Customers can no longer order it. Orders placed already keep "
                            "it; you can offer it again later."),
                          _("Take out of the offer"), url_for("products.index"))
        if asked:
            return asked
    if products.set_active(product, False):
        audit.record("product.deactivated", user=current_user,
                     target=f"{product.number} {product.name}", ip=request.remote_addr)
        flash(_("%(name)s is no longer offered.", name=product.name), "success")
    else:
        flash(_("%(name)s was out of the offer already.", name=product.name), "info")
    return redirect(url_for("products.index"))


@bp.route("/<int:product_id>/reactivate", methods=["POST"])
@superuser_required
def reactivate(product_id):
    """Offer a product again."""
    product = get_product(product_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if products.set_active(product, True):
        audit.record("product.reactivated", user=current_user,
                     target=f"{product.number} {product.name}", ip=request.remote_addr)
        flash(_("%(name)s is offered again.", name=product.name), "success")
    else:
        flash(_("%(name)s was offered already.", name=product.name), "info")
    return redirect(url_for("products.index", inactive="1"))


IMPORT_ERRORS = {
    "empty": _l("The file is empty."),
    "no_columns": _l("The file has no column for: %(detail)s. Export the products to see the "
                     "columns Kontor reads."),
    "too_many": _l("A file can hold at most %(detail)s products."),
    "number_missing": _l("The product number is missing."),
    "name_missing": _l("The name is missing."),
    "number_twice": _l("This product number is on line %(detail)s already."),
    "bad_price": _l("“%(detail)s” is no price: write it like 1249,50 or 1249.50."),
    "bad_vat": _l("“%(detail)s” is no VAT rate from 0 to 100."),
    "bad_active": _l("“%(detail)s” is neither yes nor no."),
    "unknown_website": _l("No website has the address part “%(detail)s”."),
    "too_long": _l("The value in column “%(detail)s” is too long."),
    "extra_cells": _l("The line has more values than the file has columns."),
    "same_field": _l("The columns %(detail)s are the same field: keep one of them."),
    "no_lines": _l("The file has no products: only the line with the column names."),
}


class ProductImportForm(Form):
    file = FileField(_l("Product file (CSV)"), validators=[
        FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Check file"))


class ProductImportConfirmForm(Form):
    content = HiddenField()       # the checked file, base64
    checked = HiddenField()       # the versions the check saw, JSON {number key: version}
    submit = SubmitField(_l("Import"))


def import_errors(preview):
    """The preview's errors as (line, message in the reader's language); a column is named
    by its heading in that language, as the export writes it."""
    language = get_locale().language if get_locale() else "en"
    index = languages.CODES.index(language) if language in languages.CODES else 0

    def heading(key):
        return f"“{products.EXPORT_COLUMNS[key][index]}”" if key in products.EXPORT_COLUMNS \
            else key

    shown = []
    for line, code, detail in preview.errors:
        if code == "no_columns":
            detail = ", ".join(heading(key) for key in detail.split(","))
        elif code == "too_long":
            detail = products.EXPORT_COLUMNS[detail][index] if detail in \
                products.EXPORT_COLUMNS else detail
        shown.append((line, IMPORT_ERRORS[code] % {"detail": detail}))
    return shown


@bp.route("/import", methods=["GET", "POST"])
@superuser_required
def import_products():
    """Import a product file: check it and show what would happen (nothing is saved yet)."""
    form = ProductImportForm()
    if form.validate_on_submit():
        raw = form.file.data.read()
        preview = products.parse_file(raw)
        confirm = ProductImportConfirmForm(
            content=base64.b64encode(raw).decode("ascii"),
            checked=json.dumps(preview.versions)) if preview.ok else None
        return render_template("products/import.html", form=form, preview=preview,
                               errors=import_errors(preview), confirm=confirm), \
            200 if preview.ok else 400
    return render_template("products/import.html", form=form, preview=None, errors=[],
                           confirm=None), 400 if form.errors else 200


@bp.route("/import/confirm", methods=["POST"])
@superuser_required
def confirm_import():
    """Save a checked product file, all of it or nothing."""
    form = ProductImportConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        raw = base64.b64decode(form.content.data or "", validate=True)
    except ValueError:
        abort(400)
    preview = products.parse_file(raw)
    if not preview.ok:     # changed since the check (a website deactivated, a number taken)
        return render_template("products/import.html", form=ProductImportForm(),
                               preview=preview, errors=import_errors(preview),
                               confirm=None), 400
    try:
        checked = json.loads(form.checked.data or "{}")
    except ValueError:
        abort(400)
    if not isinstance(checked, dict):
        abort(400)
    try:
        added, changed = products.import_file(preview, checked)
    except products.ChangedSinceCheck as clash:
        flash(_("Someone saved %(numbers)s after the file was checked; nothing was imported. "
                "Check the file again to see their change.",
                numbers=", ".join(clash.numbers[:10])), "warning")
        return redirect(url_for("products.import_products"))
    except products.Duplicate:
        flash(_("A product number of the file was given to another product meanwhile; "
                "nothing was imported."), "warning")
        return redirect(url_for("products.import_products"))
    audit.record("products.imported", user=current_user, detail=f"{added} new, {changed} changed",
                 ip=request.remote_addr)
    flash(_("Products imported: %(added)s new, %(changed)s changed.", added=added,
            changed=changed), "success")
    return redirect(url_for("products.index"))


@bp.route("/export.csv")
def export():
    """Every product (the search's, when there is one) as CSV, headed in your language."""
    query = products.listing(request.args.get("q", "")[:100], include_inactive=True)
    language = get_locale().language if get_locale() else "en"
    audit.record("products.exported", user=current_user, ip=request.remote_addr)
    return attachment(stream_with_context(products.export_csv(query, language)), "text/csv",
                      "products.csv")
