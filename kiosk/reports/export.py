"""The accounting export: one CSV row per checkout of a range of shop days, streamed.

The format is a promise (docs/exports.md): RFC 4180 (commas, CRLF, quotes doubled), UTF-8, dot
decimals without grouping, ISO 8601 times with their offset in the shop's time zone. Columns are
never renamed, removed or reordered; later versions only add columns at the end.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select

from .. import money
from ..checkout import coins
from ..checkout.inputs import N_, InputError
from ..ledger import Ledger, reading
from ..ledger.schema import checkouts, z_lines

COLUMNS = ("checkout_id", "created_at", "closed_at", "shop_day", "status", "source", "display",
           "cashier", "reference", "currency", "amount", "tip", "total", "coin", "network",
           "coin_amount", "conversion_rate", "exchange_fee", "commission", "received",
           "transaction_id", "sequence_id", "z_number")
# Text from outside the kiosk: a leading = + - @ (or a tab or CR, or the fullwidth ＝ ＋ － ＠ some
# spreadsheets read as the same signs) would make a spreadsheet run it as a formula, so such a
# value gets a leading apostrophe (OWASP's advice for CSV injection).
TEXT = frozenset({"checkout_id", "display", "cashier", "reference", "transaction_id"})
FORMULA = re.compile("^[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]")
# Who started a checkout, in the ledger's words -> the export's `source`.
SOURCE = {"kiosk": "kiosk", "display": "display", "cashier": "console", "till": "till"}
BATCH = 500  # rows read from the database, and written to the response, at a time
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 2000, 9998


class RangeError(InputError):
    """The range of days asked for is not one: a clear message, nothing read."""


def parse_day(raw: str | None) -> date | None:
    """One shop day written YYYY-MM-DD (None when nothing was written); RangeError otherwise."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        if not DAY.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise RangeError(N_("Dates are written YYYY-MM-DD.")) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise RangeError(N_("Dates are written YYYY-MM-DD."))
    return day


def parse_range(first: str | None, last: str | None) -> tuple[date, date]:
    """The first and last shop day of an export, both included, as YYYY-MM-DD."""
    days: list[date] = []
    for raw in (first, last):
        day = parse_day(raw)
        if day is None:
            raise RangeError(N_("Choose the first and the last day."))
        days.append(day)
    if days[0] > days[1]:
        raise RangeError(N_("The first date must not be after the second."))
    return days[0], days[1]


def day_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of `first` to the start of the day after `last`, in the shop's zone."""
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    return start, end


def shop_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


# -- one row ------------------------------------------------------------------------------------


def counted(row: Mapping[Any, Any]) -> bool:
    """Whether the row's Z report (z_number) counted it as it is now: its status then is its
    status now, and, short of paid, so is what was received. A late payment makes it
    uncounted until the next Z report counts it as a late adjustment."""
    if row["z_number"] is None or row["z_status"] is None:
        return False
    return bool(row["z_status"] == row["status"] and (
        row["status"] == "paid" or row["z_received"] == row["received"]))


def source(row: Mapping[Any, Any]) -> str:
    kind = SOURCE.get(row["started_by_kind"])
    if kind is None:  # imported without its owner: a display's, or a keypad kiosk's
        kind = "display" if row["display_id"] else "kiosk"
    return kind


def checkout_id(row: Mapping[Any, Any]) -> str:
    """A till's or the console's order id (chk_…), else the kiosk's own reference, else upstream's."""
    return str(row["order_id"] or row["kiosk_ref"] or row["tx_id"] or f"row-{row['id']}")


def values(row: Mapping[Any, Any], zone: ZoneInfo, z_number: int | None = None) -> dict[str, str]:
    """The export's texts of one ledger row (`z_number`: the Z report counting it now, else
    the row's own when it counted it as it is)."""
    if z_number is None and counted(row):
        z_number = int(row["z_number"])
    amount: Decimal = row["amount"]
    tip: Decimal = row["tip"] or Decimal(0)
    coin, network = row["coin"] or "", row["network"] or ""
    kind = source(row)
    out = {
        "checkout_id": checkout_id(row),
        "created_at": _moment(row["created_at"], zone),
        "closed_at": _moment(row["closed_at"], zone),
        "shop_day": shop_day(row["created_at"], zone).isoformat(),
        "status": row["status"],
        "source": kind,
        "display": row["display_id"] or "",
        "cashier": (row["started_by"] or "") if kind in ("console", "till") else "",
        "reference": row["reference"] or "",
        "currency": row["currency"],
        "amount": _fiat(amount, row["currency"]),
        "tip": _fiat(tip, row["currency"]),
        "total": _fiat(amount + tip, row["currency"]),
        "coin": coin,
        "network": network,
        "coin_amount": _coin(row["coin_amount"], coin, network, coins.due),
        "conversion_rate": _plain(row["conversion_rate"]),
        "exchange_fee": _plain(row["exchange_fee"]),
        "commission": _plain(row["commission"]),
        "received": _coin(row["received"], coin, network, coins.received),
        "transaction_id": row["tx_id"] or "",
        "sequence_id": "" if row["sequence_id"] is None else str(row["sequence_id"]),
        "z_number": "" if z_number is None else str(z_number),
    }
    for name in TEXT:
        if FORMULA.match(out[name]):
            out[name] = "'" + out[name]
    return out


