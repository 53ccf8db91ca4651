"""100 000 hostile frames through a real socket into a running daemon: it keeps trading.

The real `python -m laptop_agents run` process with its embedded simulator (60x, admin API on)
gets batches of seeded fuzz frames (sim/fuzz.py: wrong types, huge and tiny numbers, NaN,
missing fields, binary, oversized, bad JSON, wrong symbols) on its market-data socket. Every
frame must be counted as malformed exactly once, the feed must stay up without a reconnect,
ticks and strategy decisions must go on, and afterwards the journal must add up.
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.daemon import DaemonProcess
from tests.support.waiting import wait_until_async

TOKEN = "fuzz-test-token-0123"
BATCHES = 10
PER_BATCH = 10_000
OVERSIZED_EVERY = 5_000  # two 4 MiB frames per batch


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def journal_is_consistent(path: Path) -> int:
    """Balance = starting equity + realised PnL - fees, from the journal's own tables; no fill
    applied twice; fills alternate entry/exit and leave the stored position. Returns fills."""
    db = sqlite3.connect(path)
    try:
        start, realized, fees = db.execute(
            "SELECT starting_equity, realized_total, fees_total FROM account").fetchone()
        fills = db.execute("SELECT fill_id, kind, qty, realized_pnl, fee FROM fills "
                           "ORDER BY seq").fetchall()
        stored = db.execute("SELECT qty FROM positions").fetchall()
    finally:
        db.close()
    ids = [f[0] for f in fills]
    assert len(ids) == len(set(ids)), "a fill was journalled twice"
    fill_pnl = sum((Decimal(f[3]) for f in fills), Decimal(0))
    fill_fees = sum((Decimal(f[4]) for f in fills), Decimal(0))
    # The account totals are what the broker applied; the fills are what happened. A fill
    # applied twice (or lost) makes them differ.
    assert (Decimal(realized), Decimal(fees)) == (fill_pnl, fill_fees)
    balance = Decimal(start) + Decimal(realized) - Decimal(fees)
    assert balance == Decimal(start) + fill_pnl - fill_fees
    open_qty: Decimal | None = None
    for _, kind, qty, _, _ in fills:
        if kind == "entry":
            assert open_qty is None, "an entry while a position was open"
            open_qty = Decimal(qty)
        else:
            assert open_qty is not None and Decimal(qty) == open_qty, "an exit without entry"
            open_qty = None
    assert [Decimal(q) for (q,) in stored] == ([] if open_qty is None else [open_qty])
    return len(fills)


@pytest.mark.slow
async def test_a_fuzzed_feed_never_stops_the_daemon(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    daemon = DaemonProcess(data_dir, TOKEN, env={"LA_SIM_ADMIN": "true"})
    try:
        base, admin = daemon.url(), daemon.admin_url()
        async with aiohttp.ClientSession() as http:

            async def status() -> dict[str, Any]:
                async with http.get(f"{base}/status") as response:
                    body: dict[str, Any] = await response.json()
                    return body

            async def metrics() -> str:
                async with http.get(f"{base}/metrics") as response:
                    return await response.text()

            async def deciding() -> dict[str, Any] | None:
                now = await status()
                return now if now["strategy"]["decisions"] > 0 else None

            before = await wait_until_async(deciding, 30, "the first strategy decision")
            text = await metrics()
            seen_before = (metric(text, "la_malformed_frames_total")
                           + metric(text, "la_frame_errors_total"))
            ticks_before = metric(text, "la_ticks_total")

            sent, kinds = 0, set()
            for batch in range(BATCHES):
                async with http.post(f"{admin}/admin/fuzz", params={
                        "seed": str(batch), "count": str(PER_BATCH),
                        "oversized_every": str(OVERSIZED_EVERY)}) as response:
                    body = await response.json()
                assert response.status == 200 and body["generated"] == PER_BATCH, body
                sent += body["sent"]  # one public socket: one copy of each frame
                kinds |= set(body["kinds"])
                assert daemon.proc.poll() is None, daemon.log()
            assert sent == BATCHES * PER_BATCH >= 100_000
            assert {"binary", "oversized", "bad_json", "bad_price", "bad_ts",
                    "wrong_symbol"} <= kinds

            async def all_counted() -> float:
                text = await metrics()
                seen = (metric(text, "la_malformed_frames_total")
                        + metric(text, "la_frame_errors_total"))
                return seen - seen_before >= sent and seen - seen_before
            # Every frame counted once: none slipped through as data, none counted twice.
            counted = await wait_until_async(all_counted, 30, "every fuzzed frame to be counted")
            assert counted == sent
            text = await metrics()
            assert metric(text, "la_frame_errors_total") == 0  # the parser caught them all

            async def trading_on() -> dict[str, Any] | None:
                now, text = await status(), await metrics()
                return now if (metric(text, "la_ticks_total") >= ticks_before + 20
                               and now["strategy"]["decisions"]
                               >= before["strategy"]["decisions"] + 3) else None

            after = await wait_until_async(trading_on, 15, "ticks and decisions after the fuzz")
            assert after["feed"]["state"] == "connected" and after["feed"]["reconnects"] == 0
            assert after["feed"]["last_tick_age_s"] is not None
            assert after["feed"]["last_tick_age_s"] < 2
            assert after["gate"]["trading_allowed"] is True, after["gate"]
            assert all(task["state"] == "running" for name, task in after["tasks"].items()
                       if name != "readiness"), after["tasks"]
            prices = (Decimal(str(after["feed"]["bid"])), Decimal(str(after["feed"]["ask"])))
            assert Decimal(10_000) < prices[0] < prices[1] < Decimal(1_000_000)  # real ones
        assert daemon.stop() == 0, daemon.log()
    finally:
        if daemon.proc.poll() is None:
            daemon.stop()
    assert "Traceback" not in "".join(daemon.lines), daemon.log(200)
    journal_is_consistent(data_dir / "journal-sim.sqlite3")
