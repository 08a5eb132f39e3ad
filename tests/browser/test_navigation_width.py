"""The staff navigation stays on one line at 1280 px in every language (a new-user test found
it wrapping onto two), and still fits a phone (390 px: it may wrap there, but the page never
scrolls sideways). Screenshots in tests/screenshots/ for a human look."""
import pytest

from .helpers import screenshot, sign_in

pytestmark = pytest.mark.browser

# the rows the top bar's pieces and the menu's items take: one row when every piece's top
# lies above every piece's bottom
ROWS = """() => {
  const boxes = [...document.querySelectorAll('.topbar-inner > *, .mainnav li')]
    .map(e => e.getBoundingClientRect());
  const lowestTop = Math.max(...boxes.map(b => b.top));
  const highestBottom = Math.min(...boxes.map(b => b.bottom));
  const items = [...document.querySelectorAll('.mainnav li')]
    .map(e => e.getBoundingClientRect().top);
  return {oneRow: lowestTop < highestBottom, itemTops: [...new Set(items.map(Math.round))],
          height: document.querySelector('.topbar').getBoundingClientRect().height};
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
    rows = page.evaluate(ROWS)
    screenshot(page, f"navigation-1280-{language}")
    assert rows["oneRow"] and len(rows["itemTops"]) == 1, f"{language}: it wraps: {rows}"
    assert rows["height"] < 70, rows
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_the_navigation_fits_a_phone(site, superuser_page):
    page = superuser_page
    page.goto(site.url + "/")
    switch_language(page, "en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/")
    screenshot(page, "navigation-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for name in ("Contacts", "Fetch website data", "Administration", "Sign out"):
        assert page.get_by_text(name, exact=True).first.is_visible()
