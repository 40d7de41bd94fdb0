"""The Cryptom Pay client against the sandbox over real HTTP on loopback."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from kiosk.cryptom import (
    AuthError,
    CryptomClient,
    FileTokenStore,
    NotFound,
    Rejected,
    Status,
    Unavailable,
)
from kiosk.cryptom.tokens import MemoryTokenStore
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD, create_sandbox_app

from ..support import Sandbox


def new_tx(client: CryptomClient, amount: str = "300", coin: str = "TRX"):
    return client.create_transaction("TRY", Decimal(amount), coin, "TRX")


def test_create_then_detail_returns_typed_transaction(client, sandbox):
    tx = client.create_transaction("TRY", Decimal("300.50"), "TRX", "TRX",
                                   user_mobile="+905551112233", status_note="Table 4")
    assert len(tx.id) == 24 and int(tx.id, 16) >= 0
    assert tx.currency_amount == Decimal("300.5")
    assert tx.coin_amount == (Decimal("300.50") / Decimal("12.50")).quantize(Decimal("0.000001"))
    assert isinstance(tx.coin_amount, Decimal)
    assert tx.status is Status.PENDING and not tx.is_paid and not tx.is_partial
    assert tx.wallet and tx.wallet.id > 2**53 and tx.address.startswith("T")
    assert tx.user_mobile == "+905551112233" and tx.status_note == "Table 4"
    assert tx.reserved_until > tx.reserved_from
    again = client.transaction(tx.id)
    assert again.id == tx.id and again.wallet.id == tx.wallet.id  # exact, no float rounding
    assert sandbox.calls("auth") == 1


def test_partial_then_complete(client, sandbox):
    tx = new_tx(client)
    sandbox.pay(tx.id, share="half")
    half = client.transaction(tx.id)
    assert half.status is Status.TRANSFERRED
    assert half.is_partial and not half.is_paid
    assert half.amount_due == tx.coin_amount - half.total_transfer_amount > 0
    sandbox.pay(tx.id, share="full")
    paid = client.transaction(tx.id)
    assert paid.is_paid and not paid.is_partial
    assert paid.total_transfer_amount == tx.coin_amount


def test_cancel_pending_and_refuse_cancel_of_paid(client, sandbox):
    tx = new_tx(client)
    client.cancel(tx.id)
    assert client.transaction(tx.id).is_cancelled
    paid = new_tx(client)
    sandbox.pay(paid.id, share="full")
    with pytest.raises(Rejected) as err:
        client.cancel(paid.id)
    assert "cannot be cancelled" in err.value.message
    assert client.transaction(paid.id).is_paid


def test_qr_is_png_of_the_wallet(client, sandbox):
    tx = new_tx(client)
    png = client.qr_png(tx.id)
    assert png.startswith(b"\x89PNG") and len(png) > 200


def test_unknown_id_is_not_found(client, sandbox):
    with pytest.raises(NotFound):
        client.transaction("6338cb9cd4cb3327e706ddb1")
    with pytest.raises(NotFound):
        client.transaction("../auth")  # never reaches upstream


def test_invalid_create_is_rejected_with_upstream_message(client, sandbox):
    with pytest.raises(Rejected, match="Unsupported coin/network"):
        client.create_transaction("TRY", Decimal(10), "DOGE", "TRX")
    with pytest.raises(Rejected, match="greater than 0"):
        client.create_transaction("TRY", Decimal(0), "TRX", "TRX")
    assert sandbox.transactions() == []


def test_wrong_credentials_raise_auth_error(sandbox):
    bad = CryptomClient(sandbox.url, DEFAULT_EMAIL, "wrong")
    with pytest.raises(AuthError, match="refused the login"):
        bad.transaction("6338cb9cd4cb3327e706ddb1")


@pytest.fixture(params=["memory", "file", "redis"])
def token_store(request, tmp_path):
    """Where the workers of one host (or a fleet) share the token, and a refused login."""
    if request.param == "redis":
        import redis

        from kiosk.cryptom import RedisTokenStore

        return lambda: RedisTokenStore(redis.Redis.from_url(request.getfixturevalue("redis_url")))
    if request.param == "file":
        return lambda: FileTokenStore(tmp_path / "token.json")
    shared = MemoryTokenStore()
    return lambda: shared


def test_a_refused_login_is_not_tried_again_at_once(sandbox, token_store):
    """Wrong credentials, and every tablet polling: upstream gets one login every 30 s, then every
    60, 120, 240 and at most 300 s, from all the workers sharing the token store together, so the
    merchant's account is not hammered (and perhaps locked) by the kiosk."""
    tablets = [CryptomClient(sandbox.url, DEFAULT_EMAIL, "wrong", token_store=token_store())
               for _ in range(3)]
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        for logins, pause in enumerate((30, 60, 120, 240, 300, 300), start=1):
            for tablet in tablets:
                with pytest.raises(AuthError, match="refused the login"):
                    tablet.transaction("6338cb9cd4cb3327e706ddb1")
            assert sandbox.calls("auth") == logins
            clock.shift(pause - 0.001)
            with pytest.raises(AuthError, match="tries again in 1 s"):
                tablets[0].transaction("6338cb9cd4cb3327e706ddb1")
            assert sandbox.calls("auth") == logins
            clock.shift(0.001)


