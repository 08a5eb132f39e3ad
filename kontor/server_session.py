"""Flask session interface that keeps sessions in the database (SECURITY.md items 13-17, 36).

The cookie holds only a random id; the row holds the data, the user, the timestamps, the IP
and the browser. Timeouts are checked on every request before anything else sees the session.

Each app has its own interface, for one realm (audience): the staff app's reads and writes
rows of realm "staff" under its cookie; the portal app's rows of realm "portal" for the
request's website, under the portal cookie with the website's path. A session id of one realm
(or of another website) finds nothing in the other, so it is simply no session there.
"""
import secrets

from flask import request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from peewee import JOIN
from werkzeug.datastructures import CallbackDict

from kontor import sessions
from kontor.sessions import PORTAL, STAFF
from models import Employee, Prepared, User, UserSession
from models.clock import utcnow

serializer = TaggedJSONSerializer()
ENDED_SESSION = "_ended_session"   # in a new session: the id of the browser's ended one


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid=None, row_id=None, last_seen_at=None,
                 ended_reason=None, had_cookie=False, realm=None, website_id=None,
                 user=None):
        def on_update(self):
            self.modified = True
        super().__init__(initial, on_update)
        self.realm = realm             # "staff" or "portal": whose session this is
        self.website_id = website_id   # the portal's website; None for staff
        self.sid = sid
        self.row_id = row_id
        self.last_seen_at = last_seen_at
        self.ended_reason = ended_reason   # why the previous session of this browser ended
        self.had_cookie = had_cookie
        # the staff User (with its employee) the row named when it was read, or None: what
        # the user loader uses instead of reading it again (app.load_user)
        self.user = user
        self.regenerate_requested = False
        self.modified = False

    def regenerate(self):
        """Issue a new session id at the next save and end the old one (login, logout)."""
        self.regenerate_requested = True
        self.modified = True


# every request reads its session row: the SQL of the two lookups is written once, not per
# request (issue 12 item 26: writing it took longer than the database's answer). A staff
# session's row comes with its user and the user's employee (`loaded_user`), which the user
# loader would otherwise read in a query of its own (app.load_user): one round trip fewer
# on every staff page.
_STAFF_ROW = Prepared(lambda digest, realm: UserSession.select(UserSession, User, Employee)
                      .join(User, JOIN.LEFT_OUTER, on=(UserSession.user == User.id),
                            attr="loaded_user")
                      .join(Employee, JOIN.LEFT_OUTER, on=(User.employee == Employee.id),
                            attr="employee")
                      .where(UserSession.sid_hash == digest, UserSession.realm == realm)
                      .limit(1))
_PORTAL_ROW = Prepared(lambda digest, realm, website_id: UserSession.select().where(
    UserSession.sid_hash == digest, UserSession.realm == realm,
    UserSession.website_id == website_id).limit(1))


