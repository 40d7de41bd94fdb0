"""Helpers shared by the tests: live servers on loopback and a sandbox remote control."""

from __future__ import annotations

import re
import threading
import time
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
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
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

    def all_calls(self) -> dict[str, int]:
        """How often each upstream endpoint was called, by name."""
        return dict(requests.get(f"{self.url}/sandbox/stats", timeout=5).json()["calls"])

    def transactions(self) -> list[dict]:
        return requests.get(f"{self.url}/sandbox/transactions", timeout=5).json()

    def reset(self) -> None:
        requests.post(f"{self.url}/sandbox/reset", timeout=5).raise_for_status()


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


class Customer:
    """A customer at the kiosk: the requests the screens make, over Flask's test client
    (`Customer(app.test_client())`) or over real HTTP (`Customer.over_http(url)`). The one way
    tests drive the customer screens without a browser."""

    def __init__(self, web: Any, sandbox: Sandbox | None = None) -> None:
        self.web = web  # a Flask test client, or an _Http
        self.sandbox = sandbox

    @classmethod
    def over_http(cls, url: str, session: requests.Session | None = None) -> Customer:
        return cls(_Http(url, session or requests.Session()))

    # -- requests, without following redirects: the tests check where each answer leads

    def get(self, path: str, **kw: Any):
        return self.web.get(path, **kw)

    def post(self, path: str, data: dict, **kw: Any):
        return self.web.post(path, data=data, **kw)

    def token(self, path: str = "/") -> str:
        """This session's CSRF token, from the screen at `path` (by default whatever the kiosk
        shows now)."""
        return field(self.web.get(path, follow_redirects=True).text, "csrf_token")

    # -- the journey

    def amount_page(self) -> str:
        return self.web.get("/").text

    def enter(self, amount: str, **extra: str):
        html = self.amount_page()
        return self.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                               "amount": amount, **extra})

    def choose(self, coin: str = "TRX-TRX", nonce: str | None = None):
        html = self.web.get("/coin").text
        return self.post("/coin", {"csrf_token": field(html, "csrf_token"),
                                   "nonce": nonce or field(html, "nonce"), "coin": coin})

    def start(self, amount: str = "300", coin: str = "TRX-TRX") -> str:
        """Amount, then the coin when the kiosk offers several: the new transaction's id."""
        response = self.enter(amount)
        if response.status_code == 302 and response.headers["Location"] == "/coin":
            response = self.choose(coin)
        assert response.status_code == 303, response.text[:500]
        return response.headers["Location"].rsplit("/", 1)[1]

    def status(self, tx_id: str):
        """The status fragment, as htmx polls it."""
        return self.web.get(f"/pay/{tx_id}/status", headers={"HX-Request": "true"})

    def poll(self, tx_id: str) -> tuple[str, str | None]:
        """What the status fragment says (with "+reconnecting" while upstream is away), and
        where it sends the screen when final."""
        response = self.status(tx_id)
        assert response.status_code == 200
        outcome = response.text.split('data-outcome="', 1)[1].split('"', 1)[0]
        if "reconnecting" in response.text:
            outcome += "+reconnecting"
        return outcome, response.headers.get("HX-Redirect")

    def result(self, tx_id: str) -> str:
        """The result screen's word: paid, cancelled, expired, partial, see_cashier."""
        html = self.web.get(f"/result/{tx_id}").text
        return html.split('data-testid="result-', 1)[1].split('"', 1)[0]

    def cancel(self, tx_id: str, token: str | None = None):
        if token is None:
            token = field(self.web.get(f"/pay/{tx_id}").text, "csrf_token")
        return self.post(f"/pay/{tx_id}/cancel", {"csrf_token": token})

    def next_customer(self) -> None:
        self.post("/done", {"csrf_token": self.token()})

    def staff_end(self, tx_id: str, pin: str):
        """Staff end a result that waits for them (a partial payment) with their PIN on the screen."""
        return self.post(f"/result/{tx_id}/release", {"csrf_token": self.token(f"/result/{tx_id}"),
                                                       "pin": pin})


class _Http:
    """The part of Flask's test client that Customer uses, over real HTTP."""

    def __init__(self, url: str, session: requests.Session) -> None:
        self.url = url
        self.http = session

    def get(self, path: str, follow_redirects: bool = False, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, allow_redirects=follow_redirects, timeout=20, **kw)

    def post(self, path: str, data: dict, follow_redirects: bool = False, **kw: Any) -> requests.Response:
        return self.http.post(self.url + path, data=data, allow_redirects=follow_redirects, timeout=20,
                              **kw)


