"""The shortest story: a superuser signs in and sees the start page."""
from helpers import sign_in


def test_superuser_signs_in_and_sees_the_start_page(client, superuser):
    response = sign_in(client, superuser.email)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome, Anna Jansen" in page.get_data(as_text=True)


def tiles(client):
    import re  # noqa: PLC0415
    html = client.get("/").get_data(as_text=True)
    section = html[html.index('<section class="tiles"'):]
    return set(re.findall(r'<a class="tile" href="([^"]+)"', section[:section.index("</section>")]))


def test_the_start_page_has_a_tile_for_every_area(admin_client, staff_client):
    """Found by a new-user test: products, orders, the website data, websites and the sync
    had no tile (the last two are for superusers only)."""
    every = {"/contacts", "/support", "/products", "/orders", "/website-data/", "/employees",
             "/profile"}
    assert tiles(staff_client) >= every
    assert not tiles(staff_client) & {"/admin/websites", "/admin/sync"}
    assert tiles(admin_client) >= every | {"/admin/websites", "/admin/sync"}
