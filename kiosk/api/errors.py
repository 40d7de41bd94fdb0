"""The till API's errors: {"error": {"code", "message"}}, one status per code."""

from __future__ import annotations

from typing import Any

from flask import jsonify

STATUS = {
    "unauthorized": 401,
    "not_found": 404,
    "invalid_request": 400,
    "invalid_amount": 422,
    "invalid_currency": 422,
    "display_busy": 409,
    "display_offline": 409,
    "idempotency_conflict": 409,
    "rate_limited": 429,
    "unavailable": 503,
}


class ApiError(Exception):
    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.status = status or STATUS[code]  # a body too large is an invalid request, with 413


def answer(err: ApiError) -> Any:
    response = jsonify({"error": {"code": err.code, "message": err.message}})
    response.status_code = err.status
    response.headers.update(err.headers)
    if err.code == "unauthorized":
        response.headers["WWW-Authenticate"] = 'Bearer realm="kiosk"'
    return response
