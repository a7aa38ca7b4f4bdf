"""A part of the machine the tests use is missing: the test fails, it never skips.

One rule for both pytest plugins, with or without ``CI`` set: a suite that skips what it
cannot run passes without proving anything, and ``./dev test`` installs every part first.
"""

from __future__ import annotations

from typing import NoReturn

SETUP_HINT = "`./dev setup` installs every part the tests use"


def missing_part(reason: str) -> NoReturn:
    """Fail the current test, naming what is missing and the command that installs it."""
    import pytest  # only the pytest plugins call this; the package does not need pytest

    pytest.fail(
        f"{reason} [a missing part fails the suite, never skips it: {SETUP_HINT}]", pytrace=False
    )
