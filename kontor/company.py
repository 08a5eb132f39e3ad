"""First-run setup, the company's details and the readiness checklist (SPEC section 2)."""
from babel.numbers import get_territory_currencies

from kontor import employees, passwords
from kontor.errors import Refused
from kontor.mail import normalise_email
from kontor.versions import update_if_unchanged
from models import Company, Employee, User, db
from models.clock import utcnow

COMPANY_FIELDS = ("name", "street", "postcode", "city", "country", "phone", "email",
                  "vat_number", "org_number", "language", "timezone", "currency")
# The currencies a company can choose for its prices and orders (ISO 4217; issue 14 item 1):
# each has cents, as Kontor's prices do (the Icelandic krona has none: a price of 1249.50
# was shown as 1,250).
CURRENCIES = ("EUR", "NOK", "SEK", "DKK", "GBP", "USD", "CHF", "PLN", "CAD", "AUD", "NZD")

# What must be filled in before users can be invited or sync activated, in checklist order.
REQUIRED_COMPANY_FIELDS = ("name", "street", "postcode", "city", "phone", "email", "vat_number")


class SetupAlreadyDone(Refused):
    """Setup runs once: an account exists already."""

    def __init__(self, reason="setup_done"):
        super().__init__(reason)


def currency_for(country: str) -> str:
    """The currency a company in `country` (ISO 3166 alpha-2) most likely uses, if Kontor
    offers it (CURRENCIES), else EUR. From CLDR (Babel). Setup chooses it; the company
    settings change it."""
    found = get_territory_currencies(country) if country else []
    return found[0] if found and found[0] in CURRENCIES else "EUR"


def needs_setup() -> bool:
    return not User.select().exists()


def perform_setup(company_fields: dict, name: str, email: str, password: str):
    """Create the company, the first employee and the first superuser, linked together.

    Raises SetupAlreadyDone if any account exists (two browsers racing for the setup page
    produce one superuser: the check and the insert share one write transaction).
    """
    email = normalise_email(email)
    with db.atomic():
        if User.select().exists():
            raise SetupAlreadyDone()
        fields = {k: (company_fields.get(k) or "").strip() for k in COMPANY_FIELDS
                  if company_fields.get(k) is not None}
        fields.setdefault("currency", currency_for(fields.get("country", "")))
        company = Company.current()
        if company is None:
            company = Company.create(**fields)
        else:
            Company.update(**fields).where(Company.id == company.id).execute()
        person = {"name": name.strip(), "email": email}
        employee = Employee.create(**person, **employees.derived_fields(person))
        user = User.create(email=email, password_hash=passwords.hash_password(password),
                           employee=employee, is_superuser=True,
                           language=fields.get("language", ""))
    return user


def update_company(company, fields: dict, opened_version=None):
    """Save the company details in `fields` (COMPANY_FIELDS; others are ignored). Raises
    versions.ChangedMeanwhile when someone saved them since `opened_version` (None: not
    checked)."""
    values = {k: (fields[k] or "").strip() for k in COMPANY_FIELDS if k in fields}
    with db.atomic():
        update_if_unchanged(Company, company.id, opened_version, updated_at=utcnow(), **values)


def missing_for_readiness(company, user):
    """The checklist items not yet done, as codes: company field names, and "employee_link"
    when the acting superuser is not linked to an employee. Empty means ready."""
    missing = [field for field in REQUIRED_COMPANY_FIELDS
               if company is None or not (getattr(company, field) or "").strip()]
    if user is None or user.employee_id is None:
        missing.append("employee_link")
    return missing
