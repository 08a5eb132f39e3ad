"""Websites (issue 13 item 1): the `website` table with each website's portal settings, the
`website_text` table for the e-mail texts a superuser changed, and `user_session.website_id`
becomes a foreign key to `website`.

Until now every slug was a stand-in website with an id derived from the slug
(blueprints/portal/website.py), so the portal sessions that exist belong to no website row.
Nobody could sign in to the portal yet, so they are all anonymous: they are deleted (a browser
with such a cookie simply gets a new session), then the column is made again as a foreign key.
Depends on nothing after 0015; it does not touch what 0016 adds.
"""
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

    class Website(Base):
        name = CharField(max_length=200)
        slug = CharField(max_length=50, unique=True)
        host = CharField(max_length=253, null=True, unique=True)
        public_url = CharField(max_length=500)
        language = CharField(max_length=5, default="en")
        active = BooleanField(default=True)
        protection = CharField(max_length=10, default="none")
        self_registration = BooleanField(default=False)
        register_link = BooleanField(default=False)
        approval = CharField(max_length=10, default="manual")
        sender_name = CharField(max_length=200, default="")
        sender_email = CharField(max_length=254, default="")
        copy_email = CharField(max_length=254, default="")
        version = IntegerField(default=1)
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)

        class Meta:
            table_name = "website"

    class WebsiteText(Base):
        website = ForeignKeyField(Website, backref="texts", on_delete="CASCADE")
        kind = CharField(max_length=30)
        language = CharField(max_length=5)
        subject = CharField(max_length=300)
        body = TextField()
        version = IntegerField(default=1)
        updated_at = DateTimeField(default=_now)

        class Meta:
            table_name = "website_text"
            indexes = ((("website", "kind", "language"), True),)

    db.create_tables([Website, WebsiteText])
    db.execute_sql("DELETE FROM user_session WHERE realm = 'portal' OR website_id IS NOT NULL")
    migrator.migrate(
        migrator.drop_column("user_session", "website_id"),
        migrator.add_column("user_session", "website_id",
                            ForeignKeyField(Website, field=Website.id, null=True,
                                            on_delete="CASCADE")),
    )