def test_new_credentials_log_in_at_once_and_end_the_pause(sandbox, token_store):
    """The shop fixes the password and restarts: the new login is not held back by the old
    refusal, and its success ends the back-off."""
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        wrong = CryptomClient(sandbox.url, DEFAULT_EMAIL, "wrong", token_store=token_store())
        for _ in range(3):
            with pytest.raises(AuthError):
                wrong.transaction("6338cb9cd4cb3327e706ddb1")
            clock.shift(300)
        fixed = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, token_store=token_store())
        assert new_tx(fixed).coin == "TRX"
        assert sandbox.calls("auth") == 4
        fixed.tokens.save(None)  # the token is lost: the next refusal starts at 30 s again
        with pytest.raises(AuthError, match="refused the login"):
            wrong.transaction("6338cb9cd4cb3327e706ddb1")
        clock.shift(30)
        with pytest.raises(AuthError, match="refused the login"):
            wrong.transaction("6338cb9cd4cb3327e706ddb1")
        assert sandbox.calls("auth") == 6


def test_token_renewed_from_expires_not_jwt_exp(sandbox_server):
    # A sandbox whose tokens live 1.5 s: the JWT's exp claims 1500 s.
    server = Sandbox(create_sandbox_app({"SANDBOX_TOKEN_TTL_MS": 1500}))
    try:
        with time_machine.travel(time.time(), tick=False) as clock:
            client = CryptomClient(server.url, DEFAULT_EMAIL, DEFAULT_PASSWORD)
            tx = new_tx(client)
            assert server.calls("auth") == 1
            clock.shift(1.6)
            client.transaction(tx.id)
        # Renewed ahead of expiry from `expires`, so no request was refused with 401.
        assert server.calls("auth") == 2
        assert server.calls("detail") == 1
    finally:
        server.stop()


def test_revoked_token_reauthenticates_once_and_retries(client, sandbox):
    tx = new_tx(client)
    sandbox.faults(revoke_tokens=True)
    assert client.transaction(tx.id).id == tx.id
    assert sandbox.calls("auth") == 2
    assert sandbox.calls("detail") == 2  # the refused call and its one retry


def test_token_shared_between_processes_through_file_store(sandbox, tmp_path):
    store_path = tmp_path / "token.json"
    clients = [
        CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD,
                      token_store=FileTokenStore(store_path))
        for _ in range(4)
    ]
    tx = new_tx(clients[0])
    threads = [threading.Thread(target=c.transaction, args=(tx.id,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sandbox.calls("auth") == 1
    assert oct(store_path.stat().st_mode & 0o777) == "0o600"


def test_5xx_is_unavailable_and_gets_are_retried_once(client, sandbox):
    tx = new_tx(client)
    sandbox.faults(fail_next=1)
    assert client.transaction(tx.id).id == tx.id  # one retry hides one failure
    sandbox.faults(fail_next=2)
    with pytest.raises(Unavailable):
        client.transaction(tx.id)


def test_create_is_never_retried(client, sandbox):
    client.authenticate()
    sandbox.faults(fail_next=1)
    with pytest.raises(Unavailable):
        new_tx(client)
    assert sandbox.calls("create") == 1
    assert sandbox.transactions() == []


def test_not_found_page_in_html_is_unavailable_not_not_found(client, sandbox):
    """A 404 page from a proxy in front of upstream says nothing about the transaction."""
    tx = new_tx(client)
    sandbox.faults(fail_next=1, fail_status=404, fail_body="html", only="detail")
    with pytest.raises(Unavailable, match="HTTP 404: 404 Not Found"):
        client.transaction(tx.id)
    sandbox.faults(fail_next=1, fail_status=404, fail_body="json", only="detail")
    with pytest.raises(NotFound):
        client.transaction(tx.id)


def test_html_error_body_gives_a_clear_error(client, sandbox):
    tx = new_tx(client)
    sandbox.faults(fail_next=2, fail_status=502, fail_body="html")
    with pytest.raises(Unavailable, match="HTTP 502: 502 Bad Gateway"):
        client.transaction(tx.id)


def test_body_that_is_not_json_is_unavailable(client, sandbox):
    tx = new_tx(client)
    sandbox.faults(fail_next=1, fail_body="garbage")
    with pytest.raises(Unavailable, match="not JSON"):
        client.transaction(tx.id)


def test_read_timeout_is_unavailable(sandbox):
    client = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, read_timeout=0.3)
    client.authenticate()
    sandbox.faults(latency_ms=800)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="in time"):
        client.history()
    assert time.monotonic() - started < 0.8  # a timeout is not retried


def test_an_answer_that_drips_in_is_cut_at_the_deadline(sandbox):
    """Each byte arrives well within the read timeout, but the whole answer would take minutes:
    the kiosk gives up once the answer as a whole is late, so no screen waits on it."""
    client = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD, read_timeout=1.0)
    tx = new_tx(client)
    sandbox.faults(fail_next=1, fail_body="drip", only="detail")
    started = time.monotonic()
    with pytest.raises(Unavailable, match="in time"):
        client.transaction(tx.id)
    assert time.monotonic() - started < 3.0  # read timeout + 1 s, and one byte's wait at most
    assert client.transaction(tx.id).id == tx.id  # the next answer, whole and quick, is read


