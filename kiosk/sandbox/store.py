"""The sandbox's in-memory Cryptom Pay: one merchant, its transactions and their status machine."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

from .tron import new_address

COIN_DECIMALS = 6
RESERVATION = timedelta(days=14)
CANCELLABLE = {"PENDING", "TRANSFERRED"}


def object_id() -> str:
    """A 24-hex MongoDB ObjectId: 4 bytes of time, then 8 random bytes."""
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def money(value: Decimal) -> str:
    """Amounts as upstream writes them: a plain decimal string without trailing zeros."""
    text = format(value.normalize(), "f")
    return text


@dataclass
class Faults:
    fail_next: int = 0
    fail_status: int = 500
    # json | html | garbage (a 200 whose body is not JSON) | huge (a 200 of 20 MB of JSON) |
    # drip (the real answer, one byte every half second)
    fail_body: str = "json"
    latency_ms: int = 0
    latency_next: int = 0  # delay only this many requests (0: every one while latency_ms is set)
    only: str = ""  # fail only this endpoint (auth, create, detail, cancel, qr, history)


@dataclass
class SandboxState:
    email: str
    password: str
    token_ttl_ms: int
    rates: dict[tuple[str, str, str], Decimal]  # (coin, network, currency) -> price of one coin
    merchant_id: str = field(default_factory=object_id)
    user_id: str = field(default_factory=object_id)
    creator_id: str = field(default_factory=object_id)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # jti -> real expiry (epoch seconds)
    sequence: int = 10000
    wallet_seq: int = 428048732580321540
    faults: Faults = field(default_factory=Faults)
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- merchant objects as the history example populates them ---------------------------------

    def merchant(self) -> dict[str, Any]:
        created = "2022-09-27T21:54:02.384Z"
        return {
            "_id": self.merchant_id, "cryptomUserId": "1", "merchantName": "Sandbox Shop",
            "assignedToUser": self.user_id, "contactEmail": self.email,
            "website": "shop.example", "callbackDomain": "shop.example",
            "defaultCallbackDomain": "shop.example", "countryCode": 90, "contactNo": 5550000000,
            "securityNo": 1, "agentName": "Sandbox Agent", "status": "ACTIVE",
            "accessType": "ALL", "multipleLocation": "ALL", "created_by": self.creator_id,
            "deleted": False, "date": created, "createdAt": created, "updatedAt": created,
            "updated_by": self.creator_id,
        }

    def user(self) -> dict[str, Any]:
        created = "2022-09-27T21:51:55.552Z"
        return {
            "_id": self.user_id, "email": self.email, "role": "user", "status": "ACTIVE",
            "created_by": self.creator_id, "deleted": False, "date": created,
            "createdAt": created, "updatedAt": created,
        }

    # -- transactions -----------------------------------------------------------------------

    def create(
        self, currency_amount: Decimal, coin: str, network: str,
        user_mobile: str | None, status_note: str | None, currency: str = "TRY",
    ) -> dict[str, Any]:
        rate = self.rates[(coin, network, currency)]
        coin_amount = (currency_amount / rate).quantize(Decimal(1).scaleb(-COIN_DECIMALS), ROUND_UP)
        now = datetime.now(UTC)
        with self.lock:
            self.sequence += 1
            self.wallet_seq += 1 + secrets.randbelow(1000)
            tx_id = object_id()
            tx: dict[str, Any] = {
                "_id": tx_id,
                "currency": currency,
                "currencyAmount": money(currency_amount),
                "conversionRate": money(rate),
                "exchangeFee": "0",
                "clientType": "POS",
                "coin": coin,
                "network": network,
                "coinAmount": money(coin_amount),
                "commission": "0",
                "cryptomUserId": "1",
                "assignedToMerchant": self.merchant_id,
                "cashierID": "9999",
                "status": "PENDING",
                "acceptableThreshold": 1000,
                "totalTransferAmount": "0",
                "isTransferComplete": False,
                "timestamps": str(int(now.timestamp())),
                "timeout": str(int(now.timestamp()) + 60000),
                "deleted": False,
                "date": iso(now),
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "sequenceID": self.sequence,
                "__v": 0,
                "reservedFrom": iso(now),
                "reservedUntil": iso(now + RESERVATION),
                "wallet": {
                    "ID": self.wallet_seq,
                    "coin": coin,
                    "network": network,
                    "address": new_address(),
                    "createdAt": iso(now),
                    "updatedAt": iso(now),
                },
                "id": tx_id,
            }
            if user_mobile:
                tx["userMobile"] = user_mobile
            if status_note:
                tx["statusNote"] = status_note
            self.transactions[tx_id] = tx
            return dict(tx)

    def _touch(self, tx: dict[str, Any]) -> None:
        tx["updatedAt"] = iso(datetime.now(UTC))

    def pay(self, tx_id: str, amount: Decimal) -> dict[str, Any]:
        """Coins arrive at the wallet: they accumulate until the total reaches coinAmount."""
        with self.lock:
            tx = self.transactions[tx_id]
            total = Decimal(tx["totalTransferAmount"]) + amount
            tx["totalTransferAmount"] = money(total)
            if tx["status"] in {"PENDING", "TRANSFERRED"}:
                tx["status"] = "TRANSFERRED"
            if total >= Decimal(tx["coinAmount"]):
                tx["isTransferComplete"] = True
            self._touch(tx)
            return dict(tx)

    def cancel(self, tx_id: str) -> tuple[bool, dict[str, Any]]:
        with self.lock:
            tx = self.transactions[tx_id]
            if tx["isTransferComplete"] or tx["status"] not in CANCELLABLE:
                return False, dict(tx)
            tx["status"] = "CANCELLED"
            self._touch(tx)
            return True, dict(tx)

    def expire(self, tx_id: str) -> dict[str, Any]:
        with self.lock:
            tx = self.transactions[tx_id]
            if not tx["isTransferComplete"] and tx["status"] in CANCELLABLE:
                tx["status"] = "TIMEOUT"
                self._touch(tx)
            return dict(tx)

    def populated(self, tx: dict[str, Any]) -> dict[str, Any]:
        """A history row: merchant and creator as objects, as the document's example shows."""
        row = {k: v for k, v in tx.items() if k not in ("id", "timeout", "exchangeFee")}
        row["assignedToMerchant"] = self.merchant()
        row["created_by"] = self.user()
        row.setdefault("statusNote", "")
        row.setdefault("userMobile", "")
        return row
