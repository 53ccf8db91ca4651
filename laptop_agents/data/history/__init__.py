"""Stored market history: the candle store, and the fetch that fills it (issue #15)."""
