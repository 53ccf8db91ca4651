"""The Bitunix-compatible futures exchange simulator (see docs/simulator.md)."""
