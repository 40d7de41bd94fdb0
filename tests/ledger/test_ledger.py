"""The sales ledger alone, on SQLite and on a real PostgreSQL: compare and set on the version,
money kept exact, the rules of a row's changes, the schema its migrations make, and the first
upgrade importing the checkouts the key-value store holds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text

from kiosk.ledger import Entry, Ledger, Line, make_engine, migrate
from kiosk.ledger.migrate import head
from kiosk.ledger.schema import checkouts, metadata

HEAD = head()  # the newest migration

T0 = 1_800_000_000.0


@pytest.fixture
def ledger(ledger_url) -> Ledger:
    book = Ledger(make_engine(ledger_url), clock=lambda: T0 + 1000)
    book.upgrade()
    return book


def started(tx_id: str = "tx1", **facts) -> Entry:
    base = dict(at=T0, tx_id=tx_id, status="waiting", started_by_kind="kiosk", started_by="k1",
                amount=Decimal("300.00"), currency="TRY", coin="TRX", network="TRX",
                coin_amount=Decimal("24.000000"), created=T0, deadline=T0 + 600)
    return Entry(**{**base, **facts})


# -- compare and set -----------------------------------------------------------------------------


def test_two_writers_with_the_same_version_make_one_transition(ledger):
    row = ledger.record(started())
    assert (row.status, row.version) == ("waiting", 1)
    barrier = threading.Barrier(2)
    won: dict[str, bool] = {}

    def write(status: str) -> None:
        barrier.wait()
        won[status] = ledger.set_status(row.id, 1, status)

    threads = [threading.Thread(target=write, args=(s,)) for s in ("paid", "cancelled")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(won.values()) == [False, True]
    after = ledger.get(tx_id="tx1")
    assert after.version == 2 and after.status == next(s for s, ok in won.items() if ok)
    assert not ledger.set_status(row.id, 1, "expired")  # a stale version changes nothing
    assert ledger.get(tx_id="tx1").version == 2


def test_writers_racing_with_the_same_news_make_one_change(ledger):
    ledger.record(started())
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            ledger.record(Entry(at=T0 + 60, tx_id="tx1", status="paid", received=Decimal("24.000000")))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    row = ledger.get(tx_id="tx1")
    assert (row.status, row.version, row.received) == ("paid", 2, Decimal("24.000000"))


def test_a_status_word_outside_the_list_is_refused(ledger):
    row = ledger.record(started())
    with pytest.raises(ValueError):
        ledger.set_status(row.id, row.version, "done")


# -- what a write changes ------------------------------------------------------------------------


def test_a_write_that_changes_nothing_writes_nothing(ledger):
    first = ledger.record(started())
    again = ledger.record(started(at=T0 + 5))
    assert again.version == first.version == 1 and again.updated_at == first.updated_at
    # The same amount written otherwise (30 for 30.00) is the same money: no write either.
    assert ledger.record(started(at=T0 + 6, coin_amount=Decimal("24"))).version == 1


def test_a_status_only_moves_up_and_late_coins_still_move_an_end(ledger):
    ledger.record(started())
    assert ledger.record(Entry(at=T0 + 10, tx_id="tx1", status="partly_paid",
                               received=Decimal("12"))).status == "partly_paid"
    row = ledger.record(Entry(at=T0 + 11, tx_id="tx1", status="waiting", received=Decimal("0")))
    assert (row.status, row.received, row.version) == ("partly_paid", Decimal("12"), 2)
    row = ledger.record(Entry(at=T0 + 600, tx_id="tx1", status="partial", cancel_reason="deadline",
                              attention=frozenset({"partial"})))
    assert row.status == "partial" and row.closed_at == datetime.fromtimestamp(T0 + 600, UTC)
    assert ledger.record(Entry(at=T0 + 601, tx_id="tx1", status="cancelled")).status == "partial"
    # The rest arrives after the close: paid, and flagged; closed when it was closed.
    row = ledger.record(Entry(at=T0 + 900, tx_id="tx1", status="paid", received=Decimal("24"),
                              attention=frozenset({"paid_late"})))
    assert (row.status, row.received, row.attention) == ("paid", Decimal("24"), ["paid_late", "partial"])
    assert row.paid_at == datetime.fromtimestamp(T0 + 900, UTC)
    assert row.closed_at == datetime.fromtimestamp(T0 + 600, UTC) and row.cancel_reason == "deadline"
    assert ledger.record(Entry(at=T0 + 901, tx_id="tx1", status="partial")).status == "paid"


def test_older_facts_fill_gaps_but_never_overwrite_newer_ones(ledger):
    ledger.record(started(upstream_status="TRANSFERRED", at=T0 + 50))
    row = ledger.record(Entry(at=T0 + 10, tx_id="tx1", upstream_status="PENDING",
                              conversion_rate=Decimal("12.5")))
    assert row.upstream_status == "TRANSFERRED" and row.conversion_rate == Decimal("12.5")
    row = ledger.record(Entry(at=T0 + 60, tx_id="tx1", upstream_status="CANCELLED", created=T0 + 60))
    assert row.upstream_status == "CANCELLED"
    assert row.created_at == datetime.fromtimestamp(T0, UTC)  # a checkout's start never moves


def test_an_order_and_its_transaction_are_one_row(ledger):
    lines = (Line("Çay", 2, Decimal("15.00")), Line("Simit", 1, Decimal("20.00")))
    sent = ledger.record(Entry(at=T0, order_id="chk_1", status="pending", started_by_kind="till",
                               display_id="d1", reference="till-4711", note="Table 4", lines=lines,
                               amount=Decimal("50.00"), currency="TRY", created=T0, deadline=T0 + 600))
    assert (sent.status, sent.tx_id, sent.started_by_kind) == ("pending", None, "till")
    paid = ledger.record(Entry(at=T0 + 30, order_id="chk_1", tx_id="tx9", status="waiting",
                               started_by_kind="unknown", amount=Decimal("50.00"), created=T0 + 30,
                               coin="TRX", network="TRX", coin_amount=Decimal("4.000000")))
    assert paid.id == sent.id and paid.tx_id == "tx9" and paid.started_by_kind == "till"
    assert ledger.get(tx_id="tx9").id == ledger.get(order_id="chk_1").id == sent.id
    assert paid.lines == [{"name": "Çay", "quantity": 2, "unit_amount": "15.00"},
                          {"name": "Simit", "quantity": 1, "unit_amount": "20.00"}]
    assert len(ledger.all()) == 1


def test_a_flag_for_a_checkout_the_ledger_does_not_know_makes_no_row(ledger):
    assert ledger.record(Entry(at=T0, tx_id="nobody", attention=frozenset({"unknown"}))) is None
    assert ledger.all() == []


# -- money ---------------------------------------------------------------------------------------


EXACT = [
    Decimal("0.1") + Decimal("0.2"),  # 0.3, which a float makes 0.30000000000000004
    Decimal("148.874123"),  # six decimals, as TRX and USDT on TRON
    Decimal("123456789012.123456"),  # more digits than a float holds
    Decimal("0.000000000000000001"),
    Decimal("99999999999999999999.99"),
]


@pytest.mark.parametrize("value", EXACT, ids=str)
def test_money_comes_back_exactly(ledger, value):
    ledger.record(started(amount=value, coin_amount=value, conversion_rate=value, exchange_fee=value,
                          commission=value, received=value))
    row = ledger.get(tx_id="tx1")
    for name in ("amount", "coin_amount", "conversion_rate", "exchange_fee", "commission", "received"):
        got = getattr(row, name)
        assert isinstance(got, Decimal) and got == value and str(got) == str(value), name
    with ledger.engine.connect() as conn:
        kind = conn.execute(text("SELECT amount FROM checkouts")).scalar_one()
    assert not isinstance(kind, float)


def test_sums_add_up_to_the_cent(ledger):
    for n in range(10):
        ledger.record(started(tx_id=f"tx{n}", amount=Decimal("0.10")))
    assert sum((row.amount for row in ledger.all()), Decimal(0)) == Decimal("1.00")


def test_a_float_is_never_money(ledger):
    with pytest.raises(Exception, match="Decimal"):
        ledger.record(started(amount=0.3))  # type: ignore[arg-type]
    assert ledger.all() == []


# -- the schema ----------------------------------------------------------------------------------


def test_the_migrations_make_the_schema_the_code_describes(ledger):
    with ledger.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}),
                                 metadata)
    assert diffs == []


def test_the_head_a_worker_checks_is_the_one_alembic_finds():
    """Workers compare the schema's revision with kiosk.ledger.revision.HEAD, without Alembic: a
    new migration must move it too, or every worker would upgrade (or never see it)."""
    from kiosk.ledger import revision

    assert head() == revision.HEAD


def test_the_revision_read_without_alembic_is_the_one_alembic_reads(ledger):
    from alembic.runtime.migration import MigrationContext as Context

    from kiosk.ledger import revision

    with ledger.engine.connect() as conn:
        assert revision.current(conn) == Context.configure(conn).get_current_revision() == head()
    empty = make_engine(f"sqlite:///{ledger.engine.url.database}.empty") \
        if ledger.engine.dialect.name == "sqlite" else None
    if empty is not None:  # no schema yet: no revision, as Alembic says
        with empty.connect() as conn:
            assert revision.current(conn) is None


def test_an_upgrade_twice_changes_nothing(ledger):
    again = ledger.upgrade()
    assert again.before == again.after == HEAD and again.imported == 0


def statements(engine) -> list[str]:
    """The SQL `engine` sends from now on."""
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


def test_a_process_checks_the_schema_once_and_never_upgrades_one_up_to_date(ledger_url, monkeypatch):
    """A worker finds the schema its start upgraded with one query of the revision, then none
    (Alembic is not even imported for it); a process that upgraded asks nothing more either."""
    Ledger(make_engine(ledger_url)).upgrade()  # as `kiosk serve` leaves it before its workers start

    def no_upgrade(*_args, **_kwargs):
        raise AssertionError("an up-to-date schema was upgraded")

    monkeypatch.setattr(migrate, "upgrade", no_upgrade)
    engine = make_engine(ledger_url)
    book = Ledger(engine)
    seen = statements(engine)
    book.ensure()
    assert any("alembic_version" in s for s in seen)
    seen.clear()
    book.ensure()
    book.row("tx1")
    queries = [statement for statement in seen if not statement.startswith("BEGIN")]
    assert len(queries) == 1 and "alembic_version" not in queries[0]  # only the row's query
    monkeypatch.undo()
    upgraded = Ledger(engine)
    upgraded.upgrade()
    seen.clear()
    upgraded.ensure()
    assert seen == []  # nothing at all: not even a transaction begun


def test_a_start_or_a_reader_never_queues_behind_a_writer(ledger_url):
    """Every start upgrades; one that finds the schema up to date does not queue behind another
    process's write (SQLite's write lock, PostgreSQL's advisory lock of the upgrades). Nor does a
    reader: a screen's poll or an export while a sale is being written."""
    engine = make_engine(ledger_url)
    Ledger(engine, clock=lambda: T0).record(started())
    other = make_engine(ledger_url)
    with other.begin() as conn:  # another process's write, holding the lock
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": migrate.LOCK_KEY})
        conn.execute(checkouts.update().where(checkouts.c.tx_id == "tx1").values(note="being written"))
        done: list = []

        def start_and_read() -> None:
            book = Ledger(make_engine(ledger_url))
            done.append(book.upgrade())
            done.append(book.get(tx_id="tx1"))
            done.append(book.all())

        waiting = threading.Thread(target=start_and_read)
        waiting.start()
        waiting.join(3)
        assert len(done) == 3, "a start or a read waited for the writer"  # answered while it writes
        assert (done[0].before, done[0].after) == (HEAD, HEAD)
        assert done[1].note is None and [row.tx_id for row in done[2]] == ["tx1"]  # as last committed
    waiting.join(30)


