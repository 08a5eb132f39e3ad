"""Kontor's Peewee models, the deferred database they live in, and model-level query helpers.

A package by area; everything is importable from `models` itself, as it was when this was one
module (`from models import User, db`):

- `models.db`: the proxy `db`, `open_database(url)`, `is_sqlite`, `locked`, `Prepared`,
  `as_datetime` and `BaseModel`;
- `models.clock`: `utcnow()`, the one place Kontor asks for the time (times are naive datetimes
  in UTC throughout);
- `models.accounts`: the company, employees, users and their sessions, tokens, invitations;
- `models.contacts`: contacts, contact persons, note entries, contact changes, contact imports;
- `models.support`: case categories and types, support cases, their messages, files, events;
- `models.portal`: the websites and their e-mail texts;
- `models.catalog`: the products the portal offers and the websites that offer them;
- `models.orders`: the customers' baskets and their orders with lines and events;
- `models.sync`: the sync with the business database: settings, identity map, agreed
  states, sync log, sync history, sync computers;
- `models.backups`: the backup settings and the alerts' throttle;
- `models.system`: the e-mail outbox, the audit log, the scheduled jobs' leases, the used
  one-time form keys.

The models describe the schema but never make it: tables are created and changed only by the
numbered scripts in `migrations/` (see `kontor/migrate.py`), and a test checks that the tables
they make match `ALL_MODELS`. The models import nothing from `kontor`: the domain builds on
them, not the reverse.
"""
from models.accounts import (
    Company,
    Employee,
    Invitation,
    Token,
    User,
    UserSession,
    with_employee,
)
from models.backups import AlertSent, BackupSetting
from models.catalog import Product, ProductWebsite
from models.clock import utcnow
from models.contacts import Contact, ContactChange, ContactImport, ContactPerson, NoteEntry
from models.db import (
    SQLITE_PRAGMAS,
    BaseModel,
    Prepared,
    as_datetime,
    db,
    id_array,
    insert_rows,
    insert_statements,
    is_sqlite,
    locked,
    open_database,
    update_row,
)
from models.orders import BasketLine, Order, OrderEvent, OrderLine
from models.portal import Website, WebsiteText
from models.support import CaseCategory, CaseEvent, CaseFile, CaseMessage, CaseType, SupportCase
from models.sync import (
    SyncBase,
    SyncBinding,
    SyncConflict,
    SyncFirstProgress,
    SyncNode,
    SyncRun,
    SyncState,
)
from models.system import AuditEvent, FormKey, JobLease, KeptForm, OutboxMessage
from models.web_accounts import IncomingItem, WebAccount, WebAccountEvent

# Every table, parents before children (the order the tests compare them with the migrations).
ALL_MODELS = [Company, Employee, User, Website, WebsiteText, UserSession, Token, Invitation,
              ContactImport, Contact, ContactPerson, NoteEntry, ContactChange, CaseCategory,
              CaseType, SupportCase, CaseMessage, CaseFile, CaseEvent, WebAccount,
              IncomingItem, WebAccountEvent, OutboxMessage,
              AuditEvent, JobLease, FormKey, KeptForm, Product, ProductWebsite,
              BasketLine, Order, OrderLine, OrderEvent,
              SyncState, SyncBinding, SyncBase, SyncRun, SyncConflict, SyncNode,
              BackupSetting, AlertSent, SyncFirstProgress]

__all__ = [
    "ALL_MODELS",
    "AlertSent",
    "BackupSetting",
    "Product",
    "ProductWebsite",
    "BasketLine",
    "Order",
    "OrderEvent",
    "OrderLine",
    "SQLITE_PRAGMAS",
    "SyncBase",
    "SyncBinding",
    "SyncConflict",
    "SyncFirstProgress",
    "SyncNode",
    "SyncRun",
    "SyncState",
    "AuditEvent",
    "BaseModel",
    "CaseCategory",
    "CaseEvent",
    "CaseFile",
    "CaseMessage",
    "CaseType",
    "Company",
    "Contact",
    "ContactChange",
    "ContactImport",
    "ContactPerson",
    "Employee",
    "FormKey",
    "Invitation",
    "JobLease",
    "KeptForm",
    "NoteEntry",
    "OutboxMessage",
    "Prepared",
    "id_array",
    "SupportCase",
    "Token",
    "User",
    "UserSession",
    "as_datetime",
    "db",
    "insert_rows",
    "insert_statements",
    "is_sqlite",
    "locked",
    "open_database",
    "update_row",
    "Website",
    "WebsiteText",
    "WebAccount",
    "WebAccountEvent",
    "IncomingItem",
    "utcnow",
    "with_employee",
]
