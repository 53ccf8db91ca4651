"""ClockWatch: a sleep or a stall is one pause; a laptop clock off a real-time exchange by
more than a second is one warning (an accelerated exchange's growing offset is not)."""

from __future__ import annotations

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.session.clock_watch import ClockWatch
from tests.data.test_exchange_clock import FakeLocal, stream
from tests.support.logs import captured_logs


def test_a_skewed_laptop_clock_is_one_warning_once_the_speed_is_known() -> None:
    local = FakeLocal(skew_s=-300)  # the laptop is five minutes behind the exchange
    clock = ExchangeClock(local)
    watch = ClockWatch(local, clock, pause_after=5.0)
    assert watch.report_offset() is None  # nothing heard from the exchange yet
    stream(clock, local, rate=1.0, seconds=3)
    with captured_logs("INFO") as logs:
        offsets = [watch.report_offset() for _ in range(5)]
    assert all(o is not None and abs(o - 300_000) < 1_000 for o in offsets)
    warnings = [m for level, m in logs if level == "WARNING"]
    assert len(warnings) == 1 and "-300.0s off the exchange" in warnings[0]


def test_an_accelerated_exchange_is_noted_not_warned_about() -> None:
    local = FakeLocal()
    clock = ExchangeClock(local)
    watch = ClockWatch(local, clock, pause_after=5.0)
    stream(clock, local, rate=20.0, seconds=3)
    with captured_logs("INFO") as logs:
        watch.report_offset()
        watch.report_offset()
    assert [level for level, _ in logs] == ["INFO"]
    assert "20.0x" in logs[0][1]


def test_a_sleep_and_a_stall_are_each_one_pause() -> None:
    local = FakeLocal()
    watch = ClockWatch(local, ExchangeClock(local), pause_after=5.0)
    local.mono_s += 1.0
    assert watch.check(1.0) is None
    local.slept_s += 30  # the wall clock moved on while the monotonic one stood still
    local.mono_s += 1.0
    assert watch.check(1.0) == 30.0
    local.mono_s += 8.0  # asked to wake in 1 s, woke after 8: the loop stalled
    assert watch.check(1.0) == 7.0
    assert watch.pauses == 2
