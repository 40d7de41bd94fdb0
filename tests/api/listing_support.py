"""What the tests of GET /api/v1/checkouts share: a real `kiosk serve` on its own ledger database
(SQLite, or a real PostgreSQL), and sales written to that ledger at chosen times, as the kiosk's
booking writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
import requests

from kiosk.ledger import Entry, Ledger, make_engine

from ..api_support import make_key
from ..conftest import free_port
from ..support import Gunicorn

ZONE = "Europe/Istanbul"  # UTC+03:00 all year: 00:00 there is 21:00 UTC the day before
SECRET_KEY = "test-secret-key-0123456789"  # the kiosk's KIOSK_SECRET_KEY in tests.support.Gunicorn
DISPLAY = "a1b2c3d4e5f6"
_serial = count(1)


def start_shop(request: pytest.FixtureRequest, state, **settings: str) -> Gunicorn:
    """A kiosk on its own ledger database (request.param: "sqlite" or "postgresql"), with a key
    named till-list, and that ledger in `.ledger`; stop it with stop_shop."""
    pg = url = None
    settings = {"TIMEZONE": ZONE, "API_RATE_LIMIT": "100000/60", **settings}
    if request.param == "postgresql":
        pg = request.getfixturevalue("postgres_server")
        url = pg.database()
        settings["DATABASE_URL"] = url.replace("postgresql+psycopg://", "postgresql://")
    else:
        url = f"sqlite:///{state / 'ledger.sqlite3'}"
    kiosk = Gunicorn(request.getfixturevalue("sandbox_server").url, state, free_port(), **settings)
    kiosk.state, kiosk.pg, kiosk.db_url = state, pg, url
    kiosk.key = make_key(state, "till-list")
    kiosk.ledger = Ledger(make_engine(url))
    kiosk.ledger.upgrade()
    return kiosk


def stop_shop(kiosk: Any) -> None:
    kiosk.stop()
    kiosk.ledger.engine.dispose()
    if kiosk.pg is not None:
        kiosk.pg.forget(kiosk.db_url)


def sale(ledger: Ledger, created: datetime, status: str = "paid", *, kind: str = "till",
         by: str = "till-list", **facts: Any) -> str:
    """A till's (or with kind="cashier", the console's) order written to the ledger as the kiosk's
    booking writes one, then its end; its order id."""
    serial = next(_serial)
    tx_id, order_id = f"tx-list-{serial}", f"chk_{serial:016x}"
    at = created.timestamp()
    base: dict[str, Any] = dict(at=at, tx_id=tx_id, order_id=order_id, status="waiting", started_by_kind=kind,
                                started_by=by, display_id=DISPLAY, ask_tip=True, amount=Decimal("100.00"),
                                currency="TRY", coin="TRX", network="TRX", coin_amount=Decimal("8.000000"),
                                created=at, deadline=at + 600)
    ledger.record(Entry(**{**base, **facts}))
    if status != "waiting":
        ledger.record(Entry(at=at + 30, tx_id=tx_id, status=status,
                            received=Decimal("8.000000") if status == "paid" else None))
    return order_id


def keypad_sale(ledger: Ledger, created: datetime, kind: str = "kiosk") -> str:
    """A sale a customer typed on a keypad kiosk (kind="display": a keypad display), no order; its tx id."""
    tx_id = f"tx-keypad-{next(_serial)}"
    at = created.timestamp()
    ledger.record(Entry(at=at, tx_id=tx_id, status="waiting", started_by_kind=kind, started_by="k1",
                        display_id=DISPLAY if kind == "display" else None, amount=Decimal("50.00"),
                        currency="TRY", created=at, deadline=at + 600))
    ledger.record(Entry(at=at + 30, tx_id=tx_id, status="paid", received=Decimal("4")))
    return tx_id


def local(text: str) -> datetime:
    """A moment on the shop's clock (UTC+03:00), as an aware UTC datetime."""
    return datetime.fromisoformat(text + "+03:00").astimezone(UTC)


def refused(response: requests.Response, status: int = 400, code: str = "invalid_request") -> str:
    """The API's error shape, with its status and code; the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    return body["error"]["message"]
