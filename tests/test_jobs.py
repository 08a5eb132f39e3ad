"""Scheduled jobs and their database leases: each job runs once in the cluster, a stopped
process is taken over when its lease runs out, nothing starts a scheduler behind the tests'
back, and `flask run-jobs` runs everything once."""
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from helpers import sign_in

from app import create_app
from kontor import jobs, mail
from models import JobLease, OutboxMessage, SyncNode, UserSession, db

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
TTL = timedelta(minutes=2)


def scheduler_threads():
    return [t for t in threading.enumerate() if "APScheduler" in t.name and t.is_alive()]


# --- leases --------------------------------------------------------------------------------

def test_a_second_process_is_refused_while_the_lease_is_valid(app):
    with time_machine.travel(T0, tick=False) as clock:
        assert jobs.take_lease("sync", "pc-office", TTL)
        assert not jobs.take_lease("sync", "pc-reception", TTL)
        clock.shift(TTL - timedelta(seconds=1))
        assert not jobs.take_lease("sync", "pc-reception", TTL)
    lease = JobLease.get_by_id("sync")
    assert (lease.holder, lease.epoch) == ("pc-office", 1)


def test_the_holder_renews_its_lease_and_keeps_it(app):
    with time_machine.travel(T0, tick=False) as clock:
        assert jobs.take_lease("sync", "pc-office", TTL)
        for _ in range(5):
            clock.shift(TTL - timedelta(seconds=10))
            assert jobs.take_lease("sync", "pc-office", TTL)     # renewed in time
            assert not jobs.take_lease("sync", "pc-reception", TTL)
    lease = JobLease.get_by_id("sync")
    assert (lease.holder, lease.epoch) == ("pc-office", 1)
    assert lease.expires_at == (T0 + 5 * (TTL - timedelta(seconds=10)) + TTL).replace(tzinfo=None)


def test_another_process_takes_over_when_the_lease_runs_out(app):
    with time_machine.travel(T0, tick=False) as clock:
        assert jobs.take_lease("sync", "pc-office", TTL)
        clock.shift(TTL + timedelta(seconds=1))   # pc-office stopped renewing
        assert jobs.take_lease("sync", "pc-reception", TTL)
        lease = JobLease.get_by_id("sync")
        assert (lease.holder, lease.epoch) == ("pc-reception", 2)
        assert not jobs.take_lease("sync", "pc-office", TTL)  # the old holder is out
        clock.shift(TTL + timedelta(seconds=1))
        assert jobs.take_lease("sync", "pc-office", TTL)
    assert JobLease.get_by_id("sync").epoch == 3


def test_leases_of_different_jobs_are_independent(app):
    assert jobs.take_lease("sync", "pc-office", TTL)
    assert jobs.take_lease("deliver_outbox", "pc-reception", TTL)
    assert {lease.name: lease.holder for lease in JobLease.select()} == {
        "sync": "pc-office", "deliver_outbox": "pc-reception"}


