"""Kept forms (issue 10 items 5 and 7): what a person typed into a form that arrived after
their session had ended, or before they switched the language on a form with errors, kept
for that person and that page for a short time, to be filled back in after they sign in.
(0011 is another change's number; the runner applies the numbered scripts in order and
takes a gap as it comes.)"""
import datetime

from peewee import CharField, DateTimeField, ForeignKeyField, Model, TextField


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            legacy_table_names = False
            table_name = "user"

    class KeptForm(Model):
        user = ForeignKeyField(User, backref="kept_forms", on_delete="CASCADE")
        path = CharField(max_length=500)
        fields = TextField()
        reason = CharField(max_length=20)
        kept_at = DateTimeField(default=_now, index=True)

        class Meta:
            database = db
            legacy_table_names = False
            table_name = "kept_form"
            indexes = ((("user", "path"), False),)

    db.create_tables([KeptForm])
