"""The stand-in's side of AMQP: declare queues, publish tasks and commands, relay results.

pika connections are not thread-safe, so one thread owns one ``BlockingConnection`` and
does everything: HTTP handler threads hand it work with ``add_callback_threadsafe`` (which
wakes its loop at once, so a submit costs no polling delay) and wait on a future; consumer
callbacks (results, heartbeats) run in the same thread and may publish directly.

Queue layout, as the real service uses it (see reference/globus-compute-offline.md):

* exchange ``tasks`` (direct): ``<ep>.tasks`` bound with routing key ``<ep>.tasks``;
* exchange ``results`` (topic): ``<ep>.results``, consumed here and relayed to the task
  group's queue ``<queue_prefix><task_group_id>`` (default exchange);
* exchange ``heartbeats`` (topic): ``<ep>.heartbeats``, consumed here for liveness;
* ``<ep>.command_queue`` for a template-capable endpoint (default exchange).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger(__name__)

T = TypeVar("T")

TASKS_EXCHANGE = "tasks"
RESULTS_EXCHANGE = "results"
HEARTBEATS_EXCHANGE = "heartbeats"

MessageHandler = Callable[[str, Any, bytes], None]
"""(endpoint_id, pika BasicProperties, body) -> None; raising requeues nothing (logged)."""


def queue_names(endpoint_id: str) -> dict[str, str]:
    """Queue names the stand-in uses for one endpoint."""
    return {
        "tasks": f"{endpoint_id}.tasks",
        "results": f"{endpoint_id}.results",
        "heartbeats": f"{endpoint_id}.heartbeats",
        "commands": f"{endpoint_id}.command_queue",
    }


class AmqpBridge:
    """Owns the stand-in's AMQP connection and its I/O thread."""

    def __init__(
        self,
        url: str,
        *,
        on_result: MessageHandler,
        on_heartbeat: MessageHandler,
    ) -> None:
        self.url = url
        self.on_result = on_result
        self.on_heartbeat = on_heartbeat
        self._conn: pika.BlockingConnection | None = None
        self._chan: BlockingChannel | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._consumed: dict[str, tuple[str, str]] = {}  # queue -> (kind, endpoint_id)
        self._consumer_tags: dict[str, str] = {}
        self._start_error: BaseException | None = None

    # -- thread -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="standin-amqp", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"stand-in AMQP bridge could not connect to {self.url}")
        if self._start_error:
            raise RuntimeError(f"stand-in AMQP bridge failed: {self._start_error}")

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.add_callback_threadsafe(lambda: None)  # wake the loop
        if self._thread is not None:
            self._thread.join(10)

    def _connect(self) -> None:
        params = pika.URLParameters(self.url)
        params.heartbeat = 0  # loopback, and our loop may legitimately sit idle
        params.connection_attempts = 3
        params.retry_delay = 0.5
        self._conn = pika.BlockingConnection(params)
        self._open_channel()

    def _open_channel(self) -> None:
        assert self._conn is not None
        chan = self._conn.channel()
        chan.basic_qos(prefetch_count=512)
        chan.exchange_declare(TASKS_EXCHANGE, exchange_type="direct")
        chan.exchange_declare(RESULTS_EXCHANGE, exchange_type="topic")
        chan.exchange_declare(HEARTBEATS_EXCHANGE, exchange_type="topic")
        self._chan = chan
        self._consumer_tags.clear()
        for queue, (kind, endpoint_id) in list(self._consumed.items()):
            self._consume(queue, kind, endpoint_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._connect()
                self._ready.set()
                while not self._stop.is_set():
                    assert self._conn is not None
                    self._conn.process_data_events(time_limit=1)
            except pika.exceptions.ChannelClosed as exc:
                log.warning("stand-in AMQP channel closed (%s); reopening", exc)
                with contextlib.suppress(Exception):
                    if self._conn is not None and self._conn.is_open:
                        self._open_channel()
                        continue
            except Exception as exc:
                if not self._ready.is_set():
                    self._start_error = exc
                    self._ready.set()
                    return
                if self._stop.is_set():
                    break
                log.warning("stand-in AMQP connection lost (%s); reconnecting", exc)
                time.sleep(0.5)
        with contextlib.suppress(Exception):
            if self._conn is not None and self._conn.is_open:
                self._conn.close()

    def call(self, fn: Callable[[BlockingChannel], T], timeout: float = 30.0) -> T:
        """Run ``fn(channel)`` in the I/O thread and return its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            return self._with_channel(fn)
        fut: Future[T] = Future()

        def _do() -> None:
            try:
                fut.set_result(self._with_channel(fn))
            except BaseException as exc:  # handed back to the caller
                fut.set_exception(exc)

        conn = self._conn
        if conn is None:
            raise RuntimeError("stand-in AMQP bridge is not connected")
        conn.add_callback_threadsafe(_do)
        return fut.result(timeout)

    def _with_channel(self, fn: Callable[[BlockingChannel], T]) -> T:
        if self._chan is None or not self._chan.is_open:
            self._open_channel()
        assert self._chan is not None
        try:
            return fn(self._chan)
        except pika.exceptions.ChannelClosed:
            self._open_channel()
            raise

    def _on_temp_channel(self, fn: Callable[[BlockingChannel], T], default: T) -> T:
        """Run a possibly channel-closing operation (passive declare, purge of a queue that may
        be gone) on a throwaway channel, so a 404 from the broker cannot close the channel our
        consumers and publishers live on.  Must run in the I/O thread."""
        assert self._conn is not None
        chan = self._conn.channel()
        try:
            return fn(chan)
        except pika.exceptions.ChannelClosedByBroker:
            return default
        finally:
            if chan.is_open:
                with contextlib.suppress(Exception):
                    chan.close()

    # -- consumers --------------------------------------------------------------------
    def _consume(self, queue: str, kind: str, endpoint_id: str) -> None:
        assert self._chan is not None
        handler = self.on_result if kind == "results" else self.on_heartbeat

        def _on_message(ch: BlockingChannel, method: Any, props: Any, body: bytes) -> None:
            try:
                handler(endpoint_id, props, body)
            except Exception:
                log.exception("stand-in: failed to handle %s message from %s", kind, queue)
            if ch.is_open:
                ch.basic_ack(method.delivery_tag)

        tag = self._chan.basic_consume(queue=queue, on_message_callback=_on_message)
        self._consumer_tags[queue] = tag

    # -- operations (any thread) ------------------------------------------------------
    def declare_endpoint(self, endpoint_id: str, *, template_capable: bool) -> None:
        """Declare one endpoint's queues and start consuming its results and heartbeats."""
        names = queue_names(endpoint_id)

        def _do(ch: BlockingChannel) -> None:
            ch.queue_declare(names["heartbeats"])
            ch.queue_bind(names["heartbeats"], HEARTBEATS_EXCHANGE, names["heartbeats"])
            if template_capable:
                ch.queue_declare(names["commands"])
            else:
                ch.queue_declare(names["tasks"])
                ch.queue_bind(names["tasks"], TASKS_EXCHANGE, names["tasks"])
                ch.queue_declare(names["results"])
                ch.queue_bind(names["results"], RESULTS_EXCHANGE, names["results"])
            wanted = [("heartbeats", names["heartbeats"])]
            if not template_capable:
                wanted.append(("results", names["results"]))
            for kind, queue in wanted:
                self._consumed[queue] = (kind, endpoint_id)
                if queue not in self._consumer_tags:
                    self._consume(queue, kind, endpoint_id)

        self.call(_do)

    def declare_group_queue(self, queue: str) -> None:
        """The queue the SDK's result watcher consumes (it does not declare it itself)."""
        self.call(lambda ch: ch.queue_declare(queue))

    def publish_tasks(self, routing_key: str, messages: list[tuple[dict[str, Any], bytes]]) -> None:
        """Publish packed tasks with their headers to exchange ``tasks``."""

        def _do(ch: BlockingChannel) -> None:
            for headers, body in messages:
                ch.basic_publish(
                    TASKS_EXCHANGE,
                    routing_key,
                    body,
                    pika.BasicProperties(headers=headers, delivery_mode=2),
                )

        self.call(_do)

    def publish_command(self, queue: str, body: bytes) -> None:
        """A JSON command (``cmd_start_endpoint``) for a template-capable endpoint."""
        props = pika.BasicProperties(
            content_type="application/json",
            timestamp=int(time.time()),
            delivery_mode=2,
        )
        self.call(lambda ch: ch.basic_publish("", queue, body, props))

    def publish_result(self, queue: str, body: bytes) -> None:
        """Relay a packed Result to a task group queue (from the I/O thread or any other)."""
        props = pika.BasicProperties(
            content_type="application/octet-stream",
            timestamp=int(time.time()),
            delivery_mode=2,
        )
        self.call(lambda ch: ch.basic_publish("", queue, body, props))

    def purge(self, queue: str) -> int:
        """Drop every message waiting in ``queue``; returns how many (0 if it is gone)."""

        def _do(ch: BlockingChannel) -> int:
            count = ch.queue_purge(queue).method.message_count
            assert count is not None  # Queue.PurgeOk always carries the count
            return int(count)

        return self.call(lambda _ch: self._on_temp_channel(_do, 0))

    def delete_queues(self, queues: list[str]) -> list[str]:
        """Delete queues (fault injection); we stop consuming them first. Returns deleted."""

        def _delete(tmp: BlockingChannel, queue: str) -> object:
            return tmp.queue_delete(queue)

        def _do(ch: BlockingChannel) -> list[str]:
            deleted = []
            for queue in queues:
                self._consumed.pop(queue, None)
                tag = self._consumer_tags.pop(queue, None)
                if tag:
                    with contextlib.suppress(Exception):
                        ch.basic_cancel(tag)
                if self._on_temp_channel(functools.partial(_delete, queue=queue), None):
                    deleted.append(queue)
            return deleted

        return self.call(_do)

    def queue_depth(self, queue: str) -> int | None:
        """Messages ready in ``queue``, or ``None`` if it does not exist."""

        def _do(ch: BlockingChannel) -> int | None:
            return int(ch.queue_declare(queue, passive=True).method.message_count)

        return self.call(lambda _ch: self._on_temp_channel(_do, None))
