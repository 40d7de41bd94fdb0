"""The rules of a ledger row, pinned at their edges: which facts an entry brings (`facts`), what it
changes in a row (`changes`), the row a first entry makes (`new_row`), which way a status moves
(`moves`), and which row a checkout's ids find (`_pick`), as tables; then the same rules on a real
database, SQLite and PostgreSQL: the transaction's row before the order's, a write that loses a race
made again, and one that loses every race refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text

from kiosk.ledger import Entry, Ledger, Line, Sale, make_engine, moves
from kiosk.ledger.book import TRIES, Conflict, _pick, changes, facts, new_row
from kiosk.ledger.schema import checkouts

T0 = 1_800_000_000.0
NOW = datetime.fromtimestamp(T0 + 1000, UTC)  # the ledger's clock in these tests


def at(seconds: float) -> datetime:
    """The moment `seconds` after T0."""
    return datetime.fromtimestamp(T0 + seconds, UTC)


@pytest.fixture
def ledger(ledger_url) -> Iterator[Ledger]:
    book = Ledger(make_engine(ledger_url), clock=lambda: T0 + 1000)
    book.upgrade()
    yield book
    book.engine.dispose()


def started(tx_id: str | None = "tx1", **facts: Any) -> Entry:
    base = dict(at=T0, tx_id=tx_id, status="waiting", started_by_kind="kiosk", started_by="k1",
                amount=Decimal("300.00"), currency="TRY", coin="TRX", network="TRX", created=T0,
                deadline=T0 + 600)
    return Entry(**{**base, **facts})


# -- the facts an entry brings ---------------------------------------------------------------------------

FACTS = [
    pytest.param(Entry(at=T0), {}, id="nothing-known"),
    pytest.param(Entry(at=T0, tx_id="tx1", started_by_kind="unknown", started_by=None), {"tx_id": "tx1"},
                 id="an-unknown-starter-is-no-news"),
    pytest.param(Entry(at=T0, tx_id="tx1", started_by_kind="till", started_by="front"),
                 {"tx_id": "tx1", "started_by_kind": "till", "started_by": "front"}, id="a-known-starter"),
    pytest.param(Entry(at=T0 + 5, order_id="chk_1", lines=(Line("Çay", 2, Decimal("15.00")),),
                       amount=Decimal("0"), tip=Decimal("0.00"), ask_tip=False, created=T0, deadline=T0 + 600,
                       status="pending", received=Decimal("1"), attention=frozenset({"partial"})),
                 {"order_id": "chk_1", "lines": [{"name": "Çay", "quantity": 2, "unit_amount": "15.00"}],
                  "amount": Decimal("0"), "tip": Decimal("0.00"), "ask_tip": False, "created_at": at(0),
                  "deadline": at(600)},
                 id="zero-and-false-are-facts;status-received-attention-are-not"),
]


@pytest.mark.parametrize(("entry", "expected"), FACTS)
def test_the_facts_an_entry_brings(entry, expected):
    assert facts(entry) == expected


# -- what an entry changes in a row ---------------------------------------------------------------------


def held(seen: float = 10, **columns: Any) -> dict[str, Any]:
    """A row as the database holds it: the one `started` makes, seen `seen` seconds after T0."""
    made = new_row(started(at=T0 + seen), at(0))
    assert made is not None
    blank = {column.name: None for column in checkouts.columns}
    return {**blank, **made, "id": 1, "cancel_refusals": 0, "lost_count": 0, **columns}


CHANGES = [
    pytest.param(held(), Entry(at=T0 + 20, tx_id="tx1", status="waiting", coin="TRX"), {},
                 id="nothing-new-writes-nothing"),
    # Facts: at the row's own moment they are as new as the row's and correct it; one second
    # before, they only fill gaps; one second after, they correct it and the row is seen then.
    pytest.param(held(upstream_status="PENDING"), Entry(at=T0 + 10, tx_id="tx1", upstream_status="DONE"),
                 {"upstream_status": "DONE"}, id="facts-seen-at-the-rows-moment-correct-it"),
    pytest.param(held(upstream_status="PENDING"),
                 Entry(at=T0 + 9, tx_id="tx1", upstream_status="DONE", address="TADDR"),
                 {"address": "TADDR"}, id="older-facts-only-fill-gaps"),
    pytest.param(held(upstream_status="PENDING"), Entry(at=T0 + 11, tx_id="tx1", upstream_status="DONE"),
                 {"upstream_status": "DONE", "seen_at": at(11)}, id="newer-facts-correct-it"),
    # Who started a checkout is written once; "unknown" there is a gap a later writer fills, even
    # with older facts. The word "unknown" in any other column is a value like any other.
    pytest.param(held(started_by_kind="till", started_by="front"),
                 Entry(at=T0 + 20, tx_id="tx1", started_by_kind="kiosk", started_by="k2"), {},
                 id="a-known-starter-never-changes"),
    pytest.param(held(started_by_kind="unknown"), Entry(at=T0 + 5, tx_id="tx1", started_by_kind="till"),
                 {"started_by_kind": "till"}, id="an-unknown-starter-is-learnt"),
    pytest.param(held(reference="unknown"), Entry(at=T0 + 5, tx_id="tx1", reference="R-1"), {},
                 id="unknown-elsewhere-is-a-value"),
    pytest.param(held(order_id="chk_1", created_at=at(0)),
                 Entry(at=T0 + 20, tx_id="tx2", order_id="chk_2", created=T0 + 20), {},
                 id="ids-and-start-never-change"),
    # Closing: the moment a checkout closed, and the moment it was paid, are the first ones seen.
    pytest.param(held(), Entry(at=T0 + 30, tx_id="tx1", status="cancelled"),
                 {"status": "cancelled", "closed_at": at(30), "seen_at": at(30)},
                 id="cancelled-is-closed-unpaid"),
    pytest.param(held(), Entry(at=T0 + 30, tx_id="tx1", status="paid"),
                 {"status": "paid", "closed_at": at(30), "paid_at": at(30), "seen_at": at(30)}, id="paid"),
    pytest.param(held(status="partial", closed_at=at(20), seen=20),
                 Entry(at=T0 + 40, tx_id="tx1", status="paid"),
                 {"status": "paid", "paid_at": at(40), "seen_at": at(40)}, id="paid-after-the-close"),
    pytest.param(held(status="paid", closed_at=at(20), paid_at=at(20), seen=20),
                 Entry(at=T0 + 40, tx_id="tx1", status="partial"), {}, id="paid-stays-paid"),
    pytest.param(held(status="partly_paid", received=Decimal("12")),
                 Entry(at=T0 + 20, tx_id="tx1", status="waiting", received=Decimal("12.00")), {},
                 id="received-and-status-never-go-back"),
    pytest.param(held(received=Decimal("12")), Entry(at=T0 + 5, tx_id="tx1", received=Decimal("12.000001")),
                 {"received": Decimal("12.000001")}, id="received-grows-even-from-older-news"),
    pytest.param(held(attention=["partial"]),
                 Entry(at=T0 + 5, tx_id="tx1", attention=frozenset({"paid_late"})),
                 {"attention": ["paid_late", "partial"]}, id="flags-are-added"),
]


@pytest.mark.parametrize(("before", "entry", "expected"), CHANGES)
def test_what_an_entry_changes_in_a_row(before, entry, expected):
    """The columns whose values the write changes (a change also stamps the ledger's clock and
    takes the next version; no change writes nothing at all)."""
    out = changes(before, entry, NOW)
    changed = {name: value for name, value in out.items() if before[name] != value}
    if expected:
        expected = {**expected, "updated_at": NOW, "version": before["version"] + 1}
    assert changed == expected
    assert out.keys() - changed.keys() <= {"seen_at"}  # nothing else written as it was


# -- the row a first entry makes --------------------------------------------------------------------------


def made(status: str, seen: float = 0, **columns: Any) -> dict[str, Any]:
    """The row `started` with `status` makes, seen `seen` seconds after T0."""
    return {"tx_id": "tx1", "started_by_kind": "kiosk", "started_by": "k1", "amount": Decimal("300.00"),
            "currency": "TRY", "coin": "TRX", "network": "TRX", "created_at": at(0), "deadline": at(600),
            "status": status, "version": 1, "received": Decimal(0), "attention": [], "lines": [],
            "tip": Decimal(0), "closed_at": None, "paid_at": None, "seen_at": at(seen), "updated_at": NOW,
            **columns}


NEW_ROWS = [
    pytest.param(Entry(at=T0, order_id="chk_1", amount=Decimal("50.00"), created=T0),
                 {"order_id": "chk_1", "amount": Decimal("50.00"), "created_at": at(0), "status": "pending",
                  "version": 1, "received": Decimal(0), "attention": [], "started_by_kind": "unknown",
                  "currency": "", "lines": [], "tip": Decimal(0), "closed_at": None, "paid_at": None,
                  "seen_at": at(0), "updated_at": NOW},
                 id="an-order-alone-is-pending-and-its-gaps-filled"),
    pytest.param(started(status=None), made("waiting"), id="a-transaction-is-waiting"),
    pytest.param(started(status=None, started_by_kind="unknown"), made("waiting", started_by_kind="unknown"),
                 id="an-unknown-starter-is-unknown"),
    pytest.param(started(at=T0 + 3, status="partly_paid", received=Decimal("6.5"), tip=Decimal("5.00"),
                         lines=(Line("Simit", 1, Decimal("20.00")),),
                         attention=frozenset({"partial", "paid_late"})),
                 made("partly_paid", seen=3, received=Decimal("6.5"), tip=Decimal("5.00"),
                      lines=[{"name": "Simit", "quantity": 1, "unit_amount": "20.00"}],
                      attention=["paid_late", "partial"]),
                 id="what-it-knows-is-kept"),
    pytest.param(started(at=T0 + 3, status="cancelled"), made("cancelled", seen=3, closed_at=at(3)),
                 id="an-end-is-closed-when-seen"),
    pytest.param(started(at=T0 + 3, status="partial"), made("partial", seen=3, closed_at=at(3)),
                 id="partial-is-closed-unpaid"),
    pytest.param(started(at=T0 + 3, status="paid"), made("paid", seen=3, closed_at=at(3), paid_at=at(3)),
                 id="paid-is-closed-and-paid-when-seen"),
    pytest.param(started(amount=Decimal("0")), made("waiting", amount=Decimal("0")),
                 id="a-zero-amount-is-one"),
    # Too little to make a row of.
    pytest.param(started(amount=None), None, id="no-amount"),
    pytest.param(started(created=None), None, id="no-start"),
    pytest.param(started(status="lost"), None, id="not-a-status-word"),
    pytest.param(Entry(at=T0, tx_id="tx1", attention=frozenset({"unknown"})), None, id="a-flag-alone"),
]


@pytest.mark.parametrize(("entry", "expected"), NEW_ROWS)
def test_the_row_a_first_entry_makes(entry, expected):
    assert new_row(entry, NOW) == expected


# -- which way a status moves ------------------------------------------------------------------------------

MOVES = [
    ("pending", "waiting", True), ("waiting", "partly_paid", True), ("partly_paid", "cancelled", True),
    ("waiting", "waiting", False), ("waiting", "pending", False), ("partly_paid", "waiting", False),
    # The ends: one rank for cancelled, expired and see_cashier; late coins still move them.
    ("cancelled", "expired", False), ("expired", "see_cashier", False), ("see_cashier", "cancelled", False),
    ("cancelled", "partial", True), ("expired", "paid", True), ("partial", "paid", True),
    ("paid", "partial", False), ("partial", "cancelled", False), ("paid", "paid", False),
    # A word that is not a status goes nowhere; from one, any status is a move (even the first).
    ("waiting", "lost", False), ("waiting", "", False), ("lost", "pending", True), ("", "pending", True),
    ("", "waiting", True), ("lost", "paid", True),
]


@pytest.mark.parametrize(("old", "new", "expected"), MOVES)
def test_which_way_a_status_moves(old, new, expected):
    assert moves(old, new) is expected


# -- which row a checkout's ids find --------------------------------------------------------------------


def sale(tx_id: str | None, order_id: str | None) -> Sale:
    blank: dict[str, Any] = {f.name: None for f in fields(Sale)}
    return Sale(**{**blank, "tx_id": tx_id, "order_id": order_id})


ORDER_ROW, TX_ROW, OTHER_ROW, NO_TX_ROW = (sale("tx1", "chk_1"), sale("tx2", "chk_2"), sale("tx3", None),
                                          sale(None, "chk_4"))

PICKS = [
    pytest.param([ORDER_ROW, TX_ROW], "tx2", TX_ROW, id="the-transactions-row-second"),
    pytest.param([TX_ROW, ORDER_ROW], "tx2", TX_ROW, id="the-transactions-row-first"),
    pytest.param([ORDER_ROW, OTHER_ROW, TX_ROW], "tx2", TX_ROW, id="the-transactions-row-last"),
    pytest.param([ORDER_ROW], "tx9", ORDER_ROW, id="no-transactions-row:-the-orders"),
    pytest.param([OTHER_ROW, NO_TX_ROW], None, OTHER_ROW, id="no-transaction-asked:-the-first"),
    pytest.param([], "tx1", None, id="no-row"),
    pytest.param([], None, None, id="nothing"),
]


@pytest.mark.parametrize(("rows", "tx_id", "expected"), PICKS)
def test_the_row_a_checkouts_ids_pick(rows, tx_id, expected):
    assert _pick(rows, tx_id) is expected


# -- on the database: which row a checkout's ids find -------------------------------------------------------


def two_rows(ledger: Ledger) -> None:
    """Four checkouts, each with its transaction and its order. News naming txb and chk_a names two
    rows, the order's made first; txc and chk_d, the transaction's made first: whichever order the
    database returns rows in, one of the two has the order's row first."""
    for tx_id, order_id in (("txa", "chk_a"), ("txb", "chk_b"), ("txc", "chk_c"), ("txd", "chk_d")):
        ledger.record(started(tx_id, order_id=order_id))


