"""The superuser's support settings: who sees which cases (a company setting), and the lists
for the wizard's drop-downs: categories and types of request."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.forms import ALREADY_SAVED, ActionForm
from blueprints.support import bp
from blueprints.support.forms import CaseVisibilityForm, ListItemForm, RenameForm
from kontor import audit, form_keys, support
from kontor.access import superuser_required


def name_taken(existing):
    """The error beside a name that the list has already (issue 11 item 19)."""
    return _("“%(name)s” exists already; names that differ only in capitals, accents or "
             "spaces count as the same.", name=existing)


def render_settings(add_forms=None, renaming=None, visibility_form=None, status=200):
    """The settings page; a form that came back with errors is shown with them: an add form
    in `add_forms` ({kind: form}), a rename form as `renaming` ((kind, item id, form))."""
    forms = {kind: ListItemForm(prefix=kind) for kind in support.CASE_LISTS}
    forms.update(add_forms or {})
    lists = support.case_lists()
    rename_forms = {(kind, item.id): RenameForm(prefix=f"{kind}-{item.id}",
                                                data={"name": item.name})
                    for kind, items in lists.items() for item in items}
    if renaming is not None:
        kind, item_id, form = renaming
        rename_forms[(kind, item_id)] = form
    if visibility_form is None:
        visibility_form = CaseVisibilityForm(
            data={"visibility": "all" if support.staff_see_all() else "own"})
    return render_template("support/settings.html", lists=lists, forms=forms,
                           rename_forms=rename_forms,
                           renaming=renaming[:2] if renaming is not None else None,
                           visibility_form=visibility_form, action_form=ActionForm()), status


@bp.route("/settings")
@superuser_required
def settings():
    """Who sees which cases; categories and types of request."""
    return render_settings()


@bp.route("/settings/visibility", methods=["POST"])
@superuser_required
def case_visibility():
    """Every staff member sees all cases, or only the cases they asked for or own."""
    form = CaseVisibilityForm()
    if not form.validate_on_submit():
        return render_settings(visibility_form=form, status=400)
    see_all = form.visibility.data == "all"
    if support.set_staff_see_all(see_all):
        audit.record("support.visibility", user=current_user,
                     target="all" if see_all else "own")
    flash(_("Every staff member now sees all support cases.") if see_all else
          _("Staff now see only the support cases they asked for or own."), "success")
    return redirect(url_for("support.settings"))


@bp.route("/settings/<kind>", methods=["POST"])
@superuser_required
def add_list_item(kind):
    """Add a category or a type."""
    if kind not in support.CASE_LISTS:
        abort(404)
    form = ListItemForm(prefix=kind)
    if form.validate_on_submit():
        try:
            item = support.add_to_list(kind, form.name.data, form.form_key.data)
        except form_keys.AlreadySaved:
            flash(ALREADY_SAVED, "info")
            return redirect(url_for("support.settings"))
        except support.NameTaken as taken:
            form.name.errors.append(name_taken(taken.existing))
        else:
            audit.record(f"support.{kind}.added", user=current_user, target=item.name)
            flash(_("“%(name)s” added.", name=item.name), "success")
            return redirect(url_for("support.settings"))
    return render_settings(add_forms={kind: form}, status=400)


@bp.route("/settings/<kind>/<int:item_id>/rename", methods=["POST"])
@superuser_required
def rename_list_item(kind, item_id):
    """Give a category or a type another name (cases keep it, under the new name)."""
    if kind not in support.CASE_LISTS:
        abort(404)
    form = RenameForm(prefix=f"{kind}-{item_id}")
    if form.validate_on_submit():
        try:
            old = support.rename_list_item(kind, item_id, form.name.data)
        except support.NameTaken as taken:
            form.name.errors.append(name_taken(taken.existing))
        else:
            if old is None:
                abort(404)
            new = support.list_name(form.name.data)
            audit.record(f"support.{kind}.renamed", user=current_user, target=f"{old} → {new}")
            flash(_("“%(old)s” is now called “%(new)s”.", old=old, new=new), "success")
            return redirect(url_for("support.settings"))
    elif form.csrf_token.errors:
        abort(400)
    if not any(item.id == item_id for item in support.case_lists()[kind]):
        abort(404)
    return render_settings(renaming=(kind, item_id, form), status=400)


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
