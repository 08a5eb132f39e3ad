"""The business database's tables as Kontor sees them (SPEC section 8; issue 16 item 1).

Four entities are synced: employees, contacts, contact persons and note entries. Each is one
table of the business database with one primary-key column (the business key) and a column per
synced field. The **default layout** (README, "The business database") names them
`employees`, `contacts`, `contact_persons` and `note_entries` with columns named like Kontor's
fields. A **mapping file** (TOML) maps another layout's table and column names onto Kontor's
fields; a field it leaves out is not synced.

    [contacts]
    table = "KUNDE"           # the table
    key = "KUNDE_ID"          # its primary key column
    key_type = "integer"      # or "text" (default: integer, as the default layout)
    [contacts.columns]        # Kontor's field = the business column
    customer_number = "KUNDENR"
    name = "NAVN"

`Layout` is plain data; `business_models(layout, database)` builds Peewee models bound to the
business database from it, so reading, writing, testing a connection and creating the demo
database all go through the same names. Nothing here imports Flask.
"""
import tomllib
from dataclasses import dataclass, field, replace

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    IntegerField,
    Model,
    TextField,
)

# The kinds of a field, as Kontor stores it: text (with a maximum length), whole number,
# decimal (two places), yes/no, and a time (UTC).
TEXT, INTEGER, DECIMAL, BOOLEAN, TIMESTAMP = "text", "integer", "decimal", "boolean", "timestamp"


@dataclass(frozen=True)
class Field:
    """One synced field: Kontor's name, its kind, the longest text (for TEXT) and whether a
    mapping must name it (the natural keys and links the sync cannot work without);
    `multiline` text may hold tabs and line breaks (a note's text), other text may not."""
    name: str
    kind: str
    max_length: int = 0
    required: bool = False
    default: str = ""        # the canonical value of NULL (Kontor's column default)
    multiline: bool = False


@dataclass(frozen=True)
class Entity:
    """One synced table: the entity's name (also the mapping file's section), the default
    table name, its fields in order, and the fields that link it to a parent entity
    ({field: entity})."""
    name: str
    table: str
    fields: tuple
    parents: dict = field(default_factory=dict)

    def field(self, name):
        return next(f for f in self.fields if f.name == name)


def _text(name, length, required=False):
    return Field(name, TEXT, length, required)


ENTITIES = (
    Entity("employees", "employees", (
        _text("email", 254, required=True), _text("name", 200, required=True),
        _text("phone", 50), _text("mobile", 50), _text("title", 100), _text("department", 100),
        Field("active", BOOLEAN, default="1"))),
    Entity("contacts", "contacts", (
        Field("customer_number", INTEGER, required=True), _text("kind", 10),
        _text("name", 200, required=True), _text("org_number", 30), _text("vat_number", 30),
        _text("email", 254), _text("phone", 50), _text("mobile", 50), _text("fax", 50),
        _text("website", 200), _text("street", 200), _text("postcode", 20), _text("city", 100),
        _text("country", 2), _text("visit_street", 200), _text("visit_postcode", 20),
        _text("visit_city", 100), _text("visit_country", 2),
        Field("discount", DECIMAL, default="0.00"), Field("active", BOOLEAN, default="1"))),
    Entity("contact_persons", "contact_persons", (
        Field("contact_id", INTEGER, required=True), _text("name", 200, required=True),
        _text("title", 100), _text("email", 254), _text("phone", 50), _text("mobile", 50),
        Field("active", BOOLEAN, default="1")), parents={"contact_id": "contacts"}),
    Entity("note_entries", "note_entries", (
        _text("uid", 40, required=True), Field("contact_id", INTEGER, required=True),
        Field("person_id", INTEGER), Field("text", TEXT, required=True, multiline=True),
        _text("author", 200), Field("created_at", TIMESTAMP, required=True)),
        parents={"contact_id": "contacts", "person_id": "contact_persons"}),
)
BY_NAME = {entity.name: entity for entity in ENTITIES}


@dataclass(frozen=True)
class Table:
    """Where one entity lives in a particular business database: the table, its key column
    and its kind ("integer" or "text"), and {Kontor field: column} for the synced fields."""
    entity: Entity
    table: str
    key: str
    columns: dict
    key_type: str = "integer"


@dataclass(frozen=True)
class Layout:
    """The business database's layout: a Table per entity, in ENTITIES' order."""
    tables: tuple

    def __getitem__(self, name):
        return next(table for table in self.tables if table.entity.name == name)


class MappingError(ValueError):
    """A mapping file that cannot be used. `code` says what is wrong ("syntax", "section",
    "unknown_field", "required", "name", "key_type", "duplicate_column": one column for two
    fields, or for a field and the key), `params` the names involved (for the message)."""

    def __init__(self, code, **params):
        super().__init__(f"{code}: {params}")
        self.code = code
        self.params = params