def test_the_transactions_row_is_read_before_the_orders(ledger):
    assert ledger.get(tx_id="txb") is None  # no row at all
    two_rows(ledger)
    assert ledger.get() is None
    assert ledger.get(tx_id="txb", order_id="chk_a").order_id == "chk_b"
    assert ledger.get(tx_id="txc", order_id="chk_d").order_id == "chk_c"
    assert ledger.get(order_id="chk_a").tx_id == "txa"
    assert ledger.get(tx_id="nobody") is None
    assert ledger.get(tx_id="nobody", order_id="chk_d").tx_id == "txd"  # no transaction's row: the order's
    assert ledger.get(tx_id="txa", order_id="chk_nobody").tx_id == "txa"


def test_news_naming_a_transaction_and_an_order_of_two_rows_goes_to_the_transactions(ledger):
    two_rows(ledger)
    for tx_id, order_id in (("txb", "chk_a"), ("txc", "chk_d")):
        written = ledger.record(Entry(at=T0 + 30, tx_id=tx_id, order_id=order_id, status="paid",
                                      received=Decimal("24")))
        assert (written.tx_id, written.status, written.version) == (tx_id, "paid", 2)
    rows = {row.tx_id: (row.order_id, row.status, row.version) for row in ledger.all()}
    assert rows == {"txa": ("chk_a", "waiting", 1), "txb": ("chk_b", "paid", 2),
                    "txc": ("chk_c", "paid", 2), "txd": ("chk_d", "waiting", 1)}