class DatabaseSessionInterface(SessionInterface):
    """Sessions of one realm in `UserSession` rows.

    `realm` is "staff" or "portal"; `cookie_name` overrides the app's SESSION_COOKIE_NAME;
    `website_of(request)` (portal only) gives the request's website id, or None when the
    request is for no website, which then has no session. A portal cookie's path is the
    website's root (the request's script root, e.g. `/w/<slug>/`), so a browser sends it
    only to that website. A staff session records its user in `UserSession.user`, a portal
    session its customer in `UserSession.web_account`.
    """

    def __init__(self, realm=STAFF, cookie_name=None, website_of=None):
        if realm not in (STAFF, PORTAL):
            raise ValueError(f"unknown session realm {realm!r}")
        if (realm == PORTAL) != (website_of is not None):
            raise ValueError("portal sessions, and only they, belong to a website")
        self.realm = realm
        self.cookie_name = cookie_name
        self.website_of = website_of

    def get_cookie_name(self, app):
        return self.cookie_name or super().get_cookie_name(app)

    def get_cookie_path(self, app):
        if self.realm == PORTAL:
            return (request.script_root or "") + "/"
        return super().get_cookie_path(app)

    def new_session(self, website_id=None, **kwargs):
        return ServerSession(realm=self.realm, website_id=website_id, **kwargs)

    def find_row(self, sid, website_id):
        """The row of this realm (and website) whose id is `sid`, or None."""
        if self.realm == PORTAL:
            found = _PORTAL_ROW(sessions.sid_digest(sid), self.realm, website_id)
        else:
            found = _STAFF_ROW(sessions.sid_digest(sid), self.realm)
        return found[0] if found else None

    def open_session(self, app, request):
        if request.endpoint == "static":
            return self.new_session()
        website_id = self.website_of(request) if self.website_of else None
        if self.realm == PORTAL and website_id is None:
            return self.new_session()
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return self.new_session(website_id, had_cookie=bool(sid))
        row = self.find_row(sid, website_id)
        if row is None:
            return self.new_session(website_id, had_cookie=True)
        if row.ended_at is not None:
            return self.after_ended(website_id, row, row.end_reason)
        reason = sessions.expiry_reason(row, utcnow(), app.config["IDLE_MINUTES"],
                                        app.config["ABSOLUTE_HOURS"])
        if reason:
            if sessions.is_signed_in(row):
                sessions.end_session(row.id, reason)
            else:
                row.delete_instance()
            return self.after_ended(website_id, row, reason)
        try:
            data = serializer.loads(row.data)
        except (ValueError, TypeError):
            data = {}
        user = getattr(row, "loaded_user", None)
        return self.new_session(website_id, initial=data, sid=sid, row_id=row.id,
                                last_seen_at=row.last_seen_at, had_cookie=True,
                                user=user if user is not None and user.id is not None else None)

    def after_ended(self, website_id, row, reason):
        """The new session of a browser whose session `row` has ended for `reason`: empty
        but for the ended row's id (ENDED_SESSION) when it was signed in, so that a form
        typed on one of its pages can still be kept for its user (kontor/kept_forms.py),
        also when another tab has made a new session meanwhile. Never a sign-in."""
        if not sessions.is_signed_in(row):
            return self.new_session(website_id, had_cookie=True)
        return self.new_session(website_id, initial={ENDED_SESSION: row.id}, had_cookie=True,
                                ended_reason=reason)

    def save_session(self, app, session, response):
        if not isinstance(session, ServerSession) or session.sid is None and not session \
                and not session.had_cookie:
            return
        if request.endpoint == "static" or session.realm != self.realm:
            return
        if self.realm == PORTAL and session.website_id is None:
            return
        name = self.get_cookie_name(app)
        cookie = dict(domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                      httponly=True, samesite="Lax",
                      secure=request.is_secure or app.config.get("SESSION_COOKIE_SECURE", False))
        now = utcnow()

        if session.regenerate_requested and session.row_id is not None:
            row = UserSession.get_or_none(UserSession.id == session.row_id)
            if row is not None and sessions.is_signed_in(row):
                sessions.end_session(row.id, "logout")
            elif row is not None:
                row.delete_instance()
            session.row_id = session.sid = None

        if not session:
            if session.row_id is not None and session.modified:
                UserSession.delete().where(UserSession.id == session.row_id,
                                           UserSession.user.is_null(),
                                           UserSession.web_account.is_null()).execute()
                session.row_id = None
            if session.row_id is None and session.had_cookie:
                response.delete_cookie(name, domain=cookie["domain"], path=cookie["path"])
            return

        signed_in = session.get("_user_id")
        signed_in = int(signed_in) if signed_in else None
        # a staff session names its user, a portal session its customer's web account
        user_id, account_id = (signed_in, None) if self.realm == STAFF else (None, signed_in)
        if session.row_id is None:
            sid = secrets.token_urlsafe(32)
            UserSession.create(sid_hash=sessions.sid_digest(sid), user=user_id,
                               web_account=account_id,
                               data=serializer.dumps(dict(session)), created_at=now,
                               last_seen_at=now, ip=(request.remote_addr or "")[:64],
                               user_agent=(request.user_agent.string or "")[:300],
                               realm=self.realm, website_id=session.website_id)
            response.set_cookie(name, sid, **cookie)
            response.vary.add("Cookie")
        elif session.modified:
            UserSession.update(data=serializer.dumps(dict(session)), user=user_id,
                               web_account=account_id, last_seen_at=now
                               ).where(UserSession.id == session.row_id).execute()
        elif session.last_seen_at is None or now - session.last_seen_at >= sessions.TOUCH_INTERVAL:
            UserSession.update(last_seen_at=now).where(UserSession.id == session.row_id).execute()
