"""laptop-agents: paper-trade BTC perpetual futures from live Bitunix market data."""

__version__ = "0.1.0"
