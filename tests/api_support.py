"""Helpers of the till API tests: a kiosk under `kiosk serve`, its keys, a till over HTTP, a
display (a browser's cookie jar) that shows what is sent to it, and a till's webhook receiver."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from flask import Flask, request
from standardwebhooks import Webhook

from kiosk.checkout import LocalStore

from .conftest import free_port
from .support import Gunicorn, LiveServer, pairing_code

SECRET = "whsec_" + base64.b64encode(b"a receiver's secret of 32 bytes!").decode()


def keys_cli(state_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`kiosk keys ...` for real, with the settings of a kiosk whose state is in `state_dir`
    (the command never calls upstream)."""
    settings = {"KIOSK_STATE_DIR": str(state_dir), "KIOSK_API_URL": "http://127.0.0.1:9",
                "KIOSK_API_EMAIL": "shop@example.com", "KIOSK_API_PASSWORD": "-",
                "KIOSK_SECRET_KEY": "test-secret-key-0123456789"}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "keys", *args], capture_output=True,
                          text=True, env={**os.environ, **settings, **env})


def make_key(state_dir: Path, name: str, **env: str) -> str:
    done = keys_cli(state_dir, "create", name, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Till:
    """A till speaking the API with its key."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url + "/api/v1"
        self.http = requests.Session()
        if key is not None:
            self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.http.post(self.url + path, json=json, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.url + path, timeout=30, **kw)

    def create(self, display_id: str, amount: str = "125.00", key: str | None = None,
               **fields: Any) -> requests.Response:
        return self.post("/checkouts", {"display_id": display_id, "amount": amount, **fields},
                         headers={"Idempotency-Key": key or uuid.uuid4().hex})

    def pair(self, display: DisplayBrowser, name: str = "Counter 1", mode: str = "till") -> str:
        """Pair the browser, which then looks at /display again as its poll sends it to: it
        collects its own credential there."""
        response = self.post("/displays", {"pairing_code": display.code(), "name": name, "mode": mode})
        assert response.status_code == 201, response.text
        display.id = response.json()["id"]
        display.look()
        return display.id


class DisplayBrowser:
    """A display's browser without the browser: its cookie, the screens it is sent to."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.id = ""

    def code(self) -> str:
        return pairing_code(self.http.get(self.url + "/display", timeout=10).text)

    def look(self) -> requests.Response:
        """What the display shows now (with one coin, showing an order starts its transaction)."""
        return self.http.get(self.url + "/display", timeout=30)

    def heartbeat(self) -> requests.Response:
        """The waiting screen's poll, which keeps a display online (the kiosk sends a till's
        order only to a display heard from in the last 30 s); it changes nothing else."""
        return self.http.get(self.url + "/display/poll", timeout=10)

    def poll(self, tx_id: str) -> requests.Response:
        """The pay screen's status poll, as htmx sends it."""
        return self.http.get(f"{self.url}/pay/{tx_id}/status", headers={"HX-Request": "true"}, timeout=30)

    def poll_until(self, tx_id: str, outcome: str, polls: int = 40) -> bool:
        """Poll as the pay screen does (every quarter second here) until it shows `outcome`."""
        for _ in range(polls):
            if f'data-outcome="{outcome}"' in self.poll(tx_id).text:
                return True
            time.sleep(0.25)
        return False

    def tx_id(self) -> str:
        page = self.look()
        match = re.search(r"/pay/([0-9a-f]{24})", page.url)
        assert match, f"the display shows no payment: {page.url}"
        return match.group(1)


class Heartbeats:
    """Displays polling as their screens do (every `every` seconds) for as long as a test runs
    longer than a display stays online unheard."""

    def __init__(self, displays: list[DisplayBrowser], every: float = 5.0) -> None:
        self.displays = displays
        self.every = every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            for display in self.displays:
                with contextlib.suppress(requests.RequestException):  # a busy kiosk: the next beat
                    display.heartbeat()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)


def error(response: requests.Response) -> tuple[int, str]:
    """The status and code of the API's error answer, which has exactly its shape and a message."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return response.status_code, body["error"]["code"]


def store_of(state_dir: Path) -> LocalStore:
    return LocalStore(state_dir / "kiosk.sqlite3")


class Receiver:
    """A till's webhook endpoint: checks each signature, keeps the events (and each delivery as
    it came: body and headers), can go down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: list[dict] = []
        self.ids: list[str] = []
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        self.changed = threading.Condition()
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            body, headers = request.get_data(), dict(request.headers)
            payload = Webhook(SECRET).verify(body, headers)
            with self.changed:
                self.ids.append(request.headers["webhook-id"])
                self.events.append(payload)
                self.deliveries.append((body, headers))
                self.changed.notify_all()
            return "", 204

        self.app = app
        self.server: LiveServer | None = LiveServer(app, self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def down(self) -> None:
        self.server.stop()
        self.server = None

    def up(self) -> None:
        self.server = LiveServer(self.app, self.port)

    def statuses(self, checkout_id: str) -> list[str]:
        return [e["data"]["status"] for e in self.events if e["data"]["id"] == checkout_id]

    def wait_for(self, checkout_id: str, status: str, timeout: float = 30) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: status in self.statuses(checkout_id), timeout)
        return self.statuses(checkout_id)


def kiosk_with_webhooks(sandbox_url: str, state: Path, receiver: Receiver, key_name: str,
                        **settings: str) -> Gunicorn:
    """`kiosk serve` sending its webhooks to `receiver` (retries after 0.2 s, at most 1 s apart),
    with a key for the till as `.key`."""
    hooks = {"WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET}
    kiosk = Gunicorn(sandbox_url, state, free_port(), WEBHOOK_BACKOFF="0.2/1", **hooks, **settings)
    kiosk.key = make_key(state, key_name, **{f"KIOSK_{k}": v for k, v in hooks.items()})
    kiosk.state = state
    return kiosk


def till_of(server: Any) -> Till:
    """A till of a `kiosk serve` started by a test module, with a fresh allowance of pairing codes:
    every display of those tests comes from one address."""
    store = store_of(server.state)
    for key, _value in store.items("rate:pairing/"):
        store.delete(key)
    return Till(server.url, server.key)


def display_paired_by(server: Any, till: Till) -> DisplayBrowser:
    """A display's browser on `server`, paired by `till` under a name of its own."""
    import uuid

    browser = DisplayBrowser(server.url)
    till.pair(browser, f"Counter {uuid.uuid4().hex[:4]}")
    return browser
