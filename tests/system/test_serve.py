"""`kiosk serve` as a host runs it, for real: two instances side by side on one host, and the
master stopping with its watcher. Bounded waits on conditions, never fixed sleeps."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kiosk import gunicorn_config
from kiosk.checkout import LocalStore

from ..conftest import free_port
from ..support import Customer, Gunicorn


def wait_for(what: str, check: Callable[[], object], seconds: float = 30.0) -> object:
    """Poll `check` until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (its workers and its watcher), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def watchers(pid: int) -> list[int]:
    """The watcher (`kiosk worker --parent PID`) among the children of the master `pid`."""
    def cmdline(child: int) -> str:
        try:
            return Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""
    return [child for child in children(pid) if "kiosk.cli worker" in cmdline(child)]


def exists(pid: int) -> bool:
    """Whether any process, a zombie included, has this pid."""
    return Path(f"/proc/{pid}").exists()


def unix_sockets(pid: int) -> list[str]:
    """The paths of the Unix sockets that process `pid` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    paths = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()  # Num RefCount Protocol Flags Type St Inode [Path]
        if len(fields) == 8 and fields[6] in inodes:
            paths.append(fields[7])
    return paths


# -- two instances on one host ------------------------------------------------------------------


def test_two_instances_on_one_host_share_no_control_socket(sandbox, tmp_path, monkeypatch):
    """Two `kiosk serve` on one host, one user, two state folders and two ports. gunicorn's
    control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl, or in
    XDG_RUNTIME_DIR), so the second instance took the first one's socket over. `kiosk serve`
    opens none: nothing in the home folder, nothing in either state folder, no Unix socket
    listening in either master."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the instances' home: the real one is never touched
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # gunicorn's other default place
    states = [tmp_path / "a" / "state", tmp_path / "b" / "state"]
    servers = []
    try:
        for state in states:
            state.mkdir(parents=True)
            servers.append(Gunicorn(sandbox.url, state, free_port()))
        for server, state in zip(servers, states, strict=True):
            # Each serves its screens and runs its own watcher: the master is past its start.
            assert Customer.over_http(server.url).get("/").status_code == 200
            store = LocalStore(state / "kiosk.sqlite3")
            wait_for("the watcher's heartbeat", lambda store=store: store.items("jobs:consumer:"))
            assert watchers(server.proc.pid)
        for server, state in zip(servers, states, strict=True):
            assert unix_sockets(server.proc.pid) == [], "the master listens on no Unix socket"
            assert not (home / ".gunicorn").exists()
            assert not [path for path in state.iterdir() if path.is_socket()]
    finally:
        logs = [server.stop() for server in servers]
    assert not (home / ".gunicorn").exists()  # not even left behind by a stop
    for log in logs:
        assert "Control socket" not in log and "Control server" not in log
        assert "Traceback" not in log


# -- stopping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_ends_the_watcher_and_never_starts_it_again(sandbox, tmp_path, monkeypatch, signum):
    """The signal reaches every process of the service at once, as systemd's stop does
    (KillMode=control-group, the default) and as Ctrl-C does in a terminal: the master, its web
    workers and its watcher. The master is done within gunicorn's graceful timeout, its watcher
    has ended with it, and the watcher is never started again meanwhile. On SIGTERM a customer's
    request in flight (upstream takes 3 s to create the payment) still gets its answer."""
    monkeypatch.setenv("HOME", str(tmp_path))  # whatever the server writes there stays in the test
    state = tmp_path / "state"
    state.mkdir()
    server = Gunicorn(sandbox.url, state, free_port())
    master = server.proc.pid
    try:
        [watcher] = wait_for("the watcher", lambda: watchers(master))
        store = LocalStore(state / "kiosk.sqlite3")
        wait_for("the watcher's heartbeat", lambda: store.items("jobs:consumer:"))
        sandbox.faults(latency_ms=3000, latency_next=1, only="create")
        with ThreadPoolExecutor(1) as customer:
            paying = customer.submit(Customer.over_http(server.url).start, "250")
            wait_for("the create upstream", lambda: sandbox.calls("create") == 1)
            service = [master, *children(master)]
            assert watcher in service and len(service) == 4  # the master, two workers, the watcher
            sent = time.monotonic()
            for pid in service:
                os.kill(pid, signum)
            server.proc.wait(gunicorn_config.graceful_timeout)  # TimeoutExpired fails the test
            took = time.monotonic() - sent
            if signum == signal.SIGTERM:
                assert paying.result(), "the request in flight is answered"
    finally:
        log = server.stop()
    assert took < gunicorn_config.graceful_timeout
    assert not exists(watcher), "the watcher has ended and been reaped"
    started = [int(line.rsplit("PID ", 1)[1].split()[0]) for line in log.splitlines()
               if "Huey consumer started" in line]
    assert started == [watcher], "one watcher in the server's life"
    assert "starting it again" not in log
    if signum == signal.SIGTERM:  # the watcher's graceful stop, though its SIGTERM came twice
        assert "Shutting down gracefully" in log and "All workers have stopped" in log
        assert "Received SIGINT" not in log and "shut down now" not in log
    assert "Traceback" not in log


