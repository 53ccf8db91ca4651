"""PriceGuard: quarantine of implausible quotes, confirmation of real moves."""

from __future__ import annotations

from decimal import Decimal

from laptop_agents.data.price_guard import PriceGuard, QuoteRejected
from laptop_agents.models import Tick

D = Decimal


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tick(bid: str, ask: str, ts: int = 0) -> Tick:
    return Tick("BTCUSDT", D(bid), D(ask), D(1), D(1), None, ts)


def guard(time: FakeTime | None = None) -> PriceGuard:
    g = PriceGuard(band=D("0.05"), confirm_quotes=5, confirm_seconds=1.0,
                   monotonic=time or FakeTime())
    g.observe_close(D("65000"))
    return g


def test_crafted_quotes_far_from_the_reference_are_quarantined() -> None:
    g = guard()
    assert g.check(tick("65000.0", "65000.1")) is None
    assert g.check(tick("1", "1.1")) is QuoteRejected.OUTSIDE_BAND
    assert g.check(tick("99999999", "100000000")) is QuoteRejected.OUTSIDE_BAND
    # one side out of band is enough: a long's stop triggers on the bid alone
    assert g.check(tick("60000", "65000")) is QuoteRejected.OUTSIDE_BAND
    assert g.check(tick("65001", "65000")) is QuoteRejected.CROSSED
    assert g.check(tick("0", "65000")) is QuoteRejected.NOT_POSITIVE
    assert g.stats.rejected == {"outside_band": 3, "crossed": 1, "not_positive": 1}
    assert g.check(tick("65010.0", "65010.1")) is None  # the feed goes on
    assert g.suspect_since is None and g.stats.accepted == 2


def test_a_real_move_is_accepted_after_agreeing_quotes_over_time() -> None:
    time = FakeTime()
    g = guard(time)
    assert g.check(tick("65000.0", "65000.1")) is None
    verdicts = []
    for i in range(6):  # a 7 % drop, held
        time.now += 0.3
        verdicts.append(g.check(tick(f"{60450 - i}.0", f"{60450 - i}.1")))
    assert verdicts[:4] == [QuoteRejected.OUTSIDE_BAND] * 4
    assert verdicts[-1] is None and g.stats.confirmed_moves == 1
    assert g.reference is not None and abs(g.reference - D("60445")) < 10


def test_crafted_frames_among_real_quotes_never_confirm() -> None:
    time = FakeTime()
    g = guard(time)
    for _ in range(20):
        time.now += 0.3
        assert g.check(tick("1", "1.1")) is QuoteRejected.OUTSIDE_BAND
        assert g.check(tick("65000.0", "65000.1")) is None
    assert g.stats.confirmed_moves == 0


def test_a_rest_read_that_agrees_confirms_a_move_at_once() -> None:
    g = guard()
    assert g.check(tick("70000.0", "70000.1")) is QuoteRejected.OUTSIDE_BAND
    assert g.external_wanted
    assert g.external(D("70000.0"), D("70000.2"))
    assert g.check(tick("70001.0", "70001.1")) is None


def test_a_rest_read_that_disagrees_keeps_the_quarantine() -> None:
    time = FakeTime()
    g = guard(time)
    assert g.check(tick("1", "1.1")) is QuoteRejected.OUTSIDE_BAND
    assert not g.external(D("65000.0"), D("65000.1"))
    time.now += 7
    assert g.check(tick("1", "1.1")) is QuoteRejected.OUTSIDE_BAND
    assert g.suspect_for() == 7.0


def test_a_rest_veto_stops_the_feed_from_confirming_until_rest_fails() -> None:
    time = FakeTime()
    g = guard(time)
    assert g.check(tick("1", "1.1")) is QuoteRejected.OUTSIDE_BAND
    g.external(D("65000.0"), D("65000.1"))  # the exchange says: no such move
    for _ in range(10):
        time.now += 0.3
        assert g.check(tick("1", "1.1")) is QuoteRejected.OUTSIDE_BAND
    g.external_failed()  # REST unreachable now: the feed's agreement is enough again
    time.now += 0.3
    assert g.check(tick("1", "1.1")) is None
    assert g.stats.confirmed_moves == 1


def test_a_burst_of_quarantined_quotes_is_logged_once_and_its_end_once() -> None:
    from tests.support.logs import captured_logs

    time = FakeTime()
    g = guard(time)
    with captured_logs("INFO") as logs:
        for _ in range(50):
            time.now += 0.01
            g.check(tick("1", "1.1"))
        g.check(tick("65000.0", "65000.1"))
    warnings = [m for level, m in logs if level == "WARNING"]
    assert len(warnings) == 1 and "quarantined (outside_band)" in warnings[0]
    assert [m for level, m in logs if "accepted again after 50" in m]
    assert g.stats.rejected == {"outside_band": 50}


def test_in_band_is_what_the_chart_may_show() -> None:
    g = guard()
    assert g.in_band(D("65100")) and not g.in_band(D("1"))
    assert PriceGuard(band=D("0.05")).in_band(D("1"))  # no reference yet: nothing to judge by
