"""Alerts from runs over embedded sites, to a real local webhook and a real command.

The faults are real: a site's workers are killed under its tasks (failure rate), a run's
tiny budget runs out (budget 80 % and 100 %); every run ends with ``run_finished``. An
endpoint site lost and back is tests/federation/test_site_alerts.py.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.client.config import load_config
from chiltepin.errors import ConfigError
from chiltepin.federation import Federation
from chiltepin.federation.alerts import PAYLOAD_VERSION
from chiltepin.federation.budget import BudgetExceeded
from chiltepin.federation.journal import events
from chiltepin.federation.journal_format import AlertEvent, DoneEvent
from chiltepin.system.waiting import wait_until
from tests.federation import tasks
from tests.federation.webhook import Receiver

FAST = [
    "tolerance.worker_heartbeat_period=1",
    "tolerance.worker_heartbeat_threshold=2",
    "tolerance.max_retries_on_system_failure=0",
]
WRITE_STDIN = "import sys; f = open(sys.argv[1], 'ab'); f.write(sys.stdin.buffer.read() + b'\\n')"


def local(*extra: str, workers: int = 2) -> dict[str, Any]:
    return {
        "kind": "local",
        "site": "localhost",
        "set": [*FAST, *extra],
        "options": {"max_workers_per_node": workers},
    }


def journalled_alerts(run_dir: Path) -> list[AlertEvent]:
    return [e for e in events(run_dir) if isinstance(e, AlertEvent)]


def test_budget_and_run_finished_reach_the_webhook_and_the_command(tmp_path: Path) -> None:
    stdin_log = tmp_path / "alerts.jsonl"
    run_dir = tmp_path / "run"
    with Receiver() as hook:
        alerts = {
            "webhook": hook.url,
            "command": [sys.executable, "-c", WRITE_STDIN, str(stdin_log)],
        }
        # One node-second costs 1 USD. Tasks run one after another, each adding its round
        # trip to its batch job's span: a budget of 4 takes at least four (more than four
        # finished, the estimate reaches 80 % before a fifth would pass the budget).
        sites = {"meter": local("cost_per_node_hour=3600")}
        with Federation(sites, run_dir=run_dir, progress=False, budget=4.0, alerts=alerts) as fed:
            ran = 0
            with pytest.raises(BudgetExceeded):
                for i in range(200):
                    fed.submit(tasks.nap, i, 0.1).result(120)
                    ran += 1
            spent = fed.cost.spent if fed.cost else 0.0
        # run_finished was handed over before shutdown returned (it waits for delivery)
        assert hook.events() == ["budget_80", "budget_100", "run_finished"]

    by_event = {p["event"]: p for p in hook.payloads}
    assert set(hook.content_types) == {"application/json"}
    for payload in hook.payloads:
        assert set(payload) == {"version", "event", "run_dir", "site", "time", "details"}
        assert payload["version"] == PAYLOAD_VERSION
        assert payload["run_dir"] == str(run_dir)
        assert payload["site"] is None
    eighty = by_event["budget_80"]["details"]
    assert eighty["budget"] == 4.0 and eighty["unit"] == "USD"
    assert 0.8 <= eighty["fraction"] < 1.0  # reached by the estimate, before the refusal
    finished = by_event["run_finished"]["details"]
    assert ran >= 4
    assert finished["succeeded"] == ran and finished["failed"] == 0
    assert finished["sites"]["meter"]["succeeded"] == ran
    assert finished["spent"] == pytest.approx(spent, abs=1e-6)
    # the command got the same payloads on its stdin, in order
    by_command = [json.loads(line) for line in stdin_log.read_text().splitlines()]
    assert by_command == hook.payloads
    # and the journal holds each alert for its readers
    assert [a.kind for a in journalled_alerts(run_dir)] == hook.events()


def test_killed_workers_raise_a_site_failure_rate_and_user_errors_do_not(tmp_path: Path) -> None:
    release = tmp_path / "release"
    run_dir = tmp_path / "run"
    with Receiver() as hook:
        alerts = {
            "webhook": hook.url,
            "failure_rate": 0.5,
            "failure_window": 2,
            "events": ["failure_rate", "run_finished"],
        }
        sites = {"doomed": local(), "spare": local(workers=1)}
        with Federation(
            sites, run_dir=run_dir, progress=False, policy="round_robin", alerts=alerts
        ) as fed:
            mistakes = [fed.submit(tasks.fail_once_per_call, i, site="doomed") for i in range(3)]
            for mistake in mistakes:  # the user's errors: the site ran them fine
                with pytest.raises(TaskExecutionFailed, match="user error"):
                    mistake.result(120)
            assert journalled_alerts(run_dir) == []  # alerts are journalled as they are sent
            held = [fed.submit(tasks.wait_for, str(release), i) for i in range(4)]
            doomed = fed.placement.backends["doomed"]
            wait_until(lambda: len(doomed.in_flight()) == 2, 60, what="two tasks on doomed")
            wait_until(lambda: doomed.live_workers == 2, 60, what="doomed's workers up")
            for engine in doomed._engines.values():  # its workers die under their tasks
                for job in engine.engine.executor.provider.resources.values():
                    os.killpg(os.getpgid(job["remote_pid"]), signal.SIGKILL)
            wait_until(lambda: "failure_rate" in hook.events(), 60, what="a failure_rate alert")
            release.touch()
            assert sorted(f.result(timeout=120) for f in held) == list(range(4))
    rate = next(p for p in hook.payloads if p["event"] == "failure_rate")
    assert rate["site"] == "doomed"
    assert rate["details"] == {"rate": 1.0, "threshold": 0.5, "failed": 2, "attempts": 2}
    assert hook.events() == ["failure_rate", "run_finished"]  # chosen events only, once
    outcomes = [e for e in events(run_dir) if isinstance(e, DoneEvent)]
    assert sum(e.ok for e in outcomes) == 4


def closed_port() -> int:
    """A port of 127.0.0.1 nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("listen", "logged"),
    [
        # A listener that never answers: the POST connects, then waits for a reply
        # until its timeout; shutdown stops waiting for it at the same timeout.
        (True, "run_finished still being delivered"),
        # Nothing listens: refused at once, retried until shutdown's deadline.
        (False, "alert run_finished not delivered to webhook"),
    ],
)
def test_an_unreachable_webhook_delays_the_end_by_its_timeout_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, listen: bool, logged: str
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    if listen:
        silent.listen(8)
    port = silent.getsockname()[1] if listen else closed_port()
    alerts = {"webhook": f"http://127.0.0.1:{port}/hook", "timeout_s": 1.0}
    try:
        with caplog.at_level(logging.WARNING, logger="chiltepin.federation.alerts"):
            # warm=False: no engine starting to wait for, so the end is the alert's alone
            fed = Federation(
                {"here": local()}, run_dir=tmp_path, progress=False, alerts=alerts, warm=False
            )
            started = time.monotonic()
            fed.shutdown()
            took = time.monotonic() - started
    finally:
        silent.close()
    assert took < 2.5, f"shutdown took {took:.2f} s with a 1 s alert timeout"
    if listen:
        assert took >= 1.0  # it did wait for the delivery, up to its timeout
    assert logged in caplog.text
    assert [a.kind for a in journalled_alerts(tmp_path)] == ["run_finished"]


