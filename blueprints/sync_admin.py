"""Running the sync (issue 17 items 2-4), under Administration → Sync beside its settings: the
sync computer, change sync user, update password, and the deactivate wizard. Reactivation is
the settings page's Activate form (service.activate lets only the former owner do it). The
rules live in kontor/sync/nodes.py and ownership.py; these views only word what they answer.
"""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer
from wtforms import HiddenField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, Length

from blueprints import sync as sync_pages
from blueprints.filters import per_request
from blueprints.forms import Form
from blueprints.lockout import locked_out
from kontor.access import superuser_required
from kontor.sync import nodes, ownership, service
from models import User

bp = Blueprint("sync_admin", __name__, url_prefix="/admin/sync")

STEP_SECONDS = 600       # the confirmation step of the wizard is valid this long
REFUSALS = {
    "not_superuser": _l("Only a superuser can do this."),
    "wrong_password": _l("This is not your password."),
    "inactive": _l("The sync is not active."),
    "already_owner": _l("You are the sync owner already."),
    "not_owner": _l("Only the sync owner can deactivate the sync."),
    "no_settings": _l("Save the business database's address first."),
}


class NodeForm(Form):
    node = SelectField(_l("Sync computer"), choices=[], validate_choice=True,
                       description=_l("The Kontor process that runs the sync. Best is the "
                                      "computer the business database is on. If it stops, "
                                      "another one takes over after 15 minutes."))
    submit = SubmitField(_l("Save sync computer"))


class OwnerForm(Form):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Become the sync owner"))


