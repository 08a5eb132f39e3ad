"""Administration → Backups (issue 17 item 5), for superusers: make and download a backup, the
backup folder of the nightly backups, the list of backups, and restoring one (an upload or a
listed backup). The rules live in kontor/backups.py; these views only word what it answers."""
import os
import tempfile
from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from wtforms import FileField as PlainFileField
from wtforms import HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from blueprints.forms import ActionForm, Form
from blueprints.lockout import locked_out
from kontor import alerts, audit, backups, staff_auth, storage, versions
from kontor.access import superuser_required
from kontor.text import one_line
from models import User

bp = Blueprint("backups", __name__, url_prefix="/admin/backups")

MEGABYTE = 1024 * 1024

REFUSALS = {
    "folder_relative": _l("Write the folder's full path, such as /mnt/nas/kontor or "
                          "/media/usb-backup."),
    "folder_missing": _l("There is no such folder on this computer. Create it first (or "
                         "connect the disk or share it is on)."),
    "not_a_folder": _l("This is a file, not a folder."),
    "folder_not_writable": _l("Kontor cannot write into this folder: give the account "
                              "Kontor runs as permission to write there, or check that the "
                              "disk is not full or read-only."),
    "no_pg_dump": _l("Kontor's database is PostgreSQL, and the program pg_dump is not "
                     "installed on this computer, so Kontor cannot back it up. Install "
                     "PostgreSQL's client programs (on Debian and Ubuntu: the package "
                     "postgresql-client) and try again."),
    "no_psql": _l("Kontor's database is PostgreSQL, and the programs pg_restore and psql are "
                  "not installed on this computer, so Kontor cannot restore it. Install "
                  "PostgreSQL's client programs (on Debian and Ubuntu: the package "
                  "postgresql-client) and try again."),
    "dump_failed": _l("The backup of the database failed: %(detail)s"),
    "sync_active": _l("The sync with the business database is active. Deactivate it first "
                      "(Administration → Sync); after the restore you activate it again."),
    "signed_in": _l("Other people are signed in. A restore replaces everything they work on: "
                    "ask them to sign out, or end their sessions below."),
    "not_a_backup": _l("This file is not a Kontor backup."),
    "format": _l("This backup was made by a newer version of Kontor. Update Kontor first."),
    "checksum": _l("This backup is damaged: its contents do not match their checksum (a "
                   "file cut short or changed). Nothing was changed. Use another backup."),
    "other_database": _l("This backup is of another kind of database than this Kontor uses "
                         "(SQLite and PostgreSQL backups cannot be restored into each "
                         "other)."),
    "integrity": _l("The database in this backup is damaged (%(detail)s). Nothing was "
                    "changed. Use another backup."),
    "newer_schema": _l("This backup was made by a newer version of Kontor (it has the "
                       "changes %(names)s, which this version does not know). Update Kontor "
                       "first."),
    "failed": _l("The restore failed and nothing was changed: %(detail)s"),
}


def refusal_message(refused):
    """The reader's words for a BackupRefused."""
    template = REFUSALS.get(refused.reason)
    if template is None:
        return _("The backup could not be used (%(code)s).", code=refused.reason)
    return str(template) % {"detail": getattr(refused, "detail", ""),
                            "names": ", ".join(getattr(refused, "names", []))}


KIND_LABELS = {"manual": _l("Made by hand"), "nightly": _l("Nightly"),
               "before-restore": _l("Kept before a restore")}


@bp.record_once
def remember_app(state):
    """Alerts from the scheduler's threads render their e-mails in this app (kontor/alerts.py);
    a restore's upload may be larger than other requests: its limit is raised before the
    CSRF check reads the form."""
    alerts.init_app(state.app)
    state.app.before_request_funcs.setdefault(None, []).insert(0, raise_upload_limit)


def raise_upload_limit():
    """The restore page's upload may be as large as KONTOR_RESTORE_UPLOAD_MAX_MB."""
    if request.endpoint == "backups.restore" and request.method == "POST":
        request.max_content_length = current_app.config.get(
            "RESTORE_UPLOAD_MAX_MB", 1024) * MEGABYTE


