"""What every benchmark shares: the sandbox and `kiosk serve` as real processes on loopback,
and small tools to drive and measure them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]

PY = sys.executable

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def wait_up(url: str, seconds: float = 120) -> None:  # a busy machine starts gunicorn slowly
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):  # still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]

@contextmanager
def sandbox():
    port = free_port()
    proc = subprocess.Popen([PY, "-m", "kiosk.cli", "sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/sandbox/stats")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def kiosk_env(sandbox_url: str, state: Path, port: int = 0, **settings: str) -> dict[str, str]:
    """The environment of a kiosk on `port` with its state in `state`, upstream the sandbox."""
    return {**os.environ, "KIOSK_BIND": f"127.0.0.1:{port}", "KIOSK_WORKERS": "2",
            "KIOSK_API_URL": sandbox_url, "KIOSK_API_EMAIL": "merchant@sandbox.test",
            "KIOSK_API_PASSWORD": "sandbox-password", "KIOSK_SECRET_KEY": "bench-secret-key-0123456789",
            "KIOSK_STATE_DIR": str(state), "KIOSK_COINS": "TRX:TRX", "KIOSK_CREATE_LIMIT": "99999/60",
            **{f"KIOSK_{k}": v for k, v in settings.items()}}


@contextmanager
def kiosk(sandbox_url: str, state: Path, workers: int = 2, **settings: str):
    port = free_port()
    env = kiosk_env(sandbox_url, state, port, WORKERS=str(workers), **settings)
    shutil.rmtree(state, ignore_errors=True)  # every run starts from nothing
    state.mkdir(parents=True)
    log = open(state / "gunicorn.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([PY, "-m", "kiosk.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/healthz")
        time.sleep(0.5)
        yield url, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()


def browser_like() -> requests.Session:
    """A session that, like a browser, resends an idempotent GET once when a kept-alive
    connection was closed under it (the server's keep-alive timeout racing the request)."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    http = requests.Session()
    http.mount("http://", HTTPAdapter(max_retries=Retry(total=1, connect=1, read=1, status=0,
                                                         allowed_methods={"GET"})))
    return http

def stats(sandbox_url: str) -> dict[str, int]:
    return requests.get(sandbox_url + "/sandbox/stats", timeout=5).json()["calls"]

def field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)

def start_checkout(http: requests.Session, url: str, amount: str = "100") -> str:
    html = http.get(url + "/", timeout=10).text
    r = http.post(url + "/", data={"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                                   "amount": amount}, allow_redirects=False, timeout=10)
    return r.headers["Location"].rsplit("/", 1)[1]

def workers_of(master: int) -> list[int]:
    """gunicorn's web workers (not the watcher's consumer, also a child of the master)."""
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()
            if b"worker" not in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")]

def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024

def flat_out(url: str, clients: list, seconds: float, request_of) -> tuple[float, float, int]:
    """Every client (a requests.Session and what it polls for) asks as fast as it can for
    `seconds`: requests per second, p99 latency in ms, and how many were answered.
    `request_of(client)` gives the path and the headers of its next request."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def run(client) -> None:
        mine = []
        while time.monotonic() < stop:
            path, headers = request_of(client)
            t = time.perf_counter()
            r = client[0].get(url + path, headers=headers, timeout=20)
            r.raise_for_status()
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / seconds, pct(latencies, 99), len(latencies)

def static_path(http: requests.Session, url: str) -> str:
    html = http.get(url + "/display", timeout=10).text
    return re.search(r'href="(/static/kiosk\.css\?v=[^"]+)"', html).group(1)

BENCH_PIN = "135790"
