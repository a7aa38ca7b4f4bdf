"""A web page of federated runs, live or finished: ``chiltepin dashboard``, a run's page
served from inside its process (:func:`watch`), and a saved one (``chiltepin report
--html``)."""

from chiltepin.dashboard.watch import watch

__all__ = ["watch"]