class BusinessPasswordForm(Form):
    password = PasswordField(_l("New password of the business database"),
                             validators=[DataRequired(), Length(max=200)],
                             description=_l("Kontor tests the connection with it first and "
                                            "stores it only when the test passes."),
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Test and save the new password"))


class DeactivateForm(Form):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Next"))


class ConfirmDeactivateForm(Form):
    step = HiddenField()
    submit = SubmitField(_l("Deactivate the sync and delete the copies"))


def node_choices():
    """(node id, label) for the drop-down: any process, then each registered one."""
    choices = [("", _("Any Kontor process"))]
    for node in nodes.known_nodes():
        choices.append((node.node_id, _("%(computer)s, process %(pid)s", computer=node.computer,
                                        pid=node.pid)))
    return choices


def admin_context(node_form=None, owner_form=None, password_form=None):
    """What the settings page's sync-administration part shows (templates/sync/_admin.html):
    the nodes, who syncs now, the takeover, and the forms (those given, with their errors,
    else empty ones; the template passes what the view rendered it with)."""
    current = service.state()
    if not node_form:
        node_form = NodeForm(formdata=None, prefix="node")
        node_form.node.data = current.node
    node_form.node.choices = node_choices()
    return {
        "nodes": nodes.known_nodes(), "chosen_label": nodes.node_label(current.node),
        "holder_label": nodes.node_label(nodes.holder()),
        "taken_over_from": nodes.node_label(current.taken_over_from),
        "node_form": node_form,
        "owner_form": owner_form or OwnerForm(formdata=None, prefix="owner"),
        "password_form": password_form or BusinessPasswordForm(formdata=None, prefix="business"),
        "is_owner": current.owner_id == current_user.id,
    }


@bp.app_context_processor
def sync_admin_processor():
    return {"sync_admin_context": admin_context}


@bp.app_template_filter("sync_node")
@per_request
def sync_node(node_id):
    """A node as a person names it (the computer's name), for the sync log."""
    return nodes.node_label(node_id)


def settings_with(**forms):
    """The settings page with the given forms (errors shown) and status 400."""
    return sync_pages.settings_page(status=400, **forms)


@bp.route("/node", methods=["POST"])
@superuser_required
def choose_node():
    """Choose the sync computer."""
    form = NodeForm(prefix="node")
    form.node.choices = node_choices()
    if not form.validate_on_submit():
        return settings_with(node_form=form)
    try:
        nodes.choose(form.node.data, current_user, ip=request.remote_addr)
    except ValueError:
        form.node.errors.append(_("This Kontor process is no longer registered."))
        return settings_with(node_form=form)
    flash(_("Sync computer saved."), "success")
    return redirect(url_for("sync.settings"))


@bp.route("/owner", methods=["POST"])
@superuser_required
def become_owner():
    """Change sync user: the signed-in superuser becomes the sync owner."""
    form = OwnerForm(prefix="owner")
    if form.validate_on_submit():
        try:
            ownership.become_owner(current_user, form.password.data, ip=request.remote_addr)
        except service.SyncRefused as refused:
            if refused.reason == "locked":   # too many wrong passwords: as at sign-in
                return locked_out(current_user._get_current_object(), refused.outcome)
            form.password.errors.append(str(REFUSALS.get(refused.reason, refused.reason)))
        else:
            flash(_("You are the sync owner now."), "success")
            return redirect(url_for("sync.settings"))
    form.password.data = ""
    return settings_with(owner_form=form)


@bp.route("/password", methods=["POST"])
@superuser_required
def update_password():
    """Update password: test the business database's new password, then store it."""
    form = BusinessPasswordForm(prefix="business")
    if form.validate_on_submit():
        try:
            ownership.update_password(current_app.config["DATA_DIR"], current_user,
                                      form.password.data, ip=request.remote_addr)
        except service.SyncRefused as refused:
            if refused.reason == "connection":
                form.password.errors.append(_(
                    "The connection test with this password failed, so the stored password "
                    "was kept: %(problem)s", problem=sync_pages.described(refused.problem)))
            else:
                form.password.errors.append(str(REFUSALS.get(refused.reason, refused.reason)))
        else:
            flash(_("The connection test passed and the new password is stored. The next "
                    "sync uses it."), "success")
            return redirect(url_for("sync.settings"))
    form.password.data = ""
    return settings_with(password_form=form)


def _signer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sync-deactivate")


def step_token():
    """Proof that the owner confirmed their password in step 1: the user and the settings'
    version, signed; valid STEP_SECONDS."""
    return _signer().dumps({"user": current_user.id, "version": service.state().version})


def step_is_valid(token):
    try:
        data = _signer().loads(token or "", max_age=STEP_SECONDS)
    except BadData:
        return False
    return data == {"user": current_user.id, "version": service.state().version}


def confirm_page(form=None, status=200):
    return render_template("sync/deactivate_confirm.html", goes=ownership.what_goes(),
                           form=form or ConfirmDeactivateForm(step=step_token())), status


@bp.route("/deactivate", methods=["GET", "POST"])
@superuser_required
def deactivate():
    """Deactivate, step 1: the sync owner confirms with their password."""
    current = service.state()
    owner = User.get_or_none(User.id == current.owner_id) if current.owner_id else None
    form = DeactivateForm(prefix="deactivate")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                ownership.check_may_deactivate(current_user, form.password.data,
                                               ip=request.remote_addr)
            except service.SyncRefused as refused:
                if refused.reason == "locked":   # too many wrong passwords: as at sign-in
                    return locked_out(current_user._get_current_object(), refused.outcome)
                form.password.errors.append(str(REFUSALS.get(refused.reason, refused.reason)))
            else:
                return confirm_page()
        form.password.data = ""
        status = 400
    return render_template("sync/deactivate.html", form=form, state=current,
                           owner=owner), status


@bp.route("/deactivate/confirm", methods=["POST"])
@superuser_required
def deactivate_confirm():
    """Deactivate, step 2: stop the sync and delete Kontor's copies of the business data."""
    form = ConfirmDeactivateForm()
    if not form.validate_on_submit():
        abort(400)
    if not step_is_valid(form.step.data):
        flash(_("The confirmation has expired or the sync changed meanwhile. Start again."),
              "error")
        return redirect(url_for("sync_admin.deactivate"))
    try:
        ownership.deactivate(current_user, ip=request.remote_addr)
    except service.SyncRefused as refused:
        flash(str(REFUSALS.get(refused.reason, refused.reason)), "error")
        return redirect(url_for("sync.settings"))
    flash(_("The sync is deactivated and Kontor's copies of the business data are deleted."),
          "success")
    return redirect(url_for("sync.settings"))
