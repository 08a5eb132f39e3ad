"""The sync pages (SPEC section 8; issue 16 items 2, 4 and 5), for superusers under
Administration → Sync: the settings with Test connection and Activate, the sync log with its
Restart button, and the sync history with the records a delete took away. The rules live in
kontor/sync/service.py; these views only word what it answers."""
import datetime
import json
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from playhouse.flask_utils import get_object_or_404
from wtforms import HiddenField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from blueprints.contacts import FIELD_LABELS
from blueprints.filters import per_request
from blueprints.forms import ActionForm, Form
from blueprints.lockout import locked_out
from blueprints.web_accounts import STATUS_LABELS as ACCOUNT_STATUS_LABELS
from kontor import audit, jobs, versions
from kontor import company as company_rules
from kontor.access import superuser_required
from kontor.countries import country_name
from kontor.paging import paginate
from kontor.sync import secret, service
from kontor.sync.business import BusinessDatabaseError
from kontor.sync.layout import BOOLEAN, BY_NAME, DECIMAL, TIMESTAMP, MappingError
from kontor.web import current_company, local_time
from models import SyncConflict, SyncRun, User

bp = Blueprint("sync", __name__, url_prefix="/admin/sync")

MAX_MAPPING = 20_000   # characters of a mapping file: a few hundred lines are plenty

