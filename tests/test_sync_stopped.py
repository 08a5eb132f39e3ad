"""The "sync service stopped" notice follows KONTOR_SYNC_SECONDS (the tester's fault: with a
sync every 5 minutes the page said "stopped" a minute after each run): the service counts as
stopped after a minute or three intervals, whichever is longer."""
from datetime import timedelta

from helpers import text

from kontor import alerts
from kontor.sync import engine, service
from models import JobLease, SyncState
from models.clock import utcnow


def ran(seconds_ago):
    SyncState.insert(id=1, active=True, activated_at=utcnow() - timedelta(hours=1)).execute()
    JobLease.insert(name=engine.LEASE_NAME, holder="n", epoch=1,
                    expires_at=utcnow() + timedelta(minutes=15),
                    last_run_at=utcnow() - timedelta(seconds=seconds_ago)).execute()


def test_the_threshold_follows_the_interval():
    assert service.stopped_after(None) == timedelta(minutes=1)
    assert service.stopped_after(15) == timedelta(minutes=1)
    assert service.stopped_after(300) == timedelta(minutes=15)


def test_a_slow_interval_is_not_a_stopped_service(app):
    ran(90)
    assert service.stopped_since(interval_seconds=300) is None
    assert service.stopped_since(interval_seconds=15) is not None
    JobLease.update(last_run_at=utcnow() - timedelta(minutes=16)).execute()
    assert service.stopped_since(interval_seconds=300) is not None


def test_the_log_page_uses_the_configured_interval(app, admin_client):
    ran(90)
    app.config["SYNC_SECONDS"] = 300
    assert "Sync service stopped" not in text(admin_client.get("/admin/sync/log"))
    app.config["SYNC_SECONDS"] = 15
    page = text(admin_client.get("/admin/sync/log"))
    assert "Sync service stopped" in page and "three sync intervals" in page


def test_the_stopped_alert_waits_three_intervals_too(app):
    SyncState.insert(id=1, active=True, activated_at=utcnow() - timedelta(hours=2)).execute()
    assert alerts.sync_problem(limit=timedelta(minutes=15)) == "stopped"
    assert alerts.check_sync(interval_seconds=3600) is None        # every hour: not yet
