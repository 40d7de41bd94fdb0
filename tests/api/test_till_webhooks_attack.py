"""Webhook receivers that misbehave, over real sockets: one that drips its answer, one that
answers late, one that redirects, one that refuses, one that sends a huge body, and a webhook
URL pointing at the kiosk itself. Delivery stays bounded in time, follows no redirect, logs
neither the secret nor the URL, and changes nothing in the kiosk."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from decimal import Decimal

import pytest

from kiosk.displays import Order, OrderState
from kiosk.tills import webhooks as webhooks_module

from ..api_support import SECRET, Receiver
from ..support import LiveServer

TIMEOUT = 1.0  # the receiver's allowance in these tests (5 s in the kiosk)


class Hostile:
    """A receiver on a raw socket: reads the whole request, then answers with `answer(conn)`."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook?token=receiver-token-s3cr3t"
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            with contextlib.suppress(OSError):  # the kiosk hung up: what a bounded delivery does
                self.answer(conn)

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


def drip(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
    for _ in range(40):  # 10 s in all, each byte well within the read timeout
        time.sleep(0.25)
        conn.sendall(b"x")


def late(conn: socket.socket) -> None:
    time.sleep(TIMEOUT * 3)
    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")


def huge(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(16384):
        conn.sendall(chunk)


def status(code: int, extra: bytes = b""):
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n%s\r\n" % (code, extra))
    return answer


@pytest.fixture
def hooks(make_app, monkeypatch):
    monkeypatch.setattr(webhooks_module, "TIMEOUT", TIMEOUT)
    app = make_app(WEBHOOK_URL="http://127.0.0.1:9/unused", WEBHOOK_SECRET=SECRET, WEBHOOK_BACKOFF="5/3600")
    return app.extensions["kiosk"].webhooks


def one_event(hooks) -> str:
    """A checkout's first status, in its outbox as the orders put it there."""
    order = Order("chk_00112233445566ff", "a1b2c3d4e5f6", Decimal("20.00"), "TRY", "till-1", None, (),
                  time.time(), time.time() + 600, "api")
    hooks.changed(OrderState(order, "pending"), {})
    return order.id


def deliver_timed(hooks, checkout_id: str) -> tuple[float | None, float]:
    started = time.monotonic()
    again = hooks.deliver(checkout_id)
    return again, time.monotonic() - started


def test_a_receiver_that_drips_its_answer_holds_delivery_no_longer_than_its_allowance(hooks):
    receiver = Hostile(drip)
    try:
        hooks.url = receiver.url
        again, took = deliver_timed(hooks, one_event(hooks))
        assert took < TIMEOUT + 1.5, took
        assert receiver.requests == 1
        assert again is None  # it answered 200: delivered, whatever its body does afterwards
    finally:
        receiver.stop()


def test_a_huge_answer_is_never_read(hooks):
    receiver = Hostile(huge)
    try:
        hooks.url = receiver.url
        again, took = deliver_timed(hooks, one_event(hooks))
        assert took < TIMEOUT + 1.5, took
        assert again is None
    finally:
        receiver.stop()


def test_a_receiver_that_answers_late_is_tried_again(hooks, caplog):
    caplog.set_level(logging.INFO, logger="kiosk")
    receiver = Hostile(late)
    try:
        hooks.url = receiver.url
        checkout_id = one_event(hooks)
        again, took = deliver_timed(hooks, checkout_id)
        assert took < TIMEOUT + 1.5, took
        assert again is not None and len(hooks.pending(checkout_id)) == 1
    finally:
        receiver.stop()
    assert_no_secret_logged(caplog)


@pytest.mark.parametrize("code", [301, 302, 307, 308, 400, 401, 404, 410, 500, 502, 503])
def test_a_redirect_or_a_refusal_is_not_followed_and_tried_again_with_back_off(hooks, caplog, code):
    caplog.set_level(logging.INFO, logger="kiosk")
    elsewhere = Receiver()
    receiver = Hostile(status(code, f"Location: {elsewhere.url}\r\n".encode()))
    try:
        hooks.url = receiver.url
        checkout_id = one_event(hooks)
        first = time.time()
        again = hooks.deliver(checkout_id)
        assert again is not None and 4 <= again - first <= 6  # the first back-off: 5 s
        again = hooks.deliver(checkout_id)
        assert again is not None and 9 <= again - first <= 11  # then doubled
        assert receiver.requests == 2 and elsewhere.events == []
        assert len(hooks.pending(checkout_id)) == 1
    finally:
        receiver.stop()
        elsewhere.server.stop()
    assert f"HTTP {code}" in caplog.text
    assert_no_secret_logged(caplog)


def test_a_webhook_url_pointing_at_the_kiosk_itself_changes_nothing(make_app, hooks, caplog):
    kiosk_app = make_app()
    server = LiveServer(kiosk_app)
    try:
        for path in ("/api/v1/checkouts", "/api/v1/displays", "/display/cancel", "/operator/keys/x/revoke"):
            hooks.url = server.url + path
            checkout_id = one_event(hooks)
            assert hooks.deliver(checkout_id) is not None, path  # refused: tried again later
        services = kiosk_app.extensions["kiosk"]
        assert services.orders.recent() == [] and services.displays.all() == []
    finally:
        server.stop()


def assert_no_secret_logged(caplog) -> None:
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in (SECRET, SECRET.removeprefix("whsec_"), "receiver-token-s3cr3t"):
        assert secret not in text
