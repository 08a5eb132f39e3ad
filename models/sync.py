"""The sync with the business database (SPEC section 8; issue 16): its settings and owner, the
identity map between Kontor's records and the business rows, the state both sides last agreed
on, the sync log, the sync history (conflicts) and the Kontor processes that may sync.

The sync's lease is the `job_lease` row named "sync" (models.system.JobLease: holder, epoch,
expiry), the same mechanism as every scheduled job, with the sync's own expiry (15 minutes).
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.accounts import User
from models.clock import utcnow
from models.db import BaseModel

RUN_STATUSES = ("running", "ok", "error")
RESOLUTIONS = ("business", "kontor", "deleted", "restored", "unbound")


class SyncState(BaseModel):
    """The one row (id 1) of the sync's settings and state. `business_url` is the business
    database's Peewee URL without its password; `business_password` the password sealed with
    the data folder's key (kontor/sync/secret.py); `mapping` the mapping file's TOML ("" for
    the default layout). `owner` is the sync owner (the superuser who activated it);
    `active` whether the sync runs; `first_sync_done_at` when the first sync finished.
    `node` is the chosen sync computer (SyncNode.node_id, "" for any). `version` guards the
    settings page against lost updates. `restored_at`: when a restore of a backup switched
    the sync off (kontor/backups.py); it must be reactivated, with a fresh first sync."""
    business_url = CharField(max_length=500, default="")
    business_password = TextField(default="")
    mapping = TextField(default="")
    active = BooleanField(default=False)
    owner = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    node = CharField(max_length=120, default="")
    activated_at = DateTimeField(null=True)
    first_sync_done_at = DateTimeField(null=True)
    tested_at = DateTimeField(null=True)
    version = IntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)
    restored_at = DateTimeField(null=True)
    # issue 17: when the sync was deactivated (the owner stays: only they may reactivate),
    # and the last takeover by another computer (the node that stopped renewing its lease)
    deactivated_at = DateTimeField(null=True)
    taken_over_from = CharField(max_length=120, default="")
    taken_over_at = DateTimeField(null=True)


class SyncBinding(BaseModel):
    """The identity map: Kontor's record `kontor_id` of `entity` ("employees", "contacts",
    "contact_persons", "note_entries") is the business row with key `business_key` (text).
    `natural_key` is what bound them (e-mail, customer number and name, note uid)."""
    entity = CharField(max_length=20)
    kontor_id = IntegerField()
    business_key = CharField(max_length=100)
    natural_key = CharField(max_length=300, default="")

    class Meta:
        indexes = ((("entity", "kontor_id"), True), (("entity", "business_key"), True))


class SyncBase(BaseModel):
    """The state both sides last agreed on for one bound record: the synced fields' values
    (`agreed`, JSON {field: value as text or null}), a hash of the business row as read, the
    Kontor record's change counter (`version`) at agreement, and whether the record was
    deleted on both sides (kept so that a late copy is not brought back)."""
    entity = CharField(max_length=20)
    kontor_id = IntegerField()
    agreed = TextField(default="{}")
    business_hash = CharField(max_length=64, default="")
    kontor_version = IntegerField(default=0)
    deleted = BooleanField(default=False)

    class Meta:
        indexes = ((("entity", "kontor_id"), True),)


class SyncRun(BaseModel):
    """One line of the sync log: one cycle (or, for quiet cycles, several folded together:
    `quiet_runs` counts them and `finished_at` is the last one's end). Counts: rows read,
    records written to the business database and to Kontor, conflicts. `epoch` is the lease's
    at the time; `node` the process that ran it. `error` is the message of an Error line."""
    node = CharField(max_length=120)
    epoch = IntegerField(default=0)
    started_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)
    status = CharField(max_length=10, default="running")
    first = BooleanField(default=False)
    read = IntegerField(default=0)
    to_business = IntegerField(default=0)
    to_kontor = IntegerField(default=0)
    conflicts = IntegerField(default=0)
    quiet_runs = IntegerField(default=0)
    error = TextField(default="")


class SyncConflict(BaseModel):
    """One entry of the sync history: a field of a record that both sides changed (the
    business value won), a difference found at the first sync, or a delete that lost (then
    `row` holds the whole losing record with its notes, JSON, so nothing is unrecoverable).
    Values are text as the sync compared them ("" for none; `None` is stored as null)."""
    run = ForeignKeyField(SyncRun, null=True, backref="conflict_rows", on_delete="SET NULL")
    at = DateTimeField(default=utcnow)
    entity = CharField(max_length=20)
    kontor_id = IntegerField(null=True)
    business_key = CharField(max_length=100, default="")
    label = CharField(max_length=300, default="")     # the record as a person names it
    field = CharField(max_length=50, default="")
    base_value = TextField(null=True)
    kontor_value = TextField(null=True)
    business_value = TextField(null=True)
    resolution = CharField(max_length=10, default="business")
    row = TextField(default="")

    class Meta:
        indexes = ((("entity", "kontor_id", "at"), False), (("at",), False))


class SyncNode(BaseModel):
    """A Kontor process that could run the sync: `node_id` (host:pid:random), the computer's
    name, and when it was last seen (renewed by the process's scheduler)."""
    node_id = CharField(max_length=120, unique=True)
    computer = CharField(max_length=200)
    pid = IntegerField(default=0)
    started_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow, index=True)


class SyncFirstProgress(BaseModel):
    """The first sync's progress, one row per synced table (`entity`): the records to sync
    (`total`: the business table's rows and Kontor's records not bound yet, counted when a run
    of the first sync starts) and those done (bound on both sides); when the first sync
    started, when its current run started (`resumed_at`, with `done_at_resume` done by then:
    the rate for the estimate of the time left) and when this table was finished
    (kontor/sync/first_sync.py; issue 17 item 1)."""
    entity = CharField(max_length=20, unique=True)
    total = IntegerField(default=0)
    done = IntegerField(default=0)
    done_at_resume = IntegerField(default=0)
    started_at = DateTimeField(default=utcnow)
    resumed_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
