"""The audit log: one row per security-relevant or administrative action, plus a log line.

Values are logged with line breaks encoded, so nobody can forge a log line through a form
field (SECURITY.md item 34). Never pass a password or a token here.
"""
import logging

from flask import has_request_context, request

from models import AuditEvent

log = logging.getLogger("kontor.audit")


def clean(value, limit=500) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")[:limit]


def record(action, user=None, target="", detail="", ip=""):
    """Write an audit row and a log line: `record("login.failed", target=email, ip=ip)`.
    Without `ip`, a row written during a request gets the request's address (a new-user test
    found "contact.created" lines without one; so no caller can forget it); a job's has
    none."""
    if not ip and has_request_context():
        ip = request.remote_addr or ""
    user_id = getattr(user, "id", user)
    AuditEvent.create(action=action, user=user_id, target=clean(target, 200),
                      detail=clean(detail), ip=clean(ip, 64))
    log.info("audit action=%s user=%s target=%s ip=%s detail=%s", action, user_id or "-",
             clean(target, 200), clean(ip, 64), clean(detail))
