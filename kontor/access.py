"""Who may open which view. Default deny: a view is for signed-in users unless marked.

`@public` opens a view to everyone; `@superuser_required` closes it to staff users. The
check itself runs once, centrally, in `enforce_access` (a before_request hook), so a new
route is protected without anyone remembering to protect it; tests walk `app.url_map`.
"""
from flask import abort, current_app, request
from flask_login import current_user

from kontor import audit
from kontor.extensions import login_manager

PUBLIC_ENDPOINTS = {"static"}


def public(view):
    view.access = "public"
    return view


def superuser_required(view):
    view.access = "superuser"
    return view


def access_level(endpoint):
    if endpoint in PUBLIC_ENDPOINTS:
        return "public"
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access", "user")


def enforce_access():
    if request.endpoint is None:   # no such route: let the 404/405 handler answer
        return None
    level = access_level(request.endpoint)
    if level == "public":
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if level == "superuser" and not current_user.is_superuser:
        audit.record("access.denied", user=current_user, target=request.path,
                     ip=request.remote_addr)
        abort(403)
    return None
