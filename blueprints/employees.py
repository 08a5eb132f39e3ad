"""The employee register: staff may look, superusers add, edit and link themselves."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404
from wtforms import BooleanField, HiddenField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from blueprints.common import ask_first
from blueprints.forms import ALREADY_SAVED, ActionForm, Form, email_field, form_key_field
from blueprints.users import REFUSALS
from kontor import audit, employees, form_keys, users, versions
from kontor.access import superuser_required
from kontor.paging import paginate
from models import Employee, User

bp = Blueprint("employees", __name__, url_prefix="/employees")


class EmployeeForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = email_field(_l("E-mail"), required=False)
    phone = StringField(_l("Phone"), validators=[Length(max=50)])
    mobile = StringField(_l("Mobile"), validators=[Length(max=50)])
    title = StringField(_l("Title"), validators=[Length(max=100)])
    department = StringField(_l("Department"), validators=[Length(max=100)])
    active = BooleanField(_l("Active"), default=True)
    # asked only when the employee has an active account (issue 10 item 14); a post without
    # an answer means the default, so every way of making someone inactive ends their access
    account = RadioField(_l("When this employee is inactive, deactivate their Kontor account "
                            "too?"), default="deactivate", choices=[
        SelectChoice("deactivate", _l("Yes: deactivate the account and sign them out now")),
        SelectChoice("keep", _l("No: keep the account, they can still sign in"))])
    version = HiddenField()
    submit = SubmitField(_l("Save employee"))


class NewEmployeeForm(EmployeeForm):
    form_key = form_key_field()


def get_employee(employee_id):
    """The employee with this id; 404 when there is none."""
    return get_object_or_404(Employee, Employee.id == employee_id)


@bp.route("")
def index():
    """The register, searchable; superusers see the actions."""
    text = request.args.get("q", "")
    page = paginate(employees.search(text), request.args.get("page"))
    linked = {u.employee_id: u for u in User.select().where(
        User.employee.in_([e.id for e in page.items]))} if page.items else {}
    return render_template("employees/list.html", page=page, q=text, linked=linked,
                           form=ActionForm())


def save_from_form(employee, form, template):
    values = {name: getattr(form, name).data for name in employees.FIELDS}
    values["email"] = values["email"] or ""
    account = employees.active_account(employee)
    try:
        saved = employees.save(employee, values, versions.opened_version(form.version.data)
                               if employee is not None else None,
                               form.form_key.data if employee is None else None,
                               keep_account=form.account.data == "keep",
                               acting=current_user._get_current_object())
    except employees.DuplicateEmail:
        form.email.errors.append(_("Another employee already has this e-mail address."))
        return render_template(template, form=form, employee=employee, account=account), 400
    except users.AccountActionRefused as refused:
        form.account.errors.append(REFUSALS[refused.reason])
        return render_template(template, form=form, employee=employee, account=account), 400
    except form_keys.AlreadySaved:
        flash(ALREADY_SAVED, "info")
        return redirect(url_for("employees.index"))
    except versions.ChangedMeanwhile as clash:
        form.version.data = clash.current.version   # saving again now overwrites knowingly
        return render_template(template, form=form, employee=employee, account=account,
                               conflict=clash.current), 409
    audit.record("employee.created" if employee is None else "employee.updated",
                 user=current_user, target=saved.name, ip=request.remote_addr)
    flash(_("Employee %(name)s saved.", name=saved.name), "success")
    outcome = getattr(saved, "account_outcome", None)
    if outcome == "deactivated":
        audit.record("user.deactivated", user=current_user, target=saved.account.email,
                     detail="employee inactive", ip=request.remote_addr)
        flash(_("%(email)s is deactivated and signed out.", email=saved.account.email),
              "success")
    elif outcome == "kept":
        flash(_("The account %(email)s stays active: %(name)s can still sign in. Deactivate "
                "it under Users when that should end.", email=saved.account.email,
                name=saved.name), "info")
    return redirect(url_for("employees.index"))


@bp.route("/new", methods=["GET", "POST"])
@superuser_required
def new():
    """Add an employee to the register."""
    form = NewEmployeeForm()
    if form.validate_on_submit():
        return save_from_form(None, form, "employees/form.html")
    return render_template("employees/form.html", form=form, employee=None), \
        400 if form.errors else 200


@bp.route("/<int:employee_id>/edit", methods=["GET", "POST"])
@superuser_required
def edit(employee_id):
    """Change an employee's details."""
    employee = get_employee(employee_id)
    form = EmployeeForm(obj=employee)
    if form.validate_on_submit():
        return save_from_form(employee, form, "employees/form.html")
    return render_template("employees/form.html", form=form, employee=employee,
                           account=employees.active_account(employee)), \
        400 if form.errors else 200


@bp.route("/<int:employee_id>/link-me", methods=["POST"])
@superuser_required
def link_me(employee_id):
    """Link your own account to this employee (a readiness requirement)."""
    employee = get_employee(employee_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    linked_now = current_user.employee_id
    if employee.active and linked_now and linked_now != employee.id:
        # already linked to someone else: moving the link is asked first (issue 11 item 19)
        current = Employee.get_or_none(Employee.id == linked_now)
        asked = ask_first(
            _("Link your account to %(name)s instead of %(current)s?", name=employee.name,
              current=current.name if current else "—"),
            _("Your account belongs to %(current)s in the employee register now. After this it "
              "belongs to %(name)s.", name=employee.name,
              current=current.name if current else "—"),
            _("This is me"), url_for("employees.index"))
        if asked:
            return asked
    if not employee.active:
        flash(_("An inactive employee cannot be linked."), "error")
    elif employees.link_user(current_user, employee):
        audit.record("employee.linked", user=current_user, target=employee.name,
                     ip=request.remote_addr)
        flash(_("Your account is now linked to %(name)s.", name=employee.name), "success")
    else:
        flash(_("Another account is already linked to %(name)s.", name=employee.name), "error")
    return redirect(url_for("employees.index"))
