"""One spelling of every synced value, so that the two sides can be compared field by field
(SYNC.md, "One cycle" step 4): a record is {field: text}, the same text for the same value
whichever side it came from and however that side stores it.

- text: stripped, "" for none; an e-mail field folded as Kontor stores addresses
  (kontor.mail.normalise_email), a country upper-case;
- integer: decimal digits ("" for none); decimal: two places ("12.50");
- yes/no: "1" or "0" ("" for none); time: "YYYY-MM-DD HH:MM:SS" in UTC.
A parent link (a contact person's contact) is the parent's business key as text.
"""
import datetime
import hashlib
import re
from decimal import Decimal, InvalidOperation

from kontor.mail import InvalidAddress, normalise_address, normalise_email
from kontor.sync.layout import BOOLEAN, DECIMAL, INTEGER, TEXT, TIMESTAMP
from kontor.text import MAX_INTEGER

EMAIL_FIELDS = {"email"}
UPPER_FIELDS = {"country", "visit_country"}
KINDS = {"company", "person"}            # a contact's type (Contact.kind)
# Whole numbers and decimals Kontor stores, by field: (lowest, highest). A customer number is
# a database integer and never 0 (0 would make Kontor choose the next free one); a customer
# discount is a percentage (the contact form's rule).
RANGES = {"customer_number": (1, MAX_INTEGER), "discount": (Decimal(0), Decimal(100))}
# C0 control characters and DEL: a NUL is cut off or refused by the databases, the others
# corrupt e-mail, CSV and vCard output (kontor.text._CONTROLS). Multi-line text keeps tab,
# line feed and carriage return.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROLS_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COUNTRY = re.compile(r"[A-Z]{2}")


class UnfitValue(ValueError):
    """A value that does not fit the field: `field` names it, `value` is the value, `problem`
    says what is wrong ("wrong_type": not the field's kind, such as "abc" for a number;
    "too_long": more than `limit` characters; "control": a control character; "bad_email",
    "bad_country", "bad_kind"; "out_of_range": outside `limit` = (lowest, highest)). The
    record is left out of the cycle and the sync log says why."""

    def __init__(self, field, value, problem="wrong_type", limit=None):
        super().__init__(f"{field}: {problem}: {value!r}")
        self.field = field
        self.value = value
        self.problem = problem
        self.limit = limit


def canon(spec, value) -> str:
    """The comparable text of `value` for the field `spec` (a layout.Field). Raises
    UnfitValue when the value cannot be that kind."""
    if value is None:
        return spec.default
    kind = spec.kind
    try:
        if kind == TEXT:
            text = str(value).strip()
            if spec.name in EMAIL_FIELDS:
                text = normalise_email(text)
            elif spec.name in UPPER_FIELDS:
                text = text.upper()
            return text
        if kind == INTEGER:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise UnfitValue(spec.name, value)
            return str(int(str(value).strip())) if str(value).strip() else ""
        if kind == DECIMAL:
            text = str(value).strip()
            if not text:
                return spec.default
            number = Decimal(text)
            if not number.is_finite():          # NaN, Infinity: no amount
                raise UnfitValue(spec.name, value)
            return f"{number:.2f}"
        if kind == BOOLEAN:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("", "null"):
                    return spec.default
                if lowered in ("1", "true", "t", "yes", "y", "j", "ja"):
                    return "1"
                if lowered in ("0", "false", "f", "no", "n", "nei", "nein", "nee"):
                    return "0"
                raise UnfitValue(spec.name, value)
            return "1" if value else "0"
        if kind == TIMESTAMP:
            if isinstance(value, str):
                value = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if isinstance(value, datetime.datetime) and value.tzinfo is not None:
                value = value.astimezone(datetime.UTC).replace(tzinfo=None)
            if not isinstance(value, datetime.datetime):
                raise UnfitValue(spec.name, value)
            return value.replace(microsecond=0).isoformat(sep=" ")
    except (ValueError, InvalidOperation, TypeError):
        raise UnfitValue(spec.name, value) from None
    raise UnfitValue(spec.name, value)


def check_fit(spec, text: str, max_length: int = 0) -> None:
    """Whether the canonical text `text` of field `spec` (a layout.Field) fits where it is to
    be written: at most `max_length` characters (0: no limit; the target column's), no
    control character (tab and line breaks only in multi-line text), an e-mail address in an
    e-mail field, a two-letter code in a country field, company or person as a contact's
    type, a number within the field's range (RANGES). "" always fits. Raises UnfitValue
    naming the problem (issue 16: a value that does not fit is an Error naming record and
    field, never copied)."""
    if text == "":
        return
    if spec.kind == TEXT:
        if max_length and len(text) > max_length:
            raise UnfitValue(spec.name, text, "too_long", max_length)
        if (_CONTROLS_MULTILINE if spec.multiline else _CONTROLS).search(text):
            raise UnfitValue(spec.name, text, "control")
        if spec.name in EMAIL_FIELDS:
            try:
                normalise_address(text)
            except InvalidAddress:
                raise UnfitValue(spec.name, text, "bad_email") from None
        elif spec.name in UPPER_FIELDS and not _COUNTRY.fullmatch(text):
            raise UnfitValue(spec.name, text, "bad_country")
        elif spec.name == "kind" and text not in KINDS:
            raise UnfitValue(spec.name, text, "bad_kind")
    elif spec.kind in (INTEGER, DECIMAL) and spec.name in RANGES:
        low, high = RANGES[spec.name]
        number = Decimal(text)
        if not low <= number <= high:
            raise UnfitValue(spec.name, text, "out_of_range", (str(low), str(high)))


def python_value(spec, text: str):
    """The Python value of a canonical text for field `spec`, as a model field takes it:
    str, int, Decimal, bool or naive UTC datetime; None for "" in non-text fields."""
    if spec.kind == TEXT:
        return text
    if text == "":
        return None
    if spec.kind == INTEGER:
        return int(text)
    if spec.kind == DECIMAL:
        return Decimal(text)
    if spec.kind == BOOLEAN:
        return text == "1"
    return datetime.datetime.fromisoformat(text)


def record_hash(record: dict) -> str:
    """SHA-256 (hex) of a record's canonical values: equal records, equal hashes. Fields
    in name order, each "name\x1fvalue", joined by \x1e (control characters a value of a
    synced field never holds: kontor.text strips them from what people type)."""
    text = "\x1e".join(map("\x1f".join, sorted(record.items())))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def merge(fields, base, kontor, business):
    """The three-way merge of one record, field by field (SYNC.md step 4; SPEC section 8):
    `base` is the agreed record ({field: text}, None for a record never agreed on), `kontor`
    and `business` the two sides now. Per field: equal → that; Kontor equals base → the
    business value; business equals base → Kontor's; otherwise the business value wins and
    the field is a conflict. Without a base (the first sync, or a record created on both
    sides) every difference is a conflict the business value wins.
    Returns (merged record, [(field, base value, Kontor value, business value)])."""
    merged, conflicts = {}, []
    for name in fields:
        k, b = kontor.get(name, ""), business.get(name, "")
        agreed = None if base is None else base.get(name)
        if k == b:
            merged[name] = b
        elif agreed is not None and k == agreed:
            merged[name] = b
        elif agreed is not None and b == agreed:
            merged[name] = k
        else:
            merged[name] = b
            conflicts.append((name, agreed, k, b))
    return merged, conflicts
