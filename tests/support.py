"""Helpers shared by the tests: live servers on loopback and a sandbox remote control."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import requests
from werkzeug.serving import make_server


class LiveServer:
    """A WSGI app served over real HTTP on 127.0.0.1, on a free port or a given one."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class Sandbox(LiveServer):
    """The sandbox running for real, with its controls wrapped for readable tests."""

    @property
    def state(self) -> Any:
        return self.app.extensions["sandbox"]

    def pay(self, tx_id: str, amount: Decimal | str | None = None, share: str | None = None) -> dict:
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = str(amount)
        if share:
            body["share"] = share
        r = requests.post(f"{self.url}/sandbox/transactions/{tx_id}/pay", json=body, timeout=5)
        r.raise_for_status()
        return r.json()["data"]

    def faults(self, **values: Any) -> None:
        requests.post(f"{self.url}/sandbox/faults", json=values, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/sandbox/faults", timeout=5).raise_for_status()

    def calls(self, name: str) -> int:
        stats = requests.get(f"{self.url}/sandbox/stats", timeout=5).json()
        return int(stats["calls"].get(name, 0))

    def transactions(self) -> list[dict]:
        return requests.get(f"{self.url}/sandbox/transactions", timeout=5).json()

    def reset(self) -> None:
        requests.post(f"{self.url}/sandbox/reset", timeout=5).raise_for_status()
