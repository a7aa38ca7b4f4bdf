"""The client side: fan tasks out across sites (see :class:`Federation`)."""

from chiltepin.federation.budget import BudgetExceeded
from chiltepin.federation.config import FederationConfig, Policy, SiteEntry
from chiltepin.federation.executor import Federation
from chiltepin.federation.failures import SiteFailure, TaskLost
from chiltepin.federation.limits import PayloadTooLarge
from chiltepin.federation.placement import NoSiteAvailable
from chiltepin.federation.resources import Resources
from chiltepin.federation.staging import SitePath
from chiltepin.federation.tasks import TaskFuture

__all__ = [
    "BudgetExceeded",
    "Federation",
    "FederationConfig",
    "NoSiteAvailable",
    "PayloadTooLarge",
    "Policy",
    "Resources",
    "SiteEntry",
    "SiteFailure",
    "SitePath",
    "TaskFuture",
    "TaskLost",
]
