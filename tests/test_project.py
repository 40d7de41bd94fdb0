"""The project as a newcomer meets it: settings, commands, the vendored htmx, the built wheel."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import requests

from kiosk import create_app
from kiosk.config import ConfigError
from kiosk.ledger.migrate import head

from .support import Customer, DemoDidNotStop, as_from_a_terminal, field, stop_with_ctrl_c

ROOT = Path(__file__).resolve().parents[1]
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_vendored_htmx_is_2_0_11_untouched():
    data = (ROOT / "static" / "vendor" / "htmx-2.0.11.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256


def test_pages_have_no_inline_script_or_style(web):
    html = web.get("/").get_data(as_text=True)
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert " onclick=" not in html and "hx-on" not in html
    assert '"allowEval":false' in html and '"timeout":8000' in html
    assert '"includeIndicatorStyles":false' in html


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"API_URL": "ftp://x"}, "KIOSK_API_URL must be an http(s) URL"),
        ({"API_URL": "https://pay.example", "API_EMAIL": None}, "KIOSK_API_EMAIL is required"),
        ({"API_URL": "https://pay.example", "API_EMAIL": "a@b.c", "API_PASSWORD": None},
         "KIOSK_API_PASSWORD is required"),
        ({"API_URL": "https://pay.example", "API_EMAIL": "a@b.c", "API_PASSWORD": "p", "SECRET_KEY": None},
         "KIOSK_SECRET_KEY is required"),
        ({"MIN_AMOUNT": "abc"}, "KIOSK_MIN_AMOUNT must be an amount"),
        ({"MAX_AMOUNT": "0"}, "KIOSK_MAX_AMOUNT must be a positive amount"),
        ({"MIN_AMOUNT": "50", "MAX_AMOUNT": "10"}, "KIOSK_MIN_AMOUNT must not be above"),
        ({"PAYMENT_TIMEOUT": "ten"}, "KIOSK_PAYMENT_TIMEOUT must be a whole number"),
        ({"POLL_INTERVAL": 0}, "KIOSK_POLL_INTERVAL must be between"),
        ({"COINS": "TRX:TRX,???"}, "KIOSK_COINS must list COIN:NETWORK pairs"),
        ({"COINS": ""}, "KIOSK_COINS must name at least one"),
        ({"ASK_MOBILE": "maybe"}, "KIOSK_ASK_MOBILE must be true or false"),
    ],
)
def test_bad_settings_stop_with_one_clear_line(tmp_path, settings, message):
    base = {"STATE_DIR": str(tmp_path), "API_URL": "https://pay.example", "API_EMAIL": "a@b.c",
            "API_PASSWORD": "p", "SECRET_KEY": "0123456789abcdef0123"}
    with pytest.raises(ConfigError) as err:
        create_app({**base, **settings})
    assert message in str(err.value.code) and "\n" not in str(err.value.code)


def test_bad_environment_setting_from_the_command_line(tmp_path):
    env = {**os.environ, "KIOSK_STATE_DIR": str(tmp_path), "KIOSK_API_URL": "https://pay.example",
           "KIOSK_API_EMAIL": "a@b.c", "KIOSK_API_PASSWORD": "p", "KIOSK_SECRET_KEY": "0123456789abcdef0123",
           "KIOSK_POLL_INTERVAL": "fast"}
    run = subprocess.run([sys.executable, "-c", "import kiosk; kiosk.create_app()"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == ("kiosk: configuration error: KIOSK_POLL_INTERVAL must be a whole "
                                  "number of seconds, got 'fast'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 20) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.xfail(raises=DemoDidNotStop, strict=False,
                   reason="in the full two-worker run the demo has not stopped on SIGINT within 60 s "
                   "(it stops in under a second alone and with -n 2 on this file); open")
def test_kiosk_demo_runs_both_and_stops_on_ctrl_c(tmp_path):
    """The README's demo: a shop in euros for German, English and Arabic speaking customers."""
    kiosk_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_TIPS"}
    env.update(KIOSK_STATE_DIR=str(tmp_path), KIOSK_CURRENCY="EUR", KIOSK_LANGUAGES="de,en,ar",
               PYTHONFAULTHANDLER="1")  # a demo that does not stop shows where its threads stand
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "demo", "--port", str(kiosk_port),
         "--sandbox-port", str(sandbox_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=as_from_a_terminal,
    )
    try:
        page = wait_for(f"http://127.0.0.1:{kiosk_port}/")
        assert page.status_code == 200 and 'data-testid="amount-display"' in page.text
        assert '<html lang="de" dir="ltr"' in page.text and "0,00\u00a0€" in page.text
        assert 'data-testid="language-ar"' in page.text and 'data-testid="language-tr"' not in page.text
        assert (tmp_path / "ledger.sqlite3").exists()  # the demo upgraded its ledger as it started
        # The demo turns tips on (KIOSK_TIPS=5,10,15), so its back office has tips to show.
        customer = Customer.over_http(f"http://127.0.0.1:{kiosk_port}")
        assert customer.enter("100.00").headers["Location"].endswith("/tip")
        tip_screen = customer.get("/tip").text
        assert all(f'data-testid="tip-{p}"' in tip_screen for p in ("5", "10", "15", "none", "custom"))
        assert wait_for(f"http://127.0.0.1:{sandbox_port}/sandbox").status_code == 200
        staff = requests.Session()  # the demo's PIN opens the demo's operator area
        html = staff.get(f"http://127.0.0.1:{kiosk_port}/operator", timeout=10).text
        unlocked = staff.post(f"http://127.0.0.1:{kiosk_port}/operator", allow_redirects=False, timeout=10,
                              data={"csrf_token": field(html, "csrf_token"), "pin": "246810"})
        assert unlocked.headers["Location"] == "/operator/today"
        out = stop_with_ctrl_c(proc)
    finally:
        proc.kill()
    assert f"http://127.0.0.1:{kiosk_port}/" in out and f"http://127.0.0.1:{sandbox_port}/sandbox" in out
    assert f"http://127.0.0.1:{kiosk_port}/operator  (demo PIN 246810)" in out
    assert proc.returncode == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{kiosk_port}/", timeout=2)


def test_wheel_carries_templates_and_static(tmp_path):
    """Build the wheel, install it alone in a fresh venv, and render a page from it."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(ROOT)], check=True, timeout=300)
    [wheel] = dist.glob("kiosk-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    # The dependencies come from the test environment, added after the fresh venv's own.
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    env_site = next((env_dir / "lib").glob("python*/site-packages"))
    (env_site / "zz-deps.pth").write_text(str(site) + "\n")
    script = (
        "import kiosk, pathlib;"
        "app = kiosk.create_app({{'STATE_DIR': {!r}, 'DEMO': True}});"
        "assert 'site-packages' in kiosk.__file__, kiosk.__file__;"
        # The ledger's migrations travel inside the wheel: a start upgrades it from them.
        "assert app.extensions['kiosk'].upgrade_ledger().after == {!r};"
        "html = app.test_client().get('/').get_data(as_text=True);"
        "assert 'data-testid=\"amount-display\"' in html;"
        "r = app.test_client().get('/static/vendor/htmx-2.0.11.min.js');"
        "assert r.status_code == 200 and len(r.data) > 40000;"
        "print('ok', kiosk.__file__)".format(str(tmp_path / "state"), head())
    )
    run = subprocess.run([python, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok ") and str(env_dir) in run.stdout
