"""Every page Kontor has, checked with axe-core in the browser (WCAG 2.1 AA and axe's best
practices: no violations), and photographed into tests/screenshots/ for a human look
(1280 px wide; login, home and every list also at 390 px, a phone)."""
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from models.clock import utcnow

from .helpers import (
    ADMIN,
    ROOT,
    assert_accessible,
    fill_setup_form,
    link_in_mail,
    sign_in,
    wait_for_mail,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}
PORTAL_PASSWORD = "purple elephant dancing quietly"


class Pages:
    """How to reach each page; `who` is anonymous, admin, staff or fresh (before setup)."""

    def __init__(self, request, browser, smtp):
        self.request = request
        self.browser = browser
        self.smtp = smtp

    @property
    def site(self):
        return self.request.getfixturevalue("site")

    @property
    def fresh(self):
        return self.request.getfixturevalue("unset_server")

    @property
    def closed(self):
        """A Kontor of its own whose first sync is under way (issue 17 item 1)."""
        return self.request.getfixturevalue("first_sync_server")

    def reset_link(self, email):
        """Ask for a reset link for `email` (an account made on first use) and return it."""
        site = self.site
        if not getattr(site, "has_" + email.split("@")[0], False):
            site.make_user(email, "Wim de Boer")
            setattr(site, "has_" + email.split("@")[0], True)
        earlier = len(self.smtp.to(email))
        context = self.browser.new_context()
        page = context.new_page()
        page.goto(site.url + "/forgot")
        page.get_by_label("E-mail").fill(email)
        page.get_by_role("button", name="Send reset link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
        context.close()
        message = wait_for_mail(self.smtp, email, count=earlier + 1)[-1]
        return link_in_mail(message, site.url)


    def candidate(self):
        """An employee without an account, whom the superuser may invite."""
        site, email = self.site, "joost@jansen.example"
        if not getattr(site, "has_joost", False):
            site.make_user(email, "Joost Smit", account=False)
            site.has_joost = True
        return email

    def invitation_link(self):
        """Invite a new employee as the superuser and return the link from the e-mail."""
        site, email = self.site, self.candidate()
        state = self.request.getfixturevalue("admin_state")
        context = self.browser.new_context(storage_state=state)
        page = context.new_page()
        page.goto(site.url + "/users/invite")
        page.get_by_label("Employee").select_option(label=f"Joost Smit <{email}>")
        page.get_by_role("button", name="Send invitation").click()
        expect(page).to_have_url(site.url + "/users")
        context.close()
        return link_in_mail(wait_for_mail(self.smtp, email)[-1], site.url)


    def backup(self, page):
        """Make a backup through the page on first use (it downloads), then open the list."""
        site = self.site
        if not getattr(site, "has_backup", False):
            page.goto(site.url + "/admin/backups")
            with page.expect_download():
                page.get_by_role("button", name="Make a backup and download it").click()
            site.has_backup = True
        page.goto(site.url + "/admin/backups")

    def contact(self, page):
        """Open the page of a contact, made through the form on first use."""
        site = self.site
        if not getattr(site, "contact_url", None):
            page.goto(site.url + "/contacts/new")
            page.get_by_label("Name", exact=True).fill("Bakkerij De Korenschoof")
            page.get_by_label("E-mail", exact=True).fill("info@korenschoof.example")
            page.get_by_role("button", name="Create contact").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Korenschoof")
            site.contact_url = page.url
        else:
            page.goto(site.contact_url)

    def product(self, page):
        """Add a product through the form on first use, then open the product list."""
        site = self.site
        if not getattr(site, "has_product", False):
            page.goto(site.url + "/products/new")
            page.get_by_label("Product number").fill("KS-300")
            page.get_by_label("Name", exact=True).fill("Kühlschrank Eco 300")
            page.get_by_label("Price excluding VAT").fill("499,95")
            page.get_by_label("VAT rate (%)").fill("21")
            page.get_by_role("button", name="Save product").click()
            site.has_product = True
        page.goto(site.url + "/products")

    def portal_products(self, page):
        """A website with a product on its portal (made by the superuser on first use); its
        products page as a visitor sees it (no protection: list prices shown)."""
        site = self.site
        if not getattr(site, "has_portal", False):
            state = self.request.getfixturevalue("admin_state")
            context = self.browser.new_context(storage_state=state)
            admin = context.new_page()
            admin.goto(site.url + "/admin/websites/new")
            admin.get_by_label("Name", exact=True).fill("Jansen Shop")
            admin.get_by_label("Address part").fill("a11y-shop")
            admin.get_by_label("Public address").fill(site.url + "/w/a11y-shop")
            admin.get_by_role("button", name="Save website").click()
            admin.goto(site.url + "/products/new")
            admin.get_by_label("Product number").fill("WP-7")
            admin.get_by_label("Name", exact=True).fill("Wärmepumpe 7 kW")
            admin.get_by_label("Price excluding VAT").fill("6.499,00")
            admin.get_by_label("VAT rate (%)").fill("9")
            admin.get_by_label("Jansen Shop", exact=True).check()
            admin.get_by_role("button", name="Save product").click()
            context.close()
            site.has_portal = True
        page.goto(site.url + "/w/a11y-shop/products")


# The portal's inquiries and support cases (issue 14 items 5 and 6): a website whose customers
# may open cases, a contact with a linked customer who has a case and an inquiry, and a
# customer whose account is not linked yet; made by Kontor's own code in a separate process.
PORTAL_SLUG = "axe-help"
_PORTAL_DATA = """
import sys
from kontor import contacts, inquiries, passwords, portal_cases, websites
from models import CaseCategory, WebAccount, db, open_database
from models.clock import utcnow
open_database(sys.argv[1])
with db.connection_context():
    site = websites.save(None, dict(
        name="Axe Help", slug=sys.argv[2], host="", public_url=sys.argv[3], language="en",
        protection="none", self_registration=False, register_link=False, approval="manual",
        sender_name="", sender_email="", copy_email="", privacy_url="", customer_cases=True,
        case_owner_id=None))
    contact = contacts.create({"name": "Bakkerij Axe", "kind": "company"})
    CaseCategory.create(name="Axe category", name_key="axe category", position=1)
    made = {}
    for email, contact_id in (("axe.customer@example.com", contact.id),
                              ("axe.unlinked@example.com", None)):
        made[email] = WebAccount.create(
            website=site.id, email=email, status="approved", email_confirmed_at=utcnow(),
            password_hash=passwords.hash_password(sys.argv[4]), contact=contact_id,
            name="Maria Axe", language="en")
    account = made["axe.customer@example.com"]
    portal_cases.open_case(site, account, None, None, "Oven does not heat",
                           "Since Monday the oven stays cold.")
    inquiries.send(account, "Opening hours", "Are you open on Sunday?")
"""


@pytest.fixture(scope="session")
def portal_states(site, browser):
    """{"linked": cookies of a signed-in customer linked to a contact, "unlinked": of one who
    is not}, on the portal of the website PORTAL_SLUG."""
    portal = f"{site.url}/w/{PORTAL_SLUG}"
    subprocess.run([sys.executable, "-c", _PORTAL_DATA, site.database_url, PORTAL_SLUG, portal,
                    PORTAL_PASSWORD], cwd=ROOT, check=True, timeout=60)
    states = {}
    for kind, email in (("linked", "axe.customer@example.com"),
                        ("unlinked", "axe.unlinked@example.com")):
        context = browser.new_context(viewport=DESKTOP, locale="en-GB")
        page = context.new_page()
        sign_in(page, portal, email, password=PORTAL_PASSWORD)
        expect(page).to_have_url(portal + "/account")
        states[kind] = context.storage_state()
        context.close()
    return states


def portal(x, path=""):
    return f"{x.site.url}/w/{PORTAL_SLUG}{path}"


def submit(page, name):
    page.get_by_role("button", name=name).click()


# name: (who, viewport, how to get there)
PAGES = {
    "login": ("anonymous", DESKTOP, lambda p, x: p.goto(x.site.url + "/login")),
    "login-errors": ("anonymous", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/login"), submit(p, "Sign in"))),
    "forgot": ("anonymous", DESKTOP, lambda p, x: p.goto(x.site.url + "/forgot")),
    "forgot-sent": ("anonymous", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/forgot"), p.get_by_label("E-mail").fill("nobody@jansen.example"),
        submit(p, "Send reset link"))),
    "reset": ("anonymous", DESKTOP, lambda p, x: p.goto(x.reset_link("wim@jansen.example"))),
    "reset-errors": ("anonymous", DESKTOP, lambda p, x: (
        p.goto(x.reset_link("wim@jansen.example")),
        p.get_by_label("New password", exact=True).fill("short"),
        p.get_by_label("Repeat the new password").fill("different"),
        submit(p, "Set new password"))),
    "link-unusable": ("anonymous", DESKTOP, lambda p, x: p.goto(x.site.url + "/reset/not-a-token")),
    "setup": ("fresh", DESKTOP, lambda p, x: p.goto(x.fresh.setup_url)),
    "setup-errors": ("fresh", DESKTOP, lambda p, x: (
        p.goto(x.fresh.setup_url), fill_setup_form(p, password="kontor"),
        p.get_by_label("Your e-mail (your login name)").fill("not an address"),
        submit(p, "Create company and sign in"))),
    "home": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/")),
    "profile": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/profile")),
    "profile-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/profile"), p.get_by_label("Current password").fill("wrong"),
        submit(p, "Change password"))),
    "company": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/company")),
    "company-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/admin/company"), p.get_by_label("Company name").fill(""),
        p.get_by_label("Company e-mail").fill("info at jansen"),
        submit(p, "Save company details"))),
    "employees": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/employees")),
    "employee-new": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/employees/new")),
    "employee-edit": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/employees"),
        p.get_by_role("link", name=f"Edit {ADMIN['name']}").click())),
    "employee-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/employees/new"), p.get_by_label("E-mail").fill("not an address"),
        submit(p, "Save employee"))),
    "contacts-empty": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/contacts")),
    "contact-new": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/contacts/new")),
    "contact-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/contacts/new"), p.get_by_label("E-mail", exact=True).fill("nope"),
        submit(p, "Create contact"))),
    "contact-view": ("admin", DESKTOP, lambda p, x: x.contact(p)),
    "contacts": ("admin", DESKTOP, lambda p, x: (x.contact(p), p.goto(x.site.url + "/contacts"))),
    "contact-import": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/contacts/import")),
    "products-empty": ("staff", DESKTOP, lambda p, x: p.goto(x.site.url + "/products")),
    "product-new": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/products/new")),
    "product-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/products/new"), p.get_by_label("Price excluding VAT").fill("12,505"),
        submit(p, "Save product"))),
    "products": ("admin", DESKTOP, lambda p, x: x.product(p)),
    "product-import": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/products/import")),
    "website-data": ("staff", DESKTOP, lambda p, x: p.goto(x.site.url + "/website-data/")),
    "website-data-processed": ("staff", DESKTOP,
                               lambda p, x: p.goto(x.site.url + "/website-data/processed")),
    "orders-empty": ("staff", DESKTOP, lambda p, x: p.goto(x.site.url + "/orders")),
    "orders-search": ("staff", DESKTOP, lambda p, x: p.goto(
        x.site.url + "/orders?status=shipped&q=nothing")),
    "portal-products": ("anonymous", DESKTOP, lambda p, x: x.portal_products(p)),
    "portal-home-anonymous": ("anonymous", DESKTOP, lambda p, x: (
        x.portal_products(p), p.goto(portal(x, "/")))),
    "portal-home": ("customer", DESKTOP, lambda p, x: p.goto(portal(x, "/"))),
    "portal-home-mobile": ("customer", MOBILE, lambda p, x: p.goto(portal(x, "/"))),
    "portal-products-mobile": ("anonymous", MOBILE, lambda p, x: x.portal_products(p)),
    "users": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/users")),
    "invite": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/users/invite")),
    "invite-errors": ("admin", DESKTOP, lambda p, x: (
        x.candidate(), p.goto(x.site.url + "/users/invite"), submit(p, "Send invitation"))),
    "invitation-accept": ("anonymous", DESKTOP, lambda p, x: p.goto(x.invitation_link())),
    "signed-in-now": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/sessions")),
    "outbox": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/outbox")),
    "audit-log": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/audit")),
    # the sync pages (issue 16); tests/browser/test_sync_story.py checks them filled in
    "sync-settings": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/sync")),
    "sync-settings-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/admin/sync"),
        p.get_by_label("Business database address").fill("http://not-a-database"),
        p.get_by_label("Mapping (TOML)").fill("[contacts\n"),
        submit(p, "Save sync settings"))),
    "sync-log": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/sync/log")),
    "sync-history": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/sync/history")),
    "sync-settings-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/admin/sync")),
    # backups and restore (issue 17 item 5): the list with a backup made through the page
    "backups": ("admin", DESKTOP, lambda p, x: x.backup(p)),
    "backups-errors": ("admin", DESKTOP, lambda p, x: (
        p.goto(x.site.url + "/admin/backups"),
        p.get_by_label("Backup folder", exact=True).fill("/no/such/folder"),
        submit(p, "Save backup folder"))),
    "backups-mobile": ("admin", MOBILE, lambda p, x: x.backup(p)),
    "backup-restore": ("admin", DESKTOP,
                       lambda p, x: p.goto(x.site.url + "/admin/backups/restore")),
    # issue 17: the deactivate wizard's first step (the story walks it on an active sync)
    "sync-deactivate": ("admin", DESKTOP,
                        lambda p, x: p.goto(x.site.url + "/admin/sync/deactivate")),
    # the exclusive first sync (issue 17 item 1); tests/browser/test_first_sync_story.py
    # checks its pages while a real one runs
    "first-sync-none": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/sync/first")),
    "first-sync-waiting": ("owner", DESKTOP,
                           lambda p, x: p.goto(x.closed.url + "/admin/sync/first")),
    "first-sync-waiting-mobile": ("owner", MOBILE,
                                  lambda p, x: p.goto(x.closed.url + "/admin/sync/first")),
    "first-sync-maintenance": ("anonymous", DESKTOP, lambda p, x: p.goto(x.closed.url + "/")),
    "first-sync-maintenance-calm": ("anonymous", DESKTOP,
                                    lambda p, x: p.goto(x.closed.url + "/?refresh=off")),
    "not-found": ("admin", DESKTOP, lambda p, x: p.goto(x.site.url + "/no-such-page")),
    "not-found-anonymous": ("anonymous", DESKTOP,
                            lambda p, x: p.goto(x.site.url + "/setup/no-such-token")),
    "not-allowed": ("staff", DESKTOP, lambda p, x: p.goto(x.site.url + "/admin/company")),
    "login-mobile": ("anonymous", MOBILE, lambda p, x: p.goto(x.site.url + "/login")),
    "home-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/")),
    # every list's table on a phone: every column, no sideways scrolling (issue 11 item 19)
    "contacts-mobile": ("admin", MOBILE, lambda p, x: (x.contact(p),
                                                       p.goto(x.site.url + "/contacts"))),
    "employees-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/employees")),
    "users-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/users")),
    "products-mobile": ("admin", MOBILE, lambda p, x: x.product(p)),
    "orders-empty-mobile": ("staff", MOBILE, lambda p, x: p.goto(x.site.url + "/orders")),
    "signed-in-now-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/admin/sessions")),
    "outbox-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/admin/outbox")),
    "audit-log-mobile": ("admin", MOBILE, lambda p, x: p.goto(x.site.url + "/admin/audit")),
    "portal-inquiries": ("customer", DESKTOP, lambda p, x: p.goto(portal(x, "/inquiries"))),
    "portal-inquiries-mobile": ("customer", MOBILE,
                                lambda p, x: p.goto(portal(x, "/inquiries"))),
    "portal-inquiry-new": ("customer", DESKTOP, lambda p, x: p.goto(portal(x, "/inquiries/new"))),
    "portal-inquiry-new-errors": ("customer", DESKTOP, lambda p, x: (
        p.goto(portal(x, "/inquiries/new")), submit(p, "Send inquiry"))),
    "portal-inquiry": ("customer", DESKTOP, lambda p, x: (
        p.goto(portal(x, "/inquiries")), p.get_by_role("link", name="Opening hours").click())),
    "portal-cases": ("customer", DESKTOP, lambda p, x: p.goto(portal(x, "/cases"))),
    "portal-cases-mobile": ("customer", MOBILE, lambda p, x: p.goto(portal(x, "/cases"))),
    "portal-case-new": ("customer", DESKTOP, lambda p, x: p.goto(portal(x, "/cases/new"))),
    "portal-case-new-errors": ("customer", DESKTOP, lambda p, x: (
        p.goto(portal(x, "/cases/new")), submit(p, "Send"))),
    "portal-case": ("customer", DESKTOP, lambda p, x: (
        p.goto(portal(x, "/cases")), p.get_by_role("row").filter(
            has_text="Oven does not heat").get_by_role("link").click())),
    "portal-case-mobile": ("customer", MOBILE, lambda p, x: (
        p.goto(portal(x, "/cases")), p.get_by_role("row").filter(
            has_text="Oven does not heat").get_by_role("link").click())),
    "portal-cases-unlinked": ("unlinked", DESKTOP, lambda p, x: p.goto(portal(x, "/cases"))),
    "website-data-mobile": ("staff", MOBILE, lambda p, x: p.goto(x.site.url + "/website-data/")),
}

