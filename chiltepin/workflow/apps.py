"""``python_task``, ``bash_task`` and ``mpi_task``: Parsl apps whose site is chosen per call.

    @python_task
    def forecast(member): ...

    @mpi_task
    def model(member):
        return f"./wrf.exe --member {member}"     # run as $PARSL_MPI_PREFIX ./wrf.exe ...

    with Workflow("sites.yaml"):
        f = forecast(3, site="hera", resources={"walltime": "00:30:00"})
        m = model(3, site="derecho", resources={"nodes": 2, "ranks_per_node": 64})
        post(f, m)                                 # futures as inputs: a DAG

A call's ``site=`` and ``resources=`` are taken by chiltepin; everything else goes to the
function. The Parsl app for each (function, executor) pair is made once and reused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from parsl.app.app import bash_app, python_app
from parsl.dataflow.futures import AppFuture

from chiltepin.client.resources import Resources
from chiltepin.workflow.workflow import current


def _dropping_resource_spec(fn: Callable[..., Any], prefix: str = "") -> Callable[..., Any]:
    """``fn`` accepting (and ignoring) the ``parsl_resource_specification`` keyword Parsl
    passes along; with ``prefix``, ``fn``'s command string is prefixed (MPI launch).

    A nested function (not ``functools.wraps``) on purpose: it must be serialised by value,
    never looked up on the worker under the wrapped function's name.
    """

    def call(*args: Any, parsl_resource_specification: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        return f"{prefix}{result}" if prefix else result

    call.__name__ = getattr(fn, "__name__", "task")
    call.__doc__ = fn.__doc__
    return call


class Task:
    """A decorated function; calling it inside a :class:`Workflow` returns an AppFuture."""

    def __init__(self, fn: Callable[..., Any], kind: str) -> None:
        self.fn = fn
        self.kind = kind
        self.__name__ = getattr(fn, "__name__", "task")
        self.__doc__ = fn.__doc__
        self._apps: dict[str, Callable[..., AppFuture]] = {}
        self._lock = threading.Lock()

    def _app(self, label: str) -> Callable[..., AppFuture]:
        with self._lock:
            if label not in self._apps:
                if self.kind == "python":
                    body = _dropping_resource_spec(self.fn)
                    self._apps[label] = python_app(body, executors=[label])
                else:
                    prefix = "$PARSL_MPI_PREFIX " if self.kind == "mpi" else ""
                    body = _dropping_resource_spec(self.fn, prefix)
                    self._apps[label] = bash_app(body, executors=[label])
            return self._apps[label]

    def __call__(
        self,
        *args: Any,
        site: str | None = None,
        resources: Resources | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AppFuture:
        label, spec = current().placement(site, resources, mpi=self.kind == "mpi")
        return self._app(label)(*args, parsl_resource_specification=spec, **kwargs)


def python_task(fn: Callable[..., Any]) -> Task:
    """A Python function run on a site's workers; returns its value."""
    return Task(fn, "python")


def bash_task(fn: Callable[..., str]) -> Task:
    """A function returning a shell command; the task's result is the command's exit code
    (non-zero raises), with ``stdout=``/``stderr=`` keyword arguments as in Parsl."""
    return Task(fn, "bash")


def mpi_task(fn: Callable[..., str]) -> Task:
    """A function returning an MPI program's command line, launched with the site's MPI
    launcher over the ``resources`` geometry (``nodes``, ``ranks_per_node``, ``ranks``)."""
    return Task(fn, "mpi")
