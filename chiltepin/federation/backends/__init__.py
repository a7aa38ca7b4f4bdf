"""Site backends: how an attempt reaches a site of each kind."""

from chiltepin.federation.backends.base import Backend, Completion
from chiltepin.federation.backends.endpoint import EndpointBackend
from chiltepin.federation.backends.local import LocalBackend
from chiltepin.federation.backends.status import EndpointState

__all__ = ["Backend", "Completion", "EndpointBackend", "EndpointState", "LocalBackend"]
