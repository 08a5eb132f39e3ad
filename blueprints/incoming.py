"""Fetch website data (SPEC section 10; issue 15): the queue of what the websites' portals
received, a tab per kind with counts and each item's match status; an item's page with its
values beside the register's, keep / take per field, corrections, another contact or a new
one; Import, Save for Import all, Reject; Import all and Reject selected; the Processed
view. For every staff member (superusers too). The rules are in kontor/incoming.py."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import BooleanField, HiddenField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from blueprints.common import or_404
from blueprints.filters import per_request
from blueprints.forms import ActionForm, Form
from kontor import contacts, incoming
from kontor.access import signed_in_staff
from kontor.mail import InvalidAddress, normalise_address
from kontor.paging import paginate
from kontor.text import whole_number
from kontor.web import local_time
from models import Contact

bp = Blueprint("incoming", __name__, url_prefix="/website-data")

TAB_LABELS = {"contacts": _l("Contacts"), "activities": _l("Activities"),
              "orders": _l("Orders")}
KIND_LABELS = {"registration": _l("Registration"), "account_update": _l("Account update"),
               "activity": _l("Inquiry"), "order": _l("Order")}
STATUS_LABELS = {"existing": _l("Existing customer"), "check": _l("Should be checked"),
                 "new": _l("New customer")}
MATCHED_LABELS = {"web_account": _l("web account"), "name": _l("company name"),
                  "org_number": _l("organisation number"), "email": _l("e-mail"),
                  "address": _l("postal address"), "contact_person": _l("contact person"),
                  "phone": _l("phone")}
FIELD_LABELS = {"name": _l("Name"), "org_number": _l("Organisation number"),
                "email": _l("E-mail"), "phone": _l("Phone"), "street": _l("Street and number"),
                "postcode": _l("Postcode"), "city": _l("City"), "country": _l("Country"),
                "contact_person": _l("Contact person")}
FAILURES = {
    "contact_gone": _l("The chosen contact no longer exists: choose another one."),
    "edit_conflict": _l("Someone changed the contact after this page was opened: check its "
                        "values again and import once more."),
    "order_missing": _l("The order of this item no longer exists."),
    "orders_unavailable": _l("Orders cannot be imported yet in this Kontor."),
    "website_inactive": _l("The website is deactivated, so its web account cannot be "
                           "approved: untick “Approve” or reactivate the website."),
    "no_name": _l("The item has no name: correct the incoming name first."),
    "decided": _l("Someone approved or rejected the web account meanwhile."),
}


@bp.app_template_filter("incoming_kind")
@per_request
def incoming_kind(kind):
    return KIND_LABELS.get(kind, kind)


@bp.app_template_filter("incoming_title")
@per_request
def incoming_title(item):
    """How a person knows an item: "Order 2026-0001", "Inquiry: Delivery time?", else its
    kind and id ("Registration 12")."""
    reference = incoming.reference_of(item)
    if reference and item.kind == "order":
        return _("Order %(number)s", number=reference)
    if reference and item.kind == "activity":
        return _("Inquiry: %(subject)s", subject=reference if len(reference) <= 80
                 else reference[:79].rstrip() + "…")
    return f"{KIND_LABELS.get(item.kind, item.kind)} {item.id}"


@bp.app_template_filter("match_status")
@per_request
def match_status(status):
    return STATUS_LABELS.get(status, status)


@bp.app_template_filter("matched_fields")
@per_request
def matched_fields(fields):
    return ", ".join(str(MATCHED_LABELS.get(name, name)) for name in fields)


@bp.app_context_processor
def website_data_count():
    """The number of unprocessed items, for the staff navigation."""
    if not signed_in_staff():
        return {}
    if "incoming_count" not in g:
        g.incoming_count = incoming.unprocessed_count()
    return {"incoming_count": g.incoming_count}


class ItemForm(Form):
    target = RadioField(_l("Import into"), choices=[], validate_choice=False)
    version = HiddenField()
    approve = BooleanField(_l("Approve the web account (the customer is e-mailed)"))
    link = BooleanField(_l("Link the web account to this contact"))
    import_item = SubmitField(_l("Import"))
    confirm = SubmitField(_l("Save for Import all"))


KEEP_TAKE = [SelectChoice("keep", _l("Keep")), SelectChoice("take", _l("Take"))]
for _name in incoming.FIELDS:
    setattr(ItemForm, f"take_{_name}", RadioField(
        FIELD_LABELS[_name], choices=KEEP_TAKE, default="keep", validate_choice=False))
    setattr(ItemForm, f"value_{_name}", StringField(
        FIELD_LABELS[_name], validators=[Length(max=incoming.MAX_LENGTHS[_name])]))


class ListForm(Form):
    import_all = SubmitField(_l("Import all"))
    reject = SubmitField(_l("Reject selected"))


def tab_of(value):
    if value is None:
        return "contacts"
    if value not in incoming.TABS:
        abort(404)
    return value


@bp.route("/")
def index():
    """The unprocessed items of one tab, oldest first, 50 to a page, with their match
    status; the tabs with their counts."""
    tab = tab_of(request.args.get("tab"))
    page = incoming.queue_page(tab, request.args.get("page"))
    matches = incoming.page_matches(page.items)
    rows = [(item, incoming.values_of(item, item.web_account if item.web_account_id
                                      else None), matches[item.id]) for item in page.items]
    counts = incoming.counts()
    g.incoming_count = sum(counts.values())      # the navigation's count: the same items
    return render_template("incoming/list.html", tab=tab, page=page, rows=rows,
                           counts=counts, tabs=TAB_LABELS, form=ListForm())


@bp.route("/", methods=["POST"])
def act():
    """Import all of a tab, or reject the items ticked."""
    tab = tab_of(request.form.get("tab"))
    form = ListForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("incoming.index", tab=tab)
    if form.import_all.data:
        outcome = incoming.import_all(tab, current_user.id, ip=request.remote_addr)
        flash(ngettext("%(num)s item imported.", "%(num)s items imported.",
                       outcome.imported), "success")
        if outcome.waiting:
            flash(ngettext("%(num)s item waits for a person to open and confirm it.",
                           "%(num)s items wait for a person to open and confirm them.",
                           outcome.waiting), "info")
        for reason, count in outcome.failed.items():
            flash(ngettext("%(num)s item was not imported: %(why)s",
                           "%(num)s items were not imported: %(why)s", count,
                           why=FAILURES.get(reason, reason)), "error")
        if outcome.more:
            flash(_("More items are waiting: press Import all again."), "info")
        return redirect(back)
    ids = [number for number in (whole_number(value) for value in request.form.getlist("item"))
           if number is not None]
    if not ids:
        flash(_("Tick the items to reject first."), "info")
        return redirect(back)
    done = incoming.reject(ids, current_user.id, ip=request.remote_addr)
    flash(ngettext("%(num)s item rejected.", "%(num)s items rejected.", done), "success")
    return redirect(back)


@bp.route("/processed")
def processed():
    """What was imported or rejected, newest first: by whom, when, and into which contact."""
    page = paginate(incoming.processed(), request.args.get("page"), incoming.PAGE_SIZE)
    return render_template("incoming/processed.html", page=page)


def get_item(item_id):
    return or_404(incoming.get(item_id))


def compared_contact(match):
    """The contact the item page compares with: the one asked for (`?contact=`), else the
    matched one; 404 for an id of no contact."""
    asked = request.args.get("contact")
    if asked is None:
        return contacts.get(match.contact.id) if match.contact is not None else None
    number = whole_number(asked)
    found = contacts.get(number) if number is not None else None
    if found is None:
        abort(404)
    return found


def fill(form, item, values, contact, decision):
    """The form as the page opens: incoming values, keep / take per field, the target, the
    ticks, from `decision`."""
    for name in incoming.FIELDS:
        getattr(form, f"value_{name}").data = decision.corrected.get(name, values[name])
        getattr(form, f"take_{name}").data = "take" if name in decision.take else "keep"
    form.target.data = str(contact.id) if contact is not None else "new"
    form.version.data = str(contact.version) if contact is not None else ""
    form.approve.data = decision.approve
    form.link.data = decision.link


def decision_from(form, values):
    """The Decision the posted form asks for (None when its target is no contact)."""
    target = form.target.data
    if target != "new":
        target = whole_number(target or "")
        if target is None:
            return None
    corrected = {}
    for name in incoming.FIELDS:
        value = " ".join((getattr(form, f"value_{name}").data or "").split())
        if value != values[name]:
            corrected[name] = value
    take = tuple(name for name in incoming.FIELDS
                 if getattr(form, f"take_{name}").data == "take")
    return incoming.Decision(target, whole_number(form.version.data or ""), take, corrected,
                             bool(form.approve.data), bool(form.link.data))


def render_item(item, form, status=200, contact=None, match=None):
    account = item.web_account if item.web_account_id else None
    values = incoming.values_of(item, account)
    match = match or incoming.classify([item])[item.id]
    if contact is None and item.status == "unprocessed":
        contact = compared_contact(match)
    query = request.args.get("q", "")[:100]
    found = list(contacts.filtered(query).limit(10)) if query.strip() else []
    if item.status != "unprocessed" and item.contact_id:
        contact = contacts.get(item.contact_id)
    return render_template(
        "incoming/item.html", item=item, account=account, values=values, match=match,
        contact=contact, form=form, q=query, found=found, raw=incoming.received(item),
        result=incoming.result_of(item), reject_form=ActionForm(),
        activity=incoming.activity_text(item) if item.kind == "activity" else "",
        saved=incoming.Decision.from_json(item.decision) if item.confirmed_at else None,
        changed=incoming.changed_fields(item, contact),
        fields=[(name, FIELD_LABELS[name]) for name in incoming.FIELDS]), status


@bp.route("/<int:item_id>", methods=["GET", "POST"])
def show(item_id):
    """One item: its values beside the compared contact's, with keep / take per field; a
    POST imports it or saves the choices for Import all (`process`)."""
    if request.method == "POST":
        return process(item_id)
    item = get_item(item_id)
    form = ItemForm(formdata=None)
    if item.status == "unprocessed":
        match = incoming.classify([item])[item.id]
        contact = compared_contact(match)
        saved = incoming.Decision.from_json(item.decision) if item.confirmed_at else None
        if saved is not None and request.args.get("contact") is None:
            contact = Contact.get_or_none(Contact.id == saved.target) \
                if saved.target != "new" else None
            decision = saved
        elif contact is None or request.args.get("new") == "1":
            contact = None
            decision = incoming.default_decision(item, incoming.Match("new"))
        else:
            decision = incoming.default_decision(item, incoming.Match(match.status, contact))
        fill(form, item, incoming.values_of(item), contact, decision)
        return render_item(item, form, contact=contact, match=match)
    return render_item(item, form)


def process(item_id):
    """Import the item with the choices made on its page, or save them for Import all."""
    item = get_item(item_id)
    form = ItemForm()
    values = incoming.values_of(item)
    if form.is_submitted() and (form.value_email.data or "").strip():
        try:
            normalise_address(form.value_email.data.strip())
        except InvalidAddress:
            form.value_email.errors = [_("Enter a valid e-mail address.")]
            return render_item(item, form, 400)
    if not form.validate_on_submit():
        return render_item(item, form, 400)
    decision = decision_from(form, values)
    if decision is None:
        abort(400)
    try:
        if form.confirm.data:
            incoming.confirm(item.id, current_user.id, decision, ip=request.remote_addr)
            flash(_("Saved: Import all imports this item with these choices."), "success")
            return redirect(url_for("incoming.index",
                                    tab=incoming.TAB_OF_KIND.get(item.kind, "contacts")))
        result = incoming.import_item(item.id, current_user.id, decision,
                                      ip=request.remote_addr)
    except incoming.AlreadyProcessed as done:
        flash(already_done(done.item), "info")
        return redirect(url_for("incoming.show", item_id=item.id))
    except incoming.ImportFailed as failed:
        flash(_("Not imported: %(why)s", why=FAILURES.get(failed.reason, failed.reason)),
              "error")
        return redirect(url_for("incoming.show", item_id=item.id))
    contact = contacts.get(result["contact"])
    flash(_("Imported into %(name)s (customer number %(number)s).", name=contact.name,
            number=contact.customer_number), "success")
    return redirect(url_for("incoming.index", tab=incoming.TAB_OF_KIND.get(item.kind, "contacts")))


def already_done(item):
    """"Already imported / rejected by X at T" for an item processed meanwhile."""
    who = item.processed_by.display_name if item.processed_by_id else "—"
    when = local_time(item.processed_at) if item.processed_at else ""
    if item.status == "rejected":
        return _("This item was rejected already (%(who)s, %(when)s); nothing was done.",
                 who=who, when=when)
    return _("This item was imported already (%(who)s, %(when)s); it was not imported a "
             "second time.", who=who, when=when)


@bp.route("/<int:item_id>/reject", methods=["POST"])
def reject(item_id):
    """Reject one item: its values stay, in the Processed view."""
    item = get_item(item_id)
    if ActionForm().validate_on_submit():
        if incoming.reject([item.id], current_user.id, ip=request.remote_addr):
            flash(_("Rejected."), "success")
        else:
            flash(already_done(incoming.get(item.id)), "info")
    return redirect(url_for("incoming.index", tab=incoming.TAB_OF_KIND.get(item.kind,
                                                                          "contacts")))
