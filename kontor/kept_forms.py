"""Typed text that is never lost (issue 10 items 5 and 7): what a person typed into a form that
could not be taken is kept, for that person and that page, and filled back in when they open
the page again.

Two ways in, one store:
- SIGNED_OUT: a form arrives on a session that ended by a timeout (idle or absolute). The ended
  session's row still names its user; the form is kept for that user, and after they sign in
  again they land on the form's page with the fields filled in.
- LANGUAGE: the person switches the language on a page where a form came back with errors;
  the fields it had are kept and the page opens again in the new language, filled in.

Never kept: passwords, tokens (the CSRF token, one-time form keys, anything named *token*),
files, and the names of every password, file and button field of Kontor's forms
(`unkept_names`).
A kept form lives config.KEPT_FORM_LIFETIME, at most config.KEPT_FORMS_PER_USER per person;
it is deleted once filled back in, and expired ones are purged by the per-minute job and
whenever a form is kept. Plain functions over `KeptForm`, no Flask: the request side is in
blueprints/forms.py.
"""
import json

from kontor import config
from models import KeptForm, UserSession, db
from models.clock import utcnow

SIGNED_OUT, LANGUAGE = "signed_out", "language"

# Only a session that ended by a timeout keeps a late form: one ended on purpose (password
# reset, deactivation, "end session", sign-out) may have been someone else's use of the
# account, whose text must not appear in its owner's forms.
KEPT_AFTER_ENDING = frozenset({"idle", "absolute"})

# parts of a field's name that mark it as secret, whatever form it belongs to
SECRET_NAME_PARTS = ("password", "token", "csrf", "form_key")
MAX_PATH = 500


def timed_out_session(row_id):
    """The ended UserSession `row_id` if a late form typed on its pages may be kept for its
    user: it was signed in, ended by a timeout (KEPT_AFTER_ENDING), and not longer ago than
    config.LATE_FORM_WINDOW (a page left open over lunch still counts; one from last week
    does not); else None. The caller still checks the form's CSRF token
    against the row's data."""
    if not isinstance(row_id, int):
        return None
    return UserSession.select().where(
        UserSession.id == row_id, UserSession.user.is_null(False),
        UserSession.end_reason.in_(KEPT_AFTER_ENDING),
        UserSession.ended_at >= utcnow() - config.LATE_FORM_WINDOW).first()


def keepable(pairs, unkept_names=frozenset()) -> list:
    """The (name, value) pairs of a posted form that may be kept: text values only (no
    files), without anything whose name contains a SECRET_NAME_PARTS word or whose name,
    without a form prefix ("note-"), is in `unkept_names` (the password, file and button
    fields of the app's forms). Order and repeated names are kept as posted."""
    kept = []
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        lower = name.lower()
        if any(part in lower for part in SECRET_NAME_PARTS) \
                or lower.rsplit("-", 1)[-1] in unkept_names:
            continue
        kept.append((name, value))
    return kept


def keep(user_id, path, pairs, reason) -> bool:
    """Keep `pairs` (already `keepable`) for user `user_id` and the page at `path` (a URL
    path, no query), replacing what was kept for that page before; `reason` is SIGNED_OUT or
    LANGUAGE. Returns False, keeping nothing, when there is nothing to keep or the path is
    too long to be a Kontor page."""
    if not pairs or not path or len(path) > MAX_PATH:
        return False
    now = utcnow()
    with db.atomic():
        KeptForm.delete().where((KeptForm.kept_at < now - config.KEPT_FORM_LIFETIME)
                                | ((KeptForm.user == user_id) & (KeptForm.path == path))
                                ).execute()
        KeptForm.create(user=user_id, path=path, fields=json.dumps(list(pairs)), reason=reason,
                        kept_at=now)
        older = [row.id for row in KeptForm.select(KeptForm.id).where(KeptForm.user == user_id)
                 .order_by(KeptForm.kept_at.desc(), KeptForm.id.desc())
                 .offset(config.KEPT_FORMS_PER_USER)]
        if older:
            KeptForm.delete().where(KeptForm.id.in_(older)).execute()
    return True


def _live():
    return KeptForm.kept_at >= utcnow() - config.KEPT_FORM_LIFETIME


def waiting(user_id) -> bool:
    """Whether anything is kept for `user_id` and not expired."""
    return KeptForm.select().where(KeptForm.user == user_id, _live()).exists()


def find(user_id, path):
    """What is kept for `user_id` on the page at `path` (a KeptForm), or None."""
    return (KeptForm.select().where(KeptForm.user == user_id, KeptForm.path == path, _live())
            .order_by(KeptForm.id.desc()).first())


def pairs_of(kept) -> list:
    """The kept (name, value) pairs of a KeptForm, in the order they were posted."""
    try:
        pairs = json.loads(kept.fields)
    except ValueError:
        return []
    return [(name, value) for name, value in pairs
            if isinstance(name, str) and isinstance(value, str)]


def forget(kept_id) -> bool:
    """Delete a kept form (it was filled back in); True if it was still there."""
    return bool(KeptForm.delete().where(KeptForm.id == kept_id).execute())


def purge_expired() -> int:
    """Delete every kept form older than config.KEPT_FORM_LIFETIME; returns how many."""
    return KeptForm.delete().where(
        KeptForm.kept_at < utcnow() - config.KEPT_FORM_LIFETIME).execute()
