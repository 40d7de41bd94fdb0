"""Reading a till's request: the JSON body, its text fields and its amount, each refused with
the API's own error (invalid_request or invalid_amount) and a message a till's developer can act on."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request

from .. import money
from ..checkout.inputs import InputError, check_amount
from .errors import ApiError

BODY_MAX = 32 * 1024  # a checkout with fifty lines is a few kilobytes


def body() -> dict[str, Any]:
    """The JSON object sent, at most BODY_MAX bytes."""
    if request.content_length is not None and request.content_length > BODY_MAX:
        raise ApiError("invalid_request", f"The body can be at most {BODY_MAX} bytes.", status=413)
    raw = request.stream.read(BODY_MAX + 1)
    if len(raw) > BODY_MAX:
        raise ApiError("invalid_request", f"The body can be at most {BODY_MAX} bytes.", status=413)
    if not request.mimetype == "application/json":
        raise ApiError("invalid_request", "Send JSON with Content-Type: application/json.")
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ApiError("invalid_request", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError("invalid_request", "The body must be a JSON object.")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def text(data: dict[str, Any], name: str, *, required: bool = False, most: int = 200) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError("invalid_request", f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise ApiError("invalid_request", f"{name} must be a string.")
    if len(value) > most:
        raise ApiError("invalid_request", f"{name} can be at most {most} characters.")
    return value


def input_message(err: InputError) -> str:
    """The English message, for a till's developer (plain digits, no currency sign)."""
    text = err.message if err.plural is None or err.params.get("num") == 1 else err.plural
    return text % {**err.params, **({"amount": str(err.amount)} if err.amount is not None else {})}


def parse_api_amount(raw: Any, low: Decimal, high: Decimal, currency: str) -> Decimal:
    """A decimal string with the currency's digits at most: "125.00" EUR, "125" JPY, "1.250" KWD."""
    places = money.digits(currency)
    pattern = r"[0-9]{1,9}" + (rf"(\.[0-9]{{1,{places}}})?" if places else "")
    if not isinstance(raw, str) or not re.fullmatch(pattern, raw):
        example = money.rounded(Decimal(125), currency)
        raise ApiError("invalid_amount", f"amount is a decimal string with at most {places} decimals "
                                         f"in {currency}, like \"{example}\".")
    try:
        return check_amount(Decimal(raw), low, high, currency)
    except (InputError, InvalidOperation) as err:
        message = input_message(err) if isinstance(err, InputError) else "amount is not a number."
        raise ApiError("invalid_amount", message) from None


def clean(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    joined = " ".join(value.split())
    if not joined.isprintable():
        raise ApiError("invalid_request", f"{name} must be printable text.")
    return joined or None
