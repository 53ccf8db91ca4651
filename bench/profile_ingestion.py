"""Where ingestion time goes: ``python -m bench.profile_ingestion [provider|engine] [N]``.

Runs one blast of N depth_book1 frames (default 100,000) through ``BitunixWSProvider.listen()``
or the whole in-process engine, as figure 1 does, under cProfile (the blaster runs in its own
process, unprofiled), and prints the functions by own time and by cumulative time. Not part of
`make bench`: profiling slows the code it measures. For a call tree, the same run works under
pyinstrument (``pip install pyinstrument`` into the venv, not a project dependency).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

from loguru import logger

from bench import ingestion
from bench.exchange import Exchange

TOP = 30


async def _run(kind: str, n: int, profile: cProfile.Profile) -> float:
    async with Exchange() as ex:
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
            await ingestion.bare(ex, n // 10)
            profile.enable()
            try:
                if kind == "provider":
                    rate, _ = await ingestion.provider(ex, n, Path(tmp) / "p")
                else:
                    rate, _ = await ingestion.engine(ex, n, Path(tmp) / "e")
            finally:
                profile.disable()
    return rate


def main(argv: list[str]) -> None:
    kind = argv[0] if argv else "provider"
    if kind not in ("provider", "engine"):
        raise SystemExit("usage: python -m bench.profile_ingestion [provider|engine] [N]")
    n = int(argv[1]) if len(argv) > 1 else 100_000
    logger.remove()
    profile = cProfile.Profile()
    rate = asyncio.run(_run(kind, n, profile))
    print(f"{kind}: {rate:,.0f} frames/s under cProfile ({n:,} frames)")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(TOP)


if __name__ == "__main__":
    main(sys.argv[1:])
