"""The e-mails a website sends its customers (issue 13 items 3 and 4).

Every one goes From the website's sender (Kontor's MAIL_FROM when the website has none) and is
written in the customer's language (their account's, else the website's). Two kinds:

- the website's texts (kontor/website_texts.py: registration received, approved, rejected,
  password reset), as the superuser wrote them or the shipped defaults, filled in by plain
  substitution. The status texts (registration received, approved, rejected) are copied (Bcc)
  to the website's copy address (seed 001, "send me a copy");
- Kontor's own notices (templates/email/portal_*.txt: confirm your address, you already have an
  account, set your password, your password was changed). These carry single-use links or
  concern the password, so no copy goes to anyone but the customer (SECURITY.md item 12:
  nobody receives a link that sets another person's password).

Links are built from the website's public address (websites.portal_link), never from a
request's Host header. Needs an application context (Flask-Babel, templates).
"""
from flask import render_template
from flask_babel import force_locale

from kontor import config, languages, mail, website_texts, websites
from models import Company

# Bcc'd to the copy address (seed 001: "receive a copy of this e-mail")
COPIED = ("registration_received", "approved", "rejected", "order_confirmation",
          "order_status")


def language_of(website, account=None):
    """The language a customer's e-mails are written in: the account's, else the website's."""
    if account is not None and account.language in languages.CODES:
        return account.language
    return website.language if website.language in languages.CODES else languages.DEFAULT


def sender_of(website):
    """(name, address) of the website's e-mails, or None for Kontor's own sender."""
    return (website.sender_name, website.sender_email) if website.sender_email else None


def company_name(website):
    company = Company.current()
    return company.name if company and company.name else website.name


def send_text(website, account, kind, reset_url=None, values=None):
    """Queue the website's text of `kind` (kontor.website_texts.KINDS) to `account` in its
    language; `reset_url` fills `{reset_url}` (the password reset text), `values` (a dict, or
    a function of the language returning one) the kind's other placeholders (an order's).
    Returns the OutboxMessage. Raises mail.InvalidAddress for an unusable sender or
    recipient."""
    language = language_of(website, account)
    extra = values(language) if callable(values) else (values or {})
    text = website_texts.text_for(website, kind, language)
    values = {"customer_name": account.name or account.email, "website_name": website.name,
              "company_name": company_name(website),
              "login_url": websites.portal_link(website, "/login")}
    if reset_url is not None:
        values["reset_url"] = reset_url
    values.update(extra)
    subject = website_texts.fill(text.subject, values)
    body = website_texts.fill(text.body, values)
    return mail.enqueue(account.email, subject, body, kind=f"portal_{kind}",
                        sender=sender_of(website),
                        bcc=website.copy_email if kind in COPIED else "")


def send_notice(website, to_addr, language, template, **context):
    """Queue Kontor's notice templates/email/portal_<template>.txt (first line: the subject)
    to `to_addr` in `language`, From the website's sender, with no copy. `context` fills the
    template; `website` and `company_name` are always there. Returns the OutboxMessage."""
    company = Company.current()
    locale = languages.formatting_locale(language, company.country if company else "")
    with force_locale(locale):
        text = render_template(f"email/portal_{template}.txt", website=website,
                               company_name=company_name(website), **context)
    subject, _, body = text.strip().partition("\n")
    return mail.enqueue(to_addr, subject.strip(), body.strip() + "\n",
                        kind=f"portal_{template}", sender=sender_of(website))


def link(website, path):
    """An absolute link to `path` of the website's portal, for an e-mail."""
    return websites.portal_link(website, path)


RESET_MINUTES = int(config.RESET_LINK_LIFETIME.total_seconds() // 60)