ENTITY_LABELS = {
    "employees": _l("Employees"), "contacts": _l("Contacts"),
    "contact_persons": _l("Contact persons"), "note_entries": _l("Notes"),
}
ENTITY_ONE = {
    "employees": _l("Employee"), "contacts": _l("Contact"),
    "contact_persons": _l("Contact person"), "note_entries": _l("Note"),
}
SYNC_FIELD_LABELS = {
    **FIELD_LABELS, "customer_number": _l("Customer number"), "title": _l("Job title"),
    "department": _l("Department"), "contact_id": _l("Contact"),
    "person_id": _l("Contact person"), "text": _l("Text"), "author": _l("Author"),
    "created_at": _l("Created"), "uid": _l("Note number"), "status": _l("Status"),
}
RESOLUTIONS = {
    "business": _l("Business database"), "kontor": _l("Kontor"),
    "deleted": _l("Deleted (record kept here)"), "restored": _l("Restored"),
    "unbound": _l("Not bound: same number, other name"),
}
# What is wrong with the business database or the mapping, one message per code (kontor/sync
# business.py and layout.py; the sync log's Error lines carry the same codes).
PROBLEMS = {
    "bad_url": _l("This is not a database address Kontor can use. Write sqlite:////path/to/"
                  "file.db for a SQLite file or postgresql://user@host:5432/name for "
                  "PostgreSQL."),
    "no_file": _l("There is no database file at %(path)s."),
    "relative_path": _l("Write the database file's full path, from the root: "
                        "sqlite:////path/to/file.db (four slashes). %(path)s is a relative "
                        "path."),
    "bad_port": _l("The port in this address is not a number from 1 to 65535."),
    "not_database": _l("%(path)s is not a SQLite database file."),
    "cannot_open": _l("The file %(path)s cannot be opened: check that Kontor may read and "
                      "write it."),
    "network_share": _l("%(path)s is on a network share. A SQLite file must be on this "
                        "computer's own disk: its locks do not hold over a network."),
    "unreachable": _l("No database server answers at this address. Check the host name and "
                      "port, and that the server runs."),
    "login_refused": _l("The database server refused the login: check the user name and the "
                        "password."),
    "no_database": _l("The database server has no database of this name."),
    "table_missing": _l("The table %(table)s is missing (for %(entity)s)."),
    "column_missing": _l("The table %(table)s has no column %(column)s."),
    "wrong_type": _l("The column %(column)s of the table %(table)s has the type %(found)s; "
                     "Kontor needs %(expected)s there."),
    "key_not_unique": _l("The key column %(column)s of the table %(table)s is neither its "
                         "primary key nor unique: two rows could have the same key, so Kontor "
                         "could not tell them apart. Map the table's primary key as key."),
    "key_too_short": _l("The key column %(column)s of the table %(table)s is too short "
                        "(length %(length)s) for the keys Kontor makes for records it adds "
                        "there: UUIDs of 32 to 36 characters."),
    "failed": _l("The database answered with an error: %(detail)s"),
    "password_unreadable": _l("The stored password cannot be read any more (the data "
                              "folder's key changed). Enter the password again."),
    "lease_lost": _l("Another Kontor process took over the sync during this run; it goes on "
                     "from where this one stopped."),
    "business_locked": _l("The business database is locked by another program, longer than "
                          "the sync waits for it. Nothing was half-written; the next "
                          "run tries again. If this goes on, close the program that keeps "
                          "the database locked."),
    "interrupted": _l("The run was interrupted; the next run repeats it."),
    "records": _l("Some records could not be synced:"),
}
MAPPING_PROBLEMS = {
    "syntax": _l("The mapping is not valid TOML: %(detail)s"),
    "section": _l("The mapping has a section Kontor does not know: [%(section)s]. Use "
                  "[employees], [contacts], [contact_persons] or [note_entries]."),
    "unknown_field": _l("The section [%(section)s] maps a field Kontor does not have: "
                        "%(field)s."),
    "required": _l("The section [%(section)s] must map the field %(field)s."),
    "name": _l("The table or column name at %(where)s cannot be used: it must be 1 to 128 "
               "printable characters without quotes."),
    "key_type": _l("The key_type of [%(section)s] must be integer or text."),
    "duplicate_column": _l("The section [%(section)s] maps the column %(column)s twice (for "
                           "%(field)s and %(other)s): each column can hold one field only."),
}
RECORD_REASONS = {
    "unfit": _l("the value does not fit the field"),     # lines logged before unfit_value
    "duplicate_email": _l("another record has this e-mail address"),
    "number_taken": _l("another contact has this customer number"),
    "parent_missing": _l("the record it belongs to is not synced"),
    "in_use": _l("it is still in use and cannot be deleted"),
    "no_key": _l("Kontor cannot make a key for it in the business database"),
    "null_key": _l("its row in the business database has no key (the key column is empty)"),
    "changed_meanwhile": _l("it changed while it was written; the next run syncs it"),
    "user_access": _l("it was deleted in the business database, but an active user account "
                      "is linked to it; user access is kept, so the sync does not delete "
                      "it. Deactivate the account in Kontor (Administration → Users) "
                      "first, or add the employee to the business database again"),
    "last_superuser": _l("it was made inactive in the business database, but its account is "
                         "the last active superuser's, which stays active. Make another user "
                         "superuser first"),
}
# Records a cycle left out, and what to do (found by a new-user test: errors never pass
# silently, and the message says what to do)
IN_USE_LINE = _l("%(record)s was deleted in the business database, but Kontor keeps it, with "
                 "its contact persons and notes, because these support cases belong to it: "
                 "%(cases)s. If it was deleted by mistake, restore it in the business "
                 "database; otherwise Kontor keeps it until the sync is set up again.")
ORPHAN_LINE = _l("%(record)s (business key %(key)s) belongs to %(parent)s, which does not "
                 "exist in the table %(table)s. It is not synced: correct its %(field)s in "
                 "the business database, or delete it there.")
PARENT_ONE = {"contacts": _l("contact %(name)s"),
              "contact_persons": _l("contact person %(name)s")}
PARENT_UNBOUND = {
    "business": _l("%(record)s and others of %(parent)s are not synced, because that record "
                   "is not synced (see the sync history, for example a customer number that "
                   "another contact has)."),
    "kontor": _l("%(record)s and others of %(parent)s are not written to the business "
                 "database, because that record is not synced (see the sync history, for "
                 "example a customer number that another contact has)."),
}
MASS_DELETE_LINE = _l("%(count)s of the %(total)s synced records of %(entity)s (table "
                      "%(table)s) are missing in the business database. Kontor deleted none "
                      "of them. If the business database was replaced or emptied by mistake, "
                      "restore it; if the deletes are intended, confirm them under "
                      "Administration → Sync, Sync log.")
