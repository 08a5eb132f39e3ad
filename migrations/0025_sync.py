"""The sync with the business database (issue 16): `sync_state` (settings, owner; one row),
`sync_binding` (identity map), `sync_base` (agreed states), `sync_run` (the sync log),
`sync_conflict` (the sync history) and `sync_node` (processes that may sync). The lease is a
`job_lease` row. Depends on 0001 only."""
import datetime

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        class Meta:
            table_name = "user"

    class SyncState(Base):
        business_url = CharField(max_length=500, default="")
        business_password = TextField(default="")
        mapping = TextField(default="")
        active = BooleanField(default=False)
        owner = ForeignKeyField(User, null=True, on_delete="SET NULL")
        node = CharField(max_length=120, default="")
        activated_at = DateTimeField(null=True)
        first_sync_done_at = DateTimeField(null=True)
        tested_at = DateTimeField(null=True)
        version = IntegerField(default=1)
        updated_at = DateTimeField(default=_now)

    class SyncBinding(Base):
        entity = CharField(max_length=20)
        kontor_id = IntegerField()
        business_key = CharField(max_length=100)
        natural_key = CharField(max_length=300, default="")

        class Meta:
            indexes = ((("entity", "kontor_id"), True), (("entity", "business_key"), True))

    class SyncBase(Base):
        entity = CharField(max_length=20)
        kontor_id = IntegerField()
        agreed = TextField(default="{}")
        business_hash = CharField(max_length=64, default="")
        kontor_version = IntegerField(default=0)
        deleted = BooleanField(default=False)

        class Meta:
            indexes = ((("entity", "kontor_id"), True),)

    class SyncRun(Base):
        node = CharField(max_length=120)
        epoch = IntegerField(default=0)
        started_at = DateTimeField(default=_now, index=True)
        finished_at = DateTimeField(null=True)
        status = CharField(max_length=10, default="running")
        first = BooleanField(default=False)
        read = IntegerField(default=0)
        to_business = IntegerField(default=0)
        to_kontor = IntegerField(default=0)
        conflicts = IntegerField(default=0)
        quiet_runs = IntegerField(default=0)
        error = TextField(default="")

    class SyncConflict(Base):
        run = ForeignKeyField(SyncRun, null=True, on_delete="SET NULL")
        at = DateTimeField(default=_now)
        entity = CharField(max_length=20)
        kontor_id = IntegerField(null=True)
        business_key = CharField(max_length=100, default="")
        label = CharField(max_length=300, default="")
        field = CharField(max_length=50, default="")
        base_value = TextField(null=True)
        kontor_value = TextField(null=True)
        business_value = TextField(null=True)
        resolution = CharField(max_length=10, default="business")
        row = TextField(default="")

        class Meta:
            indexes = ((("entity", "kontor_id", "at"), False), (("at",), False))

    class SyncNode(Base):
        node_id = CharField(max_length=120, unique=True)
        computer = CharField(max_length=200)
        pid = IntegerField(default=0)
        started_at = DateTimeField(default=_now)
        last_seen_at = DateTimeField(default=_now, index=True)

    db.create_tables([SyncState, SyncBinding, SyncBase, SyncRun, SyncConflict, SyncNode])
