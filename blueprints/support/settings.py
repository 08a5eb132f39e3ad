"""The lists a superuser keeps for the wizard's drop-downs: categories and types of request."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.forms import ALREADY_SAVED, ActionForm
from blueprints.support import bp
from blueprints.support.forms import ListItemForm
from kontor import audit, form_keys, support
from kontor.access import superuser_required


def settings_page(kind=None, sent=None, status=200):
    """The settings page; `sent`: the form of list `kind` that came back, shown as typed."""
    forms = {key: ListItemForm(prefix=key) for key in support.CASE_LISTS}
    if sent is not None:
        forms[kind] = sent
    return render_template("support/settings.html", lists=support.case_lists(), forms=forms,
                           action_form=ActionForm()), status


@bp.route("/settings")
@superuser_required
def settings():
    """Categories and types of request."""
    return settings_page()


@bp.route("/settings/<kind>", methods=["POST"])
@superuser_required
def add_list_item(kind):
    """Add a category or a type."""
    if kind not in support.CASE_LISTS:
        abort(404)
    form = ListItemForm(prefix=kind)
    if form.validate_on_submit():
        try:
            support.add_to_list(kind, form.name.data, form.form_key.data)
        except form_keys.AlreadySaved:
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("support.settings"))
        audit.record(f"support.{kind}.added", user=current_user, target=form.name.data)
        flash(_("“%(name)s” added.", name=form.name.data.strip()), "success")
    elif form.form_key.errors:    # no one-time key: nothing saved, the name stays typed
        return settings_page(kind, form, 400)
    else:
        flash(_("Enter a name."), "error")
    return redirect(url_for("support.settings"))


@bp.route("/settings/<kind>/<int:item_id>/toggle", methods=["POST"])
@superuser_required
def toggle_list_item(kind, item_id):
    """Take a category or type out of the drop-down, or put it back: the button says which
    (offered=0 or 1), so a second click or a stale tab does not undo the first."""
    if kind not in support.CASE_LISTS:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    offered = request.form.get("offered")
    if offered not in ("0", "1"):
        abort(400)
    if support.offer_list_item(kind, item_id, offered == "1") is None:
        abort(404)
    return redirect(url_for("support.settings"))
