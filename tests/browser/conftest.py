"""End-to-end fixtures: the kiosk and the sandbox on loopback, driven in Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from ..support import LiveServer

CHROMIUM = os.environ.get("KIOSK_TEST_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
LANDSCAPE = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}
# Headless Debian Chromium as a test runs it: no sandbox (root in CI), no GPU, nothing fetched.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def _need(tool: str, path: str | None) -> None:
    if path and Path(path).exists():
        return
    message = f"{tool} is not installed: run `make test` as root, or `sudo apt-get install {tool}`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser(playwright_driver):
    _need("chromium", CHROMIUM)
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    yield browser
    browser.close()


@pytest.fixture
def zbarimg() -> str:
    path = shutil.which("zbarimg")
    _need("zbar-tools", path)
    return path


@pytest.fixture
def kiosk_server(make_app):
    """Start a kiosk server with the given settings (fast polling for tests)."""
    servers: list[LiveServer] = []

    def start(**settings) -> LiveServer:
        base = {"POLL_INTERVAL": 1, "RESULT_SECONDS": 3}
        server = LiveServer(make_app(share=True, **{**base, **settings}))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def watch_errors(page, errors: list[str]) -> None:
    """Collect every uncaught page error and console error of `page` into `errors`."""
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"{page.url}: {msg.text}"))


@pytest.fixture
def page(browser, request):
    """A tablet-sized page. The test fails on any console error or uncaught page error, in this
    page or any other page of its context, unless it matches a pattern the test put in
    `page.expected_errors` (a screen that is offline on purpose logs failed requests)."""
    context = browser.new_context(viewport=LANDSCAPE, has_touch=True)
    errors: list[str] = []
    context.on("page", lambda other: watch_errors(other, errors))
    page = context.new_page()
    page.set_default_timeout(15000)
    page.errors = errors
    page.expected_errors = []
    yield page
    # The errors of the test itself: servers it started stop before this page closes, and a poll
    # then in flight fails (see pytest_runtest_teardown below).
    seen = getattr(page, "errors_by_the_end", errors)
    context.close()
    unexpected = [e for e in seen if not any(re.search(p, e) for p in page.expected_errors)]
    assert unexpected == [], "errors in the browser:\n" + "\n".join(unexpected)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    """Freeze a page's errors when its test ends, before any fixture is torn down."""
    page = getattr(item, "funcargs", {}).get("page")
    if page is not None and hasattr(page, "errors"):
        page.errors_by_the_end = list(page.errors)


def shot(page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path))
    return path
