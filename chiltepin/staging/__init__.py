"""Data staging: Globus Transfer (batched, verified, consent-aware) and local copies.

    from chiltepin.staging import Stager, site_values, expand

    values = site_values(site, run_id="r42", task_id="t7")      # per site
    report = Stager().stage(
        [("globus://NOAA Hera/~/ic/", "file://{scratch}/ic/")],   # pairs; "/" = tree
        values=values,
        deadline=900,
    )

Locations are ``globus://<collection UUID or exact display name>/<path>`` and
``file:///<path>``; see :mod:`chiltepin.staging.locations`. Failures raise
:class:`StagingError` (``.failed`` lists every failed item, ``.report`` the whole run);
``ConsentRequiredError`` names the ``chiltepin login --collection ...`` command that fixes it.
"""

from chiltepin.staging.errors import CollectionLookupError, ConsentRequiredError, StagingError
from chiltepin.staging.local import LocalCopier
from chiltepin.staging.locations import (
    TEMPLATE_NAMES,
    Location,
    LocationError,
    at_site,
    expand,
    site_values,
)
from chiltepin.staging.options import StagingOptions
from chiltepin.staging.resolve import CollectionInfo, CollectionResolver
from chiltepin.staging.results import ItemResult, StagingReport, TaskResult
from chiltepin.staging.stager import StagePair, Stager
from chiltepin.staging.transfer import TransferBackend

__all__ = [
    "TEMPLATE_NAMES",
    "CollectionInfo",
    "CollectionLookupError",
    "CollectionResolver",
    "ConsentRequiredError",
    "ItemResult",
    "LocalCopier",
    "Location",
    "LocationError",
    "StagePair",
    "Stager",
    "StagingError",
    "StagingOptions",
    "StagingReport",
    "TaskResult",
    "TransferBackend",
    "at_site",
    "expand",
    "site_values",
]
