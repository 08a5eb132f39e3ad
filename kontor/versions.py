"""Optimistic locking for every record two people can edit (issue 10, item 3): the edit form
carries the `version` the editor opened; a save goes through only while the record is still
at that version, so whoever saves second is refused with what is saved now instead of
silently putting back the old values. Contacts do the same with their change history
(kontor/contacts/saving.py)."""
from kontor.errors import Refused
from kontor.text import whole_number
from models.db import update_row


class ChangedMeanwhile(Refused):
    """Someone saved the record after the editor opened it (reason "changed_meanwhile").
    `current` is the record as saved now."""

    def __init__(self, current):
        super().__init__("changed_meanwhile")
        self.current = current


UNKNOWN_VERSION = -1   # no row ever has it: a save over it is always a conflict


def opened_version(value):
    """The version a form says it opened: an int; None when the form has none (it is not
    checked); UNKNOWN_VERSION for a value that is no version ("abc", "²"), so that such a save
    is refused as a conflict instead of going through unchecked."""
    if value in (None, ""):
        return None
    number = whole_number(str(value))
    return UNKNOWN_VERSION if number is None else number


def update_if_unchanged(model, row_id, opened, **values):
    """UPDATE the row `row_id` of `model` with `values`, moving its version on, if it is still
    at version `opened` (any version when `opened` is None). Call it inside the save's
    transaction. Raises ChangedMeanwhile with the row as saved now when someone saved since,
    and model.DoesNotExist when the row is gone."""
    if not update_row(model, row_id, values, opened):
        raise ChangedMeanwhile(model.get_by_id(row_id))
