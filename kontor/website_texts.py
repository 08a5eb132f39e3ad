"""The e-mail texts a website sends its customers (issue 13 item 1): registration received,
approved, rejected and password reset, and (issue 14 item 3) the order confirmation and the
order's new status, each in every language Kontor speaks.

Kontor ships a default for each kind and language (`DEFAULTS`); a superuser may write the
website's own (a WebsiteText row), with placeholders in braces such as `{customer_name}`.
Substitution is a plain search and replace of the known names (`fill`), done once over the
text: nothing a user typed is ever evaluated, formatted or looked up as an attribute, so
`{customer_name.__class__}` or `{0}` is an error in the form (`problems`), never code.
"""
import re
from dataclasses import dataclass

from peewee import IntegrityError

from kontor import form_keys, languages
from kontor.errors import Refused
from kontor.versions import ChangedMeanwhile, update_if_unchanged
from models import WebsiteText, db, locked
from models.clock import utcnow

KINDS = ("registration_received", "approved", "rejected", "password_reset",
         "order_confirmation", "order_status")
COMMON = ("customer_name", "website_name", "login_url", "company_name")
ORDER = ("order_number", "order_url")
PLACEHOLDERS = {kind: COMMON for kind in KINDS} | {
    "password_reset": (*COMMON, "reset_url"),
    "order_confirmation": (*COMMON, *ORDER, "order_lines", "order_total", "reference"),
    "order_status": (*COMMON, *ORDER, "order_status")}
SUBJECT_MAX = 300
BODY_MAX = 10000

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class UnbalancedBrace(Refused):
    """A `{` without its `}`, or a `}` without its `{`."""

    def __init__(self):
        super().__init__("unbalanced")


def placeholders_in(text):
    """The names between braces in `text`, in order ("Dear {customer_name}" →
    ["customer_name"]), whatever they are; raises UnbalancedBrace when a brace has no partner
    or braces nest. Braces are used for placeholders only."""
    names, start = [], None
    for index, char in enumerate(text or ""):
        if char == "{":
            if start is not None:
                raise UnbalancedBrace()
            start = index
        elif char == "}":
            if start is None:
                raise UnbalancedBrace()
            names.append(text[start + 1:index])
            start = None
    if start is not None:
        raise UnbalancedBrace()
    return names


def problems(text, kind):
    """What is wrong with the placeholders of `text` for a text of `kind`: [] when nothing,
    else [("unbalanced", None)] or one ("unknown", name) per unknown name (each once)."""
    try:
        names = placeholders_in(text)
    except UnbalancedBrace:
        return [("unbalanced", None)]
    allowed, found = PLACEHOLDERS[kind], []
    for name in names:
        if name not in allowed and ("unknown", name) not in found:
            found.append(("unknown", name))
    return found


def fill(text, values):
    """`text` with each `{name}` whose name is a key of `values` replaced by its value, in one
    pass (a value that itself holds `{name}` stays as it is); anything else is left alone."""
    def replace(match):
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)
    return _PLACEHOLDER.sub(replace, text or "")


@dataclass
class Text:
    """A website's text of one kind in one language: the website's own (`own`, with the
    `version` its edit form carries) or the shipped default."""
    kind: str
    language: str
    subject: str
    body: str
    own: bool = False
    version: int | None = None


def default_text(kind, language):
    """The shipped text of `kind` in `language` (English for a language without one)."""
    texts = DEFAULTS[kind]
    subject, body = texts.get(language) or texts[languages.DEFAULT]
    return Text(kind, language, subject, body)


def text_for(website, kind, language):
    """The text `website` sends for `kind` in `language`: its own if it has one, else the
    default."""
    row = WebsiteText.get_or_none(WebsiteText.website == website.id, WebsiteText.kind == kind,
                                  WebsiteText.language == language)
    if row is None:
        return default_text(kind, language)
    return Text(kind, language, row.subject, row.body, own=True, version=row.version)


def all_texts(website):
    """{(kind, language): Text} for every kind and language."""
    own = {(row.kind, row.language): row for row in
           WebsiteText.select().where(WebsiteText.website == website.id)}
    found = {}
    for kind in KINDS:
        for language in languages.CODES:
            row = own.get((kind, language))
            found[kind, language] = default_text(kind, language) if row is None else Text(
                kind, language, row.subject, row.body, own=True, version=row.version)
    return found


