"""The durable outbox and its delivery (SPEC section 5).

`enqueue` only writes a row; `deliver_due` (run by the scheduler's job) sends what is due by
SMTP, or, without SMTP configured, writes `.eml` files into the data folder (status "written",
not "sent": nobody has received it). A failed attempt stays queued with exponential back-off;
after MAX_ATTEMPTS it is marked failed with the error.
A message is claimed ("sending") before it is sent and marked sent right after, so two
processes never send the same message and a message is sent once.
"""
import functools
import logging
import re
import smtplib
import ssl
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from email_validator import EmailNotValidError, validate_email

from kontor.errors import Refused
from kontor.storage import DataFolder, write_private
from models import OutboxMessage, db
from models.clock import utcnow

log = logging.getLogger("kontor.mail")

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
STALE_CLAIM = timedelta(minutes=10)
# Where a message ends: handed to the SMTP server, or written to an .eml file in the data
# folder (no SMTP server configured), which nobody has received yet.
SENT = "sent"
WRITTEN = "written"


class InvalidAddress(Refused, ValueError):
    """Not an e-mail address; `reason` is the validator's explanation (English)."""


# Single-use links (reset, invitation) end in a `secrets.token_urlsafe(32)` value. The outbox
# keeps it only until the message is sent; then the stored copy loses it, so the database (and
# every backup of it) holds no usable link (SECURITY.md item 8).
_LINK_SECRET = re.compile(r"(https?://\S*/)[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def without_secrets(body: str) -> str:
    return _LINK_SECRET.sub(r"\1[removed after sending]", body)


def normalise_email(address) -> str:
    """The form in which Kontor stores and compares e-mail addresses (login names, register
    e-mails, duplicate checks): surrounding space removed, lower-cased. `address`: str or None
    (gives ""). Validation is `normalise_address`'s job."""
    return (address or "").strip().lower()


# RFC 5322 dot-atom of ASCII letters, digits and the other atext characters: a local part
# email_validator accepts and leaves as it is.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normalise_address(address: str) -> str:
    """Return the address in canonical form, or raise InvalidAddress (no CR/LF gets through).

    The rules are email_validator's (deliverability not checked). An address with a plain
    ASCII local part (the usual kind) has its domain checked once per process
    (`_normal_domain`): checking every address in full took 70 % of reading a 50,000-line
    contact file (issue 10 item 1). The result is the same; a test compares the two."""
    if isinstance(address, str) and address.count("@") == 1 and len(address) <= 254:
        local, domain = address.split("@")
        if len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
            normal = _normal_domain(domain)
            if normal is not None:
                return f"{local}@{normal}"
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None


@functools.lru_cache(maxsize=4096)
def _normal_domain(domain):
    """The normalised domain of an address at `domain`, as email_validator gives it, or None
    when it refuses the domain (then the full check says why)."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain \
            if domain.isascii() else None
    except EmailNotValidError:
        return None


def enqueue(to_addr, subject, body, kind="", sender=None, bcc=""):
    """Queue one plain-text message. The subject is folded onto one line.

    `sender`: (name, address) of a website's e-mails, or None for Kontor's own MAIL_FROM (every
    staff e-mail); `bcc`: an address that gets a blind copy ("" for none). Addresses are
    validated here (raises InvalidAddress); the name is folded onto one line, so nothing typed
    into it can add a header (SECURITY.md item 33)."""
    subject = " ".join(str(subject).split())[:300]
    name, address = sender if sender and sender[1] else ("", "")
    return OutboxMessage.create(
        to_addr=normalise_address(to_addr), subject=subject, body=body, kind=kind,
        from_addr=normalise_address(address) if address else "",
        from_name=" ".join(str(name or "").split())[:200],
        bcc_addr=normalise_address(bcc) if bcc else "")


def sender_of(message, mail_from):
    """The From header of an outbox message: its own sender (a website's), else `mail_from`."""
    if not message.from_addr:
        return mail_from
    return formataddr((message.from_name, normalise_address(message.from_addr))) \
        if message.from_name else normalise_address(message.from_addr)


def recipients_of(message):
    """The envelope's recipients: the addressee, and the blind copy if the message has one (a
    Bcc goes in the envelope only, never in a header the addressee sees)."""
    addresses = [normalise_address(message.to_addr)]
    if message.bcc_addr:
        addresses.append(normalise_address(message.bcc_addr))
    return addresses


def build_message(message, mail_from):
    email = EmailMessage()
    email["From"] = sender_of(message, mail_from)
    email["To"] = normalise_address(message.to_addr)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at.replace(tzinfo=UTC))
    email["Message-ID"] = make_msgid(idstring=f"kontor{message.id}")
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    return email


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _claim(message_id) -> bool:
    now = utcnow()
    return bool(OutboxMessage.update(status="sending", claimed_at=now)
                .where(OutboxMessage.id == message_id,
                       ((OutboxMessage.status == "queued") |
                        ((OutboxMessage.status == "sending") &
                         (OutboxMessage.claimed_at < now - STALE_CLAIM))))
                .execute())


class Transport:
    """Sends built messages: by SMTP when a host is configured, else into `.eml` files."""

    def __init__(self, config):
        self.config = config
        self.smtp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def send(self, email, message_id, recipients=None) -> str:
        """Send or write one message to `recipients` (the envelope; None: its To header);
        return the status it gets: SENT or WRITTEN."""
        cfg = self.config
        if not cfg.get("SMTP_HOST"):
            folder = DataFolder(cfg["DATA_DIR"]).folder("mail")
            stamp = utcnow().strftime("%Y%m%d-%H%M%S")
            write_private(folder / f"{stamp}-{message_id:06d}.eml", bytes(email))
            return WRITTEN
        if self.smtp is None:
            smtp = smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"],
                                timeout=cfg.get("SMTP_TIMEOUT", 20))
            if cfg.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if cfg.get("SMTP_USER"):
                smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
            self.smtp = smtp
        self.smtp.send_message(email, to_addrs=recipients)
        return SENT


