"""The e-mails about a customer's order (issue 14 items 3-4): the order confirmation and the
order's new status, each the website's own text (kontor/website_texts.py, editable like the
other website e-mails) in the customer's language, from the website's sender, with a Bcc to
the website's copy address (kontor/portal_mail.py). The order's lines and amounts are written
as the customer's language writes money. Needs an application context (Flask-Babel)."""
from babel.numbers import format_currency
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from kontor import languages, portal_mail
from models import Company, OrderLine

STATUS_LABELS = {"received": _l("Received"), "confirmed": _l("Confirmed"),
                 "shipped": _l("Shipped"), "cancelled": _l("Cancelled")}


def _locale(language):
    company = Company.current()
    return languages.formatting_locale(language, company.country if company else "")


def status_label(status, language):
    """An order status in `language` ("shipped" → "Verzonden" in Dutch)."""
    with force_locale(language):
        return str(STATUS_LABELS.get(status, status))


def order_values(website, order, language):
    """The placeholders of an order's e-mails in `language`: its number, its page in the
    portal, its lines ("2 × KS-300 Kühlschrank Eco 300: 899,82 €"), total and reference."""
    locale = _locale(language)
    lines = OrderLine.select().where(OrderLine.order == order.id).order_by(OrderLine.position)
    text = "\n".join(
        f"{line.quantity} × {line.product_number} {line.name}: "
        f"{format_currency(line.net, order.currency, locale=locale)}" for line in lines)
    with force_locale(language):
        vat = gettext("VAT")
    text += "\n" + f"{vat}: {format_currency(order.vat, order.currency, locale=locale)}"
    return {"order_number": order.number, "order_url": portal_mail.link(
        website, f"/orders/{order.id}"), "order_lines": text,
        "order_total": format_currency(order.gross, order.currency, locale=locale),
        "reference": order.reference or "—",
        "order_status": status_label(order.status, language)}


def send_confirmation(website, account, order):
    """Queue the order confirmation to the customer's (confirmed) address."""
    return portal_mail.send_text(website, account, "order_confirmation",
                                 values=lambda language: order_values(website, order, language))


def send_status(website, account, order):
    """Queue "your order's status is now …" to the customer's address."""
    return portal_mail.send_text(website, account, "order_status",
                                 values=lambda language: order_values(website, order, language))
