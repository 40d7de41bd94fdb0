"""What the shop's staff look at: history filters, today's totals, upstream health."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .. import clock
from ..cryptom import AuthError, CryptomClient, CryptomError, Page, Status, Transaction, Unavailable
from .inputs import N_

STATUSES = [s.value for s in Status if s is not Status.UNKNOWN]
PAGE_SIZE = 20
TODAY_PAGES = 20  # at most this many pages of 100 for the day's totals


@dataclass(frozen=True)
class HistoryQuery:
    """The operator's history form, checked. Only a valid query reaches upstream."""

    status: str = ""
    coin: str = ""
    network: str = ""
    date_from: date | None = None
    date_to: date | None = None
    ref: str = ""
    wallet: str = ""
    mobile: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, args: Any) -> HistoryQuery:
        errors: list[str] = []

        def pick(name: str, allowed: list[str] | None = None, pattern: str | None = None) -> str:
            value = str(args.get(name) or "").strip()
            if not value:
                return ""
            if allowed is not None and value not in allowed:
                errors.append(N_("Choose a value from the list."))
                return ""
            if pattern and not re.fullmatch(pattern, value):
                errors.append(N_("Some filters are not valid."))
                return ""
            return value

        def day(name: str) -> date | None:
            """Day first, as staff write it (31.12.2026 in Turkish, 31/12/2026 in English), or
            ISO 8601 as the page links carry it (2026-12-31)."""
            value = str(args.get(name) or "").strip()
            if not value:
                return None
            written = re.fullmatch(r"([0-9]{1,2})([./])([0-9]{1,2})\2([0-9]{4})", value)
            try:
                if written:
                    return date(int(written.group(4)), int(written.group(3)), int(written.group(1)))
                return date.fromisoformat(value)
            except ValueError:
                errors.append(N_("Write dates day first, like 31/12/2026."))
                return None

        try:
            page = int(str(args.get("page") or "1"))
            if not 1 <= page <= 100000:
                raise ValueError
        except ValueError:
            errors.append(N_("Some filters are not valid."))
            page = 1
        ref = pick("ref", pattern=r"[0-9]{1,12}|[0-9a-fA-F]{24}")
        query = cls(
            status=pick("status", STATUSES),
            coin=pick("coin", pattern=r"[A-Za-z0-9]{2,10}").upper(),
            network=pick("network", pattern=r"[A-Za-z0-9]{2,10}").upper(),
            date_from=day("from"),
            date_to=day("to"),
            ref=ref.lower() if len(ref) == 24 else ref,
            wallet=pick("wallet", pattern=r"[A-Za-z0-9]{20,64}"),
            mobile=re.sub(r"[\s()-]", "", pick("mobile", pattern=r"\+?[0-9 ()-]{6,20}")),
            page=page,
            errors=sorted(set(errors)),
        )
        if query.date_from and query.date_to and query.date_from > query.date_to:
            query.errors.append(N_("The first date must not be after the second."))
        return query

    def upstream_filters(self, zone: ZoneInfo) -> dict[str, str]:
        filters: dict[str, str] = {}
        if self.status:
            filters["status"] = self.status
        if self.coin:
            filters["coin"] = self.coin
        if self.network:
            filters["network"] = self.network
        if self.date_from:
            filters["reservedFrom"] = _utc(datetime.combine(self.date_from, datetime.min.time(), zone))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), datetime.min.time(), zone)
            filters["reservedUntil"] = _utc(end - timedelta(milliseconds=1))
        if self.ref:
            filters["sequenceID" if self.ref.isdigit() else "id"] = self.ref
        if self.wallet:
            filters["walletAddress"] = self.wallet
        if self.mobile:
            filters["userMobile"] = self.mobile
        return filters

    def link_args(self) -> dict[str, str]:
        """The query as URL arguments, to carry into the page links."""
        return {
            k: v for k, v in {
                "status": self.status, "coin": self.coin, "network": self.network,
                "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else "",
                "ref": self.ref, "wallet": self.wallet, "mobile": self.mobile,
            }.items() if v
        }


def _utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def history(client: CryptomClient, query: HistoryQuery, zone: ZoneInfo) -> Page:
    return client.history(query.upstream_filters(zone), page=query.page, limit=PAGE_SIZE)


@dataclass(frozen=True)
class Today:
    paid_count: int
    paid_total: Decimal
    open_count: int
    complete: bool  # False when there were more pages than we read


def today(client: CryptomClient, zone: ZoneInfo,
          now: datetime | None = None) -> tuple[Today, list[Transaction]]:
    """Completed payments since midnight in the shop's time zone, and the rows read."""
    now = now or datetime.fromtimestamp(clock.now(), zone)
    start = datetime.combine(now.date(), datetime.min.time(), zone)
    filters = {"reservedFrom": _utc(start)}
    rows: list[Transaction] = []
    page = client.history(filters, page=1, limit=100)
    rows.extend(page.results)
    while page.has_next_page and page.page < TODAY_PAGES:
        page = client.history(filters, page=page.page + 1, limit=100)
        rows.extend(page.results)
    paid = [tx for tx in rows if tx.is_paid]
    waiting = [tx for tx in rows if not tx.is_paid and tx.status in (Status.PENDING, Status.TRANSFERRED)]
    summary = Today(len(paid), sum((tx.currency_amount for tx in paid), Decimal(0)), len(waiting),
                    complete=not page.has_next_page)
    return summary, rows


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str  # for the staff behind the PIN: upstream's own words
    latency_ms: int | None
    check: str = "ok"  # for the probes: which check failed, in the kiosk's words only


def health(client: CryptomClient) -> Health:
    """Does the login work, and how long does upstream take to answer a small request?"""
    started = time.monotonic()
    try:
        client.history(page=1, limit=1)
    except CryptomError as exc:
        return Health(False, f"{type(exc).__name__}: {exc.message}", None, _failed_check(exc))
    return Health(True, "ok", int((time.monotonic() - started) * 1000))


def _failed_check(exc: CryptomError) -> str:
    if isinstance(exc, AuthError):
        return "upstream: login refused"
    if isinstance(exc, Unavailable):
        return "upstream: not reachable"
    return "upstream: request refused"


__all__ = ["HistoryQuery", "Today", "Health", "history", "today", "health", "STATUSES"]
