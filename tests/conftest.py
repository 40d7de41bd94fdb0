from __future__ import annotations

import pytest

from kiosk.cryptom import CryptomClient
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD, create_sandbox_app

from .support import Sandbox, Till


@pytest.fixture(scope="session")
def sandbox_server():
    server = Sandbox(create_sandbox_app())
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """A running sandbox, emptied and without faults for each test."""
    sandbox_server.reset()
    sandbox_server.state.tokens.clear()
    return sandbox_server


@pytest.fixture
def client(sandbox: Sandbox) -> CryptomClient:
    return CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD)


SECRET = "test-secret-key-0123456789abcdef"


def kiosk_config(sandbox: Sandbox, state_dir, **extra) -> dict:
    return {
        "API_URL": sandbox.url,
        "API_EMAIL": DEFAULT_EMAIL,
        "API_PASSWORD": DEFAULT_PASSWORD,
        "SECRET_KEY": SECRET,
        "STATE_DIR": str(state_dir),
        **extra,
    }


@pytest.fixture
def make_app(sandbox: Sandbox, tmp_path):
    """Build a kiosk app against the live sandbox; keyword arguments override settings."""
    from kiosk import create_app

    def build(**extra):
        return create_app(kiosk_config(sandbox, tmp_path / "state", **extra))

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def web(app):
    return app.test_client()


@pytest.fixture
def till(web, sandbox) -> Till:
    """A customer at the kiosk, through Flask's test client."""
    return Till(web, sandbox)