# How an Error line names a record (issue 16: by what a person knows it by, never by a key):
# `name` is the entry's label, `parent` the contact it belongs to ("number name").
RECORD_NAMES = {
    "contacts": _l("Contact %(name)s"),
    "employees": _l("Employee %(name)s"),
    "contact_persons": _l("Contact person %(name)s of contact %(parent)s"),
    "note_entries": _l("Note of %(name)s on contact %(parent)s"),
}
# A value that does not fit where it would be written ("unfit_value"), by the side it was to
# be written to, and what is wrong with it (kontor.sync.values.check_fit)
UNFIT_LINES = {
    "kontor": _l("%(record)s, field %(field)s: the value cannot be stored in Kontor: "
                 "%(problem)s (“%(value)s”)."),
    "business": _l("%(record)s, field %(field)s: the value cannot be stored in the business "
                   "database: %(problem)s (“%(value)s”)."),
}
UNFIT_PROBLEMS = {
    "wrong_type": _l("it is not %(expected)s"),
    "control": _l("it contains a control character"),
    "bad_email": _l("it is not an e-mail address"),
    "bad_country": _l("it is not a two-letter country code"),
    "bad_kind": _l("it is neither company nor person"),
    "out_of_range": _l("it is not from %(low)s to %(high)s"),
}
TYPES = {"text": _l("text"), "integer": _l("a whole number"), "decimal": _l("a number"),
         "boolean": _l("yes/no"), "timestamp": _l("a date and time")}
REFUSALS = {
    "not_superuser": _l("Only a superuser can activate the sync."),
    "not_ready": _l("Complete the checklist first."),
    "no_settings": _l("Save the business database's address first."),
    "active": _l("The sync is active: its settings cannot change while it runs."),
    "already_active": _l("The sync is already active: there is nothing to activate."),
    "no_access": _l("This user has no access to reactivate this company database."),
}


def problem_message(code, params=None):
    """The reader's words for a problem `code` with `params` (the names involved)."""
    params = dict(params or {})
    if code == "mapping":
        code = params.pop("problem", "")
        template = MAPPING_PROBLEMS.get(code)
    else:
        template = PROBLEMS.get(code)
    if template is None:
        return _("The sync stopped with an unexpected problem (%(code)s).", code=code)
    if code == "table_missing":
        params["entity"] = ENTITY_LABELS.get(params.get("entity"), params.get("entity", ""))
    if code == "wrong_type":
        params["expected"] = TYPES.get(params.get("expected"), params.get("expected", ""))
    values = {name: params.get(name, "") for name in
              ("path", "table", "entity", "column", "found", "expected", "detail", "section",
               "field", "where", "length", "other")}
    return str(template) % values


def record_named(entry):
    """How an Error line's record entry names the record: "Contact 10001 Bakker B.V.",
    "Employee lars@firma.example", "Contact person Kari Nordmann of contact 20001 Fjord AS"."""
    entity, name, parent = entry.get("entity"), entry.get("label", ""), entry.get("parent")
    name, parent = shown_value(name), shown_value(parent)
    if name and entity in RECORD_NAMES and (parent or entity in ("contacts", "employees")):
        return str(RECORD_NAMES[entity]) % {"name": name, "parent": parent}
    what = ENTITY_ONE.get(entity, entity or "")
    return f"{what} {name or entry.get('record', '')}".strip()


def shown_value(value):
    """A value as the log shows it: control characters as their visible symbols (␀ for
    NUL), so that what is wrong can be seen."""
    return "".join(chr(0x2400 + ord(ch)) if ord(ch) < 0x20 else "\u2421" if ch == "\x7f"
                   else ch for ch in str(value or ""))


