"""Invitations: one row per invitation sent to an employee, with its single-use token hash.

A partial unique index allows at most one open (neither accepted nor revoked) invitation per
employee, so two superusers inviting the same employee at the same moment make one, not two.
"""
import datetime

from peewee import CharField, DateTimeField, ForeignKeyField, Model


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Employee(Base):
        class Meta:
            table_name = "employee"

    class User(Base):
        class Meta:
            table_name = "user"

    class Invitation(Base):
        employee = ForeignKeyField(Employee, on_delete="CASCADE")
        email = CharField(max_length=254)
        language = CharField(max_length=5, default="en")
        token_hash = CharField(max_length=64, unique=True)
        invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField(default=_now)
        expires_at = DateTimeField()
        accepted_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        user = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")

    db.create_tables([Invitation])
    db.execute_sql('CREATE UNIQUE INDEX invitation_one_open_per_employee ON invitation '
                   '(employee_id) WHERE accepted_at IS NULL AND revoked_at IS NULL')
