"""`flask sync-now` while the running Kontor holds the sync (the tester's fault: it always
refused, exit 1, even between cycles): it waits for that Kontor's next cycle and prints its
counts; it says plainly what to do when none comes."""
import threading
import time
from datetime import timedelta

from helpers import PASSWORD, text_of

from kontor.sync import engine, service
from models import JobLease, SyncRun
from models.clock import utcnow


def activated(client, firm):
    response = client.form("/admin/sync", {"url": firm.url, "password": "", "mapping": "",
                                           "version": str(service.state().version)})
    assert response.status_code == 302, text_of(response)[:500]
    response = client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert response.status_code == 302, text_of(response)[:800]


def server_holds_the_lease():
    JobLease.delete().where(JobLease.name == engine.LEASE_NAME).execute()
    JobLease.insert(name=engine.LEASE_NAME, holder="PC-KONTOR:4242:abc", epoch=3,
                    expires_at=utcnow() + timedelta(minutes=15)).execute()


def test_sync_now_waits_for_the_running_kontors_next_cycle(admin_client, firm, runner):
    activated(admin_client, firm)
    server_holds_the_lease()

    def servers_cycle():
        time.sleep(1.0)
        now = utcnow()
        SyncRun.create(node="PC-KONTOR:4242:abc", epoch=3, started_at=now, finished_at=now,
                       status="ok", read=7, to_kontor=2)

    thread = threading.Thread(target=servers_cycle)
    thread.start()
    result = runner.invoke(args=["sync-now", "--wait", "20"])
    thread.join()
    assert result.exit_code == 0, result.output
    assert "The running Kontor on PC-KONTOR (pid 4242) does the sync" in result.output
    assert "OK; read 7" in result.output and "written to Kontor 2" in result.output


def test_sync_now_says_what_to_do_when_no_cycle_comes(admin_client, firm, runner):
    activated(admin_client, firm)
    server_holds_the_lease()
    started = time.monotonic()
    result = runner.invoke(args=["sync-now", "--wait", "1"])
    assert result.exit_code == 1
    assert "No sync cycle ended within 1 s" in result.output
    assert "stop that Kontor and run sync-now again" in result.output
    assert time.monotonic() - started < 10


def test_sync_now_syncs_itself_when_no_kontor_holds_the_sync(admin_client, firm, runner):
    activated(admin_client, firm)
    firm.add("contacts", customer_number=20001, kind="company", name="Fjord Rør AS",
             country="NO", active=True)
    result = runner.invoke(args=["sync-now"])
    assert result.exit_code == 0, result.output
    assert "waiting" not in result.output and ": OK;" in result.output
