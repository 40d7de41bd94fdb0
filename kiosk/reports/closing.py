"""Closing the day: X and Z reports, from the ledger.

A Z report counts every checkout that ended since the previous one (how a register closes, not a
calendar day), is numbered from 1 without gaps, and never changes once made: its figures and each
checkout's export row as it read then are stored with it. A checkout that changes after its Z
report counted it (money arriving for a sale the kiosk had ended) is counted again by the next Z
report, as a late adjustment: the money lands in the period it arrived in, as a register books a
late payment, and the closed report stays as printed.

Two operators closing at once make one report: the close names the report it follows, and runs
alone (PostgreSQL: an advisory lock and the rows locked; SQLite: one writer at a time). The second
finds a newer report than the one it follows and makes none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, insert, or_, select, text, update
from sqlalchemy.engine import Connection

from ..clock import now as clock_now
from ..ledger import Ledger, reading
from ..ledger.schema import checkouts, z_lines
from ..ledger.schema import z_reports as reports
from ..ledger.states import FINAL, OPEN
from .export import COLUMNS, rows_query, values
from .export import text as csv_text
from .figures import figures

LOCK_KEY = 0x6B696F736B5A  # the fleet's one close at a time ("kioskZ")
CHUNK = 500


@dataclass(frozen=True)
class ZSummary:
    number: int
    opened_at: datetime | None
    made_at: datetime
    made_by: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class Closed:
    """The report a close ended with; `made`: False when another close made it first."""

    number: int
    made: bool


def _pending() -> Select[Any]:
    """The checkouts a report counts now: ended and never counted, or changed since their last
    report counted them (a status that moved; short of paid, more money received)."""
    query = rows_query()
    line = query.selected_columns
    return query.where(
        checkouts.c.status.in_(sorted(FINAL)),
        or_(checkouts.c.z_number.is_(None), line.z_status != checkouts.c.status,
            and_(checkouts.c.status != "paid", line.z_received != checkouts.c.received)),
    ).order_by(checkouts.c.closed_at, checkouts.c.id)


def _lines(conn: Connection, lock: bool = False) -> list[dict[str, Any]]:
    query = _pending()
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=checkouts)
    out = []
    for row in conn.execute(query).mappings():
        late = row["z_number"] is not None
        out.append({**row, "late": late, "was_status": row["z_status"] if late else None,
                    "was_received": row["z_received"] if late else None})
    return out


def _open(conn: Connection) -> list[dict[str, Any]]:
    query = select(checkouts.c.status, checkouts.c.amount, checkouts.c.tip, checkouts.c.currency).where(
        checkouts.c.status.in_(sorted(OPEN)))
    return [dict(row) for row in conn.execute(query).mappings()]


def _newest(conn: Connection) -> tuple[int, datetime | None]:
    row = conn.execute(select(reports.c.number, reports.c.made_at)
                       .order_by(reports.c.number.desc()).limit(1)).first()
    return (0, None) if row is None else (int(row[0]), row[1])


def x_report(ledger: Ledger, currency: str, clock: Callable[[], float] = clock_now) -> ZSummary:
    """What the next Z report would say now, closing nothing (number: the one it would get)."""
    ledger.ensure()
    with reading(ledger.engine) as conn:
        last, since = _newest(conn)
        lines = _lines(conn)
        result = figures(lines, _open(conn), currency)
    return ZSummary(last + 1, since, datetime.fromtimestamp(clock(), UTC), "", result)


def close_day(ledger: Ledger, after: int, *, currency: str, zone: ZoneInfo, by: str,
              clock: Callable[[], float] = clock_now) -> Closed:
    """Make Z report `after + 1`, unless a report newer than `after` exists: then that one is
    the day's closing and nothing is made."""
    ledger.ensure()
    with ledger.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        last, since = _newest(conn)
        if last != after:
            return Closed(last, False)
        number, made = last + 1, datetime.fromtimestamp(clock(), UTC)
        lines = _lines(conn, lock=True)
        conn.execute(insert(reports).values(
            number=number, opened_at=since, made_at=made, made_by=by[:80],
            figures=figures(lines, _open(conn), currency)))
        for start in range(0, len(lines), CHUNK):
            chunk = lines[start:start + CHUNK]
            conn.execute(insert(z_lines), [
                {"z_number": number, "checkout_id": row["id"], "status": row["status"],
                 "received": row["received"], "late": row["late"],
                 "row": values(row, zone, number)}
                for row in chunk])
            conn.execute(update(checkouts).where(checkouts.c.id.in_([row["id"] for row in chunk]))
                         .values(z_number=number))
    return Closed(number, True)


def z_reports(ledger: Ledger, limit: int = 100) -> list[ZSummary]:
    """The newest Z reports first."""
    ledger.ensure()
    with reading(ledger.engine) as conn:
        rows = conn.execute(select(reports).order_by(reports.c.number.desc()).limit(limit)).mappings()
        return [_summary(row) for row in rows]


def z_report(ledger: Ledger, number: int) -> ZSummary | None:
    ledger.ensure()
    with reading(ledger.engine) as conn:
        row = conn.execute(select(reports).where(reports.c.number == number)).mappings().first()
    return None if row is None else _summary(row)


def _summary(row: Any) -> ZSummary:
    return ZSummary(int(row["number"]), row["opened_at"], row["made_at"], row["made_by"], row["figures"])


def z_rows(ledger: Ledger, number: int) -> Iterator[str]:
    """Z report `number`'s checkouts as the export's CSV, each as it read when the report was
    made."""
    ledger.ensure()
    query = select(z_lines.c.row).where(z_lines.c.z_number == number).order_by(z_lines.c.id)
    with reading(ledger.engine) as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
        yield csv_text([dict(zip(COLUMNS, COLUMNS, strict=True))])
        for batch in result.partitions():
            yield csv_text(row[0] for row in batch)
