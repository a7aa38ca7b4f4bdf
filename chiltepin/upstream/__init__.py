"""The one place chiltepin reaches past the public APIs of the pinned upstream packages
(globus-compute-sdk and globus-compute-endpoint 4.19.0, Parsl 2026.10.26).

Each module wraps one seam, for the reason given; ``tests/upstream`` holds a contract test
per seam that names the upstream symbol and the pinned version when an upgrade moves it.
Everything else chiltepin uses from these packages is their public API.

:mod:`~chiltepin.upstream.config`
    The endpoint's config loaders and user-config renderer, called in memory so a
    rendered config follows exactly the endpoint's own rules.
:mod:`~chiltepin.upstream.sdk`
    The SDK ``Executor``'s stopped flag (a dead submission thread is replaced), a
    future's task group (kept in the journal for resume), the per-task-group AMQP result
    watchers ``Executor.shutdown`` leaves connected, a ``Client``'s web client (pointed at
    a stand-in on another port than ``local``'s 5000), and the SDK's own Globus app and its
    token file (one login for chiltepin, the SDK and the endpoint).
:mod:`~chiltepin.upstream.compute_url`
    The SDK's ``local`` environment, hard-wired to ``localhost:5000`` in the SDK and the
    endpoint alike, made to follow ``CHILTEPIN_COMPUTE_URL`` (here, and through a
    ``sitecustomize`` on ``PYTHONPATH`` in processes started beneath): an offline session's
    stand-in on a free port.
:mod:`~chiltepin.upstream.engine`
    The endpoint engine's ``submit`` and ``GCFuture`` (the embedded engine drives an
    engine as the interchange does), the PIDs Parsl starts (HTEX interchange, local
    blocks), recorded so a killed client's leftovers can be stopped, and the log level of
    its interchange, managers and workers (an executor's ``log_config``; for an endpoint,
    a pickled one named in HTEX's worker launch command).
:mod:`~chiltepin.upstream.wire`
    The ``DillDataBase64`` payload written by the C pickler for plain data, which spares
    a submit dill's pure-Python pickling.
:mod:`~chiltepin.upstream.endpoint_dir`
    ``daemon.pid`` and ``endpoint.json`` of an endpoint directory: whether an endpoint
    runs, and its id, without asking the service.
:mod:`~chiltepin.upstream.errors`
    Parsl's and the endpoint's own exception names (a remote failure arrives as text) and
    the SDK's result-watcher failure messages (a plain ``RuntimeError``).

The submodules are imported by name, not re-exported here, so a caller pays only for the
upstream modules it needs.
"""