@pytest.mark.parametrize(
    ("alerts", "key", "says"),
    [
        ({"webhook": "ftp://example.org/hook"}, "alerts.webhook", "http:// or https://"),
        ({"command": "notify.sh --run x"}, "alerts.command", "list of arguments"),
        ({"command": ["notify.sh", ""]}, "alerts.command.1", "at least 1 character"),
        ({"webhook": "http://h/", "failure_rate": 1.5}, "alerts.failure_rate", "1"),
        ({"webhook": "http://h/", "failure_rate": -0.1}, "alerts.failure_rate", "0"),
        ({"webhook": "http://h/", "events": ["site_gone"]}, "alerts.events.0", "site_lost"),
        ({"failure_rate": 0.2}, "alerts", "name a webhook, a command, or both"),
    ],
)
def test_bad_alerts_fail_naming_the_key(
    tmp_path: Path, alerts: dict[str, Any], key: str, says: str
) -> None:
    text = json.dumps({"sites": {"here": {"kind": "local", "site": "localhost"}}, "alerts": alerts})
    path = tmp_path / "sites.yaml"
    path.write_text(text)  # JSON is YAML
    with pytest.raises(ConfigError) as in_file:
        load_config(path)
    assert f"{path}:1: {key}: " in str(in_file.value) and says in str(in_file.value)
    with pytest.raises(ConfigError) as in_args:
        Federation({"here": local()}, run_dir=tmp_path / "run", alerts=alerts)
    assert f"Federation(...): {key}: " in str(in_args.value) and says in str(in_args.value)
