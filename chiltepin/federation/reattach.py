"""Reattaching to a run whose client died: its journal becomes a live federation again.

Finished tasks resolve from the run directory, tasks an endpoint still holds are
collected by their remote ids (one SDK executor per task group reloads them), and the
rest (never placed, or lost with an embedded engine) are placed again, with every
option they were first submitted with (:class:`~chiltepin.federation.journal_format.TaskOptions`).

A value the journal cannot give back (a corrupted result, arguments that no longer
deserialise) fails that task with an error naming the journal line; it is never run
twice because its record was damaged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.client.calls import SERIALIZER, Call
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import FederationConfig, Policy, SitesArg
from chiltepin.client.resources import Routing, parse_resources
from chiltepin.embedded import reap_leftovers
from chiltepin.errors import ChiltepinError
from chiltepin.federation.backends import EndpointBackend
from chiltepin.federation.journal import JOURNAL, RunRecord, TaskRecord, read_journal
from chiltepin.federation.tasks import Attempt, LogicalTask, TaskFuture

if TYPE_CHECKING:
    from chiltepin.federation.executor import Federation

log = logging.getLogger(__name__)


def reattach(
    cls: type[Federation],
    run_dir: Path,
    sites: SitesArg,
    *,
    progress: bool | None,
    client: BudgetedClient | None,
    status_poll_s: float,
    finished: bool,
) -> Federation:
    """A federation over ``run_dir`` that carries on its run (see the module's doc)."""
    record = read_journal(run_dir, finished=finished)
    stopped = reap_leftovers(run_dir / "engines")
    if stopped:
        log.warning("stopped %d process(es) the dead client's engines left", len(stopped))
    config = sites if sites is not None else FederationConfig.model_validate(record.config)
    federation = cls(
        config, run_dir=run_dir, progress=progress, client=client, status_poll_s=status_poll_s
    )
    federation.restored = (record.finished_ok, record.finished_failed)
    restore(federation, record)
    return federation


def logical_task(record: RunRecord, rec: TaskRecord) -> LogicalTask:
    """The task as its first client submitted it (its call read back from the run)."""
    options = rec.options
    return LogicalTask(
        id=rec.id,
        name=rec.name,
        call=_call(record, rec),
        resources=parse_resources(options.resources or None),
        pinned_site=options.site,
        tags=frozenset(options.tags),
        future=TaskFuture(rec.id),
        allowed=options.allowed,
        policy=Policy(options.policy) if options.policy else None,
        stage_in=options.stage_in,
        stage_out=options.stage_out,
    )


def _call(record: RunRecord, rec: TaskRecord) -> Call:
    if rec.function is None:  # format 1: the whole call in one value
        return Call.restore(record.arguments(rec))
    args, kwargs = SERIALIZER.deserialize(record.arguments(rec))
    return Call.of(record.function(rec), args, kwargs)


def restore(federation: Federation, record: RunRecord) -> None:
    """Give every task of ``record`` its future back on ``federation``."""
    rewatch: dict[str, list[Attempt]] = {}
    federation.ledger.continue_after(record.last_number)
    federation.function_texts.continue_after(max(record.functions, default=-1))
    for rec in record.tasks.values():
        try:
            task = logical_task(record, rec)
        except Exception as err:  # arguments damaged on disk: fail it, say where
            task = LogicalTask(
                rec.id, rec.name, None, parse_resources(None), None, frozenset(), TaskFuture(rec.id)
            )
            _adopt(federation, task)
            task.future.set_exception(_unreadable(record, rec, "arguments", err))
            continue
        for old in rec.attempts:  # keep attempt numbers increasing across clients
            previous = task.restore_attempt(
                old.site, Routing(old.options, old.resource_specification), old.via
            )
            previous.remote_id, previous.task_group = old.remote, old.task_group
            previous.reported = True
        _adopt(federation, task)
        last = task.current
        if rec.outcome is not None:  # with no attempt: refused before any site took it
            _restore_outcome(federation, record, rec, task, last)
        elif (
            last is not None
            and last.remote_id
            and last.task_group
            and isinstance(federation.placement.backends.get(last.site), EndpointBackend)
        ):
            attempt = task.new_attempt(last.site, last.routing)
            attempt.remote_id, attempt.task_group = last.remote_id, last.task_group
            federation.stats.bump(last.site, "tasks")
            rewatch.setdefault(last.task_group, []).append(attempt)
        else:
            federation.conductor.dispatch(task)
    for task_group, attempts in rewatch.items():
        federation.conductor.collect(task_group, attempts, federation.client)


def _adopt(federation: Federation, task: LogicalTask) -> None:
    """The federation holds ``task``'s future as one of its own ``submit()``'s."""
    federation.ledger.track(task, keep=True)
    federation.stats.submitted()


def _unreadable(record: RunRecord, rec: TaskRecord, what: str, err: Exception) -> ChiltepinError:
    line = f" line {rec.outcome.line}" if rec.outcome is not None and what == "result" else ""
    message = (
        f"{record.run_dir / JOURNAL}{line}: the {what} of task {rec.id} ({rec.name})"
        f" cannot be read back ({type(err).__name__}: {err})"
    )
    log.warning("%s", message)
    return ChiltepinError(message)


def _restore_outcome(
    federation: Federation,
    record: RunRecord,
    rec: TaskRecord,
    task: LogicalTask,
    attempt: Attempt | None,
) -> None:
    """Settle ``task`` as the journal says it ended (``attempt`` None: it was refused
    before any site took it); it is counted, never run again."""
    outcome = rec.outcome
    assert outcome is not None
    if attempt is not None:
        attempt.reported = False
        federation.stats.bump(attempt.site, "tasks")
    try:
        value, error = _read_outcome(record, rec)
    except Exception as err:
        value, error = None, _unreadable(record, rec, "result", err)
    task.resolve(attempt, value=value, error=error)
    if attempt is None:
        federation.stats.refuse()
    else:
        federation.stats.bump(attempt.site, "succeeded" if error is None else "failed")


def _read_outcome(record: RunRecord, rec: TaskRecord) -> tuple[Any, BaseException | None]:
    """The value a journalled outcome returned, or the error it raised."""
    outcome = rec.outcome
    assert outcome is not None
    payload = record.result(rec)
    if not outcome.ok:
        if outcome.kind == "TaskExecutionFailed":
            return None, TaskExecutionFailed(payload)
        return None, ChiltepinError(payload)
    value = SERIALIZER.deserialize(payload)
    return (value[0] if outcome.version < 2 else value), None  # format 1 kept (value, ran)
