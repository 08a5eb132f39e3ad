"""The customer portal's views (SPEC section 7), served by the portal app under `/w/<slug>/`.

Home, create user and the address confirmation, sign in and out, forgot password, and the
signed-in customer's account (issue 13; the rules are in kontor/web_accounts.py). Every view
is marked `@public` or `@portal_sign_in_required`; an unmarked one would be a staff view,
which no portal session can open (kontor/access.py). Products, basket, checkout and "My
orders" (issue 14) are in `orders.py`, on the same blueprint.
"""
# orders (issue 14 items 2-4), inquiries and support cases (items 5 and 6) add their routes
# to `bp`
from blueprints.portal import cases, inquiries, orders  # noqa: F401
from blueprints.portal.views import bp

__all__ = ["bp"]
