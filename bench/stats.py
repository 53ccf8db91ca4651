"""Small shared helpers: percentiles, resident memory, the benchmark's own settings."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TOKEN = "bench-token-0123456789abcdef"  # LA_API_TOKEN of every daemon the bench starts
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Options:
    reps: int = 3
    quick: bool = False  # smaller loads, for trying the harness; not for published numbers

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0-100) of ``values``; nan for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rss_mb(pid: int) -> float:
    """VmRSS of a process in MB (from /proc; Linux only)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def daemon_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a daemon under test: no inherited LA_*, the bench's data dir and
    token, any free API port, human log lines on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LA_")}
    env.update({
        "LA_DATA_DIR": str(data_dir), "LA_API_PORT": "0", "LA_API_TOKEN": TOKEN,
        "LA_LOG_JSON": "false", "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env
