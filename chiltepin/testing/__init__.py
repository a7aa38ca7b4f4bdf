"""Local Globus stand-in for offline tests and development -- NOT Globus.

A small HTTP service on 127.0.0.1 plus a real RabbitMQ that speaks the subset of the Globus
Compute web API and Globus Auth that the real ``globus_compute_sdk`` (Client, Executor and
its AMQP result watcher) and the real ``globus-compute-endpoint`` use, and the Transfer
subset ``globus_sdk.TransferClient`` uses for staging (``transfer_api``: one directory per
collection, real copies and checksums, fault injection; ``compute=False`` runs it without
RabbitMQ). See docs/architecture.md ("The testing stand-in").

    from chiltepin.testing import GlobusStandIn
    with GlobusStandIn() as standin:          # RabbitMQ + service on localhost:5000
        os.environ.update(standin.client_env())
        ...

pytest: add ``"chiltepin.testing.pytest_plugin"`` to ``pytest_plugins`` and use the
``globus_standin`` fixture (a stand-in on a free port: ``chiltepin.testing.session``).
CLI: ``chiltepin testing up|status|down``.
"""

from chiltepin.testing.environment import client_env
from chiltepin.testing.rabbitmq import RabbitMQ, RabbitMQError
from chiltepin.testing.server import GlobusStandIn, StandInError

__all__ = ["GlobusStandIn", "RabbitMQ", "RabbitMQError", "StandInError", "client_env"]
