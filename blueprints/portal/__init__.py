"""The customer portal's views (SPEC section 7), served by the portal app under `/w/<slug>/`.

A skeleton for now: a home page, a sign-in page that refuses everyone (there are no web
accounts until issue 13) and an account page that needs a portal sign-in. Every view is marked
`@public` or `@portal_sign_in_required`; an unmarked one would be a staff view, which no
portal session can open (kontor/access.py).
"""
from blueprints.portal.views import bp

__all__ = ["bp"]
