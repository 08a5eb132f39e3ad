"""Kontor: the application factories and the serving entry point.

`create_app` only wires things together: no network, no migrations, no scheduler. `main()`
(`python app.py`) applies migrations, prints the setup URL on an empty database, starts the
scheduler and serves with waitress. `flask --app app <command>` offers the same as CLI commands.

Two audiences, two apps (SECURITY.md item 36). Kontor serves its staff and, on each website's
portal, the firm's customers. Flask-Login allows one login manager per app, so the portal is a
second Flask app (`create_portal_app`) in the same process, with its own LoginManager, its own
session interface (realm "portal", cookie `kontor_portal` whose path is the website's root),
its own CSRF setup and error pages. `PortalDispatcher` wraps the staff app's `wsgi_app`: a
path `/w/<slug>/...` goes to the portal app, with `/w/<slug>` moved into SCRIPT_NAME, so the
portal's routes are `/`, `/login`, ... and `url_for` builds `/w/<slug>/login` by itself; every
other path goes to the staff app. When websites get host names (issue 13), the dispatcher maps
a host to its website the same way, with an empty script root, and the portal's views do not
change. Everything else about serving stays as it was: `waitress.serve(app)`, and
`create_app(config).test_client()` reaches both apps (the portal app is kept in
`app.extensions["kontor_portal"]`).

Why not portal sign-in inside the staff app without Flask-Login: `current_user`, the user
loader, `login_required`-style checks, the session cookie and the CSRF token would all have
to tell two kinds of session apart on every request, and one forgotten check would let one
audience's session count for the other. With two apps each side has exactly one kind of user
and one kind of session, and a session of one realm is not even found by the other.

The portal of `/w/<slug>/` is that of the active Website row with that slug; any other slug's
portal answers 404 (blueprints/portal/website.py). A request for a website's own host name
(Website.host; behind a trusted proxy, the forwarded host) is that website's portal at `/`,
and no staff page is found there.
"""
import logging
import re
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

