"""``wait_until``: the one poll-until-a-deadline loop."""

from __future__ import annotations

import time

import pytest

from chiltepin.system.waiting import wait_until


def test_returns_the_first_truthy_value() -> None:
    answers = iter([0, None, "", [], "ready", "never asked"])
    assert wait_until(lambda: next(answers), 5, interval=0.001) == "ready"
    assert next(answers) == "never asked"


def test_timeout_raises_naming_what() -> None:
    with pytest.raises(TimeoutError, match=r"^broker listening: not reached after 0\.2 s$"):
        wait_until(lambda: False, 0.2, interval=0.05, what="broker listening")


def test_timeout_without_what_returns_the_falsy_value() -> None:
    assert wait_until(lambda: [], 0.1, interval=0.05) == []
    assert wait_until(lambda: None, 0) is None


def test_last_check_begins_after_the_deadline_and_only_once() -> None:
    began: list[float] = []
    start = time.monotonic()
    assert not wait_until(lambda: began.append(time.monotonic()), 0.3, interval=0.1)
    after = [t for t in began if t >= start + 0.3]
    assert after == began[-1:], began  # exactly one check after the deadline, the last
    assert len(began) >= 3  # and the ones before it were spaced by the interval


def test_a_slow_check_straddling_the_deadline_gets_one_more_chance() -> None:
    deadline = time.monotonic() + 0.2
    calls = []

    def slow() -> bool:
        calls.append(time.monotonic())
        if calls[-1] < deadline:
            time.sleep(0.3)  # this check runs past the deadline and fails
            return False
        return True

    assert wait_until(slow, 0.2, interval=0.05, what="slow") is True
    assert len(calls) == 2


def test_an_error_in_the_condition_ends_the_wait() -> None:
    def broken() -> bool:
        raise RuntimeError("daemon exited")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="daemon exited"):
        wait_until(broken, 30, what="never")
    assert time.monotonic() - started < 5
