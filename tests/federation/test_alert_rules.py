"""When a run alerts, judged from the changes it is told of; a command retried until it
takes the alert; site events of older journals still read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chiltepin.client.config import AlertKind, AlertsConfig
from chiltepin.federation.alerts import Alert, AlertRules, AlertSender
from chiltepin.federation.backends import SiteHealth
from chiltepin.federation.journal_format import SiteEvent, decode, line
from chiltepin.system.waiting import wait_until


def rules(**config: object) -> tuple[AlertRules, list[Alert]]:
    sent: list[Alert] = []
    alerts = AlertsConfig.model_validate({"webhook": "http://127.0.0.1:9/", **config})
    return AlertRules(alerts, Path("/runs/r"), sent.append), sent


def test_a_stop_then_a_blip_then_lost_is_one_spell_and_back_ends_it() -> None:
    judge, sent = rules()
    for state, healthy, reason in [
        ("online", True, None),
        ("stopped", True, None),  # its tasks move: lost
        ("offline", True, None),  # still away
        ("lost", True, None),
        ("lost", False, "offline for 60 s"),
        ("online", False, "offline for 60 s"),  # online, not yet back in placement
        ("online", True, None),
        ("online", True, None),
    ]:
        judge.site(SiteHealth("ep", healthy, reason, state))
    assert [(a.kind, a.site, a.details["state"]) for a in sent] == [
        (AlertKind.site_lost, "ep", "stopped"),
        (AlertKind.site_back, "ep", "online"),
    ]


def test_a_site_without_named_states_is_lost_while_out_of_placement() -> None:
    judge, sent = rules(events=["site_back"])
    judge.site(SiteHealth("here", False, "3 submissions failed", None))
    judge.site(SiteHealth("here", True, None, None))
    assert [a.kind for a in sent] == [AlertKind.site_back]  # site_lost not chosen


def test_failure_rate_over_a_full_window_alerts_once_until_it_recovers() -> None:
    judge, sent = rules(failure_rate=0.5, failure_window=4)
    for failed in [True, True, True]:  # window not full yet
        judge.attempt_ended("a", failed)
    assert sent == []
    for failed in [False, True, True, False, False, False, True, True, True]:
        judge.attempt_ended("a", failed)
        judge.attempt_ended("b", False)
    rates = [(a.site, a.details["failed"]) for a in sent]
    # 3/4 alerts; stays over without repeating; 1/4 re-arms; 3/4 alerts again
    assert rates == [("a", 3), ("a", 3)]


def test_a_failing_command_is_retried_until_it_takes_the_alert(tmp_path: Path) -> None:
    tries, got = tmp_path / "tries", tmp_path / "got.json"
    script = (
        "import sys, pathlib; t = pathlib.Path(sys.argv[1]);"
        " t.write_text(t.read_text() + 'x' if t.exists() else 'x');"
        " body = sys.stdin.read();"
        " sys.exit(1) if len(t.read_text()) < 3 else pathlib.Path(sys.argv[2]).write_text(body)"
    )
    sender = AlertSender(None, [sys.executable, "-c", script, str(tries), str(got)], timeout_s=10)
    alert = Alert(AlertKind.budget_80, "/runs/r", None, 0.0, {"spent": 8.0})
    sender.send(alert)
    wait_until(lambda: sender.delivered + sender.failed == 1, 30, what="the delivery")
    sender.close()
    assert (sender.delivered, sender.failed, tries.read_text()) == (1, 0, "xxx")
    assert json.loads(got.read_text()) == {
        "version": 1,
        "event": "budget_80",
        "run_dir": "/runs/r",
        "site": None,
        "time": "1970-01-01T00:00:00.000+00:00",
        "details": {"spent": 8.0},
    }


def test_site_events_without_state_or_time_still_read() -> None:
    old_v1 = b'{"e":"site","site":"a","healthy":false,"reason":"gone"}'
    old_v2 = b'{"e":"s","site":"a","healthy":true,"reason":null}'
    assert decode(old_v1, 1) == SiteEvent("a", False, "gone", None, 0.0)
    assert decode(old_v2, 2) == SiteEvent("a", True, None, None, 0.0)
    new = SiteEvent("a", False, "offline for 60 s", "lost", 1765090000.5)
    assert decode(line(new.event()), 2) == new