def test_a_ledger_at_0004_upgrades_and_keeps_its_rows(ledger_url):
    """An install at 0004_checkout_state (before the ledger kept an order's ask_tip): one upgrade
    brings it to the head, its rows kept, ask_tip unknown for them, the schema the code's."""
    engine = make_engine(ledger_url)
    with engine.begin() as conn:
        command.upgrade(migrate.config(conn), "0004_checkout_state")
    with engine.begin() as conn:
        # The row as that version wrote it: every column but the one added since.
        conn.execute(checkouts.insert().values(
            tx_id="tx-old", order_id="chk_00000000000000aa", started_by_kind="till", started_by="front",
            status="paid", version=1, amount=Decimal("100.00"), currency="TRY", received=Decimal("8"),
            created_at=datetime.fromtimestamp(T0, UTC), updated_at=datetime.fromtimestamp(T0, UTC),
            seen_at=datetime.fromtimestamp(T0, UTC)))
    book = Ledger(engine, clock=lambda: T0 + 1000)
    done = book.upgrade()
    assert (done.before, done.after, done.imported) == ("0004_checkout_state", HEAD, 0)
    row = book.get(tx_id="tx-old")
    assert row is not None and row.ask_tip is None
    assert (row.order_id, row.status, row.amount) == ("chk_00000000000000aa", "paid", Decimal("100.00"))
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}),
                                 metadata)
    assert diffs == []
    # The till's choice is kept from now on.
    book.record(started("tx-new", order_id="chk_00000000000000bb", started_by_kind="till", ask_tip=False))
    assert book.get(tx_id="tx-new").ask_tip is False


