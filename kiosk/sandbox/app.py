"""A local Cryptom Pay: every endpoint of the POS API document, plus controls under /sandbox.

It plays upstream for the demo and the tests, as stripe-mock does for Stripe: same paths, same
JSON shapes and types, real HS256 tokens that really expire, and switches to inject faults.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any

import segno
from flask import Flask, Response, abort, jsonify, request
from flask.json.provider import DefaultJSONProvider

from ..paths import STATIC_DIR, TEMPLATES_DIR
from . import jwt
from .controls import add_controls
from .store import SandboxState

DEFAULT_EMAIL = "merchant@sandbox.test"
DEFAULT_PASSWORD = "sandbox-password"  # noqa: S105 - the sandbox's documented demo account
# COIN:NETWORK[/CURRENCY]=price of one coin in that currency; without a currency, TRY.
DEFAULT_RATES = ("TRX:TRX=12.50,USDT:TRX=42.10,TRX:TRX/EUR=0.27,USDT:TRX/EUR=0.92,"
                 "TRX:TRX/USD=0.30,USDT:TRX/USD=1,TRX:TRX/GBP=0.235,USDT:TRX/GBP=0.79,"
                 "TRX:TRX/JPY=44.5,USDT:TRX/JPY=150,TRX:TRX/KWD=0.092,USDT:TRX/KWD=0.307,"
                 "TRX:TRX/BHD=0.113,USDT:TRX/BHD=0.376,TRX:TRX/AED=1.10,USDT:TRX/AED=3.6725")
FILTERS = (
    "id", "sequenceID", "currency", "currencyAmount", "clientType", "coin", "network",
    "coinAmount", "status", "userEmail", "userMobile", "reservedFrom", "reservedUntil",
    "walletAddress",
)


def parse_rates(text: str) -> dict[tuple[str, str, str], Decimal]:
    """`TRX:TRX=12.50,TRX:TRX/EUR=0.27`: (coin, network, currency) -> one coin's price."""
    rates: dict[tuple[str, str, str], Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pair, _, rate = item.partition("=")
        pair, _, currency = pair.partition("/")
        coin, _, network = pair.partition(":")
        key = (coin.strip().upper(), (network or coin).strip().upper(), (currency or "TRY").strip().upper())
        rates[key] = Decimal(rate)
    return rates


def fail(status: int, message: str) -> Response:
    response = jsonify(status=False, message=message)
    response.status_code = status
    return response


def find_or_404(state: SandboxState, tx_id: str) -> dict[str, Any]:
    tx = state.transactions.get(tx_id)
    if tx is None:
        abort(fail(404, "Transaction not found"))
    return tx


def create_sandbox_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask("kiosk.sandbox", template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR))
    app.config.from_mapping(
        SANDBOX_EMAIL=DEFAULT_EMAIL,
        SANDBOX_PASSWORD=DEFAULT_PASSWORD,
        SANDBOX_TOKEN_TTL_MS=3_600_000,
        SANDBOX_RATES=DEFAULT_RATES,
    )
    app.config.from_prefixed_env("KIOSK", loads=str)  # a password 12.50 stays 12.50
    app.config.from_mapping(config or {})
    assert isinstance(app.json, DefaultJSONProvider)
    app.json.sort_keys = False  # keep the document's field order
    state = SandboxState(
        email=str(app.config["SANDBOX_EMAIL"]),
        password=str(app.config["SANDBOX_PASSWORD"]),
        token_ttl_ms=int(app.config["SANDBOX_TOKEN_TTL_MS"]),
        rates=parse_rates(str(app.config["SANDBOX_RATES"])),
    )
    app.extensions["sandbox"] = state

    def api_path() -> bool:
        return not request.path.startswith(("/sandbox", "/static"))

    @app.before_request
    def faults() -> Response | None:
        if not api_path():
            return None
        name = request.endpoint or "unknown"
        with state.lock:
            state.calls[name] += 1
            f = state.faults
            targeted = f.only in ("", name)
            latency = f.latency_ms if targeted else 0
            if latency and f.latency_next:
                f.latency_next -= 1
                if not f.latency_next:
                    f.latency_ms = 0  # that was the last slow one
            failing = f.fail_next > 0 and targeted
            if failing:
                f.fail_next -= 1
        if latency:
            time.sleep(latency / 1000)
        if failing:
            if f.fail_body == "html":
                title = f"{f.fail_status} {HTTPStatus(f.fail_status).phrase}"
                return Response(
                    f"<html><head><title>{title}</title></head><body>nginx</body></html>",
                    status=f.fail_status, mimetype="text/html",
                )
            if f.fail_body == "garbage":
                return Response("<<not json>>", status=200, mimetype="application/json")
            if f.fail_body == "huge":
                pad = (b"x" * 65536 for _ in range(320))
                body = itertools.chain([b'{"status": true, "pad": "'], pad, [b'"}'])
                return Response(body, status=200, mimetype="application/json")
            if f.fail_body == "drip":
                request.environ["sandbox.drip"] = True  # the real answer, slowly: see `drip`
                return None
            return fail(f.fail_status, "Internal server error")
        return None

    @app.after_request
    def drip(response: Response) -> Response:
        if not request.environ.get("sandbox.drip"):
            return response
        data = response.get_data()

        def slowly() -> Any:
            for byte in data:
                time.sleep(0.5)
                yield bytes([byte])

        return Response(slowly(), status=response.status_code, mimetype=response.mimetype)

    def authorised() -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        claims = jwt.decode(header[7:], state.key)
        if not claims:
            return False
        with state.lock:
            expiry = state.tokens.get(str(claims.get("jti")))
        return expiry is not None and time.time() < expiry

    def body() -> dict[str, Any]:
        try:
            data = json.loads(request.get_data() or b"{}", parse_float=Decimal)
        except ValueError:
            abort(fail(400, "Invalid JSON body"))
        if not isinstance(data, dict):
            abort(fail(400, "Invalid JSON body"))
        return data

    def guarded() -> None:
        if not authorised():
            abort(fail(401, "Unauthorized"))

    def find(tx_id: str) -> dict[str, Any]:
        return find_or_404(state, tx_id)

    # -- the Cryptom Pay POS API ------------------------------------------------------------

    @app.post("/auth")
    def auth() -> Response:
        data = body()
        if data.get("email") != state.email or data.get("password") != state.password:
            return fail(401, "Invalid email or password")
        now = time.time()
        ttl = state.token_ttl_ms
        iat = int(now)
        jti = uuid.uuid4().hex
        claims = {"user_id": state.user_id, "email": state.email, "role": "user", "iat": iat, "jti": jti}
        # Upstream's own quirk, kept on purpose: `exp` is the millisecond lifetime read as
        # seconds, 1000x too long. Clients must trust `expires`/`expiresIn`, as the sandbox does.
        access = jwt.encode({**claims, "exp": iat + ttl}, state.key)
        refresh = jwt.encode({**claims, "jti": uuid.uuid4().hex, "exp": iat + ttl * 24}, state.key)
        with state.lock:
            state.tokens[jti] = now + ttl / 1000
        now_ms = int(now * 1000)
        return jsonify(
            status=True,
            accessToken=access,
            refreshToken=refresh,
            expires={"accessToken": ttl, "refreshToken": ttl * 24},
            expiresIn={"accessToken": now_ms + ttl, "refreshToken": now_ms + ttl * 24},
        )

    @app.post("/api/transaction/create")
    def create() -> Response:
        guarded()
        data = body()
        coin = str(data.get("coin") or "").upper()
        network = str(data.get("network") or "").upper()
        if not any(key[:2] == (coin, network) for key in state.rates):
            return fail(400, f"Unsupported coin/network pair: {coin}/{network}")
        currency = str(data.get("currency") or "").upper()
        if (coin, network, currency) not in state.rates:
            return fail(400, f"Unsupported currency: {currency[:8]}")
        raw_amount = data.get("currencyAmount")
        try:
            if isinstance(raw_amount, bool):
                raise InvalidOperation
            amount = Decimal(str(raw_amount))
        except (InvalidOperation, ValueError):
            return fail(400, "currencyAmount must be a number")
        if not amount.is_finite() or amount <= 0:
            return fail(400, "currencyAmount must be greater than 0")
        mobile = data.get("userMobile")
        note = data.get("statusNote")
        tx = state.create(
            amount, coin, network,
            str(mobile) if mobile else None, str(note) if note else None, currency=currency,
        )
        return jsonify(status=True, data=tx)

    @app.get("/api/transaction/detail/<tx_id>")
    def detail(tx_id: str) -> Response:
        guarded()
        return jsonify(status=True, data=dict(find(tx_id)))

    @app.delete("/api/transaction/cancel/<tx_id>")
    def cancel(tx_id: str) -> Response:
        guarded()
        find(tx_id)
        done, tx = state.cancel(tx_id)
        if not done:
            return fail(400, f"Transaction cannot be cancelled in status {tx['status']}")
        return jsonify(status=True, data=tx)

    @app.get("/qr/<tx_id>")
    def qr(tx_id: str) -> Response:
        guarded()
        tx = find(tx_id)
        out = io.BytesIO()
        segno.make(tx["wallet"]["address"], error="m").save(out, kind="png", scale=8, border=4)
        return Response(out.getvalue(), mimetype="image/png")

    @app.get("/api/transaction")
    def history() -> Response:
        guarded()
        args = request.args
        try:
            page = max(int(args.get("page", 1)), 1)
            limit = min(max(int(args.get("limit", 10)), 1), 100)
        except ValueError:
            return fail(400, "page and limit must be numbers")
        # Only the filters the request names, and only the page's rows copied: a page of a
        # history of ten thousand transactions takes milliseconds.
        wanted = [(name, args[name]) for name in FILTERS if args.get(name) not in (None, "")]
        with state.lock:
            rows = [tx for tx in state.transactions.values() if matches(tx, wanted)]
            rows.sort(key=lambda tx: tx["sequenceID"], reverse=True)
            total = len(rows)
            pages = max(1, math.ceil(total / limit))
            chunk = [dict(tx) for tx in rows[(page - 1) * limit : page * limit]]
        return jsonify(
            status=True,
            data={
                "results": [state.populated(tx) for tx in chunk],
                "totalDocs": total,
                "limit": limit,
                "page": page,
                "totalPages": pages,
                "pagingCounter": (page - 1) * limit + 1,
                "hasPrevPage": page > 1,
                "hasNextPage": page < pages,
                "prevPage": page - 1 if page > 1 else None,
                "nextPage": page + 1 if page < pages else None,
            },
        )

    def matches(tx: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
        for name, wanted in filters:
            if name == "id":
                if wanted != tx["_id"]:
                    return False
            elif name == "walletAddress":
                if wanted != tx["wallet"]["address"]:
                    return False
            elif name == "userEmail":
                if wanted.lower() != state.email.lower():
                    return False
            elif name == "reservedFrom":
                if not _after(tx["reservedFrom"], wanted):
                    return False
            elif name == "reservedUntil":
                if not _after(wanted, tx["reservedFrom"]):
                    return False
            elif name in ("currencyAmount", "coinAmount"):
                try:
                    if Decimal(wanted) != Decimal(tx[name]):
                        return False
                except InvalidOperation:
                    return False
            elif str(tx.get(name, "")).upper() != wanted.upper():
                return False
        return True

    add_controls(app, state)
    return app


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _after(a: str, b: str) -> bool:
    """True when time `a` is at or after time `b` (ISO strings; a bad filter matches nothing)."""
    try:
        return _moment(a) >= _moment(b)
    except ValueError:
        return False