def test_a_huge_answer_is_refused_not_held_in_memory(client, sandbox):
    tx = new_tx(client)
    sandbox.faults(fail_next=1, fail_body="huge", only="detail")
    with pytest.raises(Unavailable, match="too large"):
        client.transaction(tx.id)
    assert client.transaction(tx.id).id == tx.id


def test_connection_refused_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CryptomClient(f"http://127.0.0.1:{port}", "a", "b")
    with pytest.raises(Unavailable, match="cannot reach"):
        client.transaction("6338cb9cd4cb3327e706ddb1")


def test_history_filters_and_pagination(client, sandbox):
    ids = [new_tx(client, amount=str(10 + i)).id for i in range(12)]
    usdt = new_tx(client, amount="99", coin="USDT")
    first = client.history(page=1, limit=10)
    assert first.total_docs == 13 and first.total_pages == 2 and first.has_next_page
    assert first.results[0].id == usdt.id  # newest first
    last = client.history(page=2, limit=10)
    assert len(last.results) == 3 and not last.has_next_page and last.prev_page == 1
    beyond = client.history(page=5, limit=10)
    assert beyond.results == [] and beyond.total_pages == 2
    only_usdt = client.history({"coin": "USDT"})
    assert [t.id for t in only_usdt.results] == [usdt.id]
    by_amount = client.history({"currencyAmount": "15"})
    assert [t.id for t in by_amount.results] == [ids[5]]
    by_seq = client.history({"sequenceID": first.results[-1].sequence_id})
    assert len(by_seq.results) == 1
    by_wallet = client.history({"walletAddress": usdt.address})
    assert [t.id for t in by_wallet.results] == [usdt.id]
    client.cancel(ids[0])
    cancelled = client.history({"status": "CANCELLED"})
    assert [t.id for t in cancelled.results] == [ids[0]]
    empty = client.history({"status": "DONE"})
    assert empty.results == [] and empty.total_pages == 1 and empty.total_docs == 0
    # populated merchant objects become ids
    assert first.results[0].merchant_id and len(first.results[0].merchant_id) == 24


class _Fixed(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_unknown_status_and_string_booleans_are_tolerated():
    class Handler(_Fixed):
        body = (
            b'{"status":true,"accessToken":"x","expires":{"accessToken":3600000},'
            b'"data":{"_id":"6338cb9cd4cb3327e706ddb1","status":"SOMETHING_NEW",'
            b'"isTransferComplete":"true","coinAmount":12.5,"totalTransferAmount":"1e1",'
            b'"currencyAmount":200,"wallet":{"ID":428048732580321541,"address":"T1"}}}'
        )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = CryptomClient(f"http://127.0.0.1:{server.server_port}", "a", "b")
        tx = client.transaction("6338cb9cd4cb3327e706ddb1")
        assert tx.status is Status.UNKNOWN and tx.status_raw == "SOMETHING_NEW"
        assert not tx.is_paid  # only a JSON true means paid
        assert tx.coin_amount == Decimal("12.5") and tx.total_transfer_amount == Decimal(10)
        assert tx.is_partial
        assert tx.wallet.id == 428048732580321541
    finally:
        server.shutdown()


def test_credentials_never_in_repr(client):
    assert DEFAULT_PASSWORD not in repr(client) and DEFAULT_EMAIL not in repr(client)


def test_four_worker_processes_log_in_once(sandbox, tmp_path):
    """Four processes, as four gunicorn workers would be, share one login through the file."""
    import subprocess
    import sys

    store = tmp_path / "token.json"
    tx = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD,
                       token_store=FileTokenStore(tmp_path / "other.json")).create_transaction(
        "TRY", Decimal(10), "TRX", "TRX")
    assert sandbox.calls("auth") == 1
    script = (
        "import sys; from kiosk.cryptom import CryptomClient, FileTokenStore;"
        f"c = CryptomClient({sandbox.url!r}, {DEFAULT_EMAIL!r}, {DEFAULT_PASSWORD!r},"
        f" token_store=FileTokenStore({str(store)!r}));"
        f"print(c.transaction({tx.id!r}).id)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == [tx.id] * 4
    assert sandbox.calls("auth") == 2  # the first client's login, then one for all four workers