def record_lines(problem):
    """The lines of a "records" Error: each record, its field and what is wrong."""
    lines = []
    for entry in problem.get("records", []):
        record = record_named(entry)
        field = entry.get("field")
        field_name = SYNC_FIELD_LABELS.get(field, field)
        if entry.get("reason") == "unfit_value":
            limit = entry.get("limit")
            low, high = limit if isinstance(limit, list) and len(limit) == 2 else ("", "")
            if entry.get("problem") == "too_long" and isinstance(limit, int):
                said = ngettext("it has more than %(num)s character",
                                "it has more than %(num)s characters", limit)
            else:
                template = UNFIT_PROBLEMS.get(entry.get("problem"),
                                              UNFIT_PROBLEMS["wrong_type"])
                said = str(template) % {
                    "expected": TYPES.get(entry.get("kind"), entry.get("kind", "")),
                    "low": low, "high": high}
            lines.append(str(UNFIT_LINES.get(entry.get("side"), UNFIT_LINES["kontor"])) % {
                "record": record, "field": field_name, "problem": said,
                "value": shown_value(entry.get("value"))})
            continue
        special = special_line(entry, record)
        if special:
            lines.append(special)
            continue
        reason = RECORD_REASONS.get(entry.get("reason"), entry.get("reason", ""))
        if field:
            lines.append(_("%(record)s, field %(field)s: %(reason)s (“%(value)s”).",
                           record=record, field=field_name, reason=reason,
                           value=shown_value(entry.get("value"))))
        else:
            lines.append(_("%(record)s: %(reason)s.", record=record, reason=reason))
    if problem.get("more"):
        lines.append(_("… and %(count)s more.", count=problem["more"]))
    return lines


def special_line(entry, record):
    """The line of a record entry that says more than "record: reason": a mass delete held
    back, an orphan, a parent not synced, a contact kept because support cases use it;
    None for the others."""
    reason = entry.get("reason")
    if reason == "mass_delete":
        return str(MASS_DELETE_LINE) % {
            "count": entry.get("count", ""), "total": entry.get("total", ""),
            "entity": ENTITY_LABELS.get(entry.get("entity"), entry.get("entity", "")),
            "table": entry.get("table", "")}
    if reason == "in_use" and entry.get("value"):
        return str(IN_USE_LINE) % {"record": record, "cases": shown_value(entry["value"])}
    parent = str(PARENT_ONE.get(entry.get("parent_entity"), PARENT_ONE["contacts"]))
    if reason == "orphan":
        return str(ORPHAN_LINE) % {
            "record": record_named(dict(entry, parent="")), "key": entry.get("record", ""),
            "parent": parent % {"name": shown_value(entry.get("parent_key", ""))},
            "table": entry.get("table", ""),
            "field": SYNC_FIELD_LABELS.get(entry.get("field"), entry.get("field", ""))}
    if reason == "parent_unbound":
        template = PARENT_UNBOUND.get(entry.get("side"), PARENT_UNBOUND["business"])
        return str(template) % {
            "record": record_named(dict(entry, parent="")),
            "parent": parent % {"name": shown_value(entry.get("parent")
                                                    or entry.get("parent_key", ""))}}
    return None


def described(exception):
    """The message for a BusinessDatabaseError, MappingError or SecretUnreadable."""
    if isinstance(exception, MappingError):
        return problem_message("mapping", {"problem": exception.code, **exception.params})
    if isinstance(exception, secret.SecretUnreadable):
        return problem_message("password_unreadable")
    return problem_message(exception.code, exception.params)


@bp.app_template_filter("sync_field")
@per_request
def sync_field(name):
    """A synced field's name in the reader's words (the column name when there are none)."""
    return SYNC_FIELD_LABELS.get(name, name)


class SettingsForm(Form):
    url = StringField(_l("Business database address"),
                      validators=[DataRequired(), Length(max=500)],
                      description=_l("sqlite:////path/to/file.db (a file on this computer's "
                                     "own disk) or postgresql://user@host:5432/name"))
    password = PasswordField(_l("Database password"), validators=[Length(max=200)],
                             description=_l("Leave empty to keep the stored password. It is "
                                            "stored encrypted and never shown again."),
                             render_kw={"autocomplete": "new-password"})
    mapping = TextAreaField(_l("Mapping (TOML)"), validators=[Length(max=MAX_MAPPING)],
                            description=_l("Empty for the default table layout; see the README "
                                           "for mapping other table and column names."),
                            render_kw={"rows": 8, "spellcheck": "false"})
    version = HiddenField()
    submit = SubmitField(_l("Save sync settings"))


class ActivateForm(Form):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Activate the sync"))


