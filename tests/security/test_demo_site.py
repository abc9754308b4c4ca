"""Issue 14, findings 4 and 11, against the demo site as it runs (gunicorn,
``project.settings``, django-axes installed): brute force, demo defaults.
"""

from __future__ import annotations

import http.client
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from tests.integrity.client import Answer
from tests.integrity.database import REPO, manage, site_env
from tests.integrity.site import DemoSite

pytestmark = pytest.mark.slow
USER, PASSWORD = "alice", "correct horse battery"
LIMIT = 5


def call(site: DemoSite, method: str, headers: dict[str, str] | None = None,
         **params: str) -> Answer:
    """A GET call, credentials in the query string as the legacy pages send them."""
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
    try:
        connection.request("GET", f"/srv.asmx/{method}?{urlencode(params)}",
                           headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[DemoSite]:
    data_dir = tmp_path_factory.mktemp("axes-site")
    env = site_env(data_dir, None)
    manage(env, "shell", "-c", "\n".join((
        "from django.core.management import call_command",
        "from django.contrib.auth import get_user_model",
        "call_command('migrate', interactive=False, verbosity=0)",
        f"get_user_model().objects.create_user({USER!r}, password={PASSWORD!r})",
        "get_user_model().objects.create_user('bob', password='bobs-password')",
    )))
    demo = DemoSite(data_dir, SimpleNamespace(url=None), workers=1, threads=4)
    # A proxy in front (as docs/security.md describes) names the client in X-Real-IP.
    demo.env.update(AXES_FAILURE_LIMIT=str(LIMIT), AXES_CLIENT_IP_HEADER="X-Real-IP")
    with demo.running():
        yield demo


def from_address(address: str) -> dict[str, str]:
    return {"X-Real-IP": address}


def log_of(site: DemoSite) -> str:
    return (site.data_dir / "server.log").read_text(errors="replace")


def test_guessing_a_password_is_locked_out_and_logged_without_it(site):
    guesses = [f"guess-{n}-secret" for n in range(LIMIT + 3)]
    answers = [call(site, "AuthenticateUser", from_address("203.0.113.7"), UID=USER, PWD=g)
               for g in guesses]
    assert {a.error for a in answers[:LIMIT - 1]} == {"[900] Authentication failed"}
    locked = answers[-1]
    assert (locked.status, locked.error, locked["errorCode"]) == (
        200, "Limit exceeded: login attempts.", "4130")
    # The right password, now, from the same address: still refused (no oracle).
    right = call(site, "AuthenticateUser", from_address("203.0.113.7"), UID=USER, PWD=PASSWORD)
    assert right.error == "Limit exceeded: login attempts."
    # ...and from elsewhere too: the user name itself is locked.
    elsewhere = call(site, "AuthenticateUser", from_address("198.51.100.2"), UID=USER,
                     PWD=PASSWORD)
    assert elsewhere.error == "Limit exceeded: login attempts."
    log = log_of(site)
    assert f"log-in failed: user name {USER!r} from" in log
    assert not any(g in log for g in guesses)
    # axes keeps the request's data with each failure: never the password.
    stored = site_query(site, "SELECT get_data || post_data FROM axes_accessattempt")
    assert stored and not any(g in row[0] for row in stored for g in guesses)


def test_one_address_trying_many_user_names_is_locked_out(site):
    attacker = from_address("192.0.2.66")
    for n in range(LIMIT):
        call(site, "AuthenticateUser", attacker, UID=f"nobody{n}", PWD="x")
    answer = call(site, "AuthenticateUser", attacker, UID="bob", PWD="bobs-password")
    assert answer.error == "Limit exceeded: login attempts."
    # bob himself, from his own address, is not locked out by someone else's guessing.
    assert call(site, "AuthenticateUser", from_address("198.51.100.9"), UID="bob",
                PWD="bobs-password").ok


def test_the_demo_is_not_in_debug_mode(site):
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
    connection.request("GET", "/no-such-page/")
    response = connection.getresponse()
    body = response.read()
    assert response.status == 404
    assert b"URLconf" not in body and b"srv.asmx" not in body


def test_a_secret_key_is_made_once_per_data_directory(site):
    key_file = site.data_dir / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()
    assert len(key) >= 50 and "demo-only" not in key
    # Another process on the same data directory uses the same key.
    assert settings_value(site.env, "SECRET_KEY") == key


def settings_value(env: dict[str, str], name: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
                               f" print(settings.{name}, end='')"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_secret_keys_differ_between_data_directories(tmp_path):
    one = settings_value(site_env(tmp_path / "one", None), "SECRET_KEY")
    two = settings_value(site_env(tmp_path / "two", None), "SECRET_KEY")
    assert one != two
    set_key = {**site_env(tmp_path / "three", None), "DJANGO_SECRET_KEY": "k" * 60}
    assert settings_value(set_key, "SECRET_KEY") == "k" * 60
    assert not (tmp_path / "three" / "secret_key").exists()


def test_debug_only_when_asked_for(tmp_path):
    env = site_env(tmp_path, None)
    env.pop("DJANGO_DEBUG")
    assert settings_value(env, "DEBUG") == "False"
    assert settings_value({**env, "DJANGO_DEBUG": "1"}, "DEBUG") == "True"


def test_the_demos_sqlite_syncs_every_commit(tmp_path):
    # An acknowledged chunk must survive a power cut: WAL with synchronous=FULL (2).
    output = manage(site_env(tmp_path, None), "shell", "-c", "\n".join((
        "from django.db import connection",
        "with connection.cursor() as cursor:",
        "    print(*(cursor.execute(f'PRAGMA {name}').fetchone()[0]",
        "            for name in ('journal_mode', 'synchronous')))",
    )))
    assert output.splitlines()[-1].split() == ["wal", "2"]


def test_check_deploy_is_clean_for_the_documented_production_configuration(tmp_path):
    env = {**site_env(tmp_path, None), "DJANGO_HTTPS": "1",
           "DJANGO_ALLOWED_HOSTS": "files.example.org"}
    env.pop("DJANGO_DEBUG")
    output = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in output


def test_rundemo_never_resets_an_existing_account(tmp_path):
    env = site_env(tmp_path, None)
    manage(env, "shell", "-c", "\n".join((
        "from django.core.management import call_command",
        "from django.contrib.auth import get_user_model",
        "call_command('migrate', interactive=False, verbosity=0)",
        "get_user_model().objects.create_superuser('demo', password='changed-by-the-owner')",
    )))
    output = run_rundemo_setup(env)
    assert "exists" in output and "demo / demo" not in output
    assert check_password(env, "demo", "changed-by-the-owner")


def test_rundemo_against_a_database_url_makes_no_well_known_password(tmp_path):
    sqlite_url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    env = {**site_env(tmp_path, None), "DATABASE_URL": sqlite_url}
    output = run_rundemo_setup(env)
    assert "Demo account created: demo / " in output and "demo / demo " not in output
    assert not check_password(env, "demo", "demo")
    assert "exists" in run_rundemo_setup(env)


def run_rundemo_setup(env: dict[str, str]) -> str:
    """rundemo's set-up, without its server: runserver is replaced for the call."""
    script = "\n".join((
        "import django; django.setup()",
        "from unittest import mock",
        "from django.core.management import call_command",
        "from project.demo.management.commands import rundemo",
        "with mock.patch.object(rundemo.Command, '_serve'):",
        "    call_command('rundemo')",
    ))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def check_password(env: dict[str, str], username: str, password: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();"
         " from django.contrib.auth import get_user_model;"
         f" print(get_user_model().objects.get(username={username!r})"
         f".check_password({password!r}), end='')"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout == "True"


def site_query(site: DemoSite, sql: str) -> list[tuple]:
    """Rows from the site's own SQLite file, read directly."""
    with sqlite3.connect(site.data_dir / "db.sqlite3", timeout=30) as connection:
        return connection.execute(sql).fetchall()
