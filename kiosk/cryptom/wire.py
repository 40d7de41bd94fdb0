"""Cryptom Pay's answers on the wire: a request body with exact decimals, an answer read whole
within a deadline and a size, and its status and JSON turned into the client's errors by cause.
Knows nothing of Flask."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import requests
import urllib3

from .errors import AuthError, NotFound, Rejected, Unavailable

T = TypeVar("T")

# An answer as a whole may take the read timeout and this much more (5 s + 1 s, under the 8 s
# that a screen's poll waits), and be this large (a history page of 100 is a few hundred KB).
ANSWER_GRACE_SECONDS = 1.0
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def dump_json(body: dict[str, Any]) -> str:
    """JSON with Decimal written as an exact number literal (json.dumps knows no Decimal)."""
    marks: dict[str, str] = {}

    def default(value: Any) -> str:
        if isinstance(value, Decimal):
            mark = f"__decimal_{uuid.uuid4().hex}__"
            marks[f'"{mark}"'] = format(value, "f")
            return mark
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    text = json.dumps(body, default=default)
    for mark, literal in marks.items():
        text = text.replace(mark, literal)
    return text


def parse(response: requests.Response, *, raw: bool) -> Any:
    status = response.status_code
    payload: Any = None
    try:
        payload = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        payload = None
    if status < 400:
        if raw:
            return response.content
        if not isinstance(payload, dict):
            raise Unavailable("Cryptom Pay answered with a body that is not JSON", status=status)
        if payload.get("status") is False:
            raise Rejected(message_of(payload, response), status=status)
        return payload
    message = message_of(payload, response)
    if status == 401:
        raise AuthError(message, status=status)
    if status == 404:
        if not isinstance(payload, dict):
            # A proxy's or a load balancer's page, not upstream's API saying it has no such
            # transaction: upstream is unavailable, nothing is known about the transaction.
            raise Unavailable(message, status=status)
        raise NotFound(message, status=status)
    if status >= 500:
        raise Unavailable(message, status=status)
    raise Rejected(message, status=status)


def data_of(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    if not isinstance(data, dict):
        raise Unavailable("Cryptom Pay answered without data")
    return data


def read_body(response: requests.Response, deadline: float) -> None:
    """The whole body, by `deadline` and within MAX_ANSWER_BYTES. The read timeout bounds each
    wait for a byte only: an answer that drips in (or never ends) would hold a worker thread for
    as long as upstream likes, and a huge one the worker's memory."""
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise Unavailable("Cryptom Pay did not answer in time (the answer was too slow)")
            chunk = response.raw.read1(65536, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise Unavailable("Cryptom Pay answered with a body too large to read")
            chunks.append(chunk)
    except Unavailable:
        response.close()
        raise
    except (TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
        response.close()
        raise requests.Timeout(str(exc)) from None
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        response.close()
        raise requests.ConnectionError(str(exc)) from None
    response._content = b"".join(chunks)  # what `response.content` gives from now on
    response._content_consumed = True
    response.raw.release_conn()  # read to its end: the connection serves the next request


def message_of(payload: Any, response: requests.Response) -> str:
    if isinstance(payload, dict) and isinstance(message := payload.get("message"), str):
        return message
    match = _TITLE.search(response.text[:4096]) if response.content else None
    detail = f": {match.group(1).strip()[:120]}" if match else ""
    return f"Cryptom Pay answered HTTP {response.status_code}{detail}"


def read_model(model: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
    """Upstream's data as our model; data the model cannot read (a transaction without an id, a
    page whose rows are not objects) is a garbled answer: upstream unavailable, never a crash."""
    try:
        return model(data)
    except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
        raise Unavailable(f"Cryptom Pay answered with data the kiosk cannot read ({exc})") from None
