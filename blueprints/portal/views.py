"""The portal skeleton's views: home, sign-in, and a page that needs a portal sign-in."""
from flask import Blueprint, abort, flash, render_template
from flask_babel import gettext as _

from blueprints.forms import LoginForm
from blueprints.portal.website import current_website
from kontor.access import portal_sign_in_required, public

bp = Blueprint("portal", __name__)


@bp.before_request
def find_the_website():
    """Every portal page belongs to a website; a request for none is not found."""
    if current_website() is None:
        abort(404)


@bp.route("/")
@public
def home():
    """The website's portal home page."""
    return render_template("portal/home.html")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in to this website's portal. No web accounts exist yet, so every attempt fails,
    with the same answer a wrong password will get."""
    form = LoginForm()
    if form.validate_on_submit():
        form.password.data = ""
        flash(_("Wrong e-mail or password."), "error")
    return render_template("portal/login.html", form=form)


@bp.route("/account")
@portal_sign_in_required
def account():
    """The signed-in customer's account page."""
    return render_template("portal/account.html")
