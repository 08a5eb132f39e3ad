"""Employees get a mobile number and a department (the employee register of SPEC section 4)."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("employee", "mobile", CharField(max_length=50, default="")),
        migrator.add_column("employee", "department", CharField(max_length=100, default="")),
    )
