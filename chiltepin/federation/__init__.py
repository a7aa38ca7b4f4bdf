"""The client side: fan tasks out across sites (see :class:`Federation`)."""

from chiltepin.client.calls import NotCallable
from chiltepin.client.config import FederationConfig, Policy, SiteEntry
from chiltepin.client.limits import PayloadTooLarge
from chiltepin.client.resources import Resources
from chiltepin.federation.budget import BudgetExceeded
from chiltepin.federation.executor import Federation
from chiltepin.federation.failures import SiteFailure, TaskLost
from chiltepin.federation.placement import NoSiteAvailable
from chiltepin.federation.staging import SitePath
from chiltepin.federation.states import TaskState
from chiltepin.federation.tasks import TaskFuture

__all__ = [
    "BudgetExceeded",
    "Federation",
    "FederationConfig",
    "NoSiteAvailable",
    "NotCallable",
    "PayloadTooLarge",
    "Policy",
    "Resources",
    "SiteEntry",
    "SiteFailure",
    "SitePath",
    "TaskFuture",
    "TaskLost",
    "TaskState",
]
