"""The firm's websites (SPEC section 7): each has a customer portal served by Kontor, its
settings (password protection, self-registration, approval, sender) and the e-mail texts it
sends its customers, where a superuser changed the shipped ones (kontor/website_texts.py)."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.clock import utcnow
from models.db import BaseModel

PROTECTIONS = ("none", "prices", "site")       # nothing, prices and ordering, the whole site
APPROVALS = ("automatic", "manual")


class Website(BaseModel):
    """A website whose portal is at `/w/<slug>/`. `host` (lower-case, unique when set) is the
    website's own host name; `public_url` is the address its customers use, from which the
    links in the portal's e-mails are built. `version` guards against lost updates
    (kontor/versions.py)."""
    name = CharField(max_length=200)
    slug = CharField(max_length=50, unique=True)
    host = CharField(max_length=253, null=True, unique=True)   # NULL, not "", when unset
    public_url = CharField(max_length=500)
    language = CharField(max_length=5, default="en")
    active = BooleanField(default=True)
    protection = CharField(max_length=10, default="none")
    self_registration = BooleanField(default=False)
    register_link = BooleanField(default=False)   # "Create user" in the portal's menu
    approval = CharField(max_length=10, default="manual")
    sender_name = CharField(max_length=200, default="")
    sender_email = CharField(max_length=254, default="")
    copy_email = CharField(max_length=254, default="")   # Bcc of every status e-mail
    # the privacy statement's address, agreed to on "Create user"
    privacy_url = CharField(max_length=500, default="")
    # customers may open support cases from the portal (issue 14 item 6, migration 0022);
    # the staff user who owns them (a User id; none: the case waits unowned)
    customer_cases = BooleanField(default=False)
    case_owner_id = IntegerField(null=True)
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class WebsiteText(BaseModel):
    """One e-mail text of a website in one language, as a superuser wrote it; a text without
    a row is the shipped default."""
    website = ForeignKeyField(Website, backref="texts", on_delete="CASCADE")
    kind = CharField(max_length=30)        # kontor.website_texts.KINDS
    language = CharField(max_length=5)
    subject = CharField(max_length=300)
    body = TextField()
    version = IntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("website", "kind", "language"), True),)
