"""The CLI on a new data folder (issue 10 item 25): every command that needs the tables applies
the migrations first, as `python app.py` does, instead of printing a traceback about a
missing table; a database that cannot be opened is told in one line."""
import pytest
from helpers import ON_POSTGRES, KontorClient

from app import create_app
from kontor import jobs, migrate
from models import Company, User, db

pytestmark = pytest.mark.empty_database


@pytest.fixture
def new_app(app_config):
    """The app on an empty database: nothing migrated (the `app` fixture would migrate)."""
    application = create_app(app_config)
    application.test_client_class = KontorClient
    assert migrate.pending(db.obj)
    with application.app_context():
        yield application
    db.close()


def cli(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def test_setup_url_on_an_empty_database_migrates_and_prints_the_link(new_app):
    result = cli(new_app, "setup-url")
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert "http://kontor.test/setup/" in result.stdout
    assert "Applied migrations: 0001" in result.stderr
    assert migrate.pending(db.obj) == []
    # the link it printed works
    link = result.stdout.split("http://kontor.test", 1)[1].split()[0]
    page = new_app.test_client().get(link, follow_redirects=True)
    assert page.status_code == 200 and page.request.path.startswith("/setup")


def test_run_jobs_on_an_empty_database_migrates_and_runs_them(new_app):
    result = cli(new_app, "run-jobs")
    assert result.exit_code == 0, result.output
    for name in jobs.JOBS:
        assert f"{name}: done" in result.stdout


def test_setup_on_an_empty_database_creates_the_company(new_app):
    result = cli(new_app, "setup", "--company", "Jansen Installatie BV", "--name", "Anna Jansen",
                 "--email", "anna@jansen.example",
                 env={"KONTOR_SETUP_PASSWORD": "violet anchor drifting quietly"})
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert Company.get().name == "Jansen Installatie BV"
        assert User.get().email == "anna@jansen.example"


def test_a_second_command_does_not_migrate_again(new_app):
    assert cli(new_app, "migrate").exit_code == 0
    result = cli(new_app, "setup-url")
    assert result.exit_code == 0 and "Applied migrations" not in result.stderr


def test_a_database_that_cannot_be_opened_is_told_in_one_line(app_config, tmp_path):
    if ON_POSTGRES:
        url = "postgresql://kontor@127.0.0.1:1/nothing"
    else:
        url = f"sqlite:///{tmp_path / 'no-such-folder-for' / 'x' / 'kontor.db'}"
        (tmp_path / "no-such-folder-for").write_text("a file where a folder should be")
    app = create_app(dict(app_config, DATABASE_URL=url))
    with app.app_context():
        for command in ("setup-url", "run-jobs", "migrate"):
            result = cli(app, command)
            assert result.exit_code == 1, (command, result.output)
            assert "Traceback" not in result.stderr and "Error: Cannot open" in result.stderr
            assert "flask --app app migrate" in result.stderr
