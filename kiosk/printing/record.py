"""A print as the store keeps it, how long it keeps trying, and why one is refused. Plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .address import Printer


class NoPrinter(Exception):
    """Neither the display nor the shop has a printer."""


class TooMany(Exception):
    """This sale has been printed MAX_PER_SALE times."""


class NotReady(Exception):
    """The receipt cannot be made yet (the ledger has not heard of the sale): try again."""


@dataclass
class Print:
    id: str
    kind: str  # receipt or document
    key: str
    printer: Printer
    created: float
    state: str = "waiting"  # waiting, printed, failed
    tx: str | None = None  # the checkout of a receipt; what a document prints (`z:<n>`), if counted
    copy: bool = False
    language: str = "tr"
    tries: int = 0
    due: float = 0.0
    error: str | None = None
    printed_at: float | None = None
    document: dict[str, Any] = field(default_factory=dict)

    def dumps(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if k != "printer"}
        data["printer"] = self.printer.to_json()
        return json.dumps(data)

    @classmethod
    def loads(cls, text: str) -> Print:
        data = json.loads(text)
        data["printer"] = Printer.from_json(data["printer"])
        return cls(**data)


@dataclass(frozen=True)
class BrowserPrint:
    """A print in the tablet's own browser: `first` when this request had not printed yet."""

    first: bool
    copy: bool


@dataclass(frozen=True)
class Retry:
    first: float = 2.0
    longest: float = 60.0
    window: float = 3600.0

    def after(self, tries: int) -> float:
        return min(self.first * 2.0 ** max(tries - 1, 0), self.longest)
