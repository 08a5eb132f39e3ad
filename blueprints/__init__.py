"""Kontor's views: one blueprint per area, mounted by the factory in this order."""
from blueprints import (
    admin,
    auth,
    backups,
    contacts,
    employees,
    incoming,
    invitations,
    main,
    notes,
    orders,
    products,
    profile,
    setup,
    support,
    sync,
    sync_admin,
    users,
    web_accounts,
    websites,
)

BLUEPRINTS = (main.bp, auth.bp, setup.bp, profile.bp, admin.bp, employees.bp, invitations.bp,
              users.bp, websites.bp, web_accounts.bp, contacts.bp, notes.bp, support.bp,
              products.bp, incoming.bp, orders.bp, sync.bp, backups.bp, sync_admin.bp)