EXPECTED_HEADING = {
    "login": "Sign in to Kontor", "forgot": "Forgot password", "forgot-sent": "Check your e-mail",
    "reset": "Set a new password", "link-unusable": "This link cannot be used",
    "setup": "Set up Kontor", "home": f"Welcome, {ADMIN['name']}", "profile": "Your profile",
    "company": "Company details", "employees": "Employees", "employee-new": "Add employee",
    "employee-edit": "Edit employee", "contacts": "Contacts", "contacts-empty": "Contacts",
    "contact-new": "New contact", "users": "User management", "invite": "Invite user",
    "invitation-accept": "Create your account", "signed-in-now": "Signed in now",
    "outbox": "Outbox", "products": "Products", "products-empty": "Products",
    "product-new": "Add product", "website-data": "Fetch website data",
    "website-data-processed": "Processed website data",
    "orders-empty": "Orders", "orders-search": "Orders",
    "portal-products": "Products",
    "audit-log": "Audit log", "not-found": "Page not found",
    "portal-inquiries": "My inquiries", "portal-inquiry-new": "Send an inquiry",
    "portal-inquiry": "Opening hours", "portal-cases": "Support cases",
    "portal-case-new": "New support case", "portal-cases-unlinked": "Support cases",
    "sync-settings": "Sync with the business database", "sync-log": "Sync log",
    "sync-history": "Sync history", "sync-deactivate": "Deactivate the sync",
    "backups": "Backups", "backup-restore": "Restore a backup",
    "first-sync-none": "First sync", "first-sync-waiting": "First sync",
    "first-sync-maintenance": "Back soon", "first-sync-maintenance-calm": "Back soon",
    "not-found-anonymous": "Page not found", "not-allowed": "Not allowed",
}


