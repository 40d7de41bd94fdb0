"""Production never runs on demo defaults, and settings are read as the text they are."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from kiosk import config, create_app
from kiosk.config import ConfigError

from ..conftest import PIN, SECRET, free_port
from ..support import Gunicorn, LiveServer, field
from ..test_project import wait_for

BASE = {"API_URL": "https://pay.example", "API_EMAIL": "a@b.c", "API_PASSWORD": "p",
        "SECRET_KEY": SECRET, "OPERATOR_PIN": PIN}


def refused(tmp_path, **settings) -> str:
    with pytest.raises(ConfigError) as err:
        create_app({"STATE_DIR": str(tmp_path), **BASE, **settings})
    text = str(err.value.code)
    assert "\n" not in text
    return text


def clean_env(**values: str) -> dict[str, str]:
    """The environment of a shop's server: no KIOSK_* but the ones given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return {**env, **values}


# -- kiosk serve --------------------------------------------------------------------------------


def test_serve_refuses_to_start_without_an_api_url(tmp_path):
    env = clean_env(KIOSK_STATE_DIR=str(tmp_path), KIOSK_SECRET_KEY=SECRET, KIOSK_API_EMAIL="a@b.c",
                    KIOSK_API_PASSWORD="p", KIOSK_BIND=f"127.0.0.1:{free_port()}")
    run = subprocess.run([sys.executable, "-m", "kiosk.cli", "serve"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert run.stderr.strip() == ("kiosk: configuration error: KIOSK_API_URL is required: Cryptom Pay's "
                                  "base URL (https://…); `kiosk demo` runs against a local sandbox")
    assert run.stdout == ""


@pytest.mark.parametrize("url", ["http://pay.example.com", "http://10.0.0.5:8001", "http://[fe80::1]:80",
                                 "http://127.0.0.1.example.com", "http://localhost.example.com/api"])
def test_a_plain_http_upstream_is_refused_unless_it_is_loopback(tmp_path, url):
    assert refused(tmp_path, API_URL=url) == (
        "kiosk: configuration error: KIOSK_API_URL must use https:// (plain http:// only to this "
        f"machine's loopback), got {url!r}")


@pytest.mark.parametrize("url", ["https://pay.example.com", "http://127.0.0.1:8001", "http://127.8.9.1",
                                 "http://localhost:9000/api", "http://[::1]:8001"])
def test_https_or_a_loopback_upstream_is_accepted(tmp_path, url):
    app = create_app({"STATE_DIR": str(tmp_path), **BASE, "API_URL": url})
    assert app.extensions["kiosk"].settings.api_url == url.rstrip("/")


# -- the demo's conveniences exist only in the demo -------------------------------------------------


def test_a_loopback_upstream_is_not_the_sandbox(tmp_path):
    """A kiosk pointed at a service on this machine gets no generated secret and no demo PIN."""
    settings = {"API_URL": "http://127.0.0.1:8001", "SECRET_KEY": None}
    assert "KIOSK_SECRET_KEY is required" in refused(tmp_path, **settings)
    app = create_app({"STATE_DIR": str(tmp_path), **BASE, "API_URL": "http://127.0.0.1:8001",
                      "OPERATOR_PIN": None})
    assert app.extensions["kiosk"].settings.operator_pin is None
    assert app.test_client().get("/operator").status_code == 404
    assert not (tmp_path / "secret_key").exists()


def test_the_demo_mode_brings_its_pin_and_a_kept_secret(tmp_path):
    first = create_app({"STATE_DIR": str(tmp_path), "DEMO": True})
    second = create_app({"STATE_DIR": str(tmp_path), "DEMO": True})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    settings = first.extensions["kiosk"].settings
    assert settings.uses_sandbox and settings.operator_pin == config.DEMO_PIN == "246810"
    assert settings.api_url == "http://127.0.0.1:8001"


def test_the_demo_mode_cannot_be_switched_on_from_the_environment(tmp_path):
    env = clean_env(KIOSK_STATE_DIR=str(tmp_path), KIOSK_DEMO="true")
    run = subprocess.run([sys.executable, "-c", "import kiosk; kiosk.create_app()"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().startswith("kiosk: configuration error: KIOSK_API_URL is required")


# -- PINs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["1234", "12345", "12 3456", "12345a", "1234567890123"])
def test_a_pin_needs_six_to_twelve_digits(tmp_path, pin):
    assert refused(tmp_path, OPERATOR_PIN=pin) == ("kiosk: configuration error: KIOSK_OPERATOR_PIN must "
                                                   "be 6 to 12 digits")


@pytest.mark.parametrize("pin", ["123456", "000000", "123456789012"])
def test_six_to_twelve_digits_make_a_pin(tmp_path, pin):
    app = create_app({"STATE_DIR": str(tmp_path), **BASE, "API_URL": "https://pay.example",
                      "OPERATOR_PIN": pin})
    assert app.extensions["kiosk"].settings.operator_pin == pin


# -- settings are text ---------------------------------------------------------------------------


def test_settings_from_the_environment_are_read_as_text(tmp_path):
    """A password like 12.50 and an all-digit secret reach upstream and Flask as written."""
    env = clean_env(KIOSK_STATE_DIR=str(tmp_path), KIOSK_API_URL="https://pay.example",
                    KIOSK_API_EMAIL="a@b.c", KIOSK_API_PASSWORD="12.50",
                    KIOSK_SECRET_KEY="00012345678901234567", KIOSK_OPERATOR_PIN="000123",
                    KIOSK_SHOP_NAME="1e3", KIOSK_PAYMENT_TIMEOUT="600")
    script = ("import kiosk; app = kiosk.create_app(); s = app.extensions['kiosk'].settings;"
              "print(repr(s.api_password), repr(app.config['SECRET_KEY']), repr(s.operator_pin),"
              " repr(s.shop_name), s.payment_timeout)")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["'12.50'", "'00012345678901234567'", "'000123'", "'1e3'", "600"]


def test_a_password_like_a_number_logs_in_end_to_end(tmp_path):
    """The sandbox and `kiosk serve`, both configured from the environment, with a merchant
    password 12.50 and an all-digit secret key: the kiosk logs in and takes a payment."""
    sandbox_port = free_port()
    sandbox_env = clean_env(KIOSK_SANDBOX_PASSWORD="12.50")
    sandbox = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "sandbox", "--port", str(sandbox_port)],
                               env=sandbox_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    server = None
    try:
        assert wait_for(sandbox_url + "/sandbox").status_code == 200
        refused_login = requests.post(sandbox_url + "/auth", json={"email": "merchant@sandbox.test",
                                                                   "password": "12.5"}, timeout=5)
        assert refused_login.status_code == 401  # the sandbox holds the password as written
        server = Gunicorn(sandbox_url, tmp_path, free_port(), API_PASSWORD="12.50",
                          SECRET_KEY="98765432109876543210")
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
        browser = requests.Session()
        html = browser.get(server.url + "/", timeout=10).text
        response = browser.post(server.url + "/", data={"csrf_token": field(html, "csrf_token"),
                                                         "nonce": field(html, "nonce"), "amount": "250"},
                                allow_redirects=False, timeout=10)
        assert response.status_code == 303 and response.headers["Location"].startswith("/pay/")
    finally:
        if server is not None:
            log = server.stop()
            assert "12.50" not in log
        sandbox.terminate()
        sandbox.wait(10)


def test_the_sandbox_reads_its_settings_as_text(monkeypatch):
    from kiosk.sandbox import create_sandbox_app

    monkeypatch.setenv("KIOSK_SANDBOX_PASSWORD", "12.50")
    server = LiveServer(create_sandbox_app())
    try:
        login = requests.post(server.url + "/auth", json={"email": "merchant@sandbox.test",
                                                          "password": "12.50"}, timeout=5)
        assert login.status_code == 200
    finally:
        server.stop()


# -- the state folder ---------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [None, 0o755, 0o775, 0o711])
def test_the_state_folder_is_the_kiosk_s_alone(tmp_path, existing):
    """It holds the upstream token, the sessions and a store whose keys name live session ids:
    no other user of the machine may read or list it, whether the kiosk made it or found it."""
    state = tmp_path / "state"
    if existing is not None:
        state.mkdir()
        state.chmod(existing)
    app = create_app({"STATE_DIR": str(state), **BASE})
    app.test_client().get("/")  # a session, the store and the queue are written
    assert {p.name for p in state.iterdir()} >= {"jobs.sqlite3", "kiosk.sqlite3", "sessions"}
    assert oct(state.stat().st_mode & 0o777) == oct(0o700)


# -- the shop's currency -------------------------------------------------------------------------


def test_serve_refuses_an_unknown_currency_and_names_it(tmp_path):
    env = clean_env(KIOSK_STATE_DIR=str(tmp_path), KIOSK_SECRET_KEY=SECRET, KIOSK_API_EMAIL="a@b.c",
                    KIOSK_API_URL="https://pay.example", KIOSK_API_PASSWORD="p", KIOSK_CURRENCY="EUD",
                    KIOSK_BIND=f"127.0.0.1:{free_port()}")
    run = subprocess.run([sys.executable, "-m", "kiosk.cli", "serve"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0 and run.stdout == ""
    assert run.stderr.strip() == ("kiosk: configuration error: KIOSK_CURRENCY must be an ISO 4217 "
                                  "currency code like TRY, EUR or JPY; 'EUD' is not one")


@pytest.mark.parametrize("code", ["DEM", "XYZ", "EURO", "€"])
def test_a_currency_not_in_use_is_refused(tmp_path, code):
    assert f"{code!r} is not one" in refused(tmp_path, CURRENCY=code)


@pytest.mark.parametrize(("currency", "low", "high"), [
    ("TRY", "1.00", "100000.00"), ("eur", "1.00", "100000.00"), ("JPY", "1", "100000"),
    ("KWD", "1.000", "100000.000")])
def test_the_limits_are_in_the_shops_currency_and_its_digits(tmp_path, currency, low, high):
    app = create_app({"STATE_DIR": str(tmp_path), **BASE, "CURRENCY": currency})
    s = app.extensions["kiosk"].settings
    assert (s.currency, str(s.min_amount), str(s.max_amount)) == (currency.upper(), low, high)


@pytest.mark.parametrize(("currency", "limit", "ok"), [
    ("JPY", "100", True), ("JPY", "100.5", False),  # no decimals in yen
    ("KWD", "0.125", True), ("KWD", "0.1255", False),  # three in dinar, not four
    ("EUR", "0.01", True), ("EUR", "0.001", False)])
def test_a_limit_has_at_most_the_currencys_digits(tmp_path, currency, limit, ok):
    values = {"STATE_DIR": str(tmp_path), **BASE, "CURRENCY": currency, "MIN_AMOUNT": limit}
    if ok:
        assert create_app(values).extensions["kiosk"].settings.min_amount == Decimal(limit)
    else:
        assert f"KIOSK_MIN_AMOUNT must be a positive amount in {currency}" in refused(
            tmp_path, CURRENCY=currency, MIN_AMOUNT=limit)