class FolderForm(Form):
    folder = StringField(_l("Backup folder"), validators=[Length(max=500)],
                         description=_l("The full path of a folder on another disk, such as a "
                                        "NAS share or a USB disk mounted on this computer, "
                                        "so that a backup survives this computer's disk. "
                                        "Empty: the data folder's own backups folder."),
                         render_kw={"spellcheck": "false", "autocomplete": "off"})
    version = HiddenField()
    submit = SubmitField(_l("Save backup folder"))


class RestoreForm(Form):
    backup = SelectField(_l("A listed backup"), choices=[], validate_choice=False)
    upload = PlainFileField(_l("Or a backup file from this computer"),
                            description=_l("A .zip file that Kontor made."))
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Restore this backup"))


def folder_or_none():
    """The backup folder, or None when the chosen one is gone (flashed once per page)."""
    try:
        return backups.backup_folder(current_app.config["DATA_DIR"])
    except backups.BackupRefused as refused:
        flash(_("The backup folder cannot be used: %(problem)s",
                problem=refusal_message(refused)), "error")
        return None


@bp.route("")
@superuser_required
def index():
    """The backups: make one now, the backup folder, the nightly backup and the list."""
    return index_page()


def index_page(form=None, status=200, changed=False):
    current = backups.settings()
    if form is None:
        form = FolderForm(formdata=None)
        form.folder.data = current.folder
        form.version.data = current.version
    folder = folder_or_none()
    return render_template(
        "backups/index.html", form=form, settings=current, folder=folder,
        backups=backups.listed(folder) if folder is not None else [],
        kinds=KIND_LABELS, action_form=ActionForm(), changed=changed,
        data_backups=storage.DataFolder(current_app.config["DATA_DIR"]).backups,
        days=current_app.config.get("BACKUP_DAYS", backups.DEFAULT_DAYS),
        hour=current_app.config.get("BACKUP_HOUR", backups.DEFAULT_HOUR),
        postgres=backups.database_kind(current_app.config["DATABASE_URL"]) == "postgresql",
        pg_dump=backups._program("pg_dump") is not None), status


@bp.route("/folder", methods=["POST"])
@superuser_required
def folder():
    """Choose the backup folder (checked: it exists and Kontor can write there)."""
    form = FolderForm()
    if not form.validate_on_submit():
        return index_page(form, status=400)
    try:
        backups.save_folder(form.folder.data, versions.opened_version(form.version.data),
                            current_user, ip=request.remote_addr)
    except backups.BackupRefused as refused:
        form.folder.errors.append(refusal_message(refused))
        return index_page(form, status=400)
    except versions.ChangedMeanwhile as clash:
        form.version.data = clash.current.version    # saving again overwrites knowingly
        return index_page(form, status=409, changed=True)
    flash(_("Backup folder saved."), "success")
    return redirect(url_for("backups.index"))


