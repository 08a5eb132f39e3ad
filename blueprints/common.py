"""View helpers that several blueprints share: the pieces that act within a request (reading
the signed-in user, building links, answering 404), as opposed to the forms and their
messages, which are in `blueprints.forms`.

A blueprint module imports from these two modules only, never from another blueprint: a view
that needs what another area's view has moves that piece here (or into the domain, `kontor/`,
when it is a rule rather than a way of answering a request).
"""
from urllib.parse import urlsplit

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from kontor import contacts, emails


def safe_next(target):
    """`target` if it is a same-site path (one leading slash, no scheme, host, backslash or
    control character), else None: where a `next` parameter may send the browser."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ch in target for ch in "\r\n\t"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def answers_get(path):
    """Whether the staff app has a page at `path` (a URL path) that a GET opens."""
    try:
        current_app.create_url_adapter(request).match(path, method="GET")
    except HTTPException:   # no such page, GET not allowed there, or a redirect
        return False
    return True


def form_page():
    """The address (path and query) of the page whose form this request posted, for going
    back to it: the request's own address when a GET opens it, else the page the browser came
    from (the Referer, when it is of this site and a GET opens it), else None. Issue 10 items
    5 and 7: where sign-in and the language switch send the person after a form's POST."""
    if request.method == "GET" or answers_get(request.path):
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if f"{referrer.scheme}://{referrer.netloc}/" == request.host_url:
        back = safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
        if back and answers_get(referrer.path):
            return back
    return nearest_page(request.path)


def nearest_page(path):
    """The page a form posted to the action address `path` most likely came from, when the
    browser sent no Referer (privacy settings and some proxies drop it; found by a new user:
    a note typed before a timeout was lost that way): going up from `path`, the first
    "<parent>/edit" or "<parent>" that a GET opens ("/contacts/3/notes" → "/contacts/3/edit",
    where the note form is; "/support/2026-0001/add" → "/support/2026-0001"), or None."""
    parts = path.rstrip("/").split("/")
    for end in range(len(parts) - 1, 1, -1):
        parent = "/".join(parts[:end])
        for candidate in (parent + "/edit", parent):
            if candidate != path and answers_get(candidate):
                return candidate
    return None


def or_404(found):
    """`found` (what a domain lookup returned) unless it is None, which answers 404. For a
    plain model lookup use playhouse.flask_utils.get_object_or_404 instead."""
    if found is None:
        abort(404)
    return found


def get_contact(contact_id):
    """The contact with this id; aborts with 404 when there is none."""
    return or_404(contacts.get(contact_id))


def get_person(contact, person_id):
    """The contact person with this id if they belong to `contact`; aborts with 404 if not."""
    return or_404(contacts.get_person(contact, person_id))


def send_invitation(invitation, raw):
    """Queue the invitation e-mail with the link for the raw token `raw`, signed by the
    current user (used when inviting and when sending a new link)."""
    emails.queue("invitation", invitation.email, invitation.language, "invitation",
                 link=emails.link(url_for("invitations.with_token", token=raw)),
                 name=invitation.employee.name, inviter=current_user.display_name,
                 expires_at=invitation.expires_at)


CONFIRMED = "yes"   # the value of the confirmation page's hidden `confirmed` field


def ask_first(question, explanation, button, back):
    """The confirmation step of an action that is hard to undo (issue 11 item 19: deactivate,
    revoke, unlock, re-link "This is me"), without JavaScript: None when this POST comes from
    the confirmation page (its `confirmed` field), else that page, as a (body, 200) response:
    `question` as its heading, `explanation` below it, a form that posts the same request
    again, confirmed, with the primary button `button`, and a Cancel link to `back`."""
    if request.form.get("confirmed") == CONFIRMED:
        return None
    return render_template("confirm.html", question=question, explanation=explanation,
                           button=button, back=back, action=request.path,
                           confirmed=CONFIRMED), 200
