"""Half-open millisecond ranges ``(start, end)``: merged, subtracted, cut into windows.

The candle store remembers which ranges of open times it has asked the exchange about; what a
fetch still has to ask, and where the exchange had nothing, is arithmetic on these ranges.
"""

from __future__ import annotations

from collections.abc import Iterable

Range = tuple[int, int]  # start inclusive, end exclusive, ms


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, with overlapping and touching ranges joined; empty ranges dropped."""
    out: list[Range] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract(wanted: Range, have: Iterable[Range]) -> list[Range]:
    """The parts of ``wanted`` that none of ``have`` covers, oldest first."""
    start, end = wanted
    out: list[Range] = []
    cursor = start
    for low, high in merge(have):
        if high <= cursor or low >= end:
            continue
        if low > cursor:
            out.append((cursor, low))
        cursor = max(cursor, high)
    if cursor < end:
        out.append((cursor, end))
    return out


def windows(span: Range, width: int) -> list[Range]:
    """``span`` cut into consecutive pieces of at most ``width`` ms, oldest first."""
    start, end = span
    return [(low, min(low + width, end)) for low in range(start, end, width)]


def align(span: Range, step: int) -> Range:
    """The open times of ``span`` on the interval grid: the start rounded up, the end up too
    (a bucket that opens before ``end`` belongs to the range)."""
    start, end = span
    return -(-start // step) * step, -(-end // step) * step


def intersect(a: Range, b: Range) -> Range | None:
    """The common part of two ranges; None when they do not overlap."""
    low, high = max(a[0], b[0]), min(a[1], b[1])
    return (low, high) if low < high else None
