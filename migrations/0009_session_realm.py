"""Sessions get a realm, "staff" or "portal" (a customer on a website's portal), and portal
sessions the website they belong to (a plain integer until the website table arrives, then a
foreign key). Every session so far is a staff session."""
from peewee import CharField, IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("user_session", "realm", CharField(max_length=10, default="staff")),
        migrator.add_column("user_session", "website_id", IntegerField(null=True)),
    )
