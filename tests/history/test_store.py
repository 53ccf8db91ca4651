"""The candle store on a real SQLite file: exact Decimals, idempotent upserts, covered ranges,
gaps, the schema version, and range arithmetic."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from laptop_agents.data.history.ranges import align, intersect, merge, subtract, windows
from laptop_agents.data.history.schema import SCHEMA_VERSION
from laptop_agents.data.history.store import CandleStore, CandleStoreError, SeriesKey
from laptop_agents.models import Candle

M = 60_000
KEY = SeriesKey("bitunix", "BTCUSDT", "1min")


def candle(open_time: int, close: str = "100.10", **kw: object) -> Candle:
    values: dict[str, object] = {
        "symbol": "BTCUSDT", "interval": "1min", "open_time": open_time,
        "open": Decimal("100.1"), "high": Decimal("101.25"), "low": Decimal("99.00"),
        "close": Decimal(close), "volume": Decimal("0.00012345"),
        "quote_volume": Decimal("12345.678901234567890"),
    }
    values.update(kw)
    return Candle(**values)  # type: ignore[arg-type]


def test_ranges() -> None:
    assert merge([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == [(0, 3), (5, 9)]
    assert subtract((0, 10), [(2, 4), (3, 5), (8, 12)]) == [(0, 2), (5, 8)]
    assert subtract((0, 10), []) == [(0, 10)]
    assert subtract((0, 10), [(0, 10)]) == []
    assert windows((0, 25), 10) == [(0, 10), (10, 20), (20, 25)]
    assert align((1, 61), 60) == (60, 120)
    assert intersect((0, 5), (5, 9)) is None and intersect((0, 6), (5, 9)) == (5, 6)


def test_decimals_are_exact_and_upserts_idempotent(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "candles.sqlite3")
    assert store.schema_version == SCHEMA_VERSION
    first = [candle(i * M) for i in range(3)]
    assert store.add(KEY, first, covered=(0, 3 * M)) == 3
    assert store.add(KEY, first, covered=(0, 3 * M)) == 3  # the same again: no duplicates
    store.add(KEY, [candle(M, close="100.20")])  # REST corrected a close: the newest wins
    got = store.read(KEY, 0, 10 * M)
    assert [c.open_time for c in got] == [0, M, 2 * M]
    assert got[0] == first[0] and str(got[0].quote_volume) == "12345.678901234567890"
    assert got[1].close == Decimal("100.20")
    # Unconfirmed or running candles never enter; another series is another key.
    store.add(KEY, [candle(5 * M, confirmed=False), candle(6 * M, closed=False)])
    assert store.last_open_time(KEY) == 2 * M
    assert store.read(SeriesKey("sim:7:0", "BTCUSDT", "1min"), 0, 10 * M) == []
    store.close()


def test_covered_ranges_merge_and_gaps_are_what_was_asked_but_absent(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "candles.sqlite3")
    # Asked 0..10 min; the exchange had nothing for 0..2, 5 and 8..10.
    store.add(KEY, [candle(t * M) for t in (2, 3, 4, 6, 7)], covered=(0, 10 * M))
    store.add(KEY, [candle(12 * M)], covered=(12 * M, 13 * M))
    store.add(KEY, [candle(10 * M), candle(11 * M)], covered=(10 * M, 12 * M))  # joins both
    assert store.covered(KEY) == [(0, 13 * M)]
    assert store.gaps(KEY) == [(0, 2 * M), (5 * M, 6 * M), (8 * M, 10 * M)]
    assert store.missing(KEY, (-5 * M, 20 * M)) == [(-5 * M, 0), (13 * M, 20 * M)]
    [summary] = store.series()
    assert (summary.key, summary.first, summary.last, summary.count) == (KEY, 2 * M, 12 * M, 8)
    assert summary.gaps == store.gaps(KEY)
    store.close()


def test_a_newer_schema_or_an_unusable_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "candles.sqlite3"
    CandleStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CandleStoreError, match="newer"):
        CandleStore(path)
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(CandleStoreError):
        CandleStore(tmp_path / "dir.sqlite3")