def test_news_naming_an_order_and_a_new_transaction_goes_to_the_orders_row(ledger):
    ledger.record(Entry(at=T0, order_id="chk_1", status="pending", started_by_kind="till",
                        amount=Decimal("50.00"), currency="TRY", created=T0))
    ledger.record(started("tx9"))
    row = ledger.record(Entry(at=T0 + 30, order_id="chk_1", tx_id="tx1", status="waiting"))
    assert (row.order_id, row.tx_id, row.status, row.version) == ("chk_1", "tx1", "waiting", 2)
    assert ledger.get(tx_id="tx9").order_id is None


# -- on the database: writers racing ----------------------------------------------------------------


class Meanwhile:
    """Another writer's statement (`sql`, committed) just before this ledger's next `times`
    statements that begin with `start` on the checkouts: between its read and its write. Only on
    PostgreSQL: on SQLite a writer holds the write lock from its read to its write (BEGIN
    IMMEDIATE), so no other writer comes between them."""

    def __init__(self, ledger: Ledger, url: str, start: str, sql: str, times: int = 1) -> None:
        if not url.startswith("postgresql"):
            pytest.skip("SQLite's write lock keeps every other writer out from a read to its write")
        self.engine, self.other = ledger.engine, make_engine(url)
        self.start, self.sql, self.left, self.turns = start, sql, times, 0

    def __enter__(self) -> Meanwhile:
        event.listen(self.engine, "before_cursor_execute", self.turn)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self.turn)
        self.other.dispose()

    def turn(self, conn, cursor, statement, *args) -> None:
        if self.left and statement.startswith(f"{self.start} checkouts"):
            self.left -= 1
            self.turns += 1
            with self.other.begin() as other:
                other.execute(text(self.sql))


