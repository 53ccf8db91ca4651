"""Fewer points for the report's charts. Pure.

A year of 1-minute candles is 525,600 bars: far more than a chart has pixels, and tens of
megabytes of page. The price chart gets at most :data:`MAX_BARS` bars, each the OHLC of a
whole number of source intervals; the equity and drawdown lines one value per bar (or, with
no candles, per bucket of a regular grid of whole seconds, at most :data:`MAX_POINTS`). The
statistics are always computed from the full data, never from these.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from laptop_agents.models import Candle, interval_ms

MAX_BARS = 5_000
MAX_POINTS = 5_000
SECOND_MS = 1_000


@dataclass(frozen=True, slots=True)
class Bar:
    """One chart bar: the OHLC of every source candle whose open time is in its bucket."""

    time_ms: int  # start of the bucket
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def bar_bucket_ms(candles: Sequence[Candle], max_bars: int = MAX_BARS) -> int:
    """The smallest whole number of candle intervals that fits the candles' time span (first
    open to last close, gaps included) into ``max_bars`` buckets."""
    step = interval_ms(candles[0].interval)
    span = candles[-1].open_time - candles[0].open_time + step
    return step * max(1, _ceil_div(_ceil_div(span, step), max_bars))


def downsample_candles(candles: Sequence[Candle], max_bars: int = MAX_BARS) -> tuple[list[Bar],
                                                                                    int]:
    """The candles as at most ``max_bars`` bars and the bucket size in ms. Buckets start at
    the first candle's open time; a bucket's open is its first candle's open, its close the
    last one's close, its high and low the extremes. A repeated open time keeps the last."""
    if not candles:
        return [], 0
    by_time = {c.open_time: c for c in sorted(candles, key=lambda c: c.open_time)}
    ordered = list(by_time.values())
    bucket = bar_bucket_ms(ordered, max_bars)
    origin = ordered[0].open_time
    bars: list[Bar] = []
    for c in ordered:
        start = origin + (c.open_time - origin) // bucket * bucket
        if bars and bars[-1].time_ms == start:
            last = bars[-1]
            bars[-1] = Bar(start, last.open, max(last.high, c.high), min(last.low, c.low),
                           c.close)
        else:
            bars.append(Bar(start, c.open, c.high, c.low, c.close))
    return bars, bucket


def point_bucket_ms(first_ms: int, last_ms: int, max_points: int = MAX_POINTS) -> int:
    """Whole seconds per bucket so ``[first_ms, last_ms]``, from its first whole second,
    fits into ``max_points`` buckets (at least one second: the chart's time unit)."""
    span = last_ms - first_ms // SECOND_MS * SECOND_MS + 1
    return SECOND_MS * max(1, _ceil_div(_ceil_div(span, max_points), SECOND_MS))


def regular_grid(first_ms: int, last_ms: int, max_points: int = MAX_POINTS) -> tuple[list[int],
                                                                                     int]:
    """Bucket starts (ms, whole seconds) covering ``[first_ms, last_ms]``, at most
    ``max_points`` of them, and the bucket size: the grid when there are no candles."""
    bucket = point_bucket_ms(first_ms, last_ms, max_points)
    origin = first_ms // SECOND_MS * SECOND_MS
    return list(range(origin, last_ms + 1, bucket)), bucket


def resample(points: Sequence[tuple[int, Decimal]], grid_ms: Sequence[int],
             pick: Callable[[Decimal, Decimal], Decimal] | None = None) -> list[tuple[int,
                                                                                   Decimal]]:
    """A time series (ascending) as one value per grid bucket ``[grid[i], grid[i + 1])``, as
    (bucket start in seconds, value). The chart spaces points by index, not by time, so
    every chart of the page is drawn on the same regular grid (the price bars' when there
    are candles): its lines then keep their shape in time and line up with the bars.

    ``pick(kept, new)`` chooses among a bucket's points (by default the last: the value at the
    bucket's end); a bucket without points carries the last value before it forward. Points
    before the first bucket count in it, points after the last bucket in the last."""
    if not points or not grid_ms:
        return []
    out: list[tuple[int, Decimal]] = []
    carried, j = points[0][1], 0
    for i, start in enumerate(grid_ms):
        end = grid_ms[i + 1] if i + 1 < len(grid_ms) else None
        value: Decimal | None = None
        while j < len(points) and (end is None or points[j][0] < end):
            new = points[j][1]
            value = new if value is None or pick is None else pick(value, new)
            carried, j = new, j + 1
        out.append((start // SECOND_MS, carried if value is None else value))
    return out


def keep_extremes(points: Sequence[tuple[int, Decimal]], max_points: int) -> list[int]:
    """The indexes of at most ``max_points`` of a time series (ascending (ms, value)) that
    keep its shape: the first and the last, and in each bucket of the regular grid of whole
    seconds between them (:func:`point_bucket_ms`, ``(max_points - 2) // 2`` buckets) the
    lowest and the highest value, in time order. A line through them keeps every peak and
    trough a finer chart would show (GET /equity's downsampling)."""
    count = len(points)
    if count <= max_points:
        return list(range(count))
    if max_points < 4:  # no room for a bucket's two extremes
        return [0, count - 1][2 - min(max(max_points, 0), 2):]
    first_ms, last_ms = points[0][0], points[-1][0]
    size = point_bucket_ms(first_ms, last_ms, (max_points - 2) // 2)
    origin = first_ms // SECOND_MS * SECOND_MS
    kept, bucket, low, high = [0], -1, 0, 0
    for i in range(1, count - 1):
        here = (points[i][0] - origin) // size
        if here != bucket:
            if bucket >= 0:
                kept += sorted({low, high})
            bucket, low, high = here, i, i
        elif points[i][1] < points[low][1]:
            low = i
        elif points[i][1] > points[high][1]:
            high = i
    if bucket >= 0:
        kept += sorted({low, high})
    kept.append(count - 1)
    return kept


def snap(bar_times_ms: Sequence[int], ts: int) -> int:
    """The start of the bar that holds ``ts``: the last bar starting at or before it (the
    first bar for an earlier ``ts``). ``bar_times_ms`` is ascending and not empty."""
    index = bisect.bisect_right(bar_times_ms, ts) - 1
    return bar_times_ms[max(index, 0)]


__all__ = ["MAX_BARS", "MAX_POINTS", "Bar", "bar_bucket_ms", "downsample_candles", "keep_extremes",
           "point_bucket_ms", "regular_grid", "resample", "snap"]
