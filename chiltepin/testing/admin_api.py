"""The stand-in's own admin routes (``/_standin/...``): what a detached stand-in
(``chiltepin testing up``) or a non-Python harness uses for the switches the Python API
(:class:`~chiltepin.testing.server.GlobusStandIn`) offers: its state, fault injection,
Transfer collections and their faults.

They are served from a :class:`~chiltepin.testing.routing.Route` table like the Globus
APIs' routes, but apart from them (:mod:`chiltepin.testing.transport`): no injected
fault, pause or strict shaping ever reaches them, so a harness can always resume a
paused stand-in, and an unknown admin path is a plain 404, not a Globus route the
stand-in lacks.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from chiltepin.testing.routing import ApiError, Handler, Request, Response, Route

if TYPE_CHECKING:
    from chiltepin.testing.server import GlobusStandIn

PREFIX = "/_standin/"


def _bad_input_is_a_client_error(handler: Handler) -> Handler:
    """An unknown collection (KeyError) answers 404, a bad value (ValueError) 400."""

    @functools.wraps(handler)
    def checked(req: Request) -> Any:
        try:
            return handler(req)
        except (KeyError, ValueError) as exc:
            status = 404 if isinstance(exc, KeyError) else 400
            raise ApiError(status, "BAD_REQUEST", str(exc)) from exc

    return checked


class AdminApi:
    """``/_standin/...`` routes over one stand-in."""

    def __init__(self, standin: GlobusStandIn) -> None:
        self.standin = standin

    def routes(self) -> list[Route]:
        transfer = [
            Route("transfer_collections", "GET", "transfer/collections", self.collections),
            Route("transfer_tasks", "GET", "transfer/tasks", self.transfer_tasks),
            Route("add_collection", "POST", "transfer/collections", self.add_collection),
            Route("deny", "POST", "transfer/faults/deny", self.deny),
            Route("consent", "POST", "transfer/faults/consent", self.consent),
            Route("slow", "POST", "transfer/faults/slow", self.slow),
            Route("corrupt", "POST", "transfer/faults/corrupt", self.corrupt),
        ]
        routes = [
            Route("state", "GET", "state", self.state),
            Route("unknown_routes", "GET", "unknown_routes", self.unknown_routes),
            Route("faults", "GET", "faults", self.faults),
            Route("fail_next", "POST", "faults/fail_next", self.fail_next),
            Route("pause", "POST", "faults/pause", self.pause),
            Route("resume", "POST", "faults/resume", self.resume),
            Route("clear", "POST", "faults/clear", self.clear),
            Route("offline", "POST", "faults/offline", self.offline),
            Route("drop_queues", "POST", "faults/drop_queues", self.drop_queues),
            *(
                Route(r.name, r.method, r.template, _bad_input_is_a_client_error(r.handler))
                for r in transfer
            ),
        ]
        return [Route(r.name, r.method, PREFIX + r.template, r.handler) for r in routes]

    # -- the stand-in -------------------------------------------------------------------
    def state(self, req: Request) -> Any:
        doc = self.standin.state.summary()
        doc.update(url=self.standin.url, amqp_url=self.standin.amqp_url, stand_in=True)
        return doc

    def unknown_routes(self, req: Request) -> Any:
        return {"unknown_routes": self.standin.unknown_routes}

    # -- faults -------------------------------------------------------------------------
    def faults(self, req: Request) -> Any:
        faults = self.standin.faults
        return {"pending": faults.pending(), "fired": faults.injected}

    def fail_next(self, req: Request) -> Any:
        body = req.json()
        rule = self.standin.fail_next(
            body["route"],
            int(body.get("count", 1)),
            status=int(body.get("status", 500)),
            code=body.get("code"),
            message=body.get("message"),
            retry_after=body.get("retry_after"),
        )
        return {"rule": vars(rule)}

    def pause(self, req: Request) -> Any:
        seconds = float(req.json()["seconds"])
        self.standin.pause(seconds)
        return {"paused_s": seconds}

    def resume(self, req: Request) -> Any:
        self.standin.resume()
        return {"paused_s": 0}

    def clear(self, req: Request) -> Any:
        self.standin.clear_faults()
        return {"cleared": True}

    def offline(self, req: Request) -> Any:
        body = req.json()
        offline = bool(body.get("offline", True))
        self.standin.set_offline(body["endpoint_id"], offline)
        return {"endpoint_id": body["endpoint_id"], "offline": offline}

    def drop_queues(self, req: Request) -> Any:
        body = req.json()
        kinds = tuple(body.get("queues") or ("tasks", "results", "heartbeats"))
        return {"deleted": self.standin.drop_queues(body["endpoint_id"], kinds)}

    # -- Transfer -----------------------------------------------------------------------
    def collections(self, req: Request) -> Any:
        docs = [c.doc() | {"root": str(c.root)} for c in self.standin.collections.all()]
        return {"collections": docs}

    def transfer_tasks(self, req: Request) -> Any:
        return {"tasks": self.standin.transfer_tasks()}

    def add_collection(self, req: Request) -> Any:
        body = req.json()
        cid = self.standin.add_collection(
            body["display_name"],
            root=body.get("root"),
            mapped=bool(body.get("mapped", False)),
            requires_consent=bool(body.get("requires_consent", False)),
            collection_id=body.get("id"),
        )
        coll = self.standin.collection(cid)
        return coll.doc() | {"root": str(coll.root)}

    def deny(self, req: Request) -> Any:
        body = req.json()
        self.standin.deny_path(_collection(body), body["path"])
        return _fault_set(body, "deny")

    def consent(self, req: Request) -> Any:
        body = req.json()
        self.standin.require_consent(_collection(body), bool(body.get("required", True)))
        return _fault_set(body, "consent")

    def slow(self, req: Request) -> Any:
        body = req.json()
        self.standin.slow_transfers(
            _collection(body),
            bytes_per_s=body.get("bytes_per_s"),
            item_delay_s=float(body.get("item_delay_s", 0.0)),
        )
        return _fault_set(body, "slow")

    def corrupt(self, req: Request) -> Any:
        body = req.json()
        self.standin.corrupt_destination(
            _collection(body), body.get("pattern", "*"), times=body.get("times")
        )
        return _fault_set(body, "corrupt")


def _collection(body: dict[str, Any]) -> str:
    return str(body.get("collection", ""))


def _fault_set(body: dict[str, Any], fault: str) -> Response:
    return Response(200, {"collection": _collection(body), "fault": fault})
