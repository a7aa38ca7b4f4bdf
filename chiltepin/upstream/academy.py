"""Academy internals: how ``@action`` marks a method.

Checkpointed agents save their state after each action, so they must tell an action from
any other method of the class. academy-py 1.0.0 (which chiltepin pins) marks it with a
private attribute and offers no public test for it; the agent checkpoint tests fail if
that changes.
"""

from __future__ import annotations

from typing import Any

_MARK, _ACTION = "_agent_method_type", "action"


def is_action(method: Any) -> bool:
    """Whether ``method`` is an Academy ``@action`` (inherited or not)."""
    return getattr(method, _MARK, None) == _ACTION