def save_text(website, kind, language, subject, body, opened_version, form_key=None):
    """Store the website's own text of `kind` in `language`. `opened_version` is the version
    the editor opened (None: they opened the default). Raises ChangedMeanwhile, with the text
    as it is now, when someone saved or reset it since, and form_keys.AlreadySaved when
    `form_key` was used before (a double-click); then nothing is saved."""
    try:
        with db.atomic():
            form_keys.claim(form_key)
            row = locked(WebsiteText.select().where(
                WebsiteText.website == website.id, WebsiteText.kind == kind,
                WebsiteText.language == language)).first()
            if row is None and opened_version is None:
                WebsiteText.create(website=website.id, kind=kind, language=language,
                                   subject=subject, body=body)
                return
            if row is None:   # it was reset to the default since
                raise ChangedMeanwhile(default_text(kind, language))
            if opened_version is None:   # opened the default; someone wrote a text since
                raise ChangedMeanwhile(row)
            update_if_unchanged(WebsiteText, row.id, opened_version, subject=subject,
                                body=body, updated_at=utcnow())
    except IntegrityError:   # another superuser's first save of the same text came first
        raise ChangedMeanwhile(text_for(website, kind, language)) from None
    except ChangedMeanwhile as clash:
        current = clash.current
        if isinstance(current, WebsiteText):
            current = Text(kind, language, current.subject, current.body, own=True,
                           version=current.version)
        raise ChangedMeanwhile(current) from None


def reset_text(website, kind, language):
    """Go back to the shipped text; whether the website had its own."""
    return bool(WebsiteText.delete().where(
        WebsiteText.website == website.id, WebsiteText.kind == kind,
        WebsiteText.language == language).execute())


def sample_values(website, company_name):
    """Values for a preview: the website's and the company's names, an example customer and
    links as the website's customers would get them."""
    base = website.public_url.rstrip("/")
    return {"customer_name": "Maria Jensen", "website_name": website.name,
            "company_name": company_name or website.name, "login_url": f"{base}/login",
            "reset_url": f"{base}/reset/EXAMPLE-LINK", "order_number": "2026-0042",
            "order_url": f"{base}/orders/42", "reference": "PO 4711",
            "order_lines": "2 × KS-300 Kühlschrank Eco 300: 899.82\n"
                           "1 × SV-10 Service visit: 85.00",
            "order_total": "1,191.43", "order_status": "shipped"}


# --- the shipped texts --------------------------------------------------------------------
# Written for each language, not translated word for word: the greeting and closing a
# customer expects in a business letter there.

