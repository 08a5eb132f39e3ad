"""Flask extension singletons, bound to the apps by `create_app` through `init_app`.

Flask-Login allows one login manager per app: `login_manager` is the staff app's,
`portal_login_manager` the customer portal's (see app.py). The others serve both apps."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
portal_login_manager = LoginManager()
# No X-RateLimit-* headers: on the sign-in and forgot-password forms they would tell anyone how
# many attempts were made against an address (issue 10, item 21).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
# the portal's own (a Limiter belongs to one app): sign-in, create user, forgot password
portal_limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