def _moment(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")


def _plain(amount: Decimal | None) -> str:
    """Dot decimals, no grouping, no exponent, every digit kept."""
    return "" if amount is None else f"{amount:f}"


def _fiat(amount: Decimal, currency: str | None) -> str:
    """An amount in the currency's digits, as the till API gives it (a sale without a tip is
    kept with a tip of 0: 0.00 EUR, 0.000 KWD). A figure with more digits than that is written as
    kept, never rounded away."""
    if currency and money.is_known(currency) and money.is_exact(amount, currency):
        amount = money.rounded(amount, currency)
    return _plain(amount)


def _coin(amount: Decimal | None, coin: str, network: str, rounding: Any) -> str:
    if amount is None:
        return ""
    if not coin:
        return _plain(amount)
    return coins.wallet_text(rounding(amount, coin, network))


# -- the file -----------------------------------------------------------------------------------


def rows_query() -> Select[Any]:
    """Every checkout with the line of the Z report that last counted it (if any)."""
    line = z_lines.alias("counted")
    return (select(checkouts, line.c.status.label("z_status"), line.c.received.label("z_received"))
            .select_from(checkouts.outerjoin(line, and_(line.c.z_number == checkouts.c.z_number,
                                                        line.c.checkout_id == checkouts.c.id))))


def listing(ledger: Ledger, *, start: datetime | None = None, end: datetime | None = None,
            status: str | None = None, display_id: str | None = None,
            before: tuple[datetime, int] | None = None, limit: int = 20) -> list[Mapping[Any, Any]]:
    """The export's rows for the till API, newest first: the orders of tills and the console
    (a keypad's sale stays out of a till's reach), created in [start, end), and older than
    `before` (created_at, id), the last row of the page before (keyset paging: rows added since
    never shift a page)."""
    query = rows_query().where(checkouts.c.order_id.is_not(None))
    if start is not None:
        query = query.where(checkouts.c.created_at >= start)
    if end is not None:
        query = query.where(checkouts.c.created_at < end)
    if status is not None:
        query = query.where(checkouts.c.status == status)
    if display_id is not None:
        query = query.where(checkouts.c.display_id == display_id)
    if before is not None:
        moment, row_id = before
        query = query.where(or_(checkouts.c.created_at < moment,
                                and_(checkouts.c.created_at == moment, checkouts.c.id < row_id)))
    query = query.order_by(checkouts.c.created_at.desc(), checkouts.c.id.desc()).limit(limit)
    ledger.ensure()
    with reading(ledger.engine) as conn:
        return list(conn.execute(query).mappings())


def export(ledger: Ledger, first: date, last: date, zone: ZoneInfo) -> Iterator[str]:
    """The CSV of the checkouts started on the shop days `first` to `last` (both included), in
    pieces: the header first, then a piece per batch of rows, never the whole file in memory."""
    start, end = day_range(first, last, zone)
    query = (rows_query().where(checkouts.c.created_at >= start, checkouts.c.created_at < end)
             .order_by(checkouts.c.created_at, checkouts.c.id))
    ledger.ensure()
    with reading(ledger.engine) as conn:
        # The query runs before the header is given: a ledger away fails the request, not the file.
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        yield text([dict(zip(COLUMNS, COLUMNS, strict=True))])
        for batch in result.mappings().partitions():
            yield text(values(row, zone) for row in batch)


def text(rows: Iterable[Mapping[str, str]]) -> str:
    """Rows as RFC 4180 CSV: CRLF line ends, a field quoted when it holds a comma, a quote or a
    line break, its quotes doubled."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n", extrasaction="ignore")
    writer.writerows(rows)
    return out.getvalue()
