"""ExchangeClock: exchange time from the exchange's own timestamps, on an injected laptop clock."""

from __future__ import annotations

import pytest

from laptop_agents.data.exchange_clock import DAY_MS, ExchangeClock

EXCHANGE_T0 = 1_796_000_000_000  # exchange ms when the test starts


class FakeLocal:
    """A laptop: wall = exchange time + skew (seconds); monotonic starts anywhere."""

    def __init__(self, skew_s: float = 0.0) -> None:
        self.mono_s = 1000.0
        self.skew_s = skew_s
        self.slept_s = 0.0

    def wall(self) -> float:
        return EXCHANGE_T0 / 1000 + (self.mono_s - 1000.0) + self.skew_s + self.slept_s

    def mono(self) -> float:
        return self.mono_s


def stream(clock: ExchangeClock, local: FakeLocal, rate: float, seconds: float,
           every_s: float = 0.1, start_ms: int = EXCHANGE_T0) -> int:
    """Pushes every ``every_s`` local seconds from an exchange running at ``rate``."""
    steps = int(seconds / every_s)
    mono0 = local.mono_s
    ts = start_ms
    for i in range(1, steps + 1):
        local.mono_s = mono0 + i * every_s
        ts = start_ms + int(i * every_s * 1000 * rate)
        assert clock.observe(ts), f"push {i} judged implausible"
    return ts


@pytest.mark.parametrize("skew_s", [-300.0, 0.0, 300.0])
def test_exchange_time_does_not_depend_on_the_laptop_clock(skew_s: float) -> None:
    local = FakeLocal(skew_s)
    clock = ExchangeClock(local)
    clock.observe_date(EXCHANGE_T0 / 1000)  # a REST reply's Date header
    last = stream(clock, local, rate=1.0, seconds=5)
    assert clock.speed == 1.0
    assert abs(clock.now_ms() - last) < 50
    assert abs(clock.offset_ms() + skew_s * 1000) < 100
    assert clock.settled_ms() <= last


def test_an_accelerated_exchange_is_recognised_without_being_told() -> None:
    local = FakeLocal()
    clock = ExchangeClock(local)
    last = stream(clock, local, rate=20.0, seconds=3)
    assert clock.speed == pytest.approx(20.0, rel=0.01)
    local.mono_s += 1.5  # no push for 1.5 s: the estimate runs on at 20x
    assert abs(clock.now_ms() - (last + 30_000)) < 500
    assert clock.wall_seconds_until(clock.now_ms() + 20_000) == pytest.approx(1.0, rel=0.05)


def test_a_push_a_day_ahead_or_two_days_back_is_implausible_and_moves_nothing() -> None:
    local = FakeLocal()
    clock = ExchangeClock(local)
    last = stream(clock, local, rate=1.0, seconds=3)
    before = clock.now_ms()
    assert not clock.observe(last + DAY_MS)
    assert not clock.observe(last - 2 * DAY_MS)
    assert not clock.observe(2**62)
    assert clock.stats.implausible == 3
    assert abs(clock.now_ms() - before) < 5
    # real pushes carry on as before
    stream(clock, local, rate=1.0, seconds=1, start_ms=last)


def test_a_crafted_push_a_little_ahead_cannot_settle_a_running_candle() -> None:
    local = FakeLocal()
    clock = ExchangeClock(local)
    last = stream(clock, local, rate=1.0, seconds=3)
    assert clock.observe(last + 50_000)  # within the window: plausible, yet one push
    assert clock.settled_ms() <= clock.now_ms() < last + 1_000


def test_the_first_push_cannot_be_a_day_ahead_when_a_date_header_was_seen() -> None:
    local = FakeLocal(skew_s=-300)
    clock = ExchangeClock(local)
    clock.observe_date(EXCHANGE_T0 / 1000)
    assert not clock.observe(EXCHANGE_T0 + DAY_MS)
    assert clock.observe(EXCHANGE_T0 + 200)


def test_after_a_sleep_agreeing_pushes_re_anchor_the_estimate() -> None:
    local = FakeLocal()
    clock = ExchangeClock(local)
    last = stream(clock, local, rate=1.0, seconds=3)
    # The laptop sleeps an hour: monotonic stands still, the exchange moved on. Without
    # forget(), pushes an hour "ahead" are implausible until they agree for a few seconds.
    resumed = last + 3_600_000
    local.slept_s += 3600
    accepted = [clock.observe(resumed + i * 100) for i in range(1, 60)
                if not setattr(local, "mono_s", local.mono_s + 0.1)]
    assert accepted[0] is False and accepted[-1] is True
    assert clock.stats.reanchors == 1
    assert abs(clock.now_ms() - (resumed + 5_900)) < 200
    # forget() (what the engine does when it sees the sleep) makes the first push count
    clock.forget()
    local.mono_s += 0.1
    assert clock.observe(resumed + 6_000)