# Test connection's problems that lie in the mapping (shown beside the mapping field too)
# and in the address (beside the address field)
MAPPING_FIELD_PROBLEMS = {"table_missing", "column_missing", "wrong_type", "key_not_unique",
                          "key_too_short"}
URL_FIELD_PROBLEMS = {"bad_url", "relative_path", "bad_port", "no_file", "not_database",
                      "cannot_open", "network_share", "no_database"}


def stored_form(current=None):
    """The settings form filled with the stored settings."""
    current = current or service.state()
    form = SettingsForm(obj=current, formdata=None)
    form.url.data = current.business_url
    form.version.data = current.version
    return form


def stopped_notice_values():
    """The stopped service notice's value for a sync page: `stopped` (since when, or None;
    the threshold follows KONTOR_SYNC_SECONDS: service.stopped_after)."""
    return {"stopped": service.stopped_since(
        interval_seconds=current_app.config.get("SYNC_SECONDS"))}


def settings_page(form=None, activate_form=None, status=200, **extra):
    current = service.state()
    if form is None:
        form = stored_form(current)
    owner = User.get_or_none(User.id == current.owner_id) if current.owner_id else None
    if not current.active:     # who else is signed in: the first sync needs Kontor to itself
        extra = {**first_sync_views.signed_in_context(), **extra}
    return render_template(
        "sync/settings.html", state=current, form=form, owner=owner,
        activate_form=activate_form or ActivateForm(formdata=None, prefix="activate"),
        test_form=ActionForm(),
        missing=company_rules.missing_for_readiness(current_company(), current_user),
        **stopped_notice_values(), restart_form=ActionForm(), **extra), status


@bp.route("", methods=["GET", "POST"])
@superuser_required
def settings():
    """Sync settings: the business database's address, its password and the mapping."""
    if request.method == "GET":
        return settings_page()
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            service.save_settings(current_app.config["DATA_DIR"], form.url.data,
                                  form.password.data, form.mapping.data,
                                  versions.opened_version(form.version.data), current_user,
                                  ip=request.remote_addr)
        except BusinessDatabaseError as problem:
            form.url.errors.append(described(problem))
        except MappingError as problem:
            form.mapping.errors.append(described(problem))
        except service.SyncRefused as refused:
            flash(str(REFUSALS.get(refused.reason, refused.reason)), "error")
            return redirect(url_for("sync.settings"))
        except versions.ChangedMeanwhile as clash:
            form.version.data = clash.current.version   # saving again overwrites knowingly
            return settings_page(form, status=409, changed=True)
        else:
            flash(_("Sync settings saved. Test the connection next."), "success")
            return redirect(url_for("sync.settings"))
    return settings_page(form, status=400)


