"""What the ledger keeps of a checkout's state and for the operator, on SQLite and on a real
PostgreSQL: the state's compare and set (`advance`), the attention items (noted, noted again,
dismissed for good, newest first), the rows in the order they were started, and the entries kept
while the ledger was away, exactly as they were."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, text

from kiosk.ledger import Entry, Ledger, Line, make_engine
from kiosk.ledger.book import Conflict

T0 = 1_800_000_000.0


@pytest.fixture
def ledger(ledger_url) -> Ledger:
    clock = {"now": T0 + 1000}
    book = Ledger(make_engine(ledger_url), clock=lambda: clock["now"])
    book.upgrade()
    book.moment = clock  # type: ignore[attr-defined]  # the test moves it
    return book


def started(tx_id: str = "tx1", created: float = T0, **facts) -> Entry:
    base = dict(at=created, tx_id=tx_id, status="waiting", started_by_kind="kiosk", started_by="k1",
                amount=Decimal("300.00"), currency="TRY", coin="TRX", network="TRX", created=created,
                deadline=created + 600)
    return Entry(**{**base, **facts})


# -- the state: compare and set ----------------------------------------------------------------------


def test_a_state_is_written_once_from_the_version_it_was_read_at(ledger):
    ledger.record(started())
    row = ledger.row("tx1")
    state = {"cancel_refusals": 2, "cancel_retry_at": T0 + 7.25, "lost_since": T0 + 0.001, "lost_count": 3}
    assert ledger.advance(row, Entry(at=T0 + 5, tx_id="tx1", status="partly_paid"), state)
    after = ledger.row("tx1")
    assert (after["version"], after["status"]) == (2, "partly_paid")
    assert {k: after[k] for k in state} == state  # the clock's seconds exactly
    assert after["updated_at"] == datetime.fromtimestamp(T0 + 1000, UTC)
    # From the old version: refused, nothing written.
    assert not ledger.advance(row, Entry(at=T0 + 6, tx_id="tx1", status="paid"), {"lost_count": 0})
    assert (ledger.row("tx1")["version"], ledger.row("tx1")["status"]) == (2, "partly_paid")


def test_a_state_that_changes_nothing_writes_nothing(ledger):
    ledger.record(started())
    row = ledger.row("tx1")
    same = {"cancel_refusals": 0, "cancel_retry_at": None, "lost_since": None, "lost_count": 0}
    assert ledger.advance(row, Entry(at=T0 + 5, tx_id="tx1", status="waiting"), same)
    assert ledger.row("tx1")["version"] == 1
    # One column of the state alone is a change.
    assert ledger.advance(row, Entry(at=T0 + 5, tx_id="tx1"), {**same, "lost_count": 1})
    assert (ledger.row("tx1")["version"], ledger.row("tx1")["lost_count"]) == (2, 1)


def test_the_state_of_an_entry_keeps_its_own_rules(ledger):
    """Written with a state, the status still only moves up, and a column the entry's rules
    change is not written over by the state's."""
    ledger.record(started(status="paid"))
    row = ledger.row("tx1")
    assert ledger.advance(row, Entry(at=T0 + 5, tx_id="tx1", status="cancelled"), {"lost_count": 2})
    after = ledger.row("tx1")
    assert (after["status"], after["lost_count"], after["version"]) == ("paid", 2, 2)


def test_a_row_is_read_by_its_transaction_only(ledger):
    assert ledger.row("tx1") is None
    ledger.record(started(order_id="chk_1"))
    assert ledger.row("tx1")["order_id"] == "chk_1" and ledger.row("chk_1") is None


def test_a_status_that_is_not_a_word_is_refused_by_name(ledger):
    row = ledger.record(started())
    with pytest.raises(ValueError, match="not a status word: 'lost'"):
        ledger.set_status(row.id, 1, "lost")


def test_rows_come_in_the_order_they_were_started(ledger):
    for tx_id, created in (("b", T0 + 20), ("a", T0 + 10), ("c", T0 + 10)):
        ledger.record(started(tx_id, created))
    assert [row.tx_id for row in ledger.all()] == ["a", "c", "b"]  # by start, then as written
    ledger.record(started("a", T0 + 10, at=T0 + 30, status="paid"))  # a change keeps its place
    assert [row.tx_id for row in ledger.all()] == ["a", "c", "b"]


# -- attention items ------------------------------------------------------------------------------


def test_an_item_is_open_until_dismissed_and_kept_dismissed(ledger):
    ledger.note("tx1", "partial", T0 + 1, Decimal("300.00"), "TRX", "TRX", Decimal("6.5"), Decimal("24"))
    [item] = ledger.attention()
    assert (item.tx_id, item.kind, item.at, item.amount, item.received, item.expected) == (
        "tx1", "partial", datetime.fromtimestamp(T0 + 1, UTC), Decimal("300.00"), Decimal("6.5"),
        Decimal("24"))
    assert item.dismissed_at is None
    ledger.moment["now"] = T0 + 2000
    ledger.dismiss("tx1")
    assert ledger.attention() == []
    kept = ledger.item("tx1")
    assert (kept.kind, kept.dismissed_at) == ("partial", datetime.fromtimestamp(T0 + 2000, UTC))
    ledger.moment["now"] = T0 + 3000
    ledger.dismiss("tx1")  # dismissed already: its moment stays
    assert ledger.item("tx1").dismissed_at == datetime.fromtimestamp(T0 + 2000, UTC)
    assert ledger.item("tx2") is None


