"""The outbox without a mail server, and after a restart (issue 10 item 18): a message written
to an .eml file is "Written to file", not "Sent"; the superuser reads any message on the
Outbox page with its single-use links blanked; a clean shutdown lets go of the job leases, so
that the next process delivers mail at once instead of two minutes later.
"""
import re
import threading
import time
from datetime import timedelta

import pytest
from helpers import body, link_in, text

import app as kontor_app
from kontor import jobs, mail
from models import AuditEvent, JobLease, OutboxMessage, db
from models.clock import utcnow

TTL = timedelta(minutes=2)


# --- written to file ----------------------------------------------------------------------

def test_a_message_written_to_a_file_says_so_on_the_outbox_page(app, admin_client, superuser):
    message = mail.enqueue("piet@jansen.example", "Welcome", "Hello Piet")
    assert mail.deliver_due(app.config) == (1, 0, 0)
    assert OutboxMessage.get_by_id(message.id).status == mail.WRITTEN
    page = body(admin_client.get("/admin/outbox"))
    assert "badge-written" in page and "badge-sent" not in page
    assert "Written to file" in text(admin_client.get("/admin/outbox"))
    written_tab = body(admin_client.get("/admin/outbox?status=written"))
    assert "Welcome" in written_tab
    assert "Welcome" not in body(admin_client.get("/admin/outbox?status=sent"))


def test_a_message_sent_by_smtp_still_says_sent(app, admin_client, mailbox):
    message = mail.enqueue("piet@jansen.example", "Welcome", "Hello Piet")
    assert mailbox.deliver() == (1, 0, 0)
    assert OutboxMessage.get_by_id(message.id).status == mail.SENT
    page = body(admin_client.get("/admin/outbox?status=all"))
    assert "badge-sent" in page and "badge-written" not in page


@pytest.mark.parametrize("language, words", [("nl", "Naar bestand geschreven"),
                                             ("nb", "Skrevet til fil"),
                                             ("de", "In Datei geschrieben")])
def test_written_to_file_is_translated(app, admin_client, superuser, language, words):
    superuser.language = language
    superuser.save()
    mail.enqueue("piet@jansen.example", "Welcome", "Hello Piet")
    mail.deliver_due(app.config)
    assert words in text(admin_client.get("/admin/outbox"))


# --- reading a message --------------------------------------------------------------------

def test_the_superuser_reads_a_written_message_with_its_reset_link_blanked(app, admin_client,
                                                                           superuser, staff):
    admin_client.form("/forgot", {"email": staff.email})
    row = OutboxMessage.get(OutboxMessage.to_addr == staff.email)
    live_link = link_in(row.body)
    assert re.search(r"/reset/[A-Za-z0-9_-]{43}$", live_link)
    page = admin_client.get("/admin/outbox")
    assert f'href="/admin/outbox/{row.id}"' in body(page)

    shown = admin_client.get(f"/admin/outbox/{row.id}")      # queued: the link is still live
    assert shown.status_code == 200
    assert "Set a new password for Kontor" in body(shown)
    assert live_link.rsplit("/", 1)[1] not in body(shown)
    assert "/reset/[removed after sending]" in body(shown)
    assert AuditEvent.get(AuditEvent.action == "mail.read").user_id == superuser.id

    mail.deliver_due(app.config)
    shown = admin_client.get(f"/admin/outbox/{row.id}")
    assert "Written to file" in text(shown)
    assert "/reset/[removed after sending]" in body(shown)


def test_staff_cannot_read_outbox_messages(app, staff_client):
    row = mail.enqueue("piet@jansen.example", "Private", "Body")
    assert staff_client.get(f"/admin/outbox/{row.id}").status_code == 403


def test_a_message_that_does_not_exist_is_404(app, admin_client):
    assert admin_client.get("/admin/outbox/424242").status_code == 404


# --- leases on shutdown -------------------------------------------------------------------

def test_releasing_leases_lets_the_next_process_take_them_at_once(app):
    assert jobs.take_lease("deliver_outbox", jobs.NODE_ID, TTL)
    assert jobs.take_lease("end_idle_sessions", "pc-reception", TTL)
    assert not jobs.take_lease("deliver_outbox", "next-process", TTL)
    assert jobs.release_leases() == 1
    assert jobs.take_lease("deliver_outbox", "next-process", TTL)          # at once
    # another process's lease is not this process's to give up
    assert JobLease.get_by_id("end_idle_sessions").expires_at > utcnow()
    assert not jobs.take_lease("end_idle_sessions", "next-process", TTL)


def test_main_releases_its_leases_when_it_stops(app, app_config, monkeypatch, tmp_path):
    """`python app.py` serving until Ctrl+C or SIGTERM: its leases are free afterwards."""
    db.close()
    monkeypatch.setenv("KONTOR_DATA_DIR", app_config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("SECRET_KEY", app_config["SECRET_KEY"])
    monkeypatch.setenv("KONTOR_MAIL_INTERVAL", "3600")
    handlers = {}
    monkeypatch.setattr(kontor_app.signal, "signal",
                        lambda signum, handler: handlers.setdefault(signum, handler))

    def serve_until_jobs_ran(wsgi_app, **options):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with db.connection_context():
                held = {lease.name for lease in JobLease.select()
                        if lease.holder == jobs.NODE_ID and lease.expires_at > utcnow()}
            if held >= set(jobs.JOBS):
                break
            time.sleep(0.05)
        raise KeyboardInterrupt   # what waitress lets through after Ctrl+C

    monkeypatch.setattr(kontor_app.waitress, "serve", serve_until_jobs_ran)
    with pytest.raises(KeyboardInterrupt):
        kontor_app.main([])
    assert kontor_app.signal.SIGTERM in handlers
    with db.connection_context():
        leases = list(JobLease.select())
        assert {lease.name for lease in leases} == set(jobs.JOBS)
        assert all(lease.expires_at <= utcnow() for lease in leases)
        assert jobs.take_lease("deliver_outbox", "next-process", TTL)
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name and t.is_alive()]


def test_sigterm_ends_serving_like_ctrl_c():
    with pytest.raises(SystemExit) as stopped:
        kontor_app.stop_serving(15, None)
    assert stopped.value.code == 0


def test_flask_run_jobs_lets_go_of_its_leases_when_done(app, runner):
    """Cron's `flask run-jobs` must not hold the server's jobs up for two minutes."""
    mail.enqueue("piet@jansen.example", "Welcome", "Hello Piet")
    result = runner.invoke(args=["run-jobs"])
    assert result.exit_code == 0, result.output
    assert OutboxMessage.get().status == mail.WRITTEN
    for name in jobs.JOBS:
        assert jobs.take_lease(name, "the-server", TTL), name
