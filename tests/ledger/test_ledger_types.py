"""The ledger's column types on SQLite and on a real PostgreSQL: money (`Money`) comes back as the
Decimal written, exactly; a moment (`Moment`) is kept as its instant in UTC and comes back aware, in
UTC, whatever the host's time zone or the database session's; a moment without its time zone is
refused by name and nothing is written."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.exc import StatementError

from kiosk.ledger import make_engine
from kiosk.ledger.types import Moment, Money

kept = Table("kept", MetaData(), Column("id", Integer, primary_key=True), Column("money", Money),
             Column("at", Moment))

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9 all year
WHEN = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def engine(ledger_url):
    engine = make_engine(ledger_url)
    kept.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def host_in_tokyo(monkeypatch):
    """The host's clock set to Tokyo for the test: the ledger must not read or write by it."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    assert time.localtime(WHEN.timestamp()).tm_gmtoff == 9 * 3600
    yield
    monkeypatch.undo()
    time.tzset()


def write(engine, **values) -> None:
    with engine.begin() as conn:
        conn.execute(insert(kept).values(**values))


def read(engine, column: str, session_zone: str | None = None):
    with engine.connect() as conn:
        if session_zone:
            conn.execute(text(f"SET TIME ZONE '{session_zone}'"))
        return conn.execute(select(kept.c[column])).scalar_one()


def in_utc(got: datetime, expected: datetime) -> None:
    """`got` is `expected`'s instant, aware and in UTC (the same wall time as UTC's)."""
    assert isinstance(got, datetime) and got.utcoffset() == timedelta(0)
    assert got.replace(tzinfo=None) == expected.astimezone(UTC).replace(tzinfo=None)


# -- money ---------------------------------------------------------------------------------------------

MONEY = ["0.30", "148.874123", "123456789012.123456", "-5.50", "0.000000000000000001", "0"]


@pytest.mark.parametrize("value", MONEY)
def test_money_comes_back_as_the_decimal_written(engine, value):
    write(engine, money=Decimal(value))
    got = read(engine, "money")
    assert type(got) is Decimal and got.as_tuple() == Decimal(value).as_tuple()  # its digits and scale


def test_no_money_is_none(engine):
    write(engine, money=None, at=None)
    assert (read(engine, "money"), read(engine, "at")) == (None, None)


@pytest.mark.parametrize("value", [0.3, Decimal("NaN"), Decimal("Infinity")], ids=str)
def test_a_float_or_a_number_that_is_not_finite_is_never_money(engine, value):
    with pytest.raises(StatementError) as refused:
        write(engine, money=value)
    assert isinstance(refused.value.orig, TypeError)
    assert str(refused.value.orig) == f"money is a finite Decimal, not {type(value).__name__}"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(kept)).scalar_one() == 0


@pytest.mark.parametrize(("value", "text_kept"), [
    (Decimal("1E+2"), "100"), (Decimal("1E-8"), "0.00000001"), (Decimal("-0.50"), "-0.50"),
    (Decimal("12.500"), "12.500")], ids=str)
def test_sqlite_keeps_money_as_its_plain_text(tmp_path, value, text_kept):
    """Plain digits, never an exponent: what another program reading the file sees."""
    engine = make_engine(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    kept.metadata.create_all(engine)
    write(engine, money=value)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT money FROM kept")).scalar_one() == text_kept
    engine.dispose()


# -- moments -----------------------------------------------------------------------------------------------


def test_a_moment_comes_back_aware_in_utc_whatever_the_hosts_zone(engine, host_in_tokyo):
    write(engine, at=WHEN)
    in_utc(read(engine, "at"), WHEN)


ZONES = [TOKYO, ZoneInfo("America/New_York"), timezone(timedelta(hours=5, minutes=45))]


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_a_moment_in_another_zone_is_kept_as_the_same_instant_in_utc(engine, host_in_tokyo, zone):
    write(engine, at=WHEN.astimezone(zone))
    in_utc(read(engine, "at"), WHEN)


def test_a_moment_without_its_time_zone_is_refused_by_name(engine, host_in_tokyo):
    with pytest.raises(StatementError) as refused:
        write(engine, money=Decimal("1.00"), at=datetime(2027, 1, 15, 8, 0))
    assert isinstance(refused.value.orig, ValueError)
    assert str(refused.value.orig) == "a moment needs its time zone"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(kept)).scalar_one() == 0


def test_sqlite_keeps_the_utc_time_without_a_zone(tmp_path, host_in_tokyo):
    engine = make_engine(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    kept.metadata.create_all(engine)
    write(engine, at=WHEN.astimezone(TOKYO))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT at FROM kept")).scalar_one() == "2027-01-15 08:00:00.123456"
    engine.dispose()


@pytest.mark.parametrize("written", ["2027-01-15 17:00:00.123456+09:00", "2027-01-15T03:00:00.123456-05:00"],
                         ids=["tokyo", "new-york"])
def test_a_moment_sqlite_holds_with_its_zone_comes_back_in_utc(tmp_path, host_in_tokyo, written):
    """Text another program wrote with its offset: the same instant, in UTC."""
    engine = make_engine(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    kept.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO kept (at) VALUES (:at)"), {"at": written})
    in_utc(read(engine, "at"), WHEN)
    engine.dispose()


def test_a_postgresql_session_in_another_zone_still_reads_utc(postgres_server, host_in_tokyo):
    url = postgres_server.database()
    engine = make_engine(url)
    try:
        kept.metadata.create_all(engine)
        write(engine, at=WHEN)
        with engine.connect() as conn:  # the session's zone is what the driver's datetimes carry
            conn.execute(text("SET TIME ZONE 'America/New_York'"))
            shown = conn.execute(text("SELECT at::text FROM kept")).scalar_one()
            assert shown == "2027-01-15 03:00:00.123456-05"
        in_utc(read(engine, "at", session_zone="Asia/Tokyo"), WHEN)
        in_utc(read(engine, "at", session_zone="America/New_York"), WHEN)
    finally:
        engine.dispose()
        postgres_server.forget(url)
