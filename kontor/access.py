"""Who may open which view. Default deny: a view is for signed-in staff unless marked.

Kontor serves two audiences (see app.py): staff, and customers on a website's portal. Each view
has one access level:

- "staff" (the default): a signed-in staff user, from a staff-realm session;
- "superuser": the same, and a superuser (`@superuser_required`);
- "portal": a signed-in portal account, from a portal-realm session (`@portal_sign_in_required`);
- "public": everyone (`@public`).

The check runs once, centrally, in `enforce_access` (a before_request hook of both apps), so a
new route is protected without anyone remembering to protect it; tests walk each app's
`url_map`. A level this module does not know is refused, never treated as open.
"""
import logging

from flask import abort, current_app, has_request_context, request, session
from flask_login import current_user

from kontor import audit, sessions
from models import User, WebAccount

PUBLIC, STAFF, SUPERUSER, PORTAL = "public", "staff", "superuser", "portal"
LEVELS = (PUBLIC, STAFF, SUPERUSER, PORTAL)
PUBLIC_ENDPOINTS = {"static"}

log = logging.getLogger(__name__)


def public(view):
    """Mark a view as open to everyone; returns the view."""
    view.access = PUBLIC
    return view


def superuser_required(view):
    """Mark a view as for superusers only (staff users get 403); returns the view."""
    view.access = SUPERUSER
    return view


def portal_sign_in_required(view):
    """Mark a portal view as for a signed-in portal account of that website; returns the view."""
    view.access = PORTAL
    return view


def access_level(endpoint):
    """The access level of `endpoint` in the current app: one of LEVELS, or whatever unknown
    value a view carries (which `enforce_access` refuses). Unmarked views are "staff"."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access", STAFF)


def session_realm():
    """The realm of the request's session ("staff" or "portal"), or None for any other kind
    and outside a request (a job writing an e-mail: the templates' context processors ask)."""
    if not has_request_context():
        return None
    return getattr(session, "realm", None)


def signed_in_staff():
    """True when a staff user is signed in through a staff-realm session."""
    return (session_realm() == sessions.STAFF and current_user.is_authenticated
            and isinstance(current_user._get_current_object(), User))


def signed_in_customer():
    """True when a customer's web account is signed in through a portal-realm session of the
    request's website (the session row and the account both belong to it)."""
    if session_realm() != sessions.PORTAL or not current_user.is_authenticated:
        return False
    account = current_user._get_current_object()
    return isinstance(account, WebAccount) \
        and account.website_id == getattr(session, "website_id", None)


def enforce_access():
    """The before_request check: None to let the request through, or the sign-in redirect of
    the current app's login manager. Aborts with 403 when the signed-in user may not open the
    view (a staff user on a superuser view, anyone on a view of an unknown level)."""
    if request.endpoint is None:   # no such route: let the 404/405 handler answer
        return None
    level = access_level(request.endpoint)
    if level == PUBLIC:
        return None
    if level in (STAFF, SUPERUSER):
        allowed = signed_in_staff()
    elif level == PORTAL:
        allowed = signed_in_customer()
    else:
        log.error("view %s has the unknown access level %r: refused", request.endpoint, level)
        abort(403)
    if not allowed:
        if current_user.is_authenticated:   # signed in, but as the other audience
            abort(403)
        return current_app.login_manager.unauthorized()
    if level == SUPERUSER and not current_user.is_superuser:
        audit.record("access.denied", user=current_user, target=request.path,
                     ip=request.remote_addr)
        abort(403)
    return None