@bp.route("/new", methods=["POST"])
@superuser_required
def make():
    """Make a backup now: it is kept in the backup folder and downloaded at once."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        backup = backups.create_backup(current_app.config, "manual")
    except backups.BackupRefused as refused:
        audit.record("backup.failed", current_user, detail=refused.reason,
                     ip=request.remote_addr)
        flash(refusal_message(refused), "error")
        return redirect(url_for("backups.index"))
    audit.record("backup.made", current_user, target=backup.name, detail=f"{backup.size} bytes",
                 ip=request.remote_addr)
    return download_response(backup)


def download_response(backup):
    """The backup file as a download (SECURITY.md item 31)."""
    response = send_file(backup.path, mimetype="application/octet-stream",
                         as_attachment=True, download_name=backup.name, max_age=0)
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.route("/files/<name>")
@superuser_required
def download(name):
    """Download one listed backup."""
    folder = folder_or_none()
    backup = backups.find(folder, name) if folder is not None else None
    if backup is None:
        abort(404)
    audit.record("backup.downloaded", current_user, target=backup.name, ip=request.remote_addr)
    return download_response(backup)


def restore_page(form=None, status=200, refusal=None):
    folder = folder_or_none()
    listed = backups.listed(folder) if folder is not None else []
    if form is None:
        form = RestoreForm(formdata=None)
    form.backup.choices = [("", _("— choose a backup —"))] + [
        (backup.name, backup.name) for backup in listed]
    refusal = refusal or backups.restore_refusal(current_user.id)
    others = getattr(refusal, "sessions", [])
    users = {user.id: user for user in User.select().where(
        User.id.in_([row.user_id for row in others if row.user_id]))} if others else {}
    return render_template("backups/restore.html", form=form, refusal=refusal,
                           refusal_text=refusal_message(refusal) if refusal else "",
                           others=others, users=users, end_form=ActionForm(),
                           limit_mb=current_app.config.get("RESTORE_UPLOAD_MAX_MB", 1024),
                           listed=listed), status


@bp.route("/restore", methods=["GET", "POST"])
@superuser_required
def restore():
    """Restore a backup: refused while the sync is active or others are signed in; the file
    is checked completely before anything changes; the superuser confirms with their
    password. Afterwards everyone (this superuser too) signs in again."""
    if request.method == "GET":
        return restore_page()
    form = RestoreForm()
    form.backup.choices = []
    if not form.validate_on_submit():
        return restore_page(form, status=400)
    # wrong guesses count toward the sign-in's lockout
    outcome = staff_auth.confirm_password(current_user._get_current_object(),
                                          form.password.data, "backup.restore",
                                          ip=request.remote_addr)
    if outcome in ("locked", "locked_now"):
        return locked_out(current_user._get_current_object(), outcome)
    if outcome != "ok":
        form.password.errors.append(_("This is not your password."))
        return restore_page(form, status=400)
    upload = request.files.get(form.upload.name)
    chosen = form.backup.data or ""
    temporary = None
    try:
        if upload is not None and upload.filename:
            fd, temporary = tempfile.mkstemp(prefix=".restore-upload-", suffix=".zip",
                                             dir=storage.DataFolder(
                                                 current_app.config["DATA_DIR"]).create())
            with os.fdopen(fd, "wb") as handle:
                upload.save(handle)
            path, source = Path(temporary), one_line(upload.filename)[:200]
        elif chosen:
            folder = folder_or_none()
            backup = backups.find(folder, chosen) if folder is not None else None
            if backup is None:
                form.backup.errors.append(_("There is no such backup in the backup folder."))
                return restore_page(form, status=400)
            path, source = backup.path, backup.name
        else:
            form.backup.errors.append(_("Choose a listed backup or a backup file."))
            return restore_page(form, status=400)
        try:
            restored = backups.restore(current_app.config, path, user=current_user,
                                       ip=request.remote_addr, source=source)
        except backups.BackupRefused as refused:
            form.password.data = ""
            status = 409 if refused.reason in ("sync_active", "signed_in") else 400
            if refused.reason in ("sync_active", "signed_in"):
                return restore_page(form, status=status, refusal=refused)
            beside = form.upload if upload is not None and upload.filename else form.backup
            beside.errors.append(refusal_message(refused))
            return restore_page(form, status=status)
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    # every session ended with the restore, this one too: sign in again
    logout_user()
    session.clear()
    session.row_id = session.sid = None
    flash(_("Kontor was restored from the backup made %(when)s. Everyone signs in again. "
            "The sync with the business database is off: activate it again under "
            "Administration → Sync (enter the database's password again if asked); it "
            "starts with a fresh first sync.", when=made_at(restored.manifest)), "success")
    return redirect(url_for("auth.login"))


def made_at(manifest):
    """When the backup of `manifest` was made, in the reader's time zone and words."""
    try:
        return format_datetime(datetime.fromisoformat(manifest.get("created_at", "")))
    except (TypeError, ValueError):
        return "?"


@bp.route("/restore/end-sessions", methods=["POST"])
@superuser_required
def end_sessions():
    """End every other signed-in session (staff and portal customers) so a restore can run."""
    if not ActionForm().validate_on_submit():
        abort(400)
    ended = backups.end_other_sessions(session.row_id, current_user, ip=request.remote_addr)
    flash(ngettext("%(num)s session ended.", "%(num)s sessions ended.", ended), "success")
    return redirect(url_for("backups.restore"))
