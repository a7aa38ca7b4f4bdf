"""``wait_until``: the one poll-until-a-deadline loop.

The timing tests run it on a fake clock whose ``sleep`` advances time exactly, so what they
assert about when each check begins holds on a loaded host as on a quiet one.
"""

from __future__ import annotations

import pytest

from chiltepin.system.waiting import wait_until


class FakeClock:
    """Time that moves only when slept through (or when a test moves it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_returns_the_first_truthy_value() -> None:
    answers = iter([0, None, "", [], "ready", "never asked"])
    assert wait_until(lambda: next(answers), 5, interval=0.001) == "ready"
    assert next(answers) == "never asked"


def test_timeout_raises_naming_what() -> None:
    """On the real clock: the defaults are wired, and the message names what and how long."""
    with pytest.raises(TimeoutError, match=r"^broker listening: not reached after 0\.2 s$"):
        wait_until(lambda: False, 0.2, interval=0.05, what="broker listening")


def test_timeout_without_what_returns_the_falsy_value() -> None:
    clock = FakeClock()
    assert wait_until(lambda: [], 0.1, interval=0.05, clock=clock, sleep=clock.sleep) == []
    assert wait_until(lambda: None, 0) is None


def test_last_check_begins_after_the_deadline_and_only_once() -> None:
    clock = FakeClock()
    began: list[float] = []
    assert not wait_until(
        lambda: began.append(clock()), 0.3, interval=0.1, clock=clock, sleep=clock.sleep
    )
    # checks spaced by the interval, and exactly one at or after the deadline: the last
    assert began == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert [t for t in began if t >= 0.3 - 1e-9] == began[-1:]


def test_the_last_sleep_is_cut_to_the_deadline() -> None:
    clock = FakeClock()
    assert wait_until(lambda: False, 0.25, interval=0.1, clock=clock, sleep=clock.sleep) is False
    assert clock.slept == pytest.approx([0.1, 0.1, 0.05])  # never past the deadline
    assert clock.now == pytest.approx(0.25)


def test_a_slow_check_straddling_the_deadline_gets_one_more_chance() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def slow() -> bool:
        calls.append(clock())
        if clock() < 0.2:
            clock.now += 0.3  # this check runs past the deadline and fails
            return False
        return True

    assert wait_until(slow, 0.2, interval=0.05, what="slow", clock=clock, sleep=clock.sleep)
    assert calls == pytest.approx([0.0, 0.3])  # began before the deadline: one more check
    assert clock.slept == [0.0]  # and that one is not delayed by an interval


def test_an_error_in_the_condition_ends_the_wait() -> None:
    clock = FakeClock()

    def broken() -> bool:
        raise RuntimeError("daemon exited")

    with pytest.raises(RuntimeError, match="daemon exited"):
        wait_until(broken, 30, what="never", clock=clock, sleep=clock.sleep)
    assert clock.slept == []  # not one poll interval waited
