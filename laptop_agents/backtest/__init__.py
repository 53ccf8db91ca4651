"""Backtesting: replay history through a strategy and the paper broker, then report on it.

``stats`` (the summary statistics) and ``report`` (report.html, trades.csv, summary.json) are
pure output: they take trades, an equity curve and candles, and know nothing of the engine.
"""
