"""`kiosk keys` and `kiosk pin unlock` as the shop's owner meets them on a bad day: a Redis that
is down (and has a password), names of every shape. One line saying what is wrong, exit 1,
never a traceback, never a secret on the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..api_support import keys_cli
from ..conftest import free_port

SECRETS = ("redis-pass-s3cr3t", "upstream-pass-s3cr3t", "135790", "test-secret-key-0123456789")


def cli(state_dir, *args: str, **env: str) -> subprocess.CompletedProcess:
    settings = {"KIOSK_STATE_DIR": str(state_dir), "KIOSK_API_URL": "http://127.0.0.1:9",
                "KIOSK_API_EMAIL": "shop@example.com", "KIOSK_API_PASSWORD": "upstream-pass-s3cr3t",
                "KIOSK_SECRET_KEY": "test-secret-key-0123456789", "KIOSK_OPERATOR_PIN": "135790"}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **settings, **env}, timeout=60)


@pytest.mark.parametrize("args", [("keys", "list"), ("keys", "create", "till-1"),
                                  ("keys", "revoke", "till-1"), ("pin", "unlock")])
def test_a_redis_that_is_down_is_one_line_and_exit_1(tmp_path, args):
    down = f"redis://:redis-pass-s3cr3t@127.0.0.1:{free_port()}/0"
    done = cli(tmp_path, *args, KIOSK_REDIS_URL=down)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kiosk: ") and "Redis" in lines[0], lines
    for secret in SECRETS:
        assert secret not in done.stderr + done.stdout


@pytest.mark.parametrize("name", ["../till", "a" * 41, "kasa-ş", "<b>x</b>", "till 1", "", ".till", "till/1"])
def test_a_key_name_of_another_shape_is_refused_and_nothing_is_made(tmp_path, name):
    done = keys_cli(tmp_path, "create", name)
    assert done.returncode != 0 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert keys_cli(tmp_path, "list").stdout == ""


def test_a_key_name_at_its_limit(tmp_path):
    done = keys_cli(tmp_path, "create", "a" * 40)
    assert done.returncode == 0 and done.stdout.startswith("kiosk_")
    assert keys_cli(tmp_path, "list").stdout.startswith("a" * 40 + "\t…")


def test_pin_unlock_prints_no_secret(tmp_path):
    done = cli(tmp_path, "pin", "unlock")
    assert done.returncode == 0 and done.stdout == "Nothing was locked.\n"
    for secret in SECRETS:
        assert secret not in done.stderr + done.stdout


@pytest.mark.parametrize("secret", ["whsec_" + "A" * 25, "whsec_" + "A" * 23 + "==A", "whsec_" + "=" * 24])
def test_a_webhook_secret_that_is_not_base64_is_a_configuration_error(tmp_path, secret):
    done = cli(tmp_path, "keys", "list", KIOSK_WEBHOOK_URL="https://till.example/hook",
               KIOSK_WEBHOOK_SECRET=secret)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "KIOSK_WEBHOOK_SECRET" in done.stderr and secret not in done.stderr


def test_the_settings_never_show_a_secret_when_printed(make_app):
    """A debug line or an error report that prints the settings shows no password, PIN or key."""
    from ..api_support import SECRET as WEBHOOK_SECRET

    app = make_app(API_PASSWORD="upstream-pass-s3cr3t", OPERATOR_PIN="135790", CASHIER_PIN="975310",
                   WEBHOOK_URL="https://till.example/hook", WEBHOOK_SECRET=WEBHOOK_SECRET)
    settings = app.extensions["kiosk"].settings
    shown = f"{settings!r} {settings!s}"
    for secret in ("upstream-pass-s3cr3t", "135790", "975310", WEBHOOK_SECRET, app.config["SECRET_KEY"]):
        assert secret not in shown
    assert "till.example" in shown  # the rest is still there to read
