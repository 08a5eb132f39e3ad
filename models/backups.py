"""Backups and alerts (issue 17 items 5-6): the backup settings with the nightly job's last
result, and when each kind of alert e-mail last went out."""
from peewee import CharField, DateTimeField, IntegerField, TextField

from models.clock import utcnow
from models.db import BaseModel


class BackupSetting(BaseModel):
    """The one row (id 1) of the backup settings: `folder` is where nightly backups go (""
    for the data folder's `backups`), chosen by a superuser (a NAS mount, a USB disk). The
    nightly job records its last backup (time, file name) and its last failure (message,
    time). `version` guards the settings form against lost updates."""
    folder = CharField(max_length=500, default="")
    last_nightly_at = DateTimeField(null=True)
    last_nightly_file = CharField(max_length=200, default="")
    last_error = TextField(default="")
    last_error_at = DateTimeField(null=True)
    version = IntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)


class AlertSent(BaseModel):
    """When the alert e-mail of `kind` ("backup_failed", "sync_failed", ...) last went to the
    superusers, and how many of that kind were held back since (kontor/alerts.py)."""
    kind = CharField(max_length=50, unique=True)
    last_sent_at = DateTimeField(default=utcnow)
    held_back = IntegerField(default=0)
