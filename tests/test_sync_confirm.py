"""The "confirm with your password" forms of the sync and of restore count wrong passwords
like the sign-in does (the tester's fault: 12 wrong activation passwords all got 400 and
failed_logins stayed 0), and activation is one conditional update (4 parallel Activate posts
gave two 200s and two sync.activate entries; Activate when active gave 400 without a word)."""
import threading

from helpers import PASSWORD, make_user, signed_in, text_of

from kontor import config
from kontor.sync import service
from models import AuditEvent, User

WRONG = "not-my-password"


def audits(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def save_settings(client, firm):
    response = client.form("/admin/sync", {"url": firm.url, "password": "", "mapping": "",
                                           "version": str(service.state().version)})
    assert response.status_code == 302, text_of(response)[:500]


def activate(client, firm):
    """Activate the sync and let its first sync finish (meanwhile only the owner may work:
    issue 17 item 1)."""
    save_settings(client, firm)
    response = client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert response.status_code == 302, text_of(response)[:800]
    assert service.run_sync(client.application.config).status == "ok"


def guesses_lock_the_account(client, user, url, field):
    for _ in range(config.LOCK_AFTER_FAILURES - 1):
        response = client.form(url, {field: WRONG})
        assert response.status_code == 400
        assert "This is not your password." in text_of(response)
    assert User.get_by_id(user.id).failed_logins == config.LOCK_AFTER_FAILURES - 1
    response = client.form(url, {field: WRONG})        # the guess that locks it
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert User.get_by_id(user.id).is_locked
    assert client.get("/contacts").status_code == 302            # signed out
    assert audits("account.locked")


def test_wrong_activation_passwords_lock_the_account_as_at_sign_in(admin_client, superuser,
                                                                     firm):
    save_settings(admin_client, firm)
    guesses_lock_the_account(admin_client, superuser, "/admin/sync/activate", "activate-password")
    assert not service.state().active
    assert [e.detail for e in audits("sync.activate.refused")][-1] == "locked_now"


def test_a_right_password_resets_the_count(admin_client, superuser, firm):
    save_settings(admin_client, firm)
    admin_client.form("/admin/sync/activate", {"activate-password": WRONG})
    assert User.get_by_id(superuser.id).failed_logins == 1
    admin_client.form("/admin/sync/activate", {"activate-password": PASSWORD})
    assert service.state().active and User.get_by_id(superuser.id).failed_logins == 0


def test_wrong_passwords_to_become_owner_lock_the_account(app, admin_client, firm):
    activate(admin_client, firm)
    bert = make_user("bert@jansen.example", superuser=True, name="Bert Smit")
    guesses_lock_the_account(signed_in(app, bert), bert, "/admin/sync/owner", "owner-password")
    assert audits("sync.owner.refused")[-1].detail == "locked_now"


def test_wrong_passwords_to_deactivate_lock_the_account(admin_client, superuser, firm):
    activate(admin_client, firm)
    guesses_lock_the_account(admin_client, superuser, "/admin/sync/deactivate",
                             "deactivate-password")
    assert service.state().active


def test_wrong_passwords_to_restore_count_toward_the_lockout(admin_client, superuser):
    data = {"backup": "", "password": WRONG}
    response = admin_client.form("/admin/backups/restore", data,
                                 content_type="multipart/form-data")
    assert response.status_code == 400 and "This is not your password." in text_of(response)
    assert User.get_by_id(superuser.id).failed_logins == 1
    assert audits("backup.restore.refused")[-1].detail == "wrong_password"


def test_parallel_activations_one_wins(app, admin_client, superuser, firm):
    save_settings(admin_client, firm)
    results = []

    def one():
        try:
            service.activate(app.config["DATA_DIR"], User.get_by_id(superuser.id), PASSWORD)
            results.append("ok")
        except service.SyncRefused as refused:
            results.append(refused.reason)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["already_active"] * 3 + ["ok"]
    assert len(audits("sync.activate")) == 1


def test_activate_when_active_says_so(admin_client, firm):
    activate(admin_client, firm)
    response = admin_client.form("/admin/sync/activate", {"activate-password": PASSWORD},
                                 follow_redirects=True)
    assert response.status_code == 200
    assert "The sync is already active" in text_of(response)
    assert len(audits("sync.activate")) == 1
