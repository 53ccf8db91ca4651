"""Log lines a person can read: prices and sizes at the contract's precision, epoch ms with a
UTC time beside them, a rejection that says so, and one format for run, sim and probe."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

from laptop_agents.models import DEFAULT_BTCUSDT, Side
from laptop_agents.paper.models import Fill, FundingSettled, Position
from laptop_agents.readable import at_step, register_steps, stamp, utc
from laptop_agents.session.describe import describe_event, describe_intent, describe_position
from laptop_agents.strategy.base import OrderIntent
from tests.support.daemon import clean_env, free_port

ROOT = Path(__file__).resolve().parents[1]
HUMAN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (INFO|WARNING|DEBUG) +laptop_agents\.")
T = 1_700_000_000_123


def test_times_and_steps() -> None:
    assert utc(T) == "2023-11-14 22:13:20.123Z"
    assert stamp(T) == f"{T} (2023-11-14 22:13:20.123Z)" and stamp(None) == "none"
    assert at_step(D("67012.50000000"), D("0.1")) == "67012.5"
    assert at_step(D("0.01"), D("0.0001")) == "0.0100"


def test_describe_uses_the_instruments_precision() -> None:
    register_steps("BTCUSDT", DEFAULT_BTCUSDT.tick_size, DEFAULT_BTCUSDT.lot_step)
    tick, lot = DEFAULT_BTCUSDT.tick_size, DEFAULT_BTCUSDT.lot_step
    fill = Fill(fill_id="f1", order_id="o1", symbol="BTCUSDT", side="buy", kind="exit",
                qty=D("0.01000000"), price=D("67012.50000000"), intended_price=D("67012.5"),
                slippage=D(0), fee=D("0.40207500"), liquidity="taker",
                realized_pnl=D("-1.23456789"), reason="stop", ts=T)
    line = describe_event(fill)
    assert f"0.01{'0' * (len(str(lot).split('.')[1]) - 2)} @ {at_step(D('67012.5'), tick)}" in line
    assert "fee=0.4021 pnl=-1.2346" in line and "00000" not in line
    position = Position(symbol="BTCUSDT", side=Side.LONG, qty=D("0.01000000"),
                        entry_price=D("67012.50000000"), stop=D("66000.00000000"),
                        target=D("68000.00000000"), trailing_stop=None, opened_ms=T,
                        entry_order_id="o1", entry_fee=D(0), atr=D(1), setup="x")
    assert "00000" not in describe_position(position)
    funding = FundingSettled(symbol="BTCUSDT", ts=T, rate=D("0.0001"), mark=D("67000.00000"),
                             side=Side.LONG, qty=D("0.01"), amount=D("0.06700000"),
                             trade_id="o1")
    assert "2023-11-14 22:13:20.123Z" in describe_event(funding)
    intent = OrderIntent(side=Side.LONG, order_type="market", qty=D("0.01000000"),
                         entry=D("67012.50000000"), stop=D("66000.00000000"),
                         target=D("68000.0000000"), setup="x", reason="cross", atr=D(1))
    assert "00000" not in describe_intent(intent, "BTCUSDT")


def _names_ms(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name.endswith("_ms") or name in ("open_time", "ts")


def test_no_log_call_prints_epoch_ms_without_a_readable_time() -> None:
    """No logger call passes a bare *_ms, open_time or ts value: it goes through stamp() or
    utc() (a call, so the UTC time stands beside the number)."""
    offenders = []
    for path in (ROOT / "laptop_agents").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("debug", "info", "warning", "error", "log")
                    and "logger" in ast.unparse(node.func.value)):
                offenders += [f"{path.name}:{node.lineno} {ast.unparse(arg)}"
                              for arg in node.args if _names_ms(arg)]
    assert offenders == []


def test_sim_writes_the_daemons_log_format(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "laptop_agents", "sim", "--port", str(port)],
                            env=clean_env(PYTHONPATH=str(ROOT), LA_LOG_JSON="false"),
                            cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert HUMAN.match(line), line  # `run` and `probe` go through the same setup_logging