# -- what a worker loads ------------------------------------------------------------------------

# A web worker as gunicorn runs it: the app built, a customer's checkout started, its status
# polled, the readiness probe asked. Prints what it wrote and which of the heavy libraries it loaded.
WORKER = """
import json, re, sys
from kiosk.app import create_app

app = create_app()
web = app.test_client()
html = web.get("/").get_data(as_text=True)
form = {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1) for name in ("csrf_token", "nonce")}
started = web.post("/", data={**form, "amount": "300"})
tx = started.headers["Location"].rsplit("/", 1)[1]
poll = web.get(f"/pay/{tx}/status", headers={"HX-Request": "true"})
ready = web.get("/readyz")
row = app.extensions["kiosk"].ledger.get(tx_id=tx)
heavy = ("alembic", "mako", "psycopg", "sqlalchemy.orm", "escpos", "PIL")
print(json.dumps({"started": started.status_code, "poll": poll.status_code, "ready": ready.status_code,
                  "status": row and row.status, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def worker_run(sandbox_url: str, state: Path, upgraded: bool) -> dict:
    import json
    import subprocess
    import sys

    from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

    env = {**os.environ, "KIOSK_API_URL": sandbox_url, "KIOSK_API_EMAIL": DEFAULT_EMAIL,
           "KIOSK_API_PASSWORD": DEFAULT_PASSWORD, "KIOSK_SECRET_KEY": "test-secret-key-0123456789",
           "KIOSK_STATE_DIR": str(state), "KIOSK_COINS": "TRX:TRX", "KIOSK_WATCHER": "off"}
    env.pop("KIOSK_DATABASE_URL", None)
    if upgraded:  # as `kiosk serve` does before its workers start
        subprocess.run([sys.executable, "-m", "kiosk.cli", "db", "upgrade"], env=env, check=True,
                       capture_output=True, timeout=60)
    done = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_worker_serving_customers_loads_no_migration_tool_nor_unused_driver(sandbox, tmp_path):
    """The schema is upgraded before the workers start; a worker checks its revision with one
    plain query. Alembic (and Mako, its templates), the ORM, PostgreSQL's driver on SQLite and
    the printer's libraries stay out of it: about 30 MB a worker."""
    seen = worker_run(sandbox.url, tmp_path, upgraded=True)
    assert (seen["started"], seen["poll"], seen["ready"]) == (303, 200, 200)
    assert seen["status"] == "waiting"  # the checkout's row is in the ledger
    assert seen["loaded"] == []


def test_a_worker_finding_the_schema_behind_upgrades_it_at_its_first_write(sandbox, tmp_path):
    """The edge: a ledger that was not upgraded at start (away, or a process that never
    upgrades) is brought up to date by the first write, with Alembic, and the sale is kept."""
    seen = worker_run(sandbox.url, tmp_path, upgraded=False)
    assert (seen["started"], seen["poll"]) == (303, 200)
    assert seen["status"] == "waiting"
    assert "alembic" in seen["loaded"]