import waitress
from flask import (
    Flask,
    abort,
    before_render_template,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from waitress.proxy_headers import proxy_headers_middleware
from werkzeug.exceptions import HTTPException

from blueprints import BLUEPRINTS
from blueprints import first_sync as first_sync_views
from blueprints.filters import register_filters
from blueprints.forms import keep_after_sign_out, language_return, revalidate_kept_forms
from blueprints.portal import bp as portal_bp
from blueprints.portal import website as portal_website
from kontor import (
    __version__,
    access,
    catalogues,
    commands,
    jobs,
    languages,
    memory,
    migrate,
    sessions,
    storage,
    web_accounts,
    websites,
)
from kontor import config as kontor_config
from kontor.extensions import (
    babel,
    csrf,
    limiter,
    login_manager,
    portal_limiter,
    portal_login_manager,
)
from kontor.server_session import DatabaseSessionInterface
from kontor.sync import first_sync
from kontor.text import whole_number
from kontor.web import DatabaseInteger, KontorRequest, current_company
from models import Prepared, User, db, open_database, with_employee
from models.db import lock_waits

# The messages that count a setting say it with the plural form its number needs ("after 1
# minute", issue 11 item 9): each is a function of the app's config.
COUNTED_ENDED_SESSION_MESSAGES = {
    "idle": lambda config: ngettext(
        "You were signed out after %(num)s minute without activity. Please sign in again.",
        "You were signed out after %(num)s minutes without activity. Please sign in again.",
        config["IDLE_MINUTES"]),
    "absolute": lambda config: ngettext(
        "Your session reached its %(num)s-hour limit. Please sign in again.",
        "Your session reached its %(num)s-hour limit. Please sign in again.",
        config["ABSOLUTE_HOURS"]),
}
ENDED_SESSION_MESSAGES = {
    "ended_by_admin": _l("Your session was ended by an administrator. Please sign in again."),
    "password_changed": _l("Your password was changed, so this session was ended. "
                           "Please sign in again."),
    "password_reset": _l("Your password was reset, so this session was ended. "
                         "Please sign in again."),
    "deactivated": _l("Your account was deactivated."),
}


def nothing_for_none(value):
    """Jinja's `finalize`: `{{ x }}` of None writes nothing, never "None" (a new-user test
    found `maxlength="None"`; an attribute like `value="{{ x }}"` would say the same).
    WTForms' attributes get the same rule in blueprints/forms.py `html_params`."""
    return "" if value is None else value


def create_app(config=None):
    """Build the Flask app: settings from the environment, then `config` on top."""
    app = Flask(__name__)
    app.jinja_options = {**app.jinja_options, "finalize": nothing_for_none}
    configure(app, config)
    open_database(app.config["DATABASE_URL"])
    register_request_hooks(app)   # first: access checks run before the CSRF check
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    portal = create_portal_app(app)
    app.extensions["kontor_portal"] = portal
    websites.hosts.forget()   # a new app may be on another database: read its host names
    app.wsgi_app = TrustedProxies(
        PortalDispatcher(app.wsgi_app, portal.wsgi_app,
                         staff_host=urlsplit(app.config["BASE_URL"]).hostname),
        app.config["TRUSTED_PROXIES"])
    return app


def create_portal_app(staff_app):
    """Build the customer portal's Flask app, served under `/w/<slug>/` (see the top of this
    module). It shares the staff app's configuration object; what differs (the session realm
    and cookie, the login manager, the error pages) is its own."""
    portal = Flask(__name__)
    portal.jinja_options = {**portal.jinja_options, "finalize": nothing_for_none}
    portal.url_map.converters["int"] = DatabaseInteger
    portal.request_class = KontorRequest
    portal.config = staff_app.config
    portal.debug = staff_app.debug
    register_portal_request_hooks(portal)   # first: access checks run before the CSRF check
    register_security_headers(portal)
    babel.init_app(portal, locale_selector=select_formatting_locale,
                   timezone_selector=select_timezone)
    csrf.init_app(portal)
    portal_limiter.init_app(portal)
    portal_login_manager.init_app(portal)
    portal_login_manager.session_protection = None
    portal_login_manager.user_loader(load_portal_account)
    portal_login_manager.unauthorized_handler(send_to_portal_login)
    portal.session_interface = DatabaseSessionInterface(
        realm=sessions.PORTAL, cookie_name=portal.config["PORTAL_SESSION_COOKIE_NAME"],
        website_of=portal_website.website_id_of)
    portal.register_blueprint(portal_bp)
    register_errorhandlers(portal, template="portal/error.html")
    register_template_helpers(portal, website=portal_website.current_website)
    return portal


def configure(app, config):
    app.url_map.converters["int"] = DatabaseInteger   # before any route is added
    app.request_class = KontorRequest
    settings = kontor_config.from_environment()
    settings.update(config or {})
    settings["BASE_URL"] = kontor_config.checked_base_url(settings["BASE_URL"])   # or no start
    app.config.update(settings)
    data_dir = storage.DataFolder(app.config["DATA_DIR"]).create()   # 0700
    storage.private_database(app.config["DATABASE_URL"])   # 0600 before SQLite creates it
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = kontor_config.load_secret_key(data_dir)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)   # the token lives as long as the session
    app.config.setdefault("WTF_CSRF_SSL_STRICT", True)
    # Flask's own default already holds this key ("session"): setdefault would be a no-op.
    if "SESSION_COOKIE_NAME" not in (config or {}):
        app.config["SESSION_COOKIE_NAME"] = kontor_config.STAFF_SESSION_COOKIE
    app.config.setdefault("PORTAL_SESSION_COOKIE_NAME", kontor_config.PORTAL_SESSION_COOKIE)
    for key, limit in kontor_config.RATE_LIMITS.items():
        app.config.setdefault(key, limit)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")
    app.config["BABEL_DEFAULT_LOCALE"] = languages.DEFAULT
    app.debug = bool(app.config.get("DEBUG"))