NOTED = "UPDATE checkouts SET version = version + 1, note = 'table 4' WHERE tx_id = 'tx1'"


def test_a_write_that_loses_a_race_reads_again_and_makes_its_change(ledger, ledger_url):
    ledger.record(started())
    with Meanwhile(ledger, ledger_url, "UPDATE", NOTED) as other:
        row = ledger.record(Entry(at=T0 + 30, tx_id="tx1", status="paid", received=Decimal("24")))
    assert other.turns == 1
    assert (row.status, row.received, row.note, row.version) == ("paid", Decimal("24"), "table 4", 3)
    assert ledger.get(tx_id="tx1") == row


def test_a_row_other_writers_keep_changing_is_refused_by_name(ledger, ledger_url):
    ledger.record(started())
    with Meanwhile(ledger, ledger_url, "UPDATE", NOTED, times=TRIES + 1) as other, \
            pytest.raises(Conflict, match="^the ledger row of tx1 kept changing$"):
        ledger.record(Entry(at=T0 + 30, tx_id="tx1", status="paid", received=Decimal("24")))
    assert other.turns == TRIES
    row = ledger.get(tx_id="tx1")
    assert (row.status, row.received, row.version) == ("waiting", Decimal(0), 1 + TRIES)  # only theirs


def test_an_order_other_writers_keep_changing_is_refused_by_its_order(ledger, ledger_url):
    ledger.record(started(None, order_id="chk_1", status="pending"))
    bump = "UPDATE checkouts SET version = version + 1 WHERE order_id = 'chk_1'"
    with Meanwhile(ledger, ledger_url, "UPDATE", bump, times=TRIES), \
            pytest.raises(Conflict, match="^the ledger row of chk_1 kept changing$"):
        ledger.record(Entry(at=T0 + 30, order_id="chk_1", note="Table 4"))


MADE_FIRST = ("INSERT INTO checkouts (tx_id, started_by_kind, started_by, lines, amount, tip, currency,"
              " status, version, received, attention, created_at, seen_at, updated_at) VALUES ('tx1', 'till',"
              " 'front', '[]', 300, 0, 'TRY', 'waiting', 1, 0, '[\"unknown\"]', to_timestamp(1800000000),"
              " to_timestamp(1800000020), to_timestamp(1800000020))")


def test_a_row_another_writer_made_first_is_merged_into(ledger, ledger_url):
    with Meanwhile(ledger, ledger_url, "INSERT INTO", MADE_FIRST) as other:
        row = ledger.record(started(at=T0 + 30, status="paid", received=Decimal("24"),
                                    attention=frozenset({"paid_late"})))
    assert other.turns == 1
    assert (row.started_by_kind, row.started_by, row.status, row.received, row.version) == (
        "till", "front", "paid", Decimal("24"), 2)
    assert (row.attention, row.coin, row.paid_at, row.seen_at) == (
        ["paid_late", "unknown"], "TRX", at(30), at(30))
    assert len(ledger.all()) == 1
