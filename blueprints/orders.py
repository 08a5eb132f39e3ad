"""Orders on the staff side (SPEC section 7; issue 14 item 4): the orders of every website or
of one, searchable and by status, 50 to a page; an order's page with its lines, customer and
history; its status received → confirmed → shipped, or cancelled (the customer sees it in My
orders and is mailed); and the CSV export of orders and their lines for the business system.
Every staff member may do this. The rules are in kontor/orders.py."""
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
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, RadioField, SubmitField
from wtforms.fields.choices import SelectChoice

from blueprints.common import or_404
from blueprints.forms import Form
from kontor import audit, orders, websites
from kontor.order_mail import STATUS_LABELS
from kontor.paging import paginate
from kontor.text import whole_number
from kontor.versions import ChangedMeanwhile, opened_version
from kontor.web import attachment

bp = Blueprint("orders", __name__, url_prefix="/orders")


class StatusForm(Form):
    status = RadioField(_l("New status"), choices=[])
    version = HiddenField()
    submit = SubmitField(_l("Change status"))


def status_form(order, data=None):
    """The status form: shown with the statuses the order may go to; posted, any status is
    a choice, so that a stale page's choice is answered by the rules (a change saved
    meanwhile, a transition not allowed) rather than as an unknown value."""
    form = StatusForm(data=data) if data is not None else StatusForm()
    codes = orders.next_statuses(order) if request.method == "GET" or data is not None \
        else STATUS_LABELS
    form.status.choices = [SelectChoice(code, STATUS_LABELS[code]) for code in codes]
    return form


def filters():
    """The list's filters from the query string: (website or None, status or None, text);
    a website id of no website answers 404, an unknown status is no filter."""
    website = None
    website_id = request.args.get("website", "")
    if website_id:
        number = whole_number(website_id)
        website = next((site for site in websites.listed() if site.id == number), None)
        if website is None:
            abort(404)
    status = request.args.get("status", "")
    return website, status if status in STATUS_LABELS else None, \
        request.args.get("q", "")[:100]


@bp.route("")
def index():
    """The orders, newest first: all websites' or one's, by status, searchable."""
    website, status, text = filters()
    page = paginate(orders.listing(website.id if website else None, status, text),
                    request.args.get("page"))
    return render_template("orders/list.html", page=page, website=website, status=status,
                           q=text, sites=websites.listed(), statuses=STATUS_LABELS)


@bp.route("/<int:order_id>", methods=["GET", "POST"])
def show(order_id):
    """One order: lines, amounts, customer, addresses, history, and its status."""
    order = or_404(orders.staff_order(order_id))
    form = status_form(order, data={"version": order.version}
                       if request.method == "GET" else None)
    conflict = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            saved = orders.change_status(order, form.status.data, current_user,
                                         opened_version(form.version.data),
                                         ip=request.remote_addr or "")
        except ChangedMeanwhile as clash:
            conflict = clash.current
            order = or_404(orders.staff_order(order_id))
            form = status_form(order, data={"version": order.version})
        except orders.StatusNotAllowed:
            form.status.errors = [_("This order cannot get that status any more.")]
        else:
            flash(_("Order %(number)s is now “%(status)s”. The customer was e-mailed.",
                    number=saved.number, status=STATUS_LABELS[saved.status]), "success")
            return redirect(url_for("orders.show", order_id=order.id))
    orders.with_lines([order])
    status = 409 if conflict is not None else 400 if form.errors else 200
    return render_template("orders/show.html", order=order, form=form, conflict=conflict,
                           events=orders.events_of(order), statuses=STATUS_LABELS), status


@bp.route("/export.csv")
def export():
    """The orders of the list's filters with their lines, as CSV for the business system,
    headed in your language."""
    website, status, text = filters()
    query = orders.listing(website.id if website else None, status, text)
    language = get_locale().language if get_locale() else "en"
    audit.record("orders.exported", user=current_user,
                 detail=website.slug if website else "", ip=request.remote_addr)
    rows = orders.export_csv(query, language)
    return attachment(stream_with_context(rows), "text/csv", "orders.csv")