DEFAULTS = {
    "registration_received": {
        "en": ("We have received your registration at {website_name}",
               "Dear {customer_name},\n\n"
               "Thank you for registering at {website_name}. We have received your details "
               "and will look at them shortly.\n\n"
               "We will send you another e-mail as soon as you can sign in.\n\n"
               "Kind regards,\n{company_name}\n"),
        "nl": ("Uw registratie bij {website_name} is ontvangen",
               "Beste {customer_name},\n\n"
               "Bedankt voor uw registratie bij {website_name}. We hebben uw gegevens "
               "ontvangen en bekijken ze zo snel mogelijk.\n\n"
               "U krijgt opnieuw een e-mail zodra u kunt inloggen.\n\n"
               "Met vriendelijke groet,\n{company_name}\n"),
        "nb": ("Vi har mottatt registreringen din på {website_name}",
               "Hei {customer_name},\n\n"
               "Takk for at du registrerte deg på {website_name}. Vi har mottatt "
               "opplysningene dine og ser på dem så snart vi kan.\n\n"
               "Du får en ny e-post så snart du kan logge inn.\n\n"
               "Med vennlig hilsen\n{company_name}\n"),
        "de": ("Ihre Registrierung bei {website_name} ist eingegangen",
               "Guten Tag {customer_name},\n\n"
               "vielen Dank für Ihre Registrierung bei {website_name}. Wir haben Ihre "
               "Angaben erhalten und prüfen sie so bald wie möglich.\n\n"
               "Sobald Sie sich anmelden können, erhalten Sie eine weitere E-Mail.\n\n"
               "Mit freundlichen Grüßen\n{company_name}\n"),
    },
    "approved": {
        "en": ("Your account at {website_name} is ready",
               "Dear {customer_name},\n\n"
               "Your account at {website_name} has been approved. You can now sign in with "
               "your e-mail address and the password you chose:\n\n"
               "{login_url}\n\n"
               "Kind regards,\n{company_name}\n"),
        "nl": ("Uw account bij {website_name} is klaar",
               "Beste {customer_name},\n\n"
               "Uw account bij {website_name} is goedgekeurd. U kunt nu inloggen met uw "
               "e-mailadres en het wachtwoord dat u hebt gekozen:\n\n"
               "{login_url}\n\n"
               "Met vriendelijke groet,\n{company_name}\n"),
        "nb": ("Brukerkontoen din på {website_name} er klar",
               "Hei {customer_name},\n\n"
               "Brukerkontoen din på {website_name} er godkjent. Nå kan du logge inn med "
               "e-postadressen din og passordet du valgte:\n\n"
               "{login_url}\n\n"
               "Med vennlig hilsen\n{company_name}\n"),
        "de": ("Ihr Benutzerkonto bei {website_name} ist freigeschaltet",
               "Guten Tag {customer_name},\n\n"
               "Ihr Benutzerkonto bei {website_name} wurde freigeschaltet. Sie können sich "
               "jetzt mit Ihrer E-Mail-Adresse und dem von Ihnen gewählten Passwort "
               "anmelden:\n\n"
               "{login_url}\n\n"
               "Mit freundlichen Grüßen\n{company_name}\n"),
    },
    "rejected": {
        "en": ("Your registration at {website_name}",
               "Dear {customer_name},\n\n"
               "Thank you for your interest in {website_name}. Unfortunately we cannot "
               "approve your account.\n\n"
               "If you think this is a mistake, or if you have any questions, simply reply "
               "to this e-mail.\n\n"
               "Kind regards,\n{company_name}\n"),
        "nl": ("Uw registratie bij {website_name}",
               "Beste {customer_name},\n\n"
               "Bedankt voor uw interesse in {website_name}. Helaas kunnen we uw account "
               "niet goedkeuren.\n\n"
               "Denkt u dat dit een vergissing is, of hebt u vragen? Beantwoord dan gerust "
               "deze e-mail.\n\n"
               "Met vriendelijke groet,\n{company_name}\n"),
        "nb": ("Registreringen din på {website_name}",
               "Hei {customer_name},\n\n"
               "Takk for interessen for {website_name}. Dessverre kan vi ikke godkjenne "
               "brukerkontoen din.\n\n"
               "Hvis du mener at dette er feil, eller hvis du har spørsmål, er det bare å "
               "svare på denne e-posten.\n\n"
               "Med vennlig hilsen\n{company_name}\n"),
        "de": ("Ihre Registrierung bei {website_name}",
               "Guten Tag {customer_name},\n\n"
               "vielen Dank für Ihr Interesse an {website_name}. Leider können wir Ihr "
               "Benutzerkonto nicht freischalten.\n\n"
               "Wenn Sie glauben, dass es sich um einen Irrtum handelt, oder wenn Sie Fragen "
               "haben, antworten Sie einfach auf diese E-Mail.\n\n"
               "Mit freundlichen Grüßen\n{company_name}\n"),
    },
    "password_reset": {
        "en": ("Choose a new password for {website_name}",
               "Dear {customer_name},\n\n"
               "We were asked to reset the password of your account at {website_name}. "
               "Choose a new password with this link:\n\n"
               "{reset_url}\n\n"
               "The link works once and for 30 minutes. If you did not ask for this, you can "
               "ignore this e-mail: your password stays as it is.\n\n"
               "Kind regards,\n{company_name}\n"),
        "nl": ("Nieuw wachtwoord kiezen voor {website_name}",
               "Beste {customer_name},\n\n"
               "We kregen het verzoek om het wachtwoord van uw account bij {website_name} "
               "opnieuw in te stellen. Via deze link kiest u een nieuw wachtwoord:\n\n"
               "{reset_url}\n\n"
               "De link werkt één keer en blijft 30 minuten geldig. Hebt u hier niet om "
               "gevraagd? Dan kunt u deze e-mail negeren: uw wachtwoord blijft zoals het "
               "is.\n\n"
               "Met vriendelijke groet,\n{company_name}\n"),
        "nb": ("Velg nytt passord for {website_name}",
               "Hei {customer_name},\n\n"
               "Vi har fått en forespørsel om å tilbakestille passordet til brukerkontoen "
               "din på {website_name}. Velg et nytt passord med denne lenken:\n\n"
               "{reset_url}\n\n"
               "Lenken kan brukes én gang og gjelder i 30 minutter. Hvis du ikke har bedt om "
               "dette, kan du se bort fra e-posten: passordet ditt forblir som før.\n\n"
               "Med vennlig hilsen\n{company_name}\n"),
        "de": ("Neues Passwort für {website_name} festlegen",
               "Guten Tag {customer_name},\n\n"
               "wir haben eine Anfrage erhalten, das Passwort Ihres Benutzerkontos bei "
               "{website_name} zurückzusetzen. Über diesen Link legen Sie ein neues Passwort "
               "fest:\n\n"
               "{reset_url}\n\n"
               "Der Link funktioniert einmal und ist 30 Minuten gültig. Falls Sie das nicht "
               "angefordert haben, können Sie diese E-Mail ignorieren: Ihr Passwort bleibt "
               "unverändert.\n\n"
               "Mit freundlichen Grüßen\n{company_name}\n"),
    },
    "order_confirmation": {
        "en": ("Your order {order_number} at {website_name}",
               "Dear {customer_name},\n\n"
               "Thank you for your order. We have received it as follows:\n\n"
               "Order number: {order_number}\n"
               "Your reference: {reference}\n\n"
               "{order_lines}\n\n"
               "Total including VAT: {order_total}\n\n"
               "You can follow your order under My orders:\n{order_url}\n\n"
               "Kind regards,\n{company_name}\n"),
        "nl": ("Uw bestelling {order_number} bij {website_name}",
               "Beste {customer_name},\n\n"
               "Hartelijk dank voor uw bestelling. We hebben deze als volgt ontvangen:\n\n"
               "Bestelnummer: {order_number}\n"
               "Uw referentie: {reference}\n\n"
               "{order_lines}\n\n"
               "Totaal inclusief btw: {order_total}\n\n"
               "U kunt uw bestelling volgen onder Mijn bestellingen:\n{order_url}\n\n"
               "Met vriendelijke groet,\n{company_name}\n"),
        "nb": ("Bestillingen din {order_number} hos {website_name}",
               "Hei {customer_name},\n\n"
               "Takk for bestillingen. Vi har mottatt den slik:\n\n"
               "Ordrenummer: {order_number}\n"
               "Din referanse: {reference}\n\n"
               "{order_lines}\n\n"
               "Totalt inkludert mva.: {order_total}\n\n"
               "Du kan følge bestillingen under Mine ordrer:\n{order_url}\n\n"
               "Med vennlig hilsen\n{company_name}\n"),
        "de": ("Ihre Bestellung {order_number} bei {website_name}",
               "Guten Tag {customer_name},\n\n"
               "vielen Dank für Ihre Bestellung. Wir haben sie wie folgt erhalten:\n\n"
               "Bestellnummer: {order_number}\n"
               "Ihre Referenz: {reference}\n\n"
               "{order_lines}\n\n"
               "Gesamt inkl. USt.: {order_total}\n\n"
               "Unter „Meine Bestellungen“ können Sie Ihre Bestellung verfolgen:\n"
               "{order_url}\n\n"
               "Mit freundlichen Grüßen\n{company_name}\n"),
    },
    "order_status": {
        "en": ("Your order {order_number}: {order_status}",
               "Dear {customer_name},\n\n"
               "The status of your order {order_number} at {website_name} is now: "
               "{order_status}.\n\n"
               "You can see your order here:\n{order_url}\n\n"
               "Kind regards,\n{company_name}\n"),
        "nl": ("Uw bestelling {order_number}: {order_status}",
               "Beste {customer_name},\n\n"
               "De status van uw bestelling {order_number} bij {website_name} is nu: "
               "{order_status}.\n\n"
               "U kunt uw bestelling hier bekijken:\n{order_url}\n\n"
               "Met vriendelijke groet,\n{company_name}\n"),
        "nb": ("Bestillingen din {order_number}: {order_status}",
               "Hei {customer_name},\n\n"
               "Statusen for bestillingen din {order_number} hos {website_name} er nå: "
               "{order_status}.\n\n"
               "Du kan se bestillingen her:\n{order_url}\n\n"
               "Med vennlig hilsen\n{company_name}\n"),
        "de": ("Ihre Bestellung {order_number}: {order_status}",
               "Guten Tag {customer_name},\n\n"
               "der Status Ihrer Bestellung {order_number} bei {website_name} ist jetzt: "
               "{order_status}.\n\n"
               "Hier können Sie Ihre Bestellung ansehen:\n{order_url}\n\n"
               "Mit freundlichen Grüßen\n{company_name}\n"),
    },
}
