"""The shortest story: a superuser signs in and sees the start page."""
from helpers import sign_in


def test_superuser_signs_in_and_sees_the_start_page(client, superuser):
    response = sign_in(client, superuser.email)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome, Anna Jansen" in page.get_data(as_text=True)