def register_extensions(app):
    babel.init_app(app, locale_selector=select_formatting_locale,
                   timezone_selector=select_timezone)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None   # sessions are server-side records already
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(send_to_login)
    app.session_interface = DatabaseSessionInterface(realm=sessions.STAFF)


def register_blueprints(app):
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def register_request_hooks(app):
    @app.before_request
    def check_session_and_access():
        """Forget the company read by an earlier request, tell the person once why their last
        session ended, hold everyone but the sync owner out while the first sync runs, then
        apply the view's access level (kontor/access.py)."""
        g.pop("company", None)
        announce_ended_session(app)
        return first_sync_views.maintenance_gate() or access.enforce_access()

    register_connection_teardown(app)
    register_security_headers(app)


def register_portal_request_hooks(portal):
    @portal.before_request
    def check_portal_access():
        """Forget the company read by an earlier request; an unknown or deactivated website's
        portal is not found, whatever the page; while the first sync runs, the maintenance
        page; then apply the view's access level."""
        g.pop("company", None)
        if portal_website.current_website() is None:
            abort(404)
        return first_sync_views.maintenance_gate(portal=True) or access.enforce_access()

    register_connection_teardown(portal)


def register_connection_teardown(app):
    @app.teardown_request
    def close_connection(exc):
        if not db.is_closed():
            db.close()


def register_security_headers(app):
    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           "default-src 'self'; object-src 'none'; base-uri 'none'; "
                           "frame-ancestors 'none'; form-action 'self'")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static" and (current_user.is_authenticated
                                             or response.mimetype == "text/html"):
            headers["Cache-Control"] = "no-store"
        return response


def send_to_login():
    """Anonymous request for a signed-in page: to the login page, and back here afterwards.
    A form posted on a session that timed out goes back to the form's page, and what was
    typed into it is kept for that user (issue 10 item 5, blueprints.forms)."""
    if not getattr(session, "ended_announced", False):
        flash(_("Please sign in to open that page."), "info")
    next_page = request.full_path.rstrip("?") if request.method == "GET" \
        else keep_after_sign_out()
    return redirect(url_for("auth.login", next=next_page))


def send_to_portal_login():
    """Anonymous request for a portal page that needs a sign-in: to the website's sign-in."""
    flash(_("Please sign in to open that page."), "info")
    next_page = request.script_root + request.full_path.rstrip("?") \
        if request.method == "GET" else None
    return redirect(url_for("portal.login", next=next_page))


def announce_ended_session(app):
    """Tell the person why their session ended, once, on the first request after it did."""
    reason = getattr(session, "ended_reason", None)
    if getattr(session, "ended_announced", False):
        return
    if reason in COUNTED_ENDED_SESSION_MESSAGES:
        session.ended_announced = True
        flash(COUNTED_ENDED_SESSION_MESSAGES[reason](app.config), "warning")
    elif reason in ENDED_SESSION_MESSAGES:
        session.ended_announced = True
        flash(ENDED_SESSION_MESSAGES[reason], "warning")


def register_errorhandlers(app, template="errors/error.html"):
    def render_error(error):
        code = error.code if isinstance(error, HTTPException) else 500
        if code == 500:
            app.logger.exception("unhandled error on %s", request.path.replace("\n", "\\n"))
        try:
            return render_template(template, code=code, error=error), code
        except Exception:   # e.g. the database is down: the page itself cannot be rendered
            app.logger.exception("error page failed")
            return (f"<!doctype html><html lang=en><title>Kontor</title><h1>Error {code}</h1>"
                    "<p>Kontor cannot answer right now. Please try again in a minute.</p>", code,
                    {"Content-Type": "text/html; charset=utf-8"})

    for code in (400, 403, 404, 405, 409, 413, 429, 500):
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return render_template(template, code=400, error=error, csrf=True), 400


