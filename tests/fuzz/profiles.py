"""Hypothesis settings for the fuzz tests: a CI profile and a long one (``./dev fuzz``).

Every example has a deadline (a slow input is a failure, not a wait) and the CI profile's
example counts keep the whole directory well under two minutes on a 2-core machine.
``CHILTEPIN_FUZZ_PROFILE=long`` (what ``./dev fuzz`` sets) tries many more inputs.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., None])

for name, examples, deadline_s in (("chiltepin-ci", 120, 5), ("chiltepin-long", 3000, 10)):
    settings.register_profile(
        name,
        max_examples=examples,
        deadline=timedelta(seconds=deadline_s),
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
PROFILE = f"chiltepin-{os.environ.get('CHILTEPIN_FUZZ_PROFILE', 'ci')}"
fuzz = settings(settings.get_profile(PROFILE))
"""Decorator for every fuzz test (below ``@given``)."""

TRIED: Counter[str] = Counter()
"""Inputs tried per boundary in this session (printed at its end by conftest)."""
ACCEPTED: Counter[str] = Counter()
"""Of those, the inputs each boundary accepted (refusing everything is a failure too)."""


def accepting(boundary: str, at_least: float) -> Callable[[F], F]:
    """Decorator above ``@given``: once hypothesis has run the test, at least ``at_least``
    of the inputs it tried at ``boundary`` were accepted. A fuzz test passes for an input
    that is accepted or refused with a ChiltepinError, so without this a change that
    refuses every input would pass them all while proving nothing."""

    def wrap(test: F) -> F:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            tried, accepted = TRIED[boundary], ACCEPTED[boundary]
            test(*args, **kwargs)
            tried, accepted = TRIED[boundary] - tried, ACCEPTED[boundary] - accepted
            assert tried > 0, f"{boundary}: no input was tried"
            assert accepted >= at_least * tried, (
                f"{boundary}: {accepted} of {tried} inputs accepted, under the"
                f" {at_least:.0%} expected: does it refuse what it should take?"
            )

        return cast(F, run)

    return wrap


SHELL_SPECIAL = frozenset(';&|$`<>()\n\\"*?[]{}!#~\t\r')


def exposed(text: str) -> set[str]:
    """Shell metacharacters in ``text`` outside single quotes (what a shell would act on)."""
    found: set[str] = set()
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char in SHELL_SPECIAL:
            found.add(char)
    return found
