"""Whose market a stored series belongs to: the ``source`` column of the candle store.

The real exchange has one market: ``bitunix``. A simulated market is a pure function of the
simulator's seed and origin (sim/market.py). Before its origin it is the deep history, a function
of the seed alone; from the origin on it is the detailed model, whose generator starts at the
origin. So two simulators with the same seed but different origins agree before the earlier
origin and differ after it: a daemon's series (its warm-up stores live candles, which follow the
origin) must never mix with another origin's, or it would warm up on another market's closes.
A simulated series is therefore still ``sim:<seed>:<origin ms>``. (Candles that close before the
origin could be shared under ``sim:<seed>``, but the store keys whole series, not candles.)
"""

from __future__ import annotations


def series_source(source: str, sim_seed: int | None = None,
                  sim_origin_ms: int | None = None) -> str | None:
    """The store's name for a market; None for a simulated one whose origin is unknown."""
    if source != "sim":
        return source
    if sim_seed is None or sim_origin_ms is None:
        return None
    return f"sim:{sim_seed}:{sim_origin_ms}"