def register_template_helpers(app, website=None):
    """Filters and globals for the templates; `website` (the portal's) gives `website`."""
    register_filters(app)
    app.add_template_global(language_return)
    before_render_template.connect(revalidate_kept_forms)   # once for every app: same receiver

    @app.context_processor
    def kontor_globals():
        values = {"languages": languages.LANGUAGES, "kontor_version": __version__,
                  "current_locale": str(select_locale() or "en"), "company": current_company()}
        if website is not None:
            values["website"] = website()
        return values


def register_commands(app):
    commands.register(app)

    @app.cli.command("serve")
    def serve_command():
        """Serve with waitress, as `python app.py` does."""
        main()


# every staff page reads its user with the employee: SQL written once (issue 12 item 26)
_USER = Prepared(lambda user_id: with_employee(User.select()).where(User.id == user_id))


def load_user(user_id):
    """The active staff User `user_id` (the session's), with its employee: as read with the
    session's row when that named this user (kontor/server_session.py), else read now."""
    number = whole_number(str(user_id))
    if number is None:
        return None
    user = getattr(session, "user", None)
    if user is None or user.id != number:
        found = _USER(number)
        user = found[0] if found else None
    return user if user is not None and user.is_active else None


def load_portal_account(account_id):
    """The portal's user loader: the request's website's account `account_id` while it may be
    signed in (confirmed, approved, not closed), else nobody."""
    website = portal_website.current_website()
    number = whole_number(str(account_id))
    if website is None or number is None:
        return None
    return web_accounts.signed_in_account(website, number)


def select_locale():
    """The reader's language: the user's, the session's, the browser's, the website's; the
    default outside a request (a job's e-mail says its own: `force_locale`)."""
    if not has_request_context():
        return languages.DEFAULT
    if current_user and current_user.is_authenticated \
            and getattr(current_user, "language", None) in languages.LANGUAGES:
        return current_user.language
    chosen = session.get("lang") if session else None
    if chosen in languages.LANGUAGES:
        return chosen
    website = g.get("website")   # on a portal page: its website's language comes next
    return languages.best_match(request.accept_languages) \
        or (website.language if website is not None else languages.DEFAULT)


def select_formatting_locale():
    """Flask-Babel's locale: the reader's language (`select_locale`), for English shaped by
    the company's country (`languages.formatting_locale`)."""
    company = current_company()
    return languages.formatting_locale(select_locale(), company.country if company else "")


def select_timezone():
    company = current_company()
    return company.timezone if company and company.timezone else "UTC"


class PortalDispatcher:
    """WSGI: a request whose host is an active website's own host name (behind a trusted
    proxy, the forwarded host: TrustedProxies runs first) goes, whole, to that website's
    portal, with an empty script root, so staff pages are not found there (issue 13 item 2);
    elsewhere `/w/<slug>/...` goes to the portal app with `/w/<slug>` moved into SCRIPT_NAME
    (and the slug into `environ["kontor.website_slug"]`); every other path to the staff app.
    The host of KONTOR_BASE_URL (`staff_host`) is always the staff app's."""

    PATH = re.compile(r"(/w/([a-z0-9-]{1,50}))(?=/|$)")

    def __init__(self, staff_wsgi_app, portal_wsgi_app, staff_host=None):
        self.staff = staff_wsgi_app
        self.portal = portal_wsgi_app
        self.staff_host = (staff_host or "").lower()

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST", "")
        if host and host.rsplit(":", 1)[0].lower() != self.staff_host:
            slug = websites.hosts.slug_for(host)
            if slug is not None:
                environ["kontor.website_slug"] = slug
                return self.portal(environ, start_response)
        path = environ.get("PATH_INFO", "")
        match = self.PATH.match(path)
        if match is None:
            return self.staff(environ, start_response)
        prefix, slug = match.groups()
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        environ["PATH_INFO"] = path[len(prefix):]   # "" for "/w/<slug>": redirected to "/"
        environ["kontor.website_slug"] = slug
        return self.portal(environ, start_response)