@bp.route("/test", methods=["POST"])
@superuser_required
def test_connection():
    """Test connection with the stored settings: what is wrong, or the rows per table."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        report = service.check_stored(current_app.config["DATA_DIR"])
    except service.SyncRefused as refused:
        return settings_page(test_problem=str(REFUSALS[refused.reason]), status=400)
    except (BusinessDatabaseError, MappingError, secret.SecretUnreadable) as problem:
        code = getattr(problem, "code", "password_unreadable")
        audit.record("sync.test", current_user, target=service.state().business_url,
                     detail=f"failed: {code}", ip=request.remote_addr)
        form = None
        if not service.state().active:       # the problem beside the field to change
            form = stored_form()
            if isinstance(problem, MappingError) or code in MAPPING_FIELD_PROBLEMS:
                form.mapping.errors = [described(problem)]
            elif code in URL_FIELD_PROBLEMS:
                form.url.errors = [described(problem)]
        return settings_page(form, test_problem=described(problem))
    audit.record("sync.test", current_user, target=service.state().business_url,
                 detail="ok", ip=request.remote_addr)
    counts = [(ENTITY_LABELS.get(name, name), count) for name, count in report.counts.items()]
    return settings_page(test_counts=counts)


@bp.route("/activate", methods=["POST"])
@superuser_required
def activate():
    """Activate the sync: the superuser confirms with their own password."""
    form = ActivateForm(prefix="activate")
    if not form.validate_on_submit():
        return settings_page(activate_form=form, status=400)
    try:
        service.activate(current_app.config["DATA_DIR"], current_user, form.password.data,
                         ip=request.remote_addr, timeouts=first_sync_views.timeouts())
    except service.SyncRefused as refused:
        if refused.reason == "locked":       # too many wrong passwords: as at sign-in
            return locked_out(current_user._get_current_object(), refused.outcome)
        if refused.reason == "already_active":
            flash(str(REFUSALS["already_active"]), "info")
            return redirect(url_for("sync.settings"), 303)
        if refused.reason == "signed_in":
            form.password.errors.append(str(first_sync_views.SIGNED_IN_REFUSAL))
            form.password.data = ""
            return settings_page(activate_form=form, status=409)
        if refused.reason == "wrong_password":
            form.password.errors.append(_("This is not your password."))
        elif refused.reason == "connection":
            form.password.errors.append(
                _("The connection test failed: %(problem)s", problem=described(refused.problem)))
        else:
            form.password.errors.append(str(REFUSALS.get(refused.reason, refused.reason)))
        form.password.data = ""
        return settings_page(activate_form=form, status=400)
    flash(_("The sync is active. The first sync runs in the background now."), "success")
    return redirect(url_for("sync.progress"))


class RunLine:
    """One sync log line as the page shows it: the SyncRun, the computer and process that ran
    it (`node`: "PC-KONTOR (pid 1234)"; the raw node id stays in `run.node`) and its worded
    message."""

    def __init__(self, run, names=None):
        self.run = run
        computer, pid = (names or {}).get(run.node, (run.node, None))
        self.node = _("%(computer)s (pid %(pid)s)", computer=computer, pid=pid) \
            if pid is not None else computer
        self.message = ""
        self.details = []
        self.mass_deletes = []     # held deletes a superuser may confirm
        self.confirmed = None      # {"by", "at"} once confirmed
        if run.status == "error":
            problem = service.error_of(run)
            self.message = problem_message(problem.get("code", ""), problem)
            if problem.get("code") == "records":
                self.details = record_lines(problem)
                self.mass_deletes = service.mass_deletes(run)
                self.confirmed = confirmed_of(problem)
            elif problem.get("code") == "login_refused":     # issue 17 item 3: what to do
                self.details = [_("If the business database's password was changed, enter "
                                  "the new one under Sync settings, Update password. Until "
                                  "then the sync does not run.")]


def confirmed_of(problem):
    """Who confirmed an Error line's mass deletes and when ({"by", "at": naive UTC}), or
    None."""
    confirmed = problem.get("confirmed")
    if not isinstance(confirmed, dict):
        return None
    try:
        at = datetime.datetime.fromisoformat(str(confirmed.get("at", "")))
    except ValueError:
        at = None
    return {"by": str(confirmed.get("by", "")), "at": at}


@bp.route("/log")
@superuser_required
def log():
    """The sync log: one line per run (quiet runs folded), newest first, 50 to a page."""
    page = paginate(SyncRun.select().order_by(SyncRun.id.desc()), request.args.get("page"))
    names = service.node_names(run.node for run in page.items)
    return render_template("sync/log.html", page=page,
                           lines=[RunLine(run, names) for run in page.items],
                           state=service.state(), **stopped_notice_values(),
                           restart_form=ActionForm(), run_form=ActionForm())


@bp.route("/log/<int:run_id>/confirm-deletes", methods=["POST"])
@superuser_required
def confirm_deletes(run_id):
    """Confirm the deletes an Error line held back (the mass-delete safeguard): the next
    run applies them, once. Audited."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        service.confirm_deletes(run_id, current_user, ip=request.remote_addr)
    except service.SyncRefused:
        flash(_("This line has no deletes to confirm."), "error")
        return redirect(url_for("sync.log"))
    flash(_("The deletes are confirmed: the next run applies them."), "success")
    return redirect(url_for("sync.log"))


@bp.route("/restart", methods=["POST"])
@superuser_required
def restart():
    """Restart the sync service: the scheduler if it stopped; the sync job runs at once, in
    the background."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return started_job("sync.restart")


@bp.route("/run", methods=["POST"])
@superuser_required
def run_now():
    """Run the sync job now, in the background, without waiting for its next turn."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return started_job("sync.run")


