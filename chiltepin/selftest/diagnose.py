"""Known ways a site file fails on its machine, and what the user changes to fix each.

The scheduler's and the module system's own words are matched, so the fix names the exact
``--set`` (or site-file key) to change and, where the scheduler can tell, the allowed values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from chiltepin.sites.model import Site


@dataclass(frozen=True)
class Facts:
    """What the scheduler says about the site's settings (empty where it cannot be asked)."""

    partitions: tuple[str, ...] = ()
    partition_max_time: str | None = None


@dataclass(frozen=True)
class Failure:
    """A recognised failure: what went wrong and the fix."""

    problem: str
    fix: str


def _account(site: Site, facts: Facts) -> Failure:
    return Failure(
        f"the scheduler rejected account {site.account!r}"
        if site.account
        else "the scheduler needs an account (project) and the site sets none",
        "set your project: --set account=PROJECT, or `account:` in your sites file "
        "(your projects: `sacctmgr show assoc user=$USER format=account`)",
    )


def _partition(site: Site, facts: Facts) -> Failure:
    known = f"; partitions here: {', '.join(facts.partitions)}" if facts.partitions else ""
    return Failure(
        f"unknown partition {site.partition!r}",
        f"--set partition=NAME, or `partition:` in the site file{known}",
    )


def _walltime(site: Site, facts: Facts) -> Failure:
    limit = facts.partition_max_time
    over = f" (partition {site.partition!r} allows {limit})" if limit else ""
    return Failure(
        f"walltime {site.walltime} is over the partition's limit{over}",
        f"--set walltime=HH:MM:SS{f' at most {limit}' if limit else ''}, or `walltime:` "
        "in the site file",
    )


def _qos(site: Site, facts: Facts) -> Failure:
    return Failure(
        f"the scheduler rejected qos {site.qos!r}",
        "--set qos=NAME with a QOS your account may use (`sacctmgr show qos`), or `qos:`",
    )


def _module(site: Site, facts: Facts) -> Failure:
    return Failure(
        "worker_init loads a module this machine does not have",
        "fix `worker_init` in the site file (`module avail`, `module spider NAME` list what "
        "exists), or --set 'worker_init=[...]'",
    )


#: (pattern in the scheduler's / job's output, failure builder). First match wins.
_KNOWN: tuple[tuple[re.Pattern[str], Callable[[Site, Facts], Failure]], ...] = (
    (re.compile(r"invalid partition", re.I), _partition),
    (re.compile(r"invalid account|account/partition combination|no account", re.I), _account),
    (re.compile(r"invalid qos|qos.*(not valid|invalid)", re.I), _qos),
    (re.compile(r"time limit is invalid|exceeds.*time limit|walltime.*exceed", re.I), _walltime),
    (
        re.compile(
            r"unable to locate a modulefile|module\(s\) are unknown|module: command not found"
            r"|ModuleCmd_Load",
            re.I,
        ),
        _module,
    ),
)


def diagnose(text: str, site: Site, facts: Facts) -> Failure | None:
    """The known failure ``text`` (scheduler or job output) shows, or ``None``."""
    for pattern, build in _KNOWN:
        if pattern.search(text):
            return build(site, facts)
    return None
