"""Versioned migrations (SPEC section 2): an older database is upgraded in place and keeps its
rows, `create_app` never touches the schema, and `flask migrate` can be run any number of
times."""
import re
from pathlib import Path

import pytest
from helpers import KontorClient, make_website
from peewee import IntegrityError

from app import create_app
from kontor import contacts, employees, migrate
from models import ALL_MODELS, Employee, SupportCase, User, UserSession, Website, db

# These tests migrate for themselves, so they start on an empty database.
pytestmark = pytest.mark.empty_database

FIRST = "0001_foundation"
MIGRATION_FILES = sorted(p.stem for p in migrate.MIGRATIONS_DIR.glob("[0-9]*.py"))


@pytest.fixture
def bare_app(app_config):
    """The app on a fresh, empty database that nobody has migrated."""

    application = create_app(app_config)
    application.test_client_class = KontorClient
    yield application
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def tables():
    with db.connection_context():
        return set(db.get_tables())


def insert(sql_table, **values):
    """A plain SQL INSERT, as an older Kontor version would have written the row."""
    names = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join([db.obj.param] * len(values))
    with db.connection_context():
        db.execute_sql(f'INSERT INTO "{sql_table}" ({names}) VALUES ({marks})',
                       list(values.values()))


def test_creating_the_app_never_changes_the_schema(bare_app):
    assert tables() == set()
    assert migrate.pending(db.obj) == MIGRATION_FILES
    bare_app.config["PROPAGATE_EXCEPTIONS"] = False   # answer as in production
    response = bare_app.test_client().get("/login")   # serving a page creates nothing either
    assert response.status_code == 500
    assert "Traceback" not in response.get_data(as_text=True)
    assert "schema_migration" not in tables()
    assert not any(model._meta.table_name in tables() for model in ALL_MODELS)


def test_an_old_database_is_upgraded_in_place_and_keeps_its_rows(bare_app):
    assert migrate.upgrade(db.obj, target=FIRST) == [FIRST]
    assert "employee" in tables()
    insert("employee", name="Marie Bakker", email="marie@jansen.example", phone="+31 6 1",
           title="Planner", active=True, version=3,
           created_at="2025-01-02 03:04:05", updated_at="2025-01-02 03:04:05")
    insert("company", name="Jansen Installatie BV", street="Dorpsstraat 1", postcode="1234 AB",
           city="Utrecht", country="NL", phone="1", email="info@jansen.example",
           vat_number="NL1", org_number="1", language="nl", timezone="Europe/Amsterdam",
           version=1, updated_at="2025-01-02 03:04:05")
    assert migrate.pending(db.obj) == MIGRATION_FILES[1:]

    applied = migrate.upgrade(db.obj)
    assert applied == MIGRATION_FILES[1:]
    assert migrate.pending(db.obj) == []
    marie = Employee.get(Employee.email == "marie@jansen.example")
    assert (marie.name, marie.phone, marie.title, marie.active, marie.version) == \
        ("Marie Bakker", "+31 6 1", "Planner", True, 3)
    assert (marie.mobile, marie.department) == ("", "")   # new columns got their defaults
    assert str(marie.created_at).startswith("2025-01-02 03:04:05")
    # the upgraded row works with today's code
    employees.save(marie, {"mobile": "+31 6 2", "department": "Service"})
    assert Employee.get_by_id(marie.id).department == "Service"


def test_after_all_migrations_the_tables_match_the_models(bare_app):
    migrate.upgrade(db.obj)
    with db.connection_context():
        for model in ALL_MODELS:
            table = model._meta.table_name
            columns = {column.name for column in db.get_columns(table)}
            expected = {field.column_name for field in model._meta.sorted_fields}
            assert columns == expected, table


