"""Which website a portal request is for.

The dispatcher in app.py puts the slug of `/w/<slug>/...` into `environ["kontor.website_slug"]`.
Until issue 13 adds the Website model, every slug of the form [a-z0-9-]{1,50} is a website of
its own, with a stand-in id derived from the slug (`StandInWebsite`), so that portal sessions
already belong to one website. Issue 13 replaces `find_website` with a lookup of the Website
row (unknown slug: None, and the portal answers 404) and ends the stand-in portal sessions
(all anonymous: nobody can sign in to the portal yet) when `website_id` becomes a foreign key.
"""
import hashlib
import re
from dataclasses import dataclass

from flask import g, request

SLUG = re.compile(r"[a-z0-9-]{1,50}")


@dataclass(frozen=True)
class StandInWebsite:
    """A website until the Website model exists: its slug and an id derived from it."""
    id: int
    slug: str

    @property
    def name(self):
        return self.slug


def find_website(slug):
    """The website with this slug, or None when `slug` is not of the form [a-z0-9-]{1,50}."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        return None
    digest = hashlib.sha256(slug.encode("ascii")).digest()
    return StandInWebsite(id=int.from_bytes(digest[:4], "big") & 0x7FFFFFFF, slug=slug)


def website_id_of(request_):
    """The id of the website a request is for, or None: the portal session interface's hook."""
    website = find_website(request_.environ.get("kontor.website_slug"))
    return website.id if website is not None else None


def current_website():
    """The website of the current portal request (cached on `g`), or None."""
    if "website" not in g:
        g.website = find_website(request.environ.get("kontor.website_slug"))
    return g.website
