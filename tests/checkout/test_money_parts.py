"""Rounding across the parts of a sale: for any amount a till or the keypad may send and any tip
preset, in currencies of 0, 2 and 3 digits, the amount, the tip and the total are each in the
currency's digits, amount + tip is the total exactly, and the accounting export and the till API
show the same three figures."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import money
from kiosk.api.reading import parse_api_amount
from kiosk.checkout.record import Record
from kiosk.checkout.tips import NONE, choose, preset_tip
from kiosk.displays.models import Order, OrderState
from kiosk.ledger import Entry, Ledger, make_engine
from kiosk.reports import export
from kiosk.tills import present

HIGH = Decimal(10**9)  # above any amount drawn: the limits are pinned elsewhere
CURRENCIES = ["JPY", "TRY", "EUR", "KWD", "BHD"]
PERCENTS = [Decimal(p) for p in ("5", "10", "12.5", "15", "18", "20", "33.3")]
SHOP = ZoneInfo("Europe/Istanbul")
DAY = date(2026, 3, 14)
AT = datetime(2026, 3, 14, 12, 0, tzinfo=SHOP).timestamp()
_ids = itertools.count()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Ledger:
    book = Ledger(make_engine(f"sqlite:///{tmp_path_factory.mktemp('parts') / 'ledger.sqlite3'}"),
                  clock=lambda: AT + 3600)
    book.upgrade()
    return book


def till_text(units: int, currency: str) -> str:
    """The amount as a till may write it: the fewest digits (12.5 EUR, 1.25 KWD, 300 JPY)."""
    value = money.rounded(units * money.step(currency), currency).normalize()
    return f"{value:f}"


def in_digits(text: str, currency: str) -> bool:
    whole, dot, frac = text.partition(".")
    places = money.digits(currency)
    return whole.isdigit() and (len(frac) == places and frac.isdigit() if places else not dot)


class ChosenTip:
    """What the till API reads of an order before its transaction: the customer's tip, chosen
    on the display, and nothing upstream yet (kiosk.displays.Orders answers the same)."""

    def __init__(self, tip: Decimal | None) -> None:
        self.tip = tip

    def known(self, order):
        return {}

    def tx_of(self, order):
        return None

    def tip_of(self, order):
        return self.tip


def exported(ledger: Ledger, tx_id: str) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO("".join(export(ledger, DAY, DAY, SHOP))))
    [row] = [r for r in rows if r["transaction_id"] == tx_id]
    return row


def answer(amount: Decimal, percent: Decimal | None, currency: str) -> Decimal:
    """The tip of the tip screen's answer: the preset of `percent`, or No tip."""
    key = NONE if percent is None else f"{percent.normalize():f}"
    return choose(key, None, amount, tuple(PERCENTS), currency)


amounts = st.integers(min_value=1, max_value=10**8)  # in the currency's smallest steps
tips = st.one_of(st.none(), st.sampled_from(PERCENTS))  # None: the customer chose no tip


@settings(max_examples=150, deadline=None)
@given(units=amounts, percent=tips, currency=st.sampled_from(CURRENCIES))
def test_amount_tip_and_total_are_in_the_currencys_digits_and_add_up(units, percent, currency):
    amount = parse_api_amount(till_text(units, currency), Decimal(0), HIGH, currency)
    tip = answer(amount, percent, currency)
    for part in (amount, tip, amount + tip):
        assert money.is_exact(part, currency) and -part.as_tuple().exponent == money.digits(currency)
    assert amount + tip - amount == tip  # exactly: nothing lost to a rounding of the total
    if percent is not None:  # within half a step of the percentage, never further
        assert abs(tip - amount * percent / 100) <= money.step(currency) / 2
        assert tip == preset_tip(amount, percent, currency)


@settings(max_examples=60, deadline=None)
@given(units=amounts, percent=tips, currency=st.sampled_from(CURRENCIES))
def test_the_export_row_and_the_till_api_show_the_same_three_figures(ledger, units, percent, currency):
    amount = parse_api_amount(till_text(units, currency), Decimal(0), HIGH, currency)
    # The tip as the checkout keeps it, from the tip screen's answer to its stored record.
    tip = Record.loads(Record("tx", amount, "TRX", "TRX", AT, AT + 600,
                              tip=answer(amount, percent, currency)).dumps()).tip
    tx_id = f"tx-parts-{next(_ids)}"
    ledger.record(Entry(at=AT, tx_id=tx_id, status="waiting", started_by_kind="till", started_by="till-1",
                        amount=amount, tip=tip, currency=currency, coin="TRX", network="TRX",
                        created=AT, deadline=AT + 600))
    row = exported(ledger, tx_id)
    order = Order(id="chk_parts", display="d1", amount=amount, currency=currency, reference=None,
                  note=None, lines=(), created=AT, deadline=AT + 600, source="api")
    api = present.checkout(OrderState(order, "pending"), ChosenTip(None if percent is None else tip))
    figures = (row["amount"], row["tip"], row["total"])
    assert figures == (api["amount"], api["tip_amount"], api["total_amount"])
    assert all(in_digits(f, currency) for f in figures), figures
    assert Decimal(row["amount"]) + Decimal(row["tip"]) == Decimal(row["total"]) == amount + tip
    assert row["currency"] == api["currency"] == currency


def test_a_sale_without_a_tip_exports_its_zero_tip_in_the_currencys_digits(ledger):
    """The edge the property found: a sale without a tip is kept with a tip of 0, and the export
    wrote it so (0, not 0.000) where the till API said 0.000."""
    ledger.record(Entry(at=AT, tx_id="tx-no-tip", status="waiting", started_by_kind="kiosk",
                        amount=Decimal("1.250"), tip=Decimal(0), currency="KWD", created=AT,
                        deadline=AT + 600))
    row = exported(ledger, "tx-no-tip")
    assert (row["amount"], row["tip"], row["total"]) == ("1.250", "0.000", "1.250")
    assert datetime.fromisoformat(row["created_at"]).astimezone(UTC).timestamp() == AT
