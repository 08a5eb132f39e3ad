"""Which website a portal request is for.

The dispatcher in app.py puts the slug of `/w/<slug>/...` into `environ["kontor.website_slug"]`;
`find_website` looks up the active Website row with that slug (kontor/websites.py). An unknown
or deactivated website is None, and the portal answers 404. (The portal sessions of the stand-in
websites that came before the Website table were all anonymous; migration 0017 removed them
when `user_session.website_id` became a foreign key.)

Host names: a request for a website's own host name (Website.host) is dispatched, whole, to
its portal with the slug put in the environ the same way (app.py, `PortalDispatcher`).
"""
from flask import g, request

from kontor import websites


def find_website(slug):
    """The active website with this slug, or None."""
    return websites.active_by_slug(slug)


def website_id_of(request_):
    """The id of the website a request is for, or None: the portal session interface's hook.
    Cached in the request's environ, so the session interface and the views look it up once."""
    environ = request_.environ
    if "kontor.website" not in environ:
        environ["kontor.website"] = find_website(environ.get("kontor.website_slug"))
    website = environ["kontor.website"]
    return website.id if website is not None else None


def current_website():
    """The website of the current portal request (cached on `g`), or None."""
    if "website" not in g:
        website_id_of(request)
        g.website = request.environ["kontor.website"]
    return g.website
