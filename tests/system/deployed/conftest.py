"""The deployment as docs/deployment.md describes it, on loopback: Debian's nginx with TLS (a
self-signed certificate made here) and the repository's own docs/deploy/nginx.conf, `kiosk serve`
(gunicorn) behind it, the sandbox as upstream, and Chromium through https://.

The nginx configuration is the documented file itself, with only its ports, certificate paths
and upstream address replaced: a change to the file is tested, and a line this fixture no longer
finds fails the suite instead of drifting.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ...browser.conftest import ARGS, CHROMIUM, LANDSCAPE, _need, watch_errors
from ...conftest import free_port
from ...support import Gunicorn

ROOT = Path(__file__).resolve().parents[3]
NGINX_CONF = ROOT / "docs" / "deploy" / "nginx.conf"
HOST = "pay.shop.example"  # the server_name in the documented file, resolved to loopback
PIN = "246810"


@dataclass
class Site:
    url: str  # https://pay.shop.example:<port>, as the tablet's browser reaches it
    http_url: str  # the plain-HTTP server that redirects to it, on 127.0.0.1
    https_port: int
    kiosk: Gunicorn
    nginx_log: Path


def _tool(name: str, *paths: str) -> str:
    found = shutil.which(name) or next((p for p in paths if Path(p).exists()), None)
    _need(name, found)
    return str(found)


def render(conf: str, *, http_port: int, https_port: int, upstream: str | list[str], cert: Path,
           key: Path) -> str:
    """The documented configuration with this run's ports, paths and upstream."""
    replacements = [
        (r"(?m)^(\s*listen\s+)80;", rf"\g<1>127.0.0.1:{http_port};", 1),
        (r"(?m)^(\s*listen\s+)443(\s)", rf"\g<1>127.0.0.1:{https_port}\g<2>", 2),
        (r"(?m)^(\s*ssl_certificate\s+)\S+;", rf"\g<1>{cert};", 1),
        (r"(?m)^(\s*ssl_certificate_key\s+)\S+;", rf"\g<1>{key};", 1),
        (r"(?m)^(\s*server\s+)127\.0\.0\.1:8000;",
         "\n".join(rf"\g<1>{one};" for one in ([upstream] if isinstance(upstream, str) else upstream)), 1),
    ]
    for pattern, replacement, expected in replacements:
        conf, count = re.subn(pattern, replacement, conf)
        assert count == expected, f"docs/deploy/nginx.conf changed shape: {pattern!r} found {count}×"
    return conf


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("nginx did not start:\n" + log.read_text()) from None
            time.sleep(0.05)


@dataclass
class Nginx:
    """Debian's nginx with the documented configuration, serving this run's certificate."""

    proc: subprocess.Popen
    http_port: int
    https_port: int
    error_log: Path
    access_log: Path

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the open requests, then stop
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_nginx(tmp: Path, upstream: str | list[str]) -> Nginx:
    """nginx in `tmp` for HOST (a self-signed certificate made here), in front of `upstream`:
    one `kiosk serve` address, or several (a fleet's hosts, taken in turn)."""
    nginx = _tool("nginx", "/usr/sbin/nginx")
    openssl = _tool("openssl", "/usr/bin/openssl")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    http_port, https_port = free_port(), free_port()
    (tmp / "kiosk.conf").write_text(render(NGINX_CONF.read_text(), http_port=http_port,
                                           https_port=https_port, upstream=upstream, cert=cert, key=key))
    # The main context a distribution's nginx.conf would give, with everything in this folder.
    # As root, nginx would switch its workers to `nobody`, who cannot write here.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"{user}worker_processes 1;\nevents {{ worker_connections 256; }}\n"
        "http {\n"
        f"  access_log {tmp}/access.log;\n"
        + "".join(f"  {kind}_temp_path {tmp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp}/kiosk.conf;\n}}\n"
    )
    error_log = tmp / "error.log"
    command = [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(error_log),
               "-g", f"daemon off; pid {tmp}/nginx.pid;"]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running = Nginx(proc, http_port, https_port, error_log, tmp / "access.log")
    try:
        _wait_for_port(https_port, proc, error_log)
    except BaseException:
        running.stop()
        raise
    return running


def launch_chromium(playwright_driver):
    """Chromium that reaches HOST on loopback and accepts this run's certificate."""
    _need("chromium", CHROMIUM)
    return playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*ARGS, "--ignore-certificate-errors", f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
    )


# Module scope: `kiosk serve` runs its watcher, which reads its open checkouts from the shared
# sandbox; stopped with this module, it never adds calls to another test's count.
@pytest.fixture(scope="module")
def site(sandbox_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("https")
    kiosk_port = free_port()
    kiosk = Gunicorn(sandbox_server.url, tmp_path_factory.mktemp("kiosk-state"), kiosk_port,
                     BEHIND_PROXY="true", SECURE_COOKIES="true", OPERATOR_PIN=PIN,
                     COINS="TRX:TRX,USDT:TRX", POLL_INTERVAL="1", CREATE_LIMIT="100/60")
    try:
        nginx = start_nginx(tmp, f"127.0.0.1:{kiosk_port}")
    except BaseException:
        kiosk.stop()
        raise
    try:
        yield Site(url=f"https://{HOST}:{nginx.https_port}", http_url=f"http://127.0.0.1:{nginx.http_port}",
                   https_port=nginx.https_port, kiosk=kiosk, nginx_log=nginx.error_log)
    finally:
        nginx.stop()
        kiosk.stop()


@pytest.fixture(scope="module")
def https_browser(site, playwright_driver):
    browser = launch_chromium(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture
def tablet(https_browser):
    """Opens a fresh browser profile, as a tablet that has never seen the kiosk. Any console
    error or uncaught page error fails the test, unless it matches a pattern in
    `page.expected_errors` (shared by the test's pages)."""
    contexts, errors, expected = [], [], []

    def open_page():
        context = https_browser.new_context(viewport=LANDSCAPE, has_touch=True)
        contexts.append(context)
        context.on("page", lambda other: watch_errors(other, errors))
        page = context.new_page()
        page.set_default_timeout(15000)
        page.errors, page.expected_errors = errors, expected
        return page

    yield open_page
    for context in contexts:
        context.close()
    unexpected = [e for e in errors if not any(re.search(p, e) for p in expected)]
    assert unexpected == [], "errors in the browser:\n" + "\n".join(unexpected)


@pytest.fixture
def page(tablet):
    return tablet()
