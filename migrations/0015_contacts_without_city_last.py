"""Contacts without a city sort after every city (issue 11 item 19): `contact.sort_city` gets
the prefix "0" before a folded city and is "1" without one (kontor.contacts.register.
city_sort_key keeps new rows so). The index on (active, sort_city, sort_name, id) stays."""


def up(migrator, db):
    db.execute_sql("UPDATE contact SET sort_city = CASE WHEN sort_city = '' THEN '1' "
                   "ELSE '0' || substr(sort_city, 1, 99) END")
