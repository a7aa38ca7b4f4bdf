"""A loopback Academy exchange: Academy's own HTTP exchange server, in memory, on 127.0.0.1.

Agents on the federation run in worker processes (an embedded site's Parsl workers), so
their mailboxes must live where the client and every worker can reach them. Academy's
``LocalExchangeFactory`` keeps mailboxes in one process's memory and refuses to be pickled,
so it cannot reach a worker; Redis and the hosted exchange need a service or a Globus login.
Academy ships the server of its hosted exchange (``academy.exchange.cloud.app``) with an
in-memory mailbox backend and no authentication: run on loopback inside the client, it is
the exchange an embedded run needs, with nothing to install or log in to. Workers on other
machines (endpoints) cannot reach it: they need Redis or the hosted exchange.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from academy.exchange.cloud.app import create_app
from academy.exchange.cloud.client import HttpExchangeFactory
from academy.exchange.cloud.config import ExchangeServingConfig
from aiohttp import web

HOST = "127.0.0.1"
LISTEN_TIMEOUT_S = 5  # how long a worker's listen request is held open before it asks again
STOP_TIMEOUT_S = 2.0  # requests still open when the exchange stops are cut after this


class LoopbackExchange:
    """Academy's HTTP exchange served from a thread of this process on a free loopback
    port, until :meth:`close`. :meth:`factory` is what Academy's ``Manager`` and the
    agents' workers connect through."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="chiltepin-agent-exchange", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> LoopbackExchange:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=30)
        self.url = f"http://{HOST}:{port}"
        return self

    async def _serve(self) -> int:
        app = create_app(ExchangeServingConfig(host=HOST, listen_timeout_s=LISTEN_TIMEOUT_S))
        # A listen whose client died (an agent's worker killed with its site) is cancelled
        # as its connection drops: left to run (up to LISTEN_TIMEOUT_S), it would take the
        # next request from the mailbox for the dead client, and the agent's relaunch would
        # never see it. One that arrives while the client is still dying is in flight.
        self._runner = web.AppRunner(
            app, shutdown_timeout=STOP_TIMEOUT_S, handler_cancellation=True
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, 0).start()
        return int(self._runner.addresses[0][1])

    def factory(self) -> HttpExchangeFactory:
        if not self.url:
            raise RuntimeError("the loopback exchange is not started")
        return HttpExchangeFactory(self.url, auth_method=None, request_timeout_s=LISTEN_TIMEOUT_S)

    def close(self) -> None:
        if self._runner is not None:
            stopping = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            stopping.result(timeout=STOP_TIMEOUT_S + 10)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> LoopbackExchange:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
