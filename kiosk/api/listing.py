"""GET /api/v1/checkouts: the accounting export's rows (kiosk.reports) for a till, newest first,
read from the sales ledger, with filters and cursor paging. The rows a till can reach: the
checkouts tills and the console sent, of every till (a keypad's sale stays out of its reach).

- `created_from`, `created_to`: shop days, YYYY-MM-DD in the shop's time zone, both included,
  as in the export.
- `status`: one of the status words; `display_id`: one display's.
- `limit`: 1 to LIST_MAX rows, LIST_DEFAULT when not given.
- `cursor`: the `next_cursor` of the page before. It names the last row given (its created time
  and ledger id: keyset paging), so checkouts made meanwhile never shift or repeat a page. It is
  signed with the kiosk's secret key: a cursor the kiosk did not give is refused, never read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import request
from itsdangerous import BadData, URLSafeSerializer

from ..checkout.inputs import InputError
from ..displays import STATUSES
from ..money import rounded
from ..reports.export import checkout_id, day_range, listing, parse_day, values
from ..services import kiosk
from .errors import ApiError
from .reading import input_message

LIST_DEFAULT = 20
LIST_MAX = 100
CURSOR_MAX = 200  # a real one is about 90 characters
_CURSOR_SALT = "kiosk.api.checkouts.cursor"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(kiosk().settings.secret_key, salt=_CURSOR_SALT)


def make_cursor(row: Mapping[str, Any]) -> str:
    moment: datetime = row["created_at"]
    return str(_signer().dumps([moment.astimezone(UTC).isoformat(timespec="microseconds"), int(row["id"])]))


def read_cursor(raw: str) -> tuple[datetime, int]:
    refused = ApiError("invalid_request", "cursor is not one this kiosk gave: pass next_cursor from "
                                          "the page before unchanged, or leave it out to start again.")
    if len(raw) > CURSOR_MAX:
        raise refused
    try:
        moment, row_id = _signer().loads(raw)
        when = datetime.fromisoformat(moment)
    except (BadData, ValueError, TypeError):
        raise refused from None
    if when.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise refused
    return when, row_id


def _day(name: str) -> Any:
    try:
        return parse_day(request.args.get(name))
    except InputError as err:
        raise ApiError("invalid_request", f"{name}: {input_message(err)}") from None


def query() -> dict[str, Any]:
    """The request's filters, each refused with a clear message before anything is read."""
    args = request.args
    zone = kiosk().settings.timezone
    first, last = _day("created_from"), _day("created_to")
    if first is not None and last is not None and first > last:
        raise ApiError("invalid_request", "created_from must not be after created_to.")
    start = day_range(first, first, zone)[0] if first is not None else None
    end = day_range(last, last, zone)[1] if last is not None else None
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError("invalid_request", f"status is one of {', '.join(STATUSES)}.")
    display_id = args.get("display_id") or None
    raw_limit = args.get("limit", str(LIST_DEFAULT))
    # ASCII digits only: str.isdigit() takes "²" (which int() refuses) and "١٢" (which it reads).
    if not re.fullmatch(r"[0-9]{1,9}", raw_limit) or not 1 <= int(raw_limit) <= LIST_MAX:
        raise ApiError("invalid_request", f"limit is a whole number from 1 to {LIST_MAX}.")
    raw_cursor = args.get("cursor")
    before = read_cursor(raw_cursor) if raw_cursor else None
    return {"start": start, "end": end, "status": status, "display_id": display_id,
            "limit": int(raw_limit), "before": before}


def page() -> dict[str, Any]:
    asked = query()
    services = kiosk()
    limit = asked["limit"]
    # One row more than asked tells whether there is a next page.
    rows = listing(services.ledger, **{**asked, "limit": limit + 1})
    zone = services.settings.timezone
    data = [present(row, zone) for row in rows[:limit]]
    return {"data": data, "next_cursor": make_cursor(rows[limit - 1]) if len(rows) > limit else None}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dec(value: Decimal | None, currency: str | None = None) -> str | None:
    if value is None:
        return None
    return format(rounded(value, currency) if currency else value, "f")  # "": an imported row without one


def present(row: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """A ledger row as the till API's checkout, with the export's columns added: the fields a
    single checkout has, then source, cashier, shop_day, closed_at, the quote's figures and the
    Z report that counted it."""
    out = values(row, zone)  # the export's texts: one meaning for both
    currency = row["currency"]
    amount: Decimal = row["amount"]
    tip: Decimal = row["tip"] or Decimal(0)
    lines = row["lines"] or []
    return {
        "id": checkout_id(row),
        "display_id": row["display_id"],
        "status": row["status"],
        "amount": _dec(amount, currency),
        "tip_amount": _dec(tip, currency),
        "total_amount": _dec(amount + tip, currency),
        "ask_tip": row["ask_tip"],
        "currency": currency,
        "reference": row["reference"],
        "note": row["note"],
        "lines": [{"name": ln.get("name"), "quantity": ln.get("quantity"),
                   "unit_amount": str(ln.get("unit_amount"))} for ln in lines],
        "coin": row["coin"],
        "network": row["network"],
        "coin_amount": out["coin_amount"] or None,
        "received": out["received"] or None,
        "transaction_id": row["tx_id"],
        "sequence_id": row["sequence_id"],
        "cancel_reason": row["cancel_reason"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "deadline_at": _iso(row["deadline"]),
        # The export's columns a checkout does not have.
        "source": out["source"],
        "cashier": row["started_by"] if out["source"] in ("console", "till") else None,
        "shop_day": out["shop_day"],
        "closed_at": _iso(row["closed_at"]),
        "conversion_rate": _dec(row["conversion_rate"]),
        "exchange_fee": _dec(row["exchange_fee"]),
        "commission": _dec(row["commission"]),
        "z_number": int(out["z_number"]) if out["z_number"] else None,
    }
