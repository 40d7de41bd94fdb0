"""Typed views of the Cryptom Pay JSON. Amounts are Decimal, never float."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, overload


class Status(StrEnum):
    """Upstream statuses. They are internal to Cryptom and may change: see `Status.parse`."""

    PENDING = "PENDING"
    TIMEOUT = "TIMEOUT"
    TRANSFERRED = "TRANSFERRED"
    CONVERTING = "CONVERTING"
    CONVERTED = "CONVERTED"
    WALLET_CHARGED = "WALLET_CHARGED"
    DONE = "DONE"
    MANUAL_CHECK = "MANUAL_CHECK"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: Any) -> Status:
        try:
            return cls(str(value).upper())
        except ValueError:
            return cls.UNKNOWN


@overload
def to_decimal(value: Any) -> Decimal: ...
@overload
def to_decimal(value: Any, default: None) -> Decimal | None: ...
def to_decimal(value: Any, default: Decimal | None = Decimal(0)) -> Decimal | None:
    """Upstream sends amounts as strings and some numbers as JSON numbers; both become Decimal."""
    if value is None or value == "":
        return default
    if isinstance(value, float):  # only if a caller parsed JSON without parse_float=Decimal
        value = repr(value)
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return default
    return result if result.is_finite() else default


def to_datetime(value: Any) -> datetime | None:
    """A moment, or None for anything that is not one (a year past 9999 included)."""
    if not value:
        return None
    try:
        if isinstance(value, int | Decimal):
            return datetime.fromtimestamp(float(value), UTC)
        text = str(value)
        if text.isdigit():  # "timestamps": "1664666524" (epoch seconds as a string)
            return datetime.fromtimestamp(int(text), UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None


def to_text(value: Any) -> str | None:
    """A text field (note, mobile) that upstream may send as a number or an object."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def to_count(value: Any) -> int | None:
    """A whole number such as `sequenceID`, as a number or digits (a sane length of them)."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return int(text) if re.fullmatch(r"[0-9]{1,30}", text) else None


def ref_id(value: Any) -> str | None:
    """`assignedToMerchant` and `created_by` come as an id or as the populated object."""
    if isinstance(value, dict):
        value = value.get("_id") or value.get("id")
    return None if value is None else str(value)


@dataclass(frozen=True)
class Wallet:
    id: int | None  # exceeds 2**53: kept as a Python int, never through float
    coin: str
    network: str
    address: str

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Wallet | None:
        if not isinstance(data, dict):
            return None
        return cls(
            id=to_count(data.get("ID")),
            coin=str(data.get("coin", "")),
            network=str(data.get("network", "")),
            address=str(data.get("address", "")),
        )


@dataclass(frozen=True)
class Transaction:
    id: str
    sequence_id: int | None
    currency: str
    currency_amount: Decimal
    coin: str
    network: str
    coin_amount: Decimal
    conversion_rate: Decimal | None
    total_transfer_amount: Decimal
    is_transfer_complete: bool
    status: Status
    status_raw: str
    wallet: Wallet | None
    user_mobile: str | None = None
    status_note: str | None = None
    merchant_id: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    reserved_from: datetime | None = None
    reserved_until: datetime | None = None
    exchange_fee: Decimal | None = None  # upstream's quote: its fee and commission, as sent
    commission: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transaction:
        tx_id = data.get("id") or data.get("_id")
        if not tx_id:
            raise ValueError("transaction without an id")
        return cls(
            id=str(tx_id),
            sequence_id=to_count(data.get("sequenceID")),
            currency=str(data.get("currency", "")),
            currency_amount=to_decimal(data.get("currencyAmount")),
            coin=str(data.get("coin", "")),
            network=str(data.get("network", "")),
            coin_amount=to_decimal(data.get("coinAmount")),
            conversion_rate=to_decimal(data.get("conversionRate"), None),
            # No payment takes money back: below nothing is nothing received.
            total_transfer_amount=max(to_decimal(data.get("totalTransferAmount")), Decimal(0)),
            # Only a real JSON true means paid: a string "false" must never count as paid.
            is_transfer_complete=data.get("isTransferComplete") is True,
            status=Status.parse(data.get("status")),
            status_raw=str(data.get("status", "")),
            wallet=Wallet.from_json(data.get("wallet")),
            user_mobile=to_text(data.get("userMobile")),
            status_note=to_text(data.get("statusNote")),
            merchant_id=ref_id(data.get("assignedToMerchant")),
            created_by=ref_id(data.get("created_by")),
            created_at=to_datetime(data.get("createdAt")),
            updated_at=to_datetime(data.get("updatedAt")),
            reserved_from=to_datetime(data.get("reservedFrom")),
            reserved_until=to_datetime(data.get("reservedUntil")),
            exchange_fee=to_decimal(data.get("exchangeFee"), None),
            commission=to_decimal(data.get("commission"), None),
            raw=data,
        )

    @property
    def is_paid(self) -> bool:
        return self.is_transfer_complete

    @property
    def is_partial(self) -> bool:
        return not self.is_paid and self.total_transfer_amount > 0

    @property
    def is_cancelled(self) -> bool:
        return self.status is Status.CANCELLED

    @property
    def amount_due(self) -> Decimal:
        return max(self.coin_amount - self.total_transfer_amount, Decimal(0))

    @property
    def address(self) -> str:
        return self.wallet.address if self.wallet else ""


@dataclass(frozen=True)
class Page:
    """One page of history, in the upstream's mongoose-paginate shape."""

    results: list[Transaction]
    total_docs: int
    limit: int
    page: int
    total_pages: int
    has_prev_page: bool
    has_next_page: bool
    prev_page: int | None
    next_page: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Page:
        def num(key: str, default: int) -> int:
            value = data.get(key)
            return int(value) if isinstance(value, int | Decimal) else default

        def opt(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, int) else None

        results = [Transaction.from_json(item) for item in data.get("results") or []]
        return cls(
            results=results,
            total_docs=num("totalDocs", len(results)),
            limit=num("limit", 10),
            page=num("page", 1),
            total_pages=num("totalPages", 1),
            has_prev_page=data.get("hasPrevPage") is True,
            has_next_page=data.get("hasNextPage") is True,
            prev_page=opt("prevPage"),
            next_page=opt("nextPage"),
        )


@dataclass(frozen=True)
class Token:
    """An access token and when we stop trusting it (epoch seconds)."""

    access_token: str
    expires_at: float


@dataclass(frozen=True)
class Refusal:
    """Upstream refused the login with these credentials (`who`: a short digest of them): no
    new login before `until`; `level` counts the refusals in a row, for the back-off."""

    who: str
    until: float
    level: int
