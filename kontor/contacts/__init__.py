"""The contact register (SPEC section 6), by seam:

- `register`: the fields, the fields derived from them, customer numbering, reading a contact
  and its persons;
- `searching`: the list's search, sorting and paging, and its cache of result ids;
- `saving`: creating and editing with optimistic locking and a change history, persons;
- `events`: the timeline of a contact.

The duplicate check and the name normalisation live in `kontor.matching`, where the import
queue's matching will reuse them; they are named here too, as part of the register's API.

Callers use the names below (`from kontor import contacts`, `contacts.search(...)`). Tunables
such as `searching.COUNT_LIMIT` are read by their own module: patch them there.
"""
from kontor.contacts.events import (
    TIMELINE_ON_PAGE,
    TIMELINE_PAGE,
    Event,
    timeline,
    timeline_page,
)
from kontor.contacts.register import (
    FIELDS,
    FIRST_CUSTOMER_NUMBER,
    PERSON_FIELDS,
    derived_fields,
    get,
    get_person,
    next_customer_number,
    persons,
    search_text_for,
)
from kontor.contacts.saving import (
    EditConflict,
    create,
    create_many,
    insert_statements,
    run_statements,
    save_person,
    update,
)
from kontor.contacts.searching import (
    SORTS,
    Result,
    ResultIdCache,
    filtered,
    result_ids,
    search,
)
from kontor.matching import likely_duplicates, normalise_name

__all__ = [
    "FIELDS", "FIRST_CUSTOMER_NUMBER", "PERSON_FIELDS", "SORTS", "TIMELINE_ON_PAGE",
    "TIMELINE_PAGE", "EditConflict", "Event", "Result", "ResultIdCache", "create",
    "create_many", "insert_statements", "run_statements",
    "derived_fields", "filtered", "get", "get_person", "likely_duplicates",
    "next_customer_number", "normalise_name", "persons", "result_ids", "save_person", "search",
    "search_text_for", "timeline", "timeline_page", "update",
]
