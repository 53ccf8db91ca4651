"""The one table `make bench` prints: figure, baseline, ratio, min/median, target, met.

Every figure is measured ``reps`` times beside a bare baseline measured in the same run, so a
ratio compares across machines even when the absolute numbers do not.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Row:
    figure: str
    unit: str
    values: list[float]  # one per repetition
    baseline: list[float] = field(default_factory=list)  # one per repetition, or empty
    baseline_label: str = ""
    target: str = ""
    # Judges the median value and the median ratio (ratio = value / baseline).
    check: Callable[[float, float], bool] | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def minimum(self) -> float:
        return min(self.values) if self.values else math.nan

    @property
    def base_median(self) -> float:
        return statistics.median(self.baseline) if self.baseline else math.nan

    @property
    def ratio(self) -> float:
        """Median of the per-repetition ratios value / baseline."""
        pairs = [v / b for v, b in zip(self.values, self.baseline, strict=False) if b]
        return statistics.median(pairs) if pairs else math.nan

    @property
    def met(self) -> bool | None:
        if self.check is None or not self.values:
            return None
        return self.check(self.median, self.ratio)


def _num(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit in ("frames/s", "quotes/s", "decisions/s"):
        return f"{value:,.0f}"
    if unit in ("ms", "MB", "s", "µs"):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{value:.3g}"


def render(rows: Sequence[Row], title: str) -> str:
    headers = ("figure", "unit", "min", "median", "baseline (median)", "ratio", "reps",
               "target", "met")
    lines: list[tuple[str, ...]] = []
    for row in rows:
        base = (f"{_num(row.base_median, row.unit)} {row.baseline_label}".strip()
                if row.baseline else "-")
        ratio = "-" if math.isnan(row.ratio) else f"{row.ratio:.3g}x"
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        lines.append((row.figure, row.unit, _num(row.minimum, row.unit),
                      _num(row.median, row.unit), base, ratio, str(len(row.values)),
                      row.target, met))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(headers)]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    notes = [f"- {row.figure}: {row.note}" for row in rows if row.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)
