"""What the till API's tests share: a `kiosk serve` with a till's key (a module's own server
replaces it). The till and the display it paired are tests/conftest.py's."""

from __future__ import annotations

import pytest

from ..api_support import make_key
from ..conftest import free_port
from ..support import Gunicorn


@pytest.fixture(scope="module")
def server(sandbox_server, tmp_path_factory):
    """`kiosk serve` (gunicorn, two workers) for the module, with the key of till-1."""
    state = tmp_path_factory.mktemp("api-state")
    kiosk = Gunicorn(sandbox_server.url, state, free_port(), MIN_AMOUNT="10", MAX_AMOUNT="5000",
                     CREATE_LIMIT="1000/60", API_RATE_LIMIT="100000/60", POLL_INTERVAL="2")
    kiosk.state = state
    kiosk.key = make_key(state, "till-1")
    yield kiosk
    kiosk.stop()
