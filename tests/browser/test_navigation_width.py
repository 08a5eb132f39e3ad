"""The staff navigation stays on one line at 1280 px in every language (a new-user test found
it wrapping onto two), and still fits a phone (390 px: it may wrap there, but the page never
scrolls sideways). Screenshots in tests/screenshots/ for a human look."""
import pytest

from .helpers import screenshot, sign_in

pytestmark = pytest.mark.browser

# the menu's items all on one line, the user's links beside the company's name, nothing
# sideways; and the heights of the bar and the menu
LAYOUT = """() => {
  const top = e => Math.round(e.getBoundingClientRect().top);
  const items = [...document.querySelectorAll('.mainnav li')].map(top);
  const brand = document.querySelector('.topbar .brand').getBoundingClientRect();
  const user = document.querySelector('.topbar .usermenu').getBoundingClientRect();
  return {itemTops: [...new Set(items)], userBesideBrand: user.top < brand.bottom,
          height: document.querySelector('.topbar').getBoundingClientRect().height,
          scrollWidth: document.documentElement.scrollWidth};
}"""

# the longest item a superuser's menu can have besides the others, with a count (shown when
# web accounts await approval; added here when none do)
AWAITING = {"en": "Awaiting approval", "nl": "Wacht op goedkeuring",
            "nb": "Venter på godkjenning", "de": "Warten auf Freischaltung"}
ADD_AWAITING = """label => {
  const list = document.querySelector('.mainnav ul');
  if ([...list.querySelectorAll('a')].some(a => a.textContent.includes(label))) return;
  const item = document.createElement('li');
  item.innerHTML = '<a href="#">' + label + ' <span class="badge badge-count">12</span></a>';
  list.insertBefore(item, list.lastElementChild);
}"""


@pytest.fixture
def superuser_page(site, browser):
    """A superuser with a long name (every menu item shows for a superuser), signed in."""
    email = "nav.width@jansen.example"
    if not getattr(site, "has_nav_width", False):
        site.make_user(email, "Annemarie van Oostrum-de Vries", superuser=True)
        site.has_nav_width = True
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    sign_in(page, site.url, email)
    yield page
    context.close()


def switch_language(page, code):
    page.locator("#footer-language").select_option(code)
    page.locator(".language-switch button").click()


@pytest.mark.parametrize("language", ["en", "nl", "nb", "de"])
def test_the_navigation_is_one_line_at_1280_px(site, superuser_page, language):
    page = superuser_page
    page.goto(site.url + "/")
    if language != "en":
        switch_language(page, language)
    page.goto(site.url + "/website-data/")
    page.evaluate(ADD_AWAITING, AWAITING[language])
    layout = page.evaluate(LAYOUT)
    screenshot(page, f"navigation-1280-{language}")
    assert len(layout["itemTops"]) == 1, f"{language}: the menu wraps: {layout}"
    assert layout["userBesideBrand"], layout
    assert layout["height"] < 100 and layout["scrollWidth"] <= 1280, layout


def test_the_navigation_fits_a_phone(site, superuser_page):
    page = superuser_page
    page.goto(site.url + "/")
    switch_language(page, "en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/")
    screenshot(page, "navigation-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for name in ("Contacts", "Fetch website data", "Administration", "Sign out"):
        assert page.get_by_text(name).first.is_visible(), name
