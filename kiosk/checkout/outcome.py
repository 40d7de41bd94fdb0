"""What the customer should see for a transaction: the rules, with no I/O."""

from __future__ import annotations

from enum import StrEnum

from ..cryptom import Status, Transaction


class Outcome(StrEnum):
    WAITING = "waiting"  # nothing received yet
    PARTLY_PAID = "partly_paid"  # some coins arrived, still waiting for the rest
    DUE = "due"  # the kiosk's deadline passed: it must cancel upstream, then look again
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PARTIAL_KEPT = "partial"  # ended with money received: never shown as a plain cancellation
    SEE_CASHIER = "see_cashier"  # upstream lost it or will not settle it: a person must look

    @property
    def is_final(self) -> bool:
        return self not in (Outcome.WAITING, Outcome.PARTLY_PAID, Outcome.DUE)


# Statuses after which upstream will neither take more money into this transaction nor
# complete it, short of a person looking.
ENDED = {Status.CANCELLED, Status.TIMEOUT}


def decide(tx: Transaction, deadline: float, now: float, cancel_reason: str | None) -> Outcome:
    """`isTransferComplete` alone means paid; the status only tells an ended transaction apart."""
    if tx.is_paid:
        return Outcome.PAID
    if tx.status in ENDED:
        if tx.total_transfer_amount > 0:
            return Outcome.PARTIAL_KEPT
        if cancel_reason == "deadline" or tx.status is Status.TIMEOUT:
            return Outcome.EXPIRED
        return Outcome.CANCELLED
    if now >= deadline:
        return Outcome.DUE
    return Outcome.PARTLY_PAID if tx.is_partial else Outcome.WAITING