class TrustedProxies:
    """WSGI: believe X-Forwarded-For, -Proto, -Host and -Port only from a configured proxy
    (issue 10 item 20; SECURITY.md item 28).

    `trusted` is KONTOR_TRUSTED_PROXIES as a list of addresses or networks ("127.0.0.1",
    "10.0.0.0/24"); an entry that is neither raises ValueError at start. A request whose peer
    (REMOTE_ADDR) is one of them gets waitress's own proxy-header handling with one trusted
    hop: REMOTE_ADDR becomes the last X-Forwarded-For address, the scheme, host and port
    those of the proxy's client. Every other request has these headers and `Forwarded`
    removed, so no later layer (Flask-Limiter, `request.access_route`) can believe them.

    This runs inside the app rather than in waitress's `trusted_proxy` option because that
    takes one address only, and so that the test client and any WSGI server get the same
    rule; `main()` tells waitress to hand the headers through unread.
    """

    HEADERS = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"}

    def __init__(self, wsgi_app, trusted):
        self.networks = kontor_config.proxy_networks(trusted)
        self.believing = proxy_headers_middleware(
            wsgi_app, trusted_proxy="*", trusted_proxy_count=1,
            trusted_proxy_headers=self.HEADERS, clear_untrusted=True)
        self.ignoring = proxy_headers_middleware(wsgi_app, trusted_proxy=None,
                                                 clear_untrusted=True)

    def __call__(self, environ, start_response):
        if kontor_config.is_trusted_proxy(environ.get("REMOTE_ADDR"), self.networks):
            return self.believing(environ, start_response)
        return self.ignoring(environ, start_response)


def main(argv=None):
    """Serve Kontor with waitress: migrate, print the setup URL if needed, start the jobs."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)   # not a line per job run
    memory.limit_malloc_arenas()     # before any thread starts (kontor/memory.py)
    memory.map_large_blocks()
    compiled = catalogues.compile_missing()
    if compiled:
        print(f"Compiled the translations: {', '.join(compiled)}", flush=True)
    app = create_app()
    tightened = storage.DataFolder(app.config["DATA_DIR"]).tighten()
    if tightened:
        print(f"Made {tightened} files and folders in the data folder private (0600/0700)",
              flush=True)
    applied = migrate.upgrade(db.obj)
    if applied:
        print(f"Applied migrations: {', '.join(applied)}", flush=True)
    with app.app_context(), db.connection_context():
        commands.print_setup_url_if_needed(app)
    scheduler = jobs.start_scheduler(app.config, app)
    app.extensions["kontor_scheduler"] = scheduler
    host, port = app.config["HOST"], app.config["PORT"]
    print(f"Kontor {__version__} is serving on {host}:{port}; browse to "
          f"{app.config['BASE_URL']}/", flush=True)
    if kontor_config.links_stay_on_this_computer(app.config["BASE_URL"]):
        print(f"Links in e-mails point to {app.config['BASE_URL']}, which only this computer "
              "can open: set KONTOR_BASE_URL to the address your colleagues use.", flush=True)
    # waitress stops cleanly on SystemExit: let `systemctl stop` (SIGTERM) do what Ctrl+C does
    signal.signal(signal.SIGTERM, stop_serving)
    try:
        # X-Forwarded-* reach the app unread: its TrustedProxies decides whom to believe.
        waitress.serve(app, host=host, port=port, threads=app.config["THREADS"], ident="Kontor",
                       clear_untrusted_proxy_headers=False)
    finally:
        with first_sync.stopping():     # a long first sync stops after its current batch
            scheduler.shutdown(wait=True)   # a job half-way finishes before its lease goes
        jobs.release_leases()
        if lock_waits.count:
            logging.getLogger("kontor").info(lock_waits.summary())


def stop_serving(signum, frame):
    """SIGTERM: leave waitress's loop as on Ctrl+C, so that main()'s clean-up runs."""
    raise SystemExit(0)


if __name__ == "__main__":
    # Run main() from the module named "app", the one the blueprints import, not "__main__".
    import app as kontor_app  # noqa: PLC0415 -- deliberate: see the comment above
    kontor_app.main(sys.argv[1:])
