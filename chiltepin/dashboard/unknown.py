"""Why a site's live counts are unknown, in words the run page shows as the tooltip of
its dash.

A run's status says what each site reported and None for what it did not
(:class:`~chiltepin.federation.journal_format.SiteStatus`). An unknown is not a zero, and
"why" differs by the kind of site: a local site's engine reports workers, idle workers
and blocks once it has started (with the site's first task); an endpoint site knows only
what the Compute service's status relays, whose documented details carry worker counts
but no batch blocks (a status's ``state`` is an endpoint's named state, None for a local
site). So the page can say "never, for this kind of site" apart from "not yet", and
both apart from a journal written before a site's status recorded idle workers and blocks.
"""

from __future__ import annotations

from chiltepin.federation.journal_format import SiteStatus

NO_STATUS = "the run has written no status for this site yet"
NOT_STARTED = "the site's engine has not started yet (it starts with the site's first task)"
NOT_RECORDED = "the run's status does not record it (written by an older chiltepin)"
NO_WORKERS = (
    "the endpoint's status carries no worker counts (a template-capable endpoint's own"
    " status counts none of its user endpoints' workers)"
)
NO_IDLE = "the endpoint's status does not say how many of its workers are idle"
NO_BLOCKS = "the Compute service's endpoint status does not report batch blocks"


def unknown(status: SiteStatus | None) -> dict[str, str]:
    """By the page's column (``workers``, ``blocks``), why its count is unknown; a column
    whose counts are all known is left out."""
    if status is None:
        return {"workers": NO_STATUS, "blocks": NO_STATUS}
    endpoint = status.state is not None
    # A local site's engine reports all three counts at once, from its first look on.
    local_why = NOT_STARTED if status.workers is None else NOT_RECORDED
    out = {}
    if status.workers is None:
        out["workers"] = NO_WORKERS if endpoint else NOT_STARTED
    elif status.idle is None:
        out["workers"] = NO_IDLE if endpoint else local_why
    if status.blocks_running is None or status.blocks_pending is None:
        out["blocks"] = NO_BLOCKS if endpoint else local_why
    return out