def test_dismissing_one_item_leaves_the_others_open(ledger):
    for tx in ("tx1", "tx2"):
        ledger.note(tx, "partial", T0 + 1, Decimal("300.00"), "TRX", "TRX", Decimal("6.5"), Decimal("24"))
    ledger.dismiss("tx1")
    assert [item.tx_id for item in ledger.attention()] == ["tx2"]
    assert ledger.item("tx2").dismissed_at is None


def test_a_finding_noted_again_is_the_latest_and_open_again(ledger):
    ledger.note("tx1", "partial_late", T0 + 1, Decimal("300"), "TRX", "TRX", Decimal("6"), Decimal("24"))
    ledger.dismiss("tx1")
    ledger.note("tx1", "paid_late", T0 + 5, Decimal("300"), "TRX", "TRX", Decimal("24"), Decimal("24"))
    [item] = ledger.attention()
    assert (item.kind, item.at, item.received, item.dismissed_at) == (
        "paid_late", datetime.fromtimestamp(T0 + 5, UTC), Decimal("24"), None)
    ledger.note("tx1", "see_cashier", T0 + 6, Decimal("300"), "TRX", "TRX")  # nothing received known
    [item] = ledger.attention()
    assert (item.kind, item.received, item.expected) == ("see_cashier", None, None)


def test_items_come_newest_first(ledger):
    for tx_id, at in (("a", T0 + 1), ("b", T0 + 3), ("c", T0 + 2), ("d", T0 + 3)):
        ledger.note(tx_id, "unknown", at, Decimal("1"), "TRX", "TRX")
    assert [item.tx_id for item in ledger.attention()] == ["b", "d", "c", "a"]


class Meanwhile:
    """Another writer's turn just before each of this ledger's statements on the attention
    items (`before`: a statement's first words, and what the other writer does then). Only on
    PostgreSQL: on SQLite the update's write lock keeps every other writer out until the insert."""

    def __init__(self, ledger: Ledger, url: str, **before) -> None:
        if not url.startswith("postgresql"):
            pytest.skip("SQLite's write lock leaves no moment between the update and the insert")
        self.engine, self.other, self.before = ledger.engine, make_engine(url), before

    def __enter__(self) -> Meanwhile:
        event.listen(self.engine, "before_cursor_execute", self.turn)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self.turn)
        self.other.dispose()

    def turn(self, conn, cursor, statement, *args) -> None:
        for start, sql in self.before.items():
            if statement.startswith(start.replace("_", " ")) and "attention" in statement:
                with self.other.begin() as other:
                    other.execute(text(sql))


NOTED = ("INSERT INTO attention (tx_id, kind, at, amount, coin, network) "
         "VALUES ('tx1', 'partial', now(), 300, 'TRX', 'TRX') ON CONFLICT DO NOTHING")


def test_an_item_another_writer_noted_first_is_written_over(ledger, ledger_url):
    with Meanwhile(ledger, ledger_url, INSERT_INTO=NOTED):
        ledger.note("tx1", "see_cashier", T0 + 6, Decimal("300"), "TRX", "TRX")
    [item] = ledger.attention()
    assert (item.kind, item.at, item.amount) == ("see_cashier", datetime.fromtimestamp(T0 + 6, UTC),
                                                 Decimal("300"))


def test_an_item_other_writers_keep_changing_is_refused_by_name(ledger, ledger_url):
    with Meanwhile(ledger, ledger_url, UPDATE="DELETE FROM attention", INSERT_INTO=NOTED), \
            pytest.raises(Conflict, match="^the attention item of tx1 kept changing$"):
        ledger.note("tx1", "see_cashier", T0 + 6, Decimal("300"), "TRX", "TRX")


# -- entries kept while the ledger was away ---------------------------------------------------------


def test_an_entry_kept_as_text_comes_back_exactly():
    entry = Entry(
        at=T0 + 0.125, tx_id="tx1", order_id="chk_1", status="paid", started_by_kind="till", started_by="t-1",
        display_id="d1", kiosk_ref="0123456789abcdef", reference="R-1",
        lines=(Line("Çay", 2, Decimal("15.00")), Line("Simit", 1, Decimal("1E+1"))), note="Table 4",
        amount=Decimal("40.00"), currency="TRY", coin="TRX", network="TRX", coin_amount=Decimal("0.00000001"),
        conversion_rate=Decimal("12.50"), exchange_fee=Decimal("1.474"), commission=Decimal("4"),
        address="TXYZ", sequence_id=42, upstream_status="DONE", created=T0, deadline=T0 + 600,
        cancel_reason="till", received=Decimal("24.000000"), attention=frozenset({"paid_late", "partial"}),
    )
    text = entry.to_json()
    assert text["coin_amount"] == "0.00000001" and text["amount"] == "40.00"  # never in exponent form
    assert text["lines"][1] == {"name": "Simit", "quantity": 1, "unit_amount": "10"}
    assert text["attention"] == ["paid_late", "partial"] and text["sequence_id"] == 42
    back = Entry.from_json(text)
    assert back == entry
    assert back.lines[1].unit_amount == Decimal("10") and isinstance(back.created, float)
    sparse = Entry(at=T0, tx_id="tx2")
    assert sparse.to_json() == {"at": T0, "tx_id": "tx2", "attention": []}
    back = Entry.from_json({"at": str(T0), "tx_id": "tx2", "created": "1800000000.5",
                            "deadline": "1800000600.5", "sequence_id": "7", "received": 1.5})
    assert back == Entry(at=T0, tx_id="tx2", created=T0 + 0.5, deadline=T0 + 600.5, sequence_id=7,
                         received=Decimal("1.5"))
    assert isinstance(back.deadline, float)
