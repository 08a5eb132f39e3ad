"""The password rule (issue 10, items 15 and 22), at every place a password is set: the setup
page, `flask setup`, accepting an invitation, the reset link and "Change password".

Ignoring case and separators, the company's name words, the person's name words, the e-mail's
parts and "kontor" are taken out; fewer than 8 characters left, a common password, a run or a
repeat, or a zxcvbn score below 3 is refused, and the refusal names the weak part.
"""
import pytest
from helpers import PASSWORD, error_beside, make_company
from invitation_helpers import choose_password, field_error, invitation_link, open_link, register
from invitation_helpers import send_invitation as invite
from test_passwords import new_password_form  # noqa: F401  (the reset and change forms)
from test_setup import SETUP, cli_setup
from test_setup import open_link as open_setup_link

from kontor import passwords, tokens
from models import User

LEFT = "fewer than 8 characters are left. Add words of your own."
COMPANY = f"Without the company name, {LEFT}"
NAME = f"Without your name, {LEFT}"
KONTOR = f"Without the word “Kontor”, {LEFT}"
RUN = ("It is a run or a repeat of characters, like “123456” or “aaaa”; "
       "choose something less predictable.")

# (company name, password, the message beside the field)
EXAMPLES = [
    ("Bakker & Jansen Installatietechniek B.V.", "bakkerjansen2024", COMPANY),
    ("Jansen Installatie BV", "123456789012", RUN),
    ("Jansen Installatie BV", "aaaaaaaaaaaa", RUN),
    ("Acme Widgets", "Acme-Widgets-2026", COMPANY),
    ("Jansen Installatie BV", "Kontor2026!!", KONTOR),
]
IDS = ["company-words", "run", "repeat", "company-with-separators", "kontor"]


# --- the rule itself -----------------------------------------------------------------------

@pytest.mark.parametrize("company, password, _message", EXAMPLES, ids=IDS)
def test_the_examples_are_refused_by_the_rule(company, password, _message):
    assert passwords.password_problem(password, "someone@example.org", company) is not None


@pytest.mark.parametrize("password, key", [
    ("pietdevries2026", "context_name"), ("Piet.De.Vries-2026", "context_name"),
    ("qwertyuiopasdf", "common"), ("87654321abcdefgh", "guessable"),
    ("abcabcabcabcabc", "sequence"), ("zyxwvutsrqpon", "sequence"),
    ("Kontor Jansen Piet 2026", "context")])
def test_name_words_runs_and_mixed_context_are_refused(password, key):
    problem = passwords.password_problem(password, "piet@jansen.example",
                                         "Jansen Installatie BV", "Piet de Vries")
    assert problem is not None
    if key != "guessable":
        assert problem == key


@pytest.mark.parametrize("password", [
    PASSWORD, "quiet otter under the bridge", "Blåbær-tog12", "Kontor of the quiet otters",
    "bakker plays the cello at noon"])
def test_good_passphrases_stay_accepted(password):
    assert passwords.password_problem(password, "piet@jansen.example",
                                      "Bakker & Jansen Installatietechniek B.V.",
                                      "Piet de Vries") is None


def test_zxcvbn_is_asked_with_the_longest_password_allowed():
    """zxcvbn's own default limit (72) would raise on a longer password."""
    password = ("tulip lantern quarry " * 6)[:120] + "orchard!"
    assert len(password) == 128
    assert passwords.password_problem(password) is None


# --- every place a password is set ---------------------------------------------------------

@pytest.mark.parametrize("company, password, message", EXAMPLES, ids=IDS)
def test_reset_and_change_refuse_the_examples(new_password_form, company, password,  # noqa: F811
                                              message):
    make_company(name=company)
    before = User.get_by_id(new_password_form.user.id).password_hash
    response = new_password_form.submit(password)
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), new_password_form.field) == message
    assert User.get_by_id(new_password_form.user.id).password_hash == before


def test_reset_and_change_refuse_the_persons_name(new_password_form):  # noqa: F811
    # the staff user is Piet de Vries
    response = new_password_form.submit("Piet-de-Vries-2026")
    assert error_beside(response.get_data(as_text=True), new_password_form.field) == NAME


@pytest.mark.parametrize("company, password, message", EXAMPLES, ids=IDS)
def test_the_setup_page_refuses_the_examples(app, client, company, password, message):
    open_setup_link(client, tokens.issue("setup"))
    response = client.form("/setup", {**SETUP, "name": company, "password": password,
                                      "confirm": password})
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), "password") == message
    assert not User.select().exists()


def test_the_setup_page_refuses_the_admins_name(app, client):
    open_setup_link(client, tokens.issue("setup"))
    response = client.form("/setup", {**SETUP, "password": "anna.jansen.2026",
                                      "confirm": "anna.jansen.2026", "name": "Acme Widgets"})
    assert error_beside(response.get_data(as_text=True), "password") == NAME


@pytest.mark.parametrize("company, password, message", EXAMPLES, ids=IDS)
def test_the_command_line_setup_refuses_the_examples(app, runner, company, password, message):
    args = ["setup", "--company", company, "--name", "Anna Jansen",
            "--email", "anna@example.org", "--password", password]
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert "--password" in result.output
    assert message.split(",")[0].replace("“", "'").replace("”", "'") in result.output
    assert not User.select().exists()


def test_the_command_line_setup_accepts_a_passphrase(app, runner):
    assert cli_setup(runner).exit_code == 0


@pytest.mark.parametrize("company, password, message", EXAMPLES, ids=IDS)
def test_accepting_an_invitation_refuses_the_examples(admin_client, app, mailbox, company,
                                                      password, message):
    make_company(name=company)
    person = register("Kees Bakker", "kees@jansen.example")
    assert invite(admin_client, person).status_code == 302
    browser = app.test_client()
    open_link(browser, invitation_link(mailbox, "kees@jansen.example"))
    refused = choose_password(browser, password)
    assert refused.status_code == 400
    assert field_error(refused, "password") == message
    assert not User.select().where(User.email == "kees@jansen.example").exists()
    # a good passphrase is still taken on the same link
    assert choose_password(browser, "quiet otter under the bridge").status_code == 302


def test_accepting_an_invitation_refuses_the_persons_name(admin_client, app, mailbox):
    person = register("Kees Bakker", "kees@jansen.example")
    invite(admin_client, person)
    browser = app.test_client()
    open_link(browser, invitation_link(mailbox, "kees@jansen.example"))
    refused = choose_password(browser, "kees-bakker-2026")
    assert field_error(refused, "password") == NAME