def test_two_processes_racing_for_a_new_lease_get_exactly_one(app):
    results = {}
    barrier = threading.Barrier(4)

    def contender(name):
        with db.connection_context():
            barrier.wait(5)
            results[name] = jobs.take_lease("race", name, TTL)

    threads = [threading.Thread(target=contender, args=(f"pc-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [False, False, False, True]
    winner = next(name for name, won in results.items() if won)
    assert JobLease.get_by_id("race").holder == winner


# --- run_job -------------------------------------------------------------------------------

def test_run_job_records_when_it_ran(app):
    ran = []
    with time_machine.travel(T0, tick=False):
        assert jobs.run_job("tidy", lambda config: ran.append(config["DATA_DIR"]), app.config,
                            holder="pc-office")
    assert ran == [app.config["DATA_DIR"]]
    lease = JobLease.get_by_id("tidy")
    assert lease.last_run_at == T0.replace(tzinfo=None)
    assert lease.last_error == ""


def test_run_job_records_a_failure_and_clears_it_after_the_next_good_run(app, caplog):
    def broken(config):
        raise RuntimeError("the business database is unreachable")

    with time_machine.travel(T0, tick=False) as clock:
        assert jobs.run_job("tidy", broken, app.config, holder="pc-office") is False
        lease = JobLease.get_by_id("tidy")
        assert lease.last_error == "RuntimeError: the business database is unreachable"
        assert lease.last_run_at == T0.replace(tzinfo=None)
        assert "job tidy failed" in caplog.text
        clock.shift(timedelta(minutes=1))
        assert jobs.run_job("tidy", lambda config: None, app.config, holder="pc-office")
    lease = JobLease.get_by_id("tidy")
    assert lease.last_error == ""
    assert lease.last_run_at == (T0 + timedelta(minutes=1)).replace(tzinfo=None)
    assert jobs.status()["tidy"]["last_error"] == ""


def test_run_job_does_nothing_while_another_process_holds_the_job(app):
    ran = []
    assert jobs.take_lease("tidy", "pc-reception", TTL)
    assert jobs.run_job("tidy", lambda config: ran.append(1), app.config,
                        holder="pc-office") is False
    assert ran == []
    assert JobLease.get_by_id("tidy").last_run_at is None


# --- the scheduler -------------------------------------------------------------------------

def test_creating_the_app_starts_no_scheduler(app_config):
    before = scheduler_threads()
    application = create_app(app_config)
    time.sleep(0.1)
    assert scheduler_threads() == before == []
    assert "kontor_scheduler" not in application.extensions


def test_the_scheduler_of_the_serving_process_runs_every_job(app):
    mail.enqueue("piet@jansen.example", "Hello", "Body")
    scheduler = jobs.start_scheduler(app.config, app)
    try:
        assert scheduler.running
        assert {job.id for job in scheduler.get_jobs()} == set(jobs.JOBS) | set(jobs.EVERY_PROCESS)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = {lease.name for lease in JobLease.select()
                    if lease.last_run_at is not None}
            if done >= set(jobs.JOBS):
                break
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert done >= set(jobs.JOBS)
    assert {lease.holder for lease in JobLease.select()} == {jobs.NODE_ID}
    assert OutboxMessage.get().status == "written"
    # every process registers itself as a possible sync computer, without a lease
    assert [node.node_id for node in SyncNode.select()] == [jobs.NODE_ID]


# --- flask run-jobs ------------------------------------------------------------------------

def test_flask_run_jobs_runs_every_job_once(app, runner, client, staff):
    mail.enqueue("piet@jansen.example", "Hello", "Body")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        sign_in(client, staff.email)
        clock.shift(timedelta(minutes=app.config["IDLE_MINUTES"], seconds=61))
        result = runner.invoke(args=["run-jobs"])
    assert result.exit_code == 0, result.output
    assert "end_idle_sessions: done" in result.output
    assert "deliver_outbox: done" in result.output
    assert OutboxMessage.get().status == "written"
    assert len(list((Path(app.config["DATA_DIR"]) / "mail").glob("*.eml"))) == 1
    session_row = UserSession.get(UserSession.user == staff.id)
    assert session_row.end_reason == "idle"
    assert {lease.name for lease in JobLease.select() if lease.last_run_at} == set(jobs.JOBS)


def test_flask_run_jobs_skips_a_job_another_process_holds(app, runner):
    mail.enqueue("piet@jansen.example", "Hello", "Body")
    assert jobs.take_lease("deliver_outbox", "pc-reception", timedelta(minutes=10))
    result = runner.invoke(args=["run-jobs"])
    assert result.exit_code == 0, result.output
    assert "deliver_outbox: skipped (another process holds it)" in result.output
    assert "end_idle_sessions: done" in result.output
    assert OutboxMessage.get().status == "queued"
