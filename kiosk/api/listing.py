"""GET /api/v1/checkouts: the accounting export's rows (kiosk.reports) for a till, newest first,
read from the sales ledger, with filters and cursor paging. The rows a till can reach: the
checkouts tills and the console sent, of every till (a keypad's sale stays out of its reach).

- `created_from`, `created_to`: shop days, YYYY-MM-DD in the shop's time zone, both included,
  as in the export.
- `status`: one of the status words; `display_id`: one display's.
- `limit`: 1 to LIST_MAX rows, LIST_DEFAULT when not given.
- `cursor`: the `next_cursor` of the page before. It names the last row given (its created time
  and ledger id: keyset paging), so checkouts made meanwhile never shift or repeat a page. It is
  signed with the kiosk's secret key and holds a digest of the API key and the filters it was
  given for: a cursor the kiosk did not give, or gave to another key or for other filters, is
  refused, never read.
- Any other parameter, or one given twice, is refused: a misspelt filter is not silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, request
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
CURSOR_MAX = 200  # a real one is about 140 characters
_CURSOR_SALT = "kiosk.api.checkouts.cursor"
ROW_ID_MAX = 2**63 - 1  # the ledger's ids are 64-bit
PARAMETERS = ("created_from", "created_to", "status", "display_id", "limit", "cursor")
DISPLAY_ID_MAX = 64
_REFUSED_CURSOR = ("cursor is not one this kiosk gave: pass next_cursor from the page before "
                   "unchanged, or leave it out to start again.")


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(kiosk().settings.secret_key, salt=_CURSOR_SALT)


def _scope(key: str, filters: Mapping[str, Any]) -> tuple[str, str]:
    """What a cursor is good for: the key it was given to, and the filters of its list (not the
    limit: a till may change its page size as it pages)."""
    chosen = [str(filters[name]) if filters[name] is not None else "" for name in PARAMETERS[:4]]
    fingerprint = hashlib.sha256(json.dumps(chosen).encode()).hexdigest()[:16]
    return hashlib.sha256(key.encode()).hexdigest()[:16], fingerprint


def make_cursor(row: Mapping[str, Any], scope: tuple[str, str]) -> str:
    moment: datetime = row["created_at"]
    at = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return str(_signer().dumps([at, int(row["id"]), *scope]))


def read_cursor(raw: str, scope: tuple[str, str]) -> tuple[datetime, int]:
    """The last row of the page before, from a cursor the kiosk gave for this key and these
    filters, exactly as given; anything else is refused before anything is read."""
    refused = ApiError("invalid_request", _REFUSED_CURSOR)
    if len(raw) > CURSOR_MAX:
        raise refused
    signer = _signer()
    try:
        payload = signer.loads(raw)
        # The very text the kiosk gave: base64 that decodes the same with padding or stray
        # characters added is still another text.
        if signer.dumps(payload) != raw or not isinstance(payload, list) or len(payload) != 4:
            raise refused
        moment, row_id, key, filters = payload
        when = datetime.fromisoformat(moment)
    except (BadData, ValueError, TypeError):
        raise refused from None
    if when.tzinfo is None or type(row_id) is not int or not 0 < row_id <= ROW_ID_MAX:
        raise refused
    if key != scope[0]:
        raise ApiError("invalid_request", "cursor was given to another API key: page with the key that "
                                          "asked for the first page, or leave cursor out to start again.")
    if filters != scope[1]:
        raise ApiError("invalid_request", "cursor was given for other filters: send the same "
                                          "created_from, created_to, status and display_id with it as "
                                          "with the page it came from, or leave cursor out to start again.")
    return when, row_id


def _day(name: str) -> Any:
    try:
        return parse_day(request.args.get(name))
    except InputError as err:
        raise ApiError("invalid_request", f"{name}: {input_message(err)}") from None


def _parameters() -> None:
    """Every parameter known and given once: a misspelt filter would list every checkout as if
    it were the ones asked for."""
    for name in request.args:
        if name not in PARAMETERS:
            shown = name if len(name) <= 40 and name.isprintable() else "(unreadable)"
            raise ApiError("invalid_request", f"unknown parameter {shown}: the list takes "
                                              f"{', '.join(PARAMETERS)}.")
        if len(request.args.getlist(name)) > 1:
            raise ApiError("invalid_request", f"{name} is given more than once.")


def query() -> dict[str, Any]:
    """The request's filters, each refused with a clear message before anything is read."""
    _parameters()
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
    if display_id is not None and (len(display_id) > DISPLAY_ID_MAX or not display_id.isprintable()):
        raise ApiError("invalid_request", f"display_id is a display's id: at most {DISPLAY_ID_MAX} "
                                          "printable characters.")
    raw_limit = args.get("limit", str(LIST_DEFAULT))
    # ASCII digits only: str.isdigit() takes "²" (which int() refuses) and "١٢" (which it reads).
    if not re.fullmatch(r"[0-9]{1,9}", raw_limit) or not 1 <= int(raw_limit) <= LIST_MAX:
        raise ApiError("invalid_request", f"limit is a whole number from 1 to {LIST_MAX}.")
    filters = {"created_from": first, "created_to": last, "status": status, "display_id": display_id}
    scope = _scope(str(g.api_key), filters)
    raw_cursor = args.get("cursor")
    before = read_cursor(raw_cursor, scope) if raw_cursor else None
    return {"start": start, "end": end, "status": status, "display_id": display_id,
            "limit": int(raw_limit), "before": before, "scope": scope}


def page() -> dict[str, Any]:
    asked = query()
    services = kiosk()
    limit = asked["limit"]
    # One row more than asked tells whether there is a next page.
    scope = asked.pop("scope")
    rows = listing(services.ledger, **{**asked, "limit": limit + 1})
    zone = services.settings.timezone
    data = [present(row, zone) for row in rows[:limit]]
    return {"data": data, "next_cursor": make_cursor(rows[limit - 1], scope) if len(rows) > limit else None}


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
