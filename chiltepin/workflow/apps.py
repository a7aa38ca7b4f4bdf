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
    """A decorated function; calling it inside a :class:`Workflow` returns an AppFuture.

    Made by :func:`python_task`, :func:`bash_task` and :func:`mpi_task`, not directly. The
    Parsl app behind each (function, executor) pair is made on the first call that needs
    it, since which executors exist is only known once a workflow places a call.

    Args:
        fn: The decorated function, called on the workers with the call's own arguments.
        kind: ``"python"``, ``"bash"`` or ``"mpi"``: which Parsl app runs ``fn`` and
            whether its command is prefixed with the site's MPI launch.
    """

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
        """Run the task in the open :class:`Workflow`; returns its Parsl ``AppFuture``.

        Args:
            *args: The function's positional arguments. Futures of other tasks are
                resolved first, which is how a DAG is written.
            site: The site to run on; ``None`` lets the workflow place the call (see
                :class:`Workflow`).
            resources: What the task asks of its site (nodes, ranks, walltime, ...), as a
                :class:`~chiltepin.client.resources.Resources` or its fields in a dict;
                unset fields take the site's defaults.
            **kwargs: The function's keyword arguments (and, for bash and MPI tasks,
                Parsl's ``stdout=``/``stderr=``).
        """
        label, spec = current().placement(site, resources, mpi=self.kind == "mpi")
        return self._app(label)(*args, parsl_resource_specification=spec, **kwargs)


def python_task(fn: Callable[..., Any]) -> Task:
    """A Python function run on a site's workers; the task's result is its return value.

    Args:
        fn: The function. It is serialised to the workers, so it must not rely on this
            process's state (open files, globals set at run time).
    """
    return Task(fn, "python")


def bash_task(fn: Callable[..., str]) -> Task:
    """A function returning a shell command; the task's result is the command's exit code
    (non-zero raises), with ``stdout=``/``stderr=`` keyword arguments as in Parsl.

    Args:
        fn: Called on the worker with the call's arguments; the string it returns is run by
            the worker's shell, in the site's ``worker_init`` environment.
    """
    return Task(fn, "bash")


def mpi_task(fn: Callable[..., str]) -> Task:
    """A function returning an MPI program's command line, launched with the site's MPI
    launcher over the ``resources`` geometry (``nodes``, ``ranks_per_node``, ``ranks``).

    Args:
        fn: Called on the worker with the call's arguments; returns the program and its
            arguments without a launcher (``srun``/``mpiexec`` and their flags are added for
            the site it lands on, so the same task runs on any of them).
    """
    return Task(fn, "mpi")
