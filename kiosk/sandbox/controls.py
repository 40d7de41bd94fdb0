"""The sandbox's own controls, for demos and tests: the transactions as a page and as JSON, pay,
expire, cancel or lose one, inject faults, count the calls, start over. Never part of the
Cryptom Pay API it plays; only `kiosk demo` and the tests run the sandbox at all."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as Answer

from .. import money
from .store import Faults, SandboxState


def add_controls(app: Flask, state: SandboxState) -> None:
    from .app import fail, find_or_404  # (the app imports this module first)

    def find(tx_id: str) -> dict[str, Any]:
        return find_or_404(state, tx_id)

    @app.get("/sandbox")
    def index() -> str:
        with state.lock:
            rows = sorted(state.transactions.values(), key=lambda tx: -tx["sequenceID"])[:50]
        return render_template("sandbox/index.html", rows=rows, email=state.email, fiat=fiat)

    def fiat(tx: dict[str, Any]) -> str:
        """The amount to its currency's digits (upstream sends a JSON number: 12.5 for 12.500 KWD)."""
        try:
            return f"{money.rounded(Decimal(str(tx['currencyAmount'])), tx['currency'])} {tx['currency']}"
        except (InvalidOperation, KeyError, TypeError, ValueError):
            return f"{tx.get('currencyAmount')} {tx.get('currency')}"

    @app.get("/sandbox/transactions")
    def transactions() -> Response:
        with state.lock:
            return jsonify([dict(tx) for tx in state.transactions.values()])

    def control_amount(tx: dict[str, Any]) -> Decimal:
        values = request.get_json(silent=True) or request.form
        due = Decimal(tx["coinAmount"]) - Decimal(tx["totalTransferAmount"])
        share = values.get("share")
        if share == "half":
            return (Decimal(tx["coinAmount"]) / 2).quantize(Decimal("0.000001"))
        if share == "full" or values.get("amount") in (None, ""):
            return max(due, Decimal(0))
        try:
            amount = Decimal(str(values["amount"]))
        except InvalidOperation:
            abort(fail(400, "amount must be a number"))
        if not amount.is_finite() or amount <= 0:
            abort(fail(400, "amount must be greater than 0"))
        return amount

    def done(tx: dict[str, Any]) -> Answer:
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return jsonify(status=True, data=tx)
        return redirect(url_for("index"))

    @app.post("/sandbox/transactions/<tx_id>/pay")
    def pay(tx_id: str) -> Answer:
        tx = find(tx_id)
        return done(state.pay(tx_id, control_amount(tx)))

    @app.post("/sandbox/transactions/<tx_id>/expire")
    def expire(tx_id: str) -> Answer:
        find(tx_id)
        return done(state.expire(tx_id))

    @app.post("/sandbox/transactions/<tx_id>/cancel")
    def cancel_control(tx_id: str) -> Answer:
        find(tx_id)
        return done(state.cancel(tx_id)[1])

    @app.post("/sandbox/transactions/<tx_id>/vanish")
    def vanish(tx_id: str) -> Response:
        with state.lock:
            tx = state.transactions.pop(tx_id, None)
        if tx is None:
            return fail(404, "Transaction not found")
        return jsonify(status=True)

    @app.post("/sandbox/faults")
    def set_faults() -> Response:
        values = request.get_json(silent=True) or {}
        with state.lock:
            f = state.faults
            f.fail_next = int(values.get("fail_next", f.fail_next))
            f.fail_status = int(values.get("fail_status", f.fail_status))
            f.fail_body = str(values.get("fail_body", f.fail_body))
            f.latency_ms = int(values.get("latency_ms", f.latency_ms))
            f.latency_next = int(values.get("latency_next", f.latency_next))
            f.only = str(values.get("only", f.only))
            if values.get("revoke_tokens"):
                state.tokens.clear()
            return jsonify(status=True, faults=vars(f))

    @app.delete("/sandbox/faults")
    def clear_faults() -> Response:
        with state.lock:
            state.faults = Faults()
        return jsonify(status=True)

    @app.get("/sandbox/stats")
    def stats() -> Response:
        with state.lock:
            return jsonify(calls=dict(state.calls), transactions=len(state.transactions))

    @app.post("/sandbox/reset")
    def reset() -> Response:
        with state.lock:
            state.transactions.clear()
            state.calls.clear()
            state.faults = Faults()
        return jsonify(status=True)