def deliver_due(config, limit=100):
    """Send the messages that are due. Returns (sent, retried, failed) counts; "sent" counts
    the messages written to files too."""
    now = utcnow()
    due = list(OutboxMessage.select(OutboxMessage.id)
               .where(((OutboxMessage.status == "queued")
                       & (OutboxMessage.next_attempt_at <= now)) |
                      ((OutboxMessage.status == "sending") &
                       (OutboxMessage.claimed_at < now - STALE_CLAIM)))
               .order_by(OutboxMessage.id).limit(limit).tuples())
    sent = retried = failed = 0
    with Transport(config) as transport:
        for (message_id,) in due:
            if not _claim(message_id):
                continue
            message = OutboxMessage.get_by_id(message_id)
            try:
                done = transport.send(build_message(message, config["MAIL_FROM"]), message_id,
                                      recipients_of(message))
            except (smtplib.SMTPException, OSError, InvalidAddress) as exc:
                attempts = message.attempts + 1
                error = f"{type(exc).__name__}: {exc}"[:1000]
                gave_up = attempts >= MAX_ATTEMPTS or isinstance(
                    exc, (InvalidAddress, smtplib.SMTPRecipientsRefused))
                OutboxMessage.update(
                    status="failed" if gave_up else "queued", attempts=attempts,
                    last_error=error, claimed_at=None,
                    next_attempt_at=utcnow() + backoff(attempts),
                ).where(OutboxMessage.id == message_id).execute()
                log.warning("mail %s to message %s: %s", "failed" if gave_up else "deferred",
                            message_id, error.replace("\n", " "))
                failed += gave_up
                retried += not gave_up
                if transport.smtp is None and not isinstance(exc, InvalidAddress):
                    break   # the server is unreachable: the rest waits for the next run
                continue
            OutboxMessage.update(status=done, sent_at=utcnow(), attempts=message.attempts + 1,
                                 last_error="", claimed_at=None,
                                 body=without_secrets(message.body)
                                 ).where(OutboxMessage.id == message_id).execute()
            sent += 1
    return sent, retried, failed


def retry(message_id) -> bool:
    """Put a failed message back in the queue, due now."""
    with db.atomic():
        return bool(OutboxMessage.update(status="queued", next_attempt_at=utcnow(), attempts=0)
                    .where(OutboxMessage.id == message_id, OutboxMessage.status == "failed")
                    .execute())