def test_flask_migrate_can_run_again_and_again(bare_app):
    runner = bare_app.test_cli_runner()
    first = runner.invoke(args=["migrate"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Applied: " + ", ".join(MIGRATION_FILES)
    before = tables()
    for _ in range(2):
        again = runner.invoke(args=["migrate"])
        assert again.exit_code == 0, again.output
        assert again.output.strip() == "The schema is up to date."
    assert tables() == before


def test_flask_migrate_finishes_a_partly_migrated_database(bare_app):
    migrate.upgrade(db.obj, target=FIRST)
    insert("employee", name="Marie Bakker", email="marie@jansen.example", phone="", title="",
           active=True, version=1, created_at="2025-01-02 03:04:05",
           updated_at="2025-01-02 03:04:05")
    result = bare_app.test_cli_runner().invoke(args=["migrate"])
    assert result.output.strip() == "Applied: " + ", ".join(MIGRATION_FILES[1:])
    assert Employee.select().count() == 1


def test_no_migration_drops_a_table():
    for path in migrate.MIGRATIONS_DIR.glob("[0-9]*.py"):
        source = path.read_text()
        assert not re.search(r"drop_table|DROP\s+TABLE", source, re.IGNORECASE), path.name


def test_migration_names_are_numbered_once_each():
    """Each number once, so that the order is the numbers' order. Numbers may leave gaps:
    work on branches takes its numbers ahead (0014 before 0011-0013 are merged), and a
    database that ran a later number runs an earlier one when it arrives."""
    numbers = [int(name.split("_")[0]) for name in MIGRATION_FILES]
    assert numbers == sorted(set(numbers))
    assert all(len(name.split("_")[0]) == 4 for name in MIGRATION_FILES)
    assert MIGRATION_FILES[0] == FIRST
    assert Path(migrate.MIGRATIONS_DIR).is_dir()


def test_contacts_get_their_folded_city_for_sorting(bare_app):
    migrate.upgrade(db.obj, target="0007_note_timeline_index")
    for number, city in ((10001, "Ålesund"), (10002, "amsterdam"), (10003, "")):
        insert("contact", customer_number=number, kind="company", name=f"Contact {number}",
               name_norm="", sort_name=f"contact {number}", org_number="", vat_number="",
               email="", phone="", mobile="", fax="", website="", street="", postcode="",
               city=city, country="", visit_street="", visit_postcode="", visit_city="",
               visit_country="", discount=0, active=True, search_text="", version=1,
               created_at="2025-01-02 03:04:05", updated_at="2025-01-02 03:04:05")
    sqlite = db.obj.__class__.__name__.endswith("SqliteDatabase")
    if sqlite:                       # a database whose planner statistics know the old indexes
        with db.connection_context():
            db.execute_sql("ANALYZE")
    assert migrate.upgrade(db.obj, target="0008_contact_sort_city") == ["0008_contact_sort_city"]
    with db.connection_context():
        assert db.execute_sql("SELECT customer_number, sort_city FROM contact ORDER BY 1"
                              ).fetchall() == [(10001, "alesund"), (10002, "amsterdam"),
                                               (10003, "")]
        if sqlite:                   # ... knows the new one too, or SQLite would prefer it
            assert db.execute_sql("SELECT 1 FROM sqlite_stat1 WHERE idx = 'contact_active_city'"
                                  ).fetchone()
    # migration 0015: contacts without a city sort after every city (issue 11 item 19)
    assert "0015_contacts_without_city_last" in migrate.upgrade(
        db.obj, target="0015_contacts_without_city_last")
    with db.connection_context():
        assert db.execute_sql("SELECT customer_number, sort_city FROM contact ORDER BY 1"
                              ).fetchall() == [(10001, "0alesund"), (10002, "0amsterdam"),
                                               (10003, "1")]


def test_existing_sessions_become_staff_sessions(bare_app):
    """Migration 0009 gives every session a realm: the ones before it were all staff."""
    migrate.upgrade(db.obj, target="0008_contact_sort_city")
    with db.connection_context():
        db.execute_sql(f"INSERT INTO user_session (sid_hash, data, created_at, last_seen_at, "
                       f"ip, user_agent, end_reason) VALUES ({', '.join([db.obj.param] * 7)})",
                       ["a" * 64, "{}", "2025-01-02 03:04:05", "2025-01-02 03:04:05", "", "",
                        ""])
    assert migrate.upgrade(db.obj, target="0009_session_realm") == ["0009_session_realm"]
    with db.connection_context():
        row = (UserSession.select(UserSession.realm, UserSession.website)   # as of 0009
               .where(UserSession.sid_hash == "a" * 64).get())
        assert (row.realm, row.website_id) == ("staff", None)
        assert User.select().count() == 0


def test_case_lists_with_names_that_fold_the_same_are_renamed_not_lost(bare_app):
    """Migration 0014 makes category and type names unique ignoring case, accents and spaces
    (issue 11 item 19): names that clashed before keep their rows (cases keep them by id) and
    the later ones get " (2)", " (3)" …; the company gets "staff see all cases", on."""
    migrate.upgrade(db.obj, target="0010_form_keys")
    long_name = "L" * 100
    for table, names in (("case_category", ["Installatie", "installatie", " INSTALLÄTIE ",
                                            "Installatie (2)", long_name, long_name.lower()]),
                         ("case_type", ["Question", "question"])):
        for position, name in enumerate(names):
            insert(table, name=name, active=True, position=position)
    insert("company", name="Jansen Installatie BV", street="", postcode="", city="",
           country="NL", phone="", email="", vat_number="", org_number="", language="nl",
           timezone="Europe/Amsterdam", version=1, updated_at="2025-01-02 03:04:05")
    migrate.upgrade(db.obj)
    with db.connection_context():
        categories = [row[0] for row in db.execute_sql(
            "SELECT name FROM case_category ORDER BY id").fetchall()]
        assert categories == ["Installatie", "installatie (2)", "INSTALLÄTIE (3)",
                              "Installatie (2) (2)", long_name, "l" * 96 + " (2)"]
        assert [row[0] for row in db.execute_sql("SELECT name FROM case_type ORDER BY id")
                ] == ["Question", "question (2)"]
        assert db.execute_sql("SELECT staff_see_all_cases FROM company").fetchone()[0] in (
            True, 1)
    with pytest.raises(IntegrityError):
        insert("case_type", name="QUESTION", name_key="question", active=True, position=9)


def test_one_folding_fills_the_search_columns_of_existing_rows(bare_app):
    """Migration 0013 (issue 11 item 8): employees and cases get their folded search columns,
    and contacts saved with the older folding (’ kept as it was) are folded again."""
    migrate.upgrade(db.obj, target="0010_form_keys")
    insert("employee", name="Jörg Müller", email="joerg@jansen.example", phone="030 555 0101",
           mobile="", title="Planner", department="Ærø", active=True, version=1,
           created_at="2025-01-02 03:04:05", updated_at="2025-01-02 03:04:05")
    old = {"kind": "company", "org_number": "", "vat_number": "", "email": "", "phone": "",
           "mobile": "", "fax": "", "website": "", "street": "", "postcode": "", "city": "",
           "country": "", "visit_street": "", "visit_postcode": "", "visit_city": "",
           "visit_country": "", "discount": 0, "active": True, "version": 1,
           "created_at": "2025-01-02 03:04:05", "updated_at": "2025-01-02 03:04:05"}
    insert("contact", customer_number=10001, name="Café O’Neill", name_norm="cafe o neill",
           sort_name="cafe o’neill", sort_city="", search_text="cafe o’neill 10001", **old)
    insert("contact", customer_number=10002, name="Jansen BV", name_norm="jansen",
           sort_name="jansen bv", sort_city="", search_text="jansen bv 10002", **old)
    with db.connection_context():
        contact_id = db.execute_sql("SELECT id FROM contact WHERE customer_number = 10001"
                                    ).fetchone()[0]
    insert("support_case", year=2025, seq=1, contact_id=contact_id,
           subject="Überweisung fehlgeschlagen", status="open", tech_info="",
           created_at="2025-01-02 03:04:05", updated_at="2025-01-02 03:04:05", version=1)

    assert migrate.upgrade(db.obj) == MIGRATION_FILES[MIGRATION_FILES.index("0010_form_keys")
                                                      + 1:]
    with db.connection_context():
        assert [e.name for e in employees.search("muller")] == ["Jörg Müller"]
        assert [e.name for e in employees.search("aero 0305550101")] == ["Jörg Müller"]
        assert Employee.get().sort_name == "jorg muller"
        assert [c.name for c in contacts.search("o'neill").contacts] == ["Café O’Neill"]
        assert [c.name for c in contacts.search("jansen").contacts] == ["Jansen BV"]
        assert SupportCase.get().search_text == "uberweisung fehlgeschlagen"


def test_the_migration_removes_stand_in_portal_sessions_and_links_sessions_to_websites(bare_app):
    """Migration 0017: the portal sessions of the stand-in websites (all anonymous) go, staff
    sessions stay, and a session's website is a foreign key that goes with its website."""
    migrate.upgrade(db.obj, target="0015_contacts_without_city_last")
    for sid, realm, website_id in (("a", "staff", None), ("b", "portal", 123456)):
        insert("user_session", sid_hash=sid * 64, data="{}", created_at="2026-01-02 03:04:05",
               last_seen_at="2026-01-02 03:04:05", ip="", user_agent="", end_reason="",
               realm=realm, website_id=website_id)
    assert "0017_websites" in migrate.upgrade(db.obj)
    with db.connection_context():
        assert [(r.realm, r.website_id) for r in UserSession.select()] == [("staff", None)]
        keys = db.get_foreign_keys("user_session")
        assert any(k.column == "website_id" and k.dest_table == "website" for k in keys)
        site = make_website("shop")
        UserSession.create(sid_hash="c" * 64, realm="portal", website=site.id)
        Website.delete().where(Website.id == site.id).execute()   # its sessions go with it
        assert UserSession.select().where(UserSession.realm == "portal").count() == 0