def started_job(action):
    """Have the scheduler run the sync job now (kontor.jobs.run_soon), never the cycle
    itself in this request: a long first sync would hold the page, and the request thread
    would race the scheduler's. Audit it as `action`, say what happens, and back to the log,
    which shows the run's line when the job has run."""
    if not service.state().active:
        audit.record(action, current_user, ip=request.remote_addr, detail="inactive")
        flash(_("No sync ran now: the sync is not active."), "info")
        return redirect(url_for("sync.log"))
    how = jobs.run_soon(current_app.extensions, current_app.config, "sync",
                         app=current_app._get_current_object())
    elsewhere = service.syncing_elsewhere()
    audit.record(action, current_user, ip=request.remote_addr,
                 detail={"started": "scheduler started", "woken": "job started"}.get(
                     how, "no scheduler in this process")
                 + (f"; lease held by {elsewhere}" if elsewhere else ""))
    if elsewhere:
        computer, pid = service.node_names([elsewhere])[elsewhere]
        flash(_("Another Kontor process syncs now (%(node)s): its next run does the work. "
                "Reload this page to see it.",
                node=_("%(computer)s (pid %(pid)s)", computer=computer, pid=pid)
                if pid is not None else computer), "info")
    elif how == "started":
        flash(_("The sync service was started again and syncs now, in the background. "
                "Reload this page in a moment to see the result."), "success")
    elif how == "woken":
        flash(_("The sync runs now, in the background. Reload this page in a moment to see "
                "the result."), "success")
    else:
        flash(_("This Kontor process runs no background jobs (it was not started as the "
                "server), so it cannot start the sync."), "error")
    return redirect(url_for("sync.log"))


@bp.route("/history")
@superuser_required
def history():
    """The sync history (conflicts, deletes, restores), newest first; filter by entity."""
    entity = request.args.get("entity", "")
    query = SyncConflict.select().order_by(SyncConflict.at.desc(), SyncConflict.id.desc())
    if entity in ENTITY_LABELS:
        query = query.where(SyncConflict.entity == entity)
    else:
        entity = ""
    page = paginate(query, request.args.get("page"))
    return render_template("sync/history.html", page=page, entity=entity,
                           entities=ENTITY_LABELS, entity_one=ENTITY_ONE,
                           resolutions=RESOLUTIONS)


GROUP_LABELS = {"persons": _l("Contact persons"), "notes": _l("Notes"),
                "web_accounts": _l("Web accounts"), "contact_persons": _l("Contact persons"),
                "note_entries": _l("Notes")}
# What belongs to a deleted record, by its key in the kept JSON (Kontor's names and the
# business database's): the entity whose fields it has
GROUP_ENTITIES = {"persons": "contact_persons", "contact_persons": "contact_persons",
                  "notes": "note_entries", "note_entries": "note_entries"}
# Kontor's column names where they differ from the synced field's name
KONTOR_NAMES = {"author_name": "author"}
# Fields a person never needs to see: links (shown as the record they link to) and a note's
# sync identity
HIDDEN_FIELDS = {"contact_id", "person_id", "uid"}
KIND_LABELS = {"company": _l("Company"), "person": _l("Person")}
WEB_ACCOUNT_FIELDS = (("website", _l("Website")), ("email", _l("E-mail")),
                      ("status", _l("Status")))


