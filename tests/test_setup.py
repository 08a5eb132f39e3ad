"""First run (SPEC section 2): only the one-time setup link opens the setup page; it creates the
company, the first superuser and their employee, and signs them in; afterwards the page is gone.
The CLI does the same without a browser."""
import re

import pytest
from helpers import PASSWORD, sign_in

from app import create_app
from kontor import tokens
from models import ALL_MODELS, AuditEvent, Company, Employee, Token, User, db

SETUP = {
    "name": "Jansen Installatie BV", "street": "Dorpsstraat 1", "postcode": "1234 AB",
    "city": "Utrecht", "country": "NL", "phone": "+31 30 123 4567",
    "email": "info@jansen.example", "vat_number": "NL001234567B01", "org_number": "12345678",
    "language": "nl", "admin_name": "Anna Jansen", "admin_email": "Anna@Jansen.example",
    "password": PASSWORD, "confirm": PASSWORD,
}


def open_link(client, raw):
    response = client.get(f"/setup/{raw}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"
    return response


# --- without the link ----------------------------------------------------------------------

def test_on_an_empty_database_the_setup_page_does_not_exist_without_the_link(app, client):
    assert client.get("/setup").status_code == 404
    assert client.form("/setup", SETUP).status_code == 404
    assert not User.select().exists()


def test_a_wrong_link_leads_to_a_missing_page(app, client):
    tokens.issue("setup")
    response = client.get("/setup/not-the-right-token")
    assert response.headers["Location"] == "/setup"
    assert client.get("/setup").status_code == 404


# --- with the link -------------------------------------------------------------------------

def test_the_link_takes_the_token_out_of_the_address_bar(app, client):
    raw = tokens.issue("setup")
    response = open_link(client, raw)
    assert raw not in response.headers["Location"]
    page = client.get("/setup")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Set up Kontor" in body
    assert raw not in body


def test_the_raw_setup_token_is_stored_nowhere_in_the_database(app, client):
    raw = tokens.issue("setup")
    open_link(client, raw)
    client.form("/setup", {**SETUP, "password": "too short"})
    for model in ALL_MODELS:
        for row in model.select().dicts():
            assert not any(raw in str(value) for value in row.values()), model.__name__


def test_the_setup_page_stays_hidden_from_other_browsers(app, client, other_client):
    open_link(client, tokens.issue("setup"))
    assert client.get("/setup").status_code == 200
    assert other_client.get("/setup").status_code == 404


def test_a_form_with_mistakes_keeps_what_was_typed(app, client):
    open_link(client, tokens.issue("setup"))
    response = client.form("/setup", {**SETUP, "password": "too short", "confirm": "too short",
                                      "email": "not-an-address"})
    body = response.get_data(as_text=True)
    assert "Use at least 12 characters." in body
    assert "Enter a valid e-mail address." in body
    for typed in ("Jansen Installatie BV", "Dorpsstraat 1", "1234 AB", "Anna Jansen",
                  "Anna@Jansen.example", "NL001234567B01", "not-an-address"):
        assert f'value="{typed}"' in body, typed
    assert 'value="too short"' not in body    # a password is never sent back
    assert re.search(r'<option selected value="NL">', body)
    assert not User.select().exists() and Company.select().count() == 0


def test_the_password_may_not_be_the_company_name(app, client):
    open_link(client, tokens.issue("setup"))
    name = "Jansen Installatie Groep"
    response = client.form("/setup", {**SETUP, "name": name, "password": name,
                                      "confirm": name})
    assert "Without the company name, fewer than 8 characters are left." in \
        response.get_data(as_text=True)
    assert not User.select().exists()


def test_setup_creates_the_company_and_a_signed_in_superuser_linked_to_an_employee(app, client):
    raw = tokens.issue("setup")
    open_link(client, raw)
    response = client.form("/setup", SETUP)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/company"

    company = Company.current()
    assert (company.name, company.street, company.postcode, company.city, company.country,
            company.vat_number, company.language) == (
        "Jansen Installatie BV", "Dorpsstraat 1", "1234 AB", "Utrecht", "NL",
        "NL001234567B01", "nl")
    user = User.get()
    assert user.email == "anna@jansen.example"   # the login name, lower-cased
    assert user.is_superuser and user.is_active
    assert user.employee.name == "Anna Jansen"
    assert user.employee.email == "anna@jansen.example"
    assert Employee.select().count() == 1
    assert User.select().count() == 1

    page = client.get("/admin/company")           # signed in, as a superuser
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    # in the language chosen in the form (nl), as the page after it
    assert "Uw bedrijf is ingericht en u bent ingelogd." in body
    assert "Anna Jansen" in body
    assert AuditEvent.get(AuditEvent.action == "setup.done").user_id == user.id
    token = Token.get(Token.purpose == "setup")
    assert token.used_at is not None
    assert token.token_hash != raw and raw not in token.token_hash


def test_the_superuser_made_by_setup_is_found_by_a_folded_search(app, client):
    """Setup saves the first employee with the folded columns every search reads (issue 11
    item 8)."""
    open_link(client, tokens.issue("setup"))
    assert client.form("/setup", {**SETUP, "admin_name": "Åse Ødegård"}).status_code == 302
    page = client.get("/employees", query_string={"q": "ase odegard"}).get_data(as_text=True)
    assert re.search(r"<td[^>]*>Åse Ødegård", page) and "No employees found." not in page


def test_after_setup_the_page_and_the_old_link_are_gone(app, client, other_client):
    raw = tokens.issue("setup")
    open_link(client, raw)
    client.form("/setup", SETUP)
    assert client.get("/setup").status_code == 404
    assert client.get(f"/setup/{raw}").status_code == 404
    assert other_client.get(f"/setup/{raw}").status_code == 404
    assert other_client.get("/setup").status_code == 404


def test_two_browsers_with_the_same_link_make_one_superuser(app, client, other_client):
    raw = tokens.issue("setup")
    open_link(client, raw)
    open_link(other_client, raw)
    other_token = other_client.csrf_token()
    assert client.form("/setup", SETUP).status_code == 302
    late = other_client.post("/setup", data={**SETUP, "admin_email": "mallory@evil.example",
                                             "csrf_token": other_token})
    assert late.status_code == 404
    assert [u.email for u in User.select()] == ["anna@jansen.example"]


def test_the_setup_page_suggests_the_browsers_language(app, client):
    open_link(client, tokens.issue("setup"))
    body = client.get("/setup", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(
        as_text=True)
    assert re.search(r'<option selected value="de">', body)


# --- the command line ----------------------------------------------------------------------

def cli_setup(runner, *extra, password=PASSWORD, env=None):
    args = ["setup", "--company", "Jansen Installatie BV", "--name", "Anna Jansen",
            "--email", "Anna@Jansen.example", *extra]
    if password is not None:
        args += ["--password", password]
    return runner.invoke(args=args, env=env)


def test_the_command_line_setup_creates_company_and_superuser(app, runner, client):
    result = cli_setup(runner, "--city", "Utrecht", "--vat-number", "NL001234567B01",
                       "--company-email", "info@jansen.example")
    assert result.exit_code == 0, result.output
    assert "anna@jansen.example is its first superuser" in result.output
    assert PASSWORD not in result.output
    company = Company.current()
    assert (company.name, company.city, company.vat_number, company.email) == (
        "Jansen Installatie BV", "Utrecht", "NL001234567B01", "info@jansen.example")
    user = User.get()
    assert user.is_superuser and user.employee.name == "Anna Jansen"
    assert sign_in(client, "anna@jansen.example").status_code == 302
    assert client.get("/admin/company").status_code == 200


def test_the_command_line_setup_reads_the_password_from_the_environment(app, runner):
    result = cli_setup(runner, password=None, env={"KONTOR_SETUP_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert User.select().count() == 1


@pytest.mark.parametrize("password, message", [
    ("short", "Use at least 12 characters."),
    ("password1234", "This password is too common"),
    ("Jansen Installatie BV", "Without the company name, fewer than 8 characters are left."),
    ("anna@jansen.example", "Without your e-mail address, fewer than 8 characters are left."),
])
def test_the_command_line_setup_refuses_a_weak_password_with_a_clear_message(app, runner,
                                                                            password, message):
    result = cli_setup(runner, password=password)
    assert result.exit_code != 0
    assert message in result.output
    assert not User.select().exists() and Company.select().count() == 0


def test_the_command_line_setup_refuses_a_bad_email(app, runner):
    result = runner.invoke(args=["setup", "--company", "Jansen", "--name", "Anna",
                                 "--email", "anna at jansen", "--password", PASSWORD])
    assert result.exit_code != 0
    assert "--email" in result.output
    assert not User.select().exists()


def test_the_command_line_setup_runs_only_once(app, runner):
    assert cli_setup(runner).exit_code == 0
    again = runner.invoke(args=["setup", "--company", "Other BV", "--name", "Mallory",
                                "--email", "mallory@evil.example", "--password", PASSWORD])
    assert again.exit_code == 1
    assert "Setup is already done." in again.output
    assert [u.email for u in User.select()] == ["anna@jansen.example"]
    assert Company.current().name == "Jansen Installatie BV"


@pytest.mark.empty_database
def test_the_command_line_setup_also_creates_the_schema(app_config):
    """`flask setup` on a brand-new database: it migrates first."""
    application = create_app(app_config)
    try:
        result = cli_setup(application.test_cli_runner())
        assert result.exit_code == 0, result.output
        assert User.select().count() == 1
    finally:
        if not db.is_closed():
            db.close()
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()


def test_the_command_line_setup_voids_an_open_setup_link(app, runner, client):
    raw = tokens.issue("setup")
    assert cli_setup(runner).exit_code == 0
    assert Token.get(Token.purpose == "setup").revoked_at is not None
    assert client.get(f"/setup/{raw}").status_code == 404


# --- flask setup-url -----------------------------------------------------------------------

def test_setup_url_prints_a_working_one_time_link(app, runner, client):
    result = runner.invoke(args=["setup-url"])
    assert result.exit_code == 0, result.output
    match = re.search(r"http://kontor\.test(/setup/\S+)", result.output)
    assert match, result.output
    open_link(client, match.group(1).rsplit("/", 1)[1])
    assert client.get("/setup").status_code == 200
    assert client.form("/setup", SETUP).status_code == 302


def test_a_new_setup_url_voids_the_previous_one(app, runner, client, other_client):
    first = re.search(r"/setup/(\S+)", runner.invoke(args=["setup-url"]).output).group(1)
    second = re.search(r"/setup/(\S+)", runner.invoke(args=["setup-url"]).output).group(1)
    assert first != second
    open_link(client, first)
    assert client.get("/setup").status_code == 404
    open_link(other_client, second)
    assert other_client.get("/setup").status_code == 200


def test_setup_url_refuses_once_setup_is_done(app, runner):
    assert cli_setup(runner).exit_code == 0
    result = runner.invoke(args=["setup-url"])
    assert result.exit_code == 1
    assert "Setup is already done." in result.output
    assert "/setup/" not in result.output


def test_the_welcome_is_in_the_language_just_chosen(app, client):
    raw = tokens.issue("setup")
    open_link(client, raw)
    response = client.form("/setup", dict(SETUP, language="nb"),
                           headers={"Accept-Language": "en"})
    assert response.status_code == 302
    page = client.get("/admin/company", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Velkommen til Kontor. Firmaet ditt er satt opp, og du er logget inn." in page