def default_layout() -> Layout:
    """The default table layout: every entity in its default table, key column `id`, every
    field in a column of its own name."""
    return Layout(tuple(Table(entity, entity.table, "id", {f.name: f.name for f in entity.fields})
                        for entity in ENTITIES))


def _name(value, where):
    """A table or column name from a mapping file: a non-empty string of at most 128 printable
    characters without quotes (it is quoted by Peewee, never pasted into SQL)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 128 \
            or any(ch in value for ch in "\"`\x00") or not value.isprintable():
        raise MappingError("name", where=where)
    return value


def parse_mapping(text: str) -> Layout:
    """The Layout a mapping file (TOML text, see the module docstring) describes; an empty
    text is the default layout. A section that is left out keeps the default table; a section
    that is present names the columns it syncs (required fields must be among them).
    Raises MappingError."""
    if not text.strip():
        return default_layout()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MappingError("syntax", detail=str(error)) from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise MappingError("section", section=unknown[0])
    tables = []
    for entity, default in zip(ENTITIES, default_layout().tables, strict=True):
        section = data.get(entity.name)
        if section is None:
            tables.append(default)
            continue
        if not isinstance(section, dict):
            raise MappingError("section", section=entity.name)
        columns = section.get("columns", {})
        if not isinstance(columns, dict):
            raise MappingError("section", section=f"{entity.name}.columns")
        known = {f.name for f in entity.fields}
        for name in columns:
            if name not in known:
                raise MappingError("unknown_field", section=entity.name, field=name)
        missing = [f.name for f in entity.fields if f.required and f.name not in columns]
        if missing:
            raise MappingError("required", section=entity.name, field=missing[0])
        key_type = section.get("key_type", "integer")
        if key_type not in ("integer", "text"):
            raise MappingError("key_type", section=entity.name)
        key = _name(section.get("key", "id"), f"{entity.name}.key")
        mapped = {f.name: _name(columns[f.name], f"{entity.name}.columns.{f.name}")
                  for f in entity.fields if f.name in columns}
        # one column holds one field: the same column for two fields (or for a field and
        # the key) would write one field's value over the other's
        taken = {key.lower(): "key"}
        for name, column in mapped.items():
            if column.lower() in taken:
                raise MappingError("duplicate_column", section=entity.name, column=column,
                                   field=taken[column.lower()], other=name)
            taken[column.lower()] = name
        tables.append(Table(
            entity, _name(section.get("table", entity.table), f"{entity.name}.table"),
            key, mapped, key_type))
    return Layout(tuple(tables))


def business_fields(layout: Layout, entity: str) -> list:
    """The synced fields of `entity` as the business database holds them, in the entity's
    order: a link to a parent whose key is text (key_type = "text") is a text column there
    (it holds the parent's key), whatever Kontor calls it."""
    table = layout[entity]
    found = []
    for spec in table.entity.fields:
        if spec.name not in table.columns:
            continue
        parent = table.entity.parents.get(spec.name)
        if parent and layout[parent].key_type == "text":
            spec = replace(spec, kind=TEXT, max_length=0)
        found.append(spec)
    return found


def _as_stored(value):
    return value


def business_models(layout: Layout, database) -> dict:
    """Peewee models for `layout`'s tables bound to `database` (a Peewee Database):
    {entity name: Model}. Each model's attributes are Kontor's field names plus `key`, the
    business key; its columns are the layout's. Parent links are plain columns of the parent's
    key type (the business database keeps its own constraints)."""
    def column(spec, name):
        options = {"column_name": name, "null": not spec.required}
        if spec.kind == TEXT:
            made = CharField(max_length=spec.max_length, **options) if spec.max_length \
                else TextField(**options)
        elif spec.kind == INTEGER:
            made = IntegerField(**options)
        elif spec.kind == DECIMAL:
            made = DecimalField(max_digits=12, decimal_places=2, auto_round=False, **options)
        elif spec.kind == BOOLEAN:
            made = BooleanField(**options)
        else:
            made = DateTimeField(**options)
        # read values as the database gives them: kontor.sync.values.canon interprets them,
        # so a value that does not fit is an error naming its field, not a crash of the read
        made.python_value = _as_stored
        return made

    models = {}
    for table in layout.tables:
        attributes = {"key": AutoField(column_name=table.key) if table.key_type == "integer"
                      else CharField(max_length=100, primary_key=True, column_name=table.key)}
        for spec in business_fields(layout, table.entity.name):
            attributes[spec.name] = column(spec, table.columns[spec.name])
        attributes["Meta"] = type("Meta", (), {"database": database, "table_name": table.table})
        models[table.entity.name] = type(f"Business_{table.entity.name}", (Model,), attributes)
    return models