@pytest.fixture(scope="session")
def unset_server(server_factory):
    """A Kontor nobody has set up yet: its setup page."""
    return server_factory()


@pytest.fixture(scope="session")
def staff_state(site, browser):
    site.make_user("sanne@jansen.example", "Sanne Visser")
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    sign_in(page, site.url, "sanne@jansen.example")
    expect(page).to_have_url(site.url + "/")
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="session")
def first_sync_server(server_factory, browser):
    """A Kontor whose first sync is under way, half-way through its contacts, and stays so
    (its sync job waits an hour; the sync is made active in its database, as activation
    leaves it), with the sync owner's cookies in `owner_state`."""
    server = server_factory(KONTOR_SYNC_SECONDS="3600")
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    page.goto(server.setup_url)
    fill_setup_form(page)
    page.get_by_role("button", name="Create company and sign in").click()
    expect(page).to_have_url(server.url + "/admin/company")
    server.owner_state = context.storage_state()
    context.close()
    now = server.timestamp(utcnow())
    server.sql("INSERT INTO sync_state (id, business_url, business_password, mapping, active, "
               "owner_id, node, activated_at, version, updated_at, taken_over_from) "
               "VALUES (1, 'sqlite:////srv/firm.db', '', '', ?, 1, '', ?, 1, ?, '')",
               (True, now, now))
    for entity, done, total in (("employees", 9, 9), ("contacts", 1200, 5000),
                                ("contact_persons", 0, 10032), ("note_entries", 0, 7432)):
        server.sql("INSERT INTO sync_first_progress (entity, total, done, done_at_resume, "
                   "started_at, resumed_at, updated_at, finished_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (entity, total, done, done, now, now, now,
                    now if entity == "employees" else None))
    return server


@pytest.mark.parametrize("name", list(PAGES))
def test_page_passes_axe_and_is_photographed(name, request, browser, smtp):
    who, viewport, open_page = PAGES[name]
    pages = Pages(request, browser, smtp)
    options = {"viewport": viewport, "locale": "en-GB"}
    if who == "admin":
        options["storage_state"] = request.getfixturevalue("admin_state")
    elif who == "staff":
        options["storage_state"] = request.getfixturevalue("staff_state")
    elif who == "owner":
        options["storage_state"] = request.getfixturevalue("first_sync_server").owner_state
    elif who in ("customer", "unlinked"):
        states = request.getfixturevalue("portal_states")
        options["storage_state"] = states["linked" if who == "customer" else "unlinked"]
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        open_page(page, pages)
        page.wait_for_load_state()
        base = name.split("-mobile")[0]
        if base in EXPECTED_HEADING:
            expect(page.get_by_role("heading", level=1)).to_have_text(EXPECTED_HEADING[base])
        if name.endswith("-errors"):
            expect(page.locator(".error, .flash-error").first).to_be_visible()
        assert_accessible(page, name)
    finally:
        context.close()