def record_shown(text, entity):
    """A deleted or restored record's JSON (kontor/sync engine's `row`, from either side)
    for the page: its user-facing fields as (label, value) pairs, in the order of the
    contact form, and what belonged to it (persons, notes, web accounts) as (heading,
    column labels, rows of values). Only the synced fields are shown (Kontor's own columns
    such as ids and matching keys are left out), labelled as the forms label them and
    formatted for the reader: yes/no, the type in words, times in the company's time zone
    and the reader's locale, amounts and countries as the reader writes them. Text that is
    no JSON object shows nothing."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict) or entity not in BY_NAME:
        return [], []
    fields = [(label, value) for label, value in _shown_fields(entity, data) if value != ""]
    groups = []
    persons = {}
    for name, value in data.items():
        if name in GROUP_ENTITIES and isinstance(value, list) \
                and GROUP_ENTITIES[name] == "contact_persons":
            for row in value:
                if isinstance(row, dict):
                    for key in ("id", "key"):
                        if row.get(key) not in (None, ""):
                            persons[str(row[key])] = str(row.get("name") or "")
    for name, value in data.items():
        if not isinstance(value, list):
            continue
        rows = [row for row in value if isinstance(row, dict)]
        if name == "web_accounts":
            labels = [label for _key, label in WEB_ACCOUNT_FIELDS]
            shown = [[_web_account_value(key, row.get(key)) for key, _label in
                      WEB_ACCOUNT_FIELDS] for row in rows]
        elif name in GROUP_ENTITIES:
            child = GROUP_ENTITIES[name]
            labels = [label for label, _value in _shown_fields(child, {})]
            shown = [[value for _label, value in _shown_fields(child, row)] for row in rows]
            if child == "note_entries" and persons:
                labels.append(_field_label("person_id"))
                for row, values in zip(rows, shown, strict=True):
                    link = row.get("person", row.get("person_id"))
                    values.append(persons.get(str(link), "") if link not in (None, "") else "")
        else:
            continue
        groups.append((GROUP_LABELS.get(name, name), labels, shown))
    return fields, groups


def _shown_fields(entity, row):
    """[(label, formatted value)] of `entity`'s user-facing synced fields in `row` (a kept
    record of either side: Kontor's column names or the synced field names)."""
    values = {KONTOR_NAMES.get(name, name): value for name, value in row.items()}
    return [(_field_label(spec.name), _formatted(spec, values.get(spec.name)))
            for spec in BY_NAME[entity].fields if spec.name not in HIDDEN_FIELDS]


def _field_label(name):
    return SYNC_FIELD_LABELS.get(name, name)


def _formatted(spec, value):
    """A kept value of field `spec` as the reader reads it ("" for none)."""
    if value is None or value == "" or isinstance(value, (list, dict)):
        return ""
    if spec.kind == BOOLEAN:
        if str(value).strip().lower() in ("1", "true", "t", "yes"):
            return _("Yes")
        if str(value).strip().lower() in ("0", "false", "f", "no"):
            return _("No")
        return str(value)
    if spec.kind == TIMESTAMP:
        try:
            moment = value if isinstance(value, datetime.datetime) else \
                datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return str(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
        return local_time(moment.replace(microsecond=0))
    if spec.kind == DECIMAL:
        try:
            return format_decimal(Decimal(str(value)), format="#,##0.00")
        except InvalidOperation:
            return str(value)
    if spec.name == "kind":
        return str(KIND_LABELS.get(value, value))
    if spec.name in ("country", "visit_country"):
        return country_name(str(value)) or str(value)
    return str(value)


@bp.app_template_filter("sync_value")
@per_request
def sync_value(value, entity, name):
    """A value of the sync history (agreed, Kontor's, the business database's) of field
    `name` of `entity` as the reader reads it: yes/no, the type in words, a time in the
    company's time zone; "—" for none."""
    if value is None:
        return "—"
    spec = next((f for f in BY_NAME[entity].fields if f.name == name), None) \
        if entity in BY_NAME else None
    if spec is None or name in HIDDEN_FIELDS:
        return value
    return _formatted(spec, value)


def _web_account_value(name, value):
    if value is None:
        return ""
    if name == "status":
        return str(ACCOUNT_STATUS_LABELS.get(value, value))
    return str(value)


@bp.route("/history/<int:entry_id>")
@superuser_required
def history_entry(entry_id):
    """One entry of the sync history with the whole record a delete took away."""
    entry = get_object_or_404(SyncConflict, SyncConflict.id == entry_id)
    fields, groups = record_shown(entry.row, entry.entity)
    return render_template("sync/entry.html", entry=entry, fields=fields, groups=groups,
                           entity_one=ENTITY_ONE, resolutions=RESOLUTIONS)


# the first sync's pages are this blueprint's too; they import it, so they come last
from blueprints import first_sync as first_sync_views  # noqa: E402
