"""Compose Kontor's e-mails in the recipient's language and put them in the outbox.

Needs an application context (templates, Flask-Babel); delivery is kontor/mail.py's job.
"""
from flask import current_app, render_template
from flask_babel import force_locale

from kontor import languages, mail
from models import Company


def language_for(user=None):
    if user is not None and user.language:
        return user.language
    company = Company.current()
    return company.language if company and company.language else "en"


def link(path: str) -> str:
    """An absolute link for an e-mail, always from KONTOR_BASE_URL, never the Host header."""
    return current_app.config["BASE_URL"] + path


def queue(template, to_addr, language, kind, **context):
    """Render templates/email/<template>.txt (first line: subject) in `language` and put it in
    the outbox (kontor/mail.py delivers it later); dates in it are formatted as the pages
    format them for that language and the company's country. Returns the OutboxMessage row.
    Raises mail.InvalidAddress for an unusable `to_addr`."""
    company = Company.current()
    locale = languages.formatting_locale(language, company.country if company else "")
    with force_locale(locale):
        text = render_template(f"email/{template}.txt", company=company, **context)
    subject, _, body = text.strip().partition("\n")
    return mail.enqueue(to_addr, subject.strip(), body.strip() + "\n", kind=kind)