def test_processes_upgrading_together_upgrade_once(ledger_url):
    books = [Ledger(make_engine(ledger_url)) for _ in range(4)]
    barrier = threading.Barrier(4)
    done: list = []
    errors: list[BaseException] = []

    def upgrade(book: Ledger) -> None:
        try:
            barrier.wait()
            done.append(book.upgrade())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(b,)) for b in books]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted((d.before or "", d.after) for d in done) == [("", HEAD)] + [(HEAD, HEAD)] * 3


# -- news arriving in any order ------------------------------------------------------------------

NEWS = [
    Entry(at=T0 + 10, tx_id="tx1", status="partly_paid", received=Decimal("5"),
          upstream_status="TRANSFERRED"),
    Entry(at=T0 + 20, tx_id="tx1", status="partial", received=Decimal("5"), attention=frozenset({"partial"})),
    Entry(at=T0 + 30, tx_id="tx1", status="paid", received=Decimal("24"), attention=frozenset({"paid_late"})),
    Entry(at=T0 + 40, tx_id="tx1", attention=frozenset({"ended_upstream"}), upstream_status="DONE"),
    Entry(at=T0 + 5, tx_id="tx1", status="waiting", received=Decimal("0")),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(NEWS))), repeat=st.integers(0, len(NEWS) - 1))
def test_news_in_any_order_ends_in_the_same_row(tmp_path_factory, order, repeat):
    """Writers on several hosts, a sweep replaying what was kept: whatever the order, the row
    ends paid with everything received and every flag, the newest facts, and no version spent
    on news that changed nothing."""
    url = f"sqlite:///{tmp_path_factory.mktemp('news') / 'ledger.sqlite3'}"
    book = Ledger(make_engine(url), clock=lambda: T0 + 1000)
    book.record(started())
    changed = 0
    for i in [*order, order[repeat]]:  # one piece of news twice
        before = book.get(tx_id="tx1").version
        changed += book.record(NEWS[i]).version != before
    row = book.get(tx_id="tx1")
    assert (row.status, row.received) == ("paid", Decimal("24"))
    assert row.attention == ["ended_upstream", "paid_late", "partial"]
    assert row.upstream_status == "DONE" and row.paid_at == datetime.fromtimestamp(T0 + 30, UTC)
    assert row.version == 1 + changed <= 1 + len(NEWS)
    book.engine.dispose()