class Gunicorn:
    """`kiosk serve` for real: gunicorn with its workers, on a free port, logging to a file."""

    def __init__(self, sandbox_url: str, state_dir, port: int, **settings: str) -> None:
        import os
        import subprocess
        import sys

        from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

        self.url = f"http://127.0.0.1:{port}"
        self.log_path = state_dir / "gunicorn.log"
        self.access_path = state_dir / "access.log"
        # The access log, for tests only: which worker process (pid) served each request.
        access = f"--access-logfile {self.access_path} --access-logformat '%(p)s %(m)s %(U)s'"
        env = {**os.environ, "GUNICORN_CMD_ARGS": access,
               "KIOSK_BIND": f"127.0.0.1:{port}", "KIOSK_WORKERS": "2",
               "KIOSK_API_URL": sandbox_url, "KIOSK_API_EMAIL": DEFAULT_EMAIL,
               "KIOSK_API_PASSWORD": DEFAULT_PASSWORD, "KIOSK_SECRET_KEY": "test-secret-key-0123456789",
               "KIOSK_STATE_DIR": str(state_dir), "KIOSK_COINS": "TRX:TRX",
               **{f"KIOSK_{k}": v for k, v in settings.items()}}
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "serve"], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90  # a busy machine: imports and the ledger's upgrade first
        while True:
            try:
                requests.get(self.url + "/healthz", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):  # still starting
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("gunicorn did not start:\n" + self.log_path.read_text()) from None
                time.sleep(0.2)

    def workers(self, path_part: str) -> list[int]:
        """The pids of the worker processes that served requests whose path has `path_part`,
        in the order served."""
        if not self.access_path.exists():
            return []
        lines = [line.split() for line in self.access_path.read_text().splitlines()]
        return [int(p.strip("<>")) for p, _, path in (x for x in lines if len(x) == 3) if path_part in path]

    def stop(self) -> str:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self._log.close()
        return self.log_path.read_text()


# -- displays and staff ------------------------------------------------------------------------

STAFF_PIN = "135790"  # the operator PIN the display tests run with
CASHIER_PIN = "246810"


def unlock_staff(web, pin: str = STAFF_PIN, path: str = "/operator"):
    """Enter a PIN on the operator's (or, with path="/till", the console's) PIN screen."""
    html = web.get(path).get_data(as_text=True)
    return web.post(path, data={"csrf_token": field(html, "csrf_token"), "pin": pin})


def pairing_code(html: str) -> str:
    match = re.search(r'data-testid="pairing-code">([A-Z0-9]{6})<', html)
    assert match, "no pairing code in the page"
    return match.group(1)


def pair_display(staff, display, name: str = "Counter 1", mode: str = "till") -> str:
    """Pair the browser `display` (a test client) from the operator area of `staff` (unlocked),
    then let it look at /display again, as its poll sends it to: it collects its own credential
    there. Returns the display's id."""
    code = pairing_code(display.get("/display").get_data(as_text=True))
    html = staff.get("/operator/displays").get_data(as_text=True)
    response = staff.post("/operator/displays", data={
        "csrf_token": field(html, "csrf_token"), "code": code, "name": name, "mode": mode})
    assert response.status_code == 303, response.get_data(as_text=True)
    display.get("/display")
    return response.headers["Location"].rsplit("paired=", 1)[1]


def fill_redis(client) -> int:
    """Write to a Redis with a maxmemory and noeviction until it refuses writes, even the smallest;
    returns the number of keys written. Redis counts its clients' buffers as memory, and buffers
    left from earlier traffic shrink within a second or two: what they free is written over at
    once, until small writes have been refused for two seconds in a row. (The large writes' own
    connection is closed first, for the same reason.)"""
    import redis

    filled = 0
    for size in (65536, 16):
        try:
            while filled < 100_000:
                client.set(f"filler:{filled}", b"x" * size)
                filled += 1
        except redis.exceptions.OutOfMemoryError:
            client.close()
        else:
            raise AssertionError("Redis took 100000 writes: is its maxmemory set?")
    deadline, refused_since = time.monotonic() + 30, time.monotonic()
    while time.monotonic() - refused_since < 2:
        assert time.monotonic() < deadline, "Redis keeps taking writes"
        try:
            client.set(f"filler:{filled}", b"x" * 16)
            filled, refused_since = filled + 1, time.monotonic()
        except redis.exceptions.OutOfMemoryError:
            time.sleep(0.05)
    return filled


def as_from_a_terminal() -> None:
    """For a child that a test stops with Ctrl-C: SIGINT handled as a terminal's process has it
    (default, unblocked), whatever the test runner's process inherited or set."""
    import signal

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DemoDidNotStop(AssertionError):
    """A demo still running `seconds` after SIGINT (the open defect the demo tests are marked with)."""


def stop_with_ctrl_c(proc: Any, seconds: float = 60) -> str:
    """SIGINT to a demo started with `as_from_a_terminal` (and PYTHONFAULTHANDLER=1 in its
    environment); its whole output once it has ended. If it has not ended within `seconds`: where
    each of its threads stands (SIGABRT makes faulthandler print every thread's stack) and its
    signal state from /proc, in the failure and in test-output/demo-stop-PID.txt."""
    import signal
    import subprocess
    from pathlib import Path

    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=seconds)
        return str(out)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        masks = "\n".join(line for line in status.splitlines()
                          if line.startswith(("Sig", "ShdPnd", "Threads")))
        proc.send_signal(signal.SIGABRT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        report = f"{masks}\n--- its output, then its threads' stacks ---\n{out}"
        folder = Path(__file__).resolve().parents[1] / "test-output"
        folder.mkdir(exist_ok=True)
        (folder / f"demo-stop-{proc.pid}.txt").write_text(report)
        raise DemoDidNotStop(f"the demo did not stop within {seconds} s of SIGINT:\n{report[-8000:]}",
                             ) from None
