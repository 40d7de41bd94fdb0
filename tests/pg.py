"""A real PostgreSQL for the ledger's tests: Debian's `postgresql`, a cluster made with initdb in
a temporary folder and started with pg_ctl on a free loopback port, stopped after the run.

PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user that
Debian's package creates, and its programs run through `runuser -u postgres --`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

MISSING = ("PostgreSQL is not installed: run `make test` as root, or apt-get install postgresql")


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on the PATH, or Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    return Path(folders[-1]) if folders and os.path.exists(f"{folders[-1]}/initdb") else None


def require() -> Path:
    """The binaries, or skip (a failure under CI=true, like Redis and nginx)."""
    folder = binaries()
    if folder is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return folder


class Postgres:
    def __init__(self, port: int) -> None:
        self.bin = require()
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, PostgreSQL needs the `postgres` user its package makes")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres",
                  "--encoding=UTF8", "--no-sync")
        options = (f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self.options = options
        self.start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.prefix, str(self.bin / program), *args], capture_output=True,
                              text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "log"
            raise AssertionError(f"{program} failed: {done.stdout}{done.stderr}"
                                 + (log.read_text() if log.exists() else ""))

    def database(self) -> str:
        """A new, empty database of its own: the URL to reach it."""
        import psycopg

        name = f"t{time.time_ns()}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.url}/{name}"

    def forget(self, url: str) -> None:
        """End the connections a test's engines left open to its database (pools outlive tests)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                         (name,))

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-o", self.options, "-l", str(self.root / "log"), "-w",
                  "-t", "60", "start")

    def halt(self) -> None:
        """Stop the server, keeping its data (`start` brings it back): the database down for a while.
        Open connections are ended, as when a database host goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Running(Postgres):
    """A cluster already running on a loopback port (trust authentication), named by
    KIOSK_TEST_POSTGRES_PORT: `make mutate` starts one for its run, as every mutant's tests would
    otherwise make and start a cluster of their own. It is never stopped or halted from here."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"

    def forget(self, url: str) -> None:
        """The test's database dropped: a run of thousands of tests on one cluster keeps none."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def halt(self) -> None:
        raise AssertionError("a shared cluster is never halted: leave KIOSK_TEST_POSTGRES_PORT unset")

    def start(self) -> None:
        raise AssertionError("a shared cluster is never started from a test")

    def stop(self) -> None:
        pass


if __name__ == "__main__":
    # `scripts/mutate`: one cluster for the whole run on the port given, stopped on SIGTERM.
    import signal
    import sys

    server = Postgres(int(sys.argv[1]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        signal.pause()
    finally:
        server.stop()
