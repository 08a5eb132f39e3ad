"""Flask session interface that keeps sessions in the database (SECURITY.md items 13-17).

The cookie holds only a random id; the row holds the data, the user, the timestamps, the IP
and the browser. Timeouts are checked on every request before anything else sees the session.
"""
import secrets

from flask import request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from kontor import sessions
from kontor.clock import utcnow
from models import UserSession

serializer = TaggedJSONSerializer()


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid=None, row_id=None, last_seen_at=None,
                 ended_reason=None, had_cookie=False):
        def on_update(self):
            self.modified = True
        super().__init__(initial, on_update)
        self.sid = sid
        self.row_id = row_id
        self.last_seen_at = last_seen_at
        self.ended_reason = ended_reason   # why the previous session of this browser ended
        self.had_cookie = had_cookie
        self.regenerate_requested = False
        self.modified = False

    def regenerate(self):
        """Issue a new session id at the next save and end the old one (login, logout)."""
        self.regenerate_requested = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    def open_session(self, app, request):
        if request.endpoint == "static":
            return ServerSession()
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return ServerSession(had_cookie=bool(sid))
        row = UserSession.get_or_none(UserSession.sid_hash == sessions.sid_digest(sid))
        if row is None:
            return ServerSession(had_cookie=True)
        if row.ended_at is not None:
            return ServerSession(ended_reason=row.end_reason if row.user_id else None,
                                 had_cookie=True)
        reason = sessions.expiry_reason(row, utcnow(), app.config["IDLE_MINUTES"],
                                        app.config["ABSOLUTE_HOURS"])
        if reason:
            if row.user_id:
                sessions.end_session(row.id, reason)
            else:
                row.delete_instance()
            return ServerSession(ended_reason=reason if row.user_id else None, had_cookie=True)
        try:
            data = serializer.loads(row.data)
        except (ValueError, TypeError):
            data = {}
        return ServerSession(data, sid=sid, row_id=row.id, last_seen_at=row.last_seen_at,
                             had_cookie=True)

    def save_session(self, app, session, response):
        if not isinstance(session, ServerSession) or session.sid is None and not session \
                and not session.had_cookie:
            return
        if request.endpoint == "static":
            return
        name = self.get_cookie_name(app)
        cookie = dict(domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                      httponly=True, samesite="Lax",
                      secure=request.is_secure or app.config.get("SESSION_COOKIE_SECURE", False))
        now = utcnow()

        if session.regenerate_requested and session.row_id is not None:
            row = UserSession.get_or_none(UserSession.id == session.row_id)
            if row is not None and row.user_id:
                sessions.end_session(row.id, "logout")
            elif row is not None:
                row.delete_instance()
            session.row_id = session.sid = None

        if not session:
            if session.row_id is not None and session.modified:
                UserSession.delete().where(UserSession.id == session.row_id,
                                           UserSession.user.is_null()).execute()
                session.row_id = None
            if session.row_id is None and session.had_cookie:
                response.delete_cookie(name, domain=cookie["domain"], path=cookie["path"])
            return

        user_id = session.get("_user_id")
        user_id = int(user_id) if user_id else None
        if session.row_id is None:
            sid = secrets.token_urlsafe(32)
            UserSession.create(sid_hash=sessions.sid_digest(sid), user=user_id,
                               data=serializer.dumps(dict(session)), created_at=now,
                               last_seen_at=now, ip=(request.remote_addr or "")[:64],
                               user_agent=(request.user_agent.string or "")[:300])
            response.set_cookie(name, sid, **cookie)
            response.vary.add("Cookie")
        elif session.modified:
            UserSession.update(data=serializer.dumps(dict(session)), user=user_id,
                               last_seen_at=now).where(UserSession.id == session.row_id).execute()
        elif session.last_seen_at is None or now - session.last_seen_at >= sessions.TOUCH_INTERVAL:
            UserSession.update(last_seen_at=now).where(UserSession.id == session.row_id).execute()


