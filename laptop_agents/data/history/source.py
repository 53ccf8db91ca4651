"""Whose market a stored series belongs to: the ``source`` column of the candle store.

The real exchange has one market: ``bitunix``. A simulated market is a pure function of the
simulator's seed and origin (sim/market.py), so two simulators with different origins show
different prices at the same instant; their candles must never mix, or a daemon would warm up
on another market's closes. A simulated series is therefore ``sim:<seed>:<origin ms>``.
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
