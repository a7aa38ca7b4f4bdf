"""A user's sites file: the named places one federation fans out over.

The shipped site files describe machines; this file says which of them *you* use and
how to reach them::

    policy: soonest
    retries: 3
    sites:
      hera:
        endpoint_id: 6f1c...      # a Globus Compute endpoint configured from site "hera"
        site: hera
        options: {account: gsd-hpcs}
      laptop:
        kind: local               # an engine inside the client process; no Globus needed
        site: localhost
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from chiltepin.endpoints.options import schema_for, validate_user_options
from chiltepin.errors import ConfigError
from chiltepin.sites.loader import load_site, site_from_mapping
from chiltepin.sites.model import SafeName, Site
from chiltepin.yamlfile import LocatedData, load_mapping, validate

log = logging.getLogger(__name__)


class SiteKind(str, Enum):
    """How a site is reached."""

    #: A Globus Compute endpoint, by its UUID: a machine anywhere, through the service.
    endpoint = "endpoint"
    #: An engine inside the client process: this machine, no Globus account needed.
    local = "local"


class Policy(str, Enum):
    """How a federation places tasks on sites."""

    #: Late binding (the default): each task is held in the client until a site can start
    #: it, then sent where it is expected to finish first (learned queue wait, task speed,
    #: failure rate), so no task waits in one site's queue while another has idle workers.
    soonest = "soonest"
    #: A fixed split: tasks go to the sites in turn, whatever their load.
    round_robin = "round_robin"
    #: A fixed split: tasks go to the sites in proportion to their capacity.
    capacity = "capacity"
    #: A fixed split: each task goes to the site with the fewest tasks out per capacity.
    least_loaded = "least_loaded"


class SiteEntry(BaseModel):
    """One site as a user reaches it: which machine, through which endpoint, with which
    of the user's own settings (account, geometry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SiteKind | None = Field(None, description="endpoint (default with endpoint_id) or local")
    site: str | dict[str, Any] = Field(
        description="shipped site name, path of a site file, or the site written inline"
    )
    set: list[str] = Field(default_factory=list, description="KEY=VALUE overrides of the site")
    endpoint_id: uuid.UUID | None = Field(
        None,
        description="UUID of the Globus Compute endpoint configured from this site (chiltepin"
        " endpoint configure prints it); makes the entry an endpoint site",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="user endpoint options (account, partition, walltime, nodes_per_block,"
        " ...): your defaults on this machine, checked against the site's schema now rather"
        " than failing at submit time",
    )
    capacity: int | None = Field(
        None,
        ge=1,
        description="concurrent tasks the site holds: the shares of the fixed splits, and what"
        " late binding sends a site whose workers are not up yet, so it asks for nodes"
        " (default: what the site's geometry holds, with your options applied)",
    )
    tags: list[SafeName] = Field(
        default_factory=list,
        description="tags added to the site's own, e.g. to mark where your data already is;"
        " a task submitted with tags runs only on sites that have them all",
    )
    offline_grace_s: float = Field(
        60.0, gt=0, le=86400, description="seconds an endpoint may be offline before failover"
    )
    prefetch: int = Field(
        2, ge=1, le=10000, description="tasks out at the site beyond its live workers (soonest)"
    )

    @model_validator(mode="after")
    def _kind_matches(self) -> SiteEntry:
        kind = self.kind or (SiteKind.endpoint if self.endpoint_id else SiteKind.local)
        if kind is SiteKind.endpoint and self.endpoint_id is None:
            raise ValueError("an endpoint site needs endpoint_id (the endpoint's UUID)")
        if kind is SiteKind.local and self.endpoint_id is not None:
            raise ValueError("a local site runs in this process; remove endpoint_id")
        object.__setattr__(self, "kind", kind)
        return self


class AlertKind(str, Enum):
    """What a run can alert on (see :mod:`chiltepin.federation.alerts`)."""

    #: A site left placement (taken out after failures, or offline past its grace) or its
    #: endpoint stopped: its tasks go elsewhere.
    site_lost = "site_lost"
    #: A lost site is back in placement.
    site_back = "site_back"
    #: A site's failure rate over its recent attempts passed ``failure_rate``.
    failure_rate = "failure_rate"
    #: The run's estimated cost reached 80 % of its budget.
    budget_80 = "budget_80"
    #: The run's budget is reached: no new tasks are submitted.
    budget_100 = "budget_100"
    #: The run shut down; its totals are in the details.
    run_finished = "run_finished"


class AlertsConfig(BaseModel):
    """Where a run's alerts go and which ones it sends (the sites file's ``alerts:``,
    or ``Federation(alerts=...)``). Delivery never blocks or fails the run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: str | None = Field(
        None, description="http(s) URL that each alert is POSTed to as JSON"
    )
    command: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="a command as an argv list (no shell), run once per alert with the JSON"
        " on its stdin",
    )
    failure_rate: float = Field(
        0.5,
        ge=0,
        le=1,
        description="alert when more than this fraction of a site's recent attempts failed"
        " for the site's own reasons (the user's exceptions do not count)",
    )
    failure_window: int = Field(
        20, ge=1, le=10000, description="how many of a site's latest attempts the rate covers"
    )
    events: list[AlertKind] = Field(
        default_factory=lambda: list(AlertKind), description="which alerts to send (default: all)"
    )
    timeout_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="seconds one delivery may take; also the longest shutdown waits for the"
        " last alerts",
    )

    @field_validator("webhook")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL with a host; got {url!r}")
        return url

    @field_validator("command", mode="before")
    @classmethod
    def _argv_only(cls, command: Any) -> Any:
        if isinstance(command, str):
            raise ValueError(
                "must be a list of arguments, run without a shell (e.g. [notify.sh, --run]);"
                f" got the string {command!r}"
            )
        return command

    @model_validator(mode="after")
    def _somewhere(self) -> AlertsConfig:
        if self.webhook is None and self.command is None:
            raise ValueError("name a webhook, a command, or both, for the alerts to go to")
        return self


class FederationConfig(BaseModel):
    """The whole sites file: which sites one run may use, and the run's own settings.

    ``Federation(...)`` arguments of the same names override them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: dict[SafeName, SiteEntry] = Field(
        min_length=1, description="the sites by the names tasks and reports use for them"
    )
    policy: Policy = Field(Policy.soonest, description="how tasks are placed on the sites")
    retries: int = Field(
        3,
        ge=0,
        le=100,
        description="resubmissions of a task after site failures (lost workers, killed batch"
        " job, endpoint offline); the task's own exceptions are never retried",
    )
    run_dir: str | None = Field(
        None,
        description="where the run journal goes, which chiltepin report and chiltepin run"
        " resume read (default: ~/.chiltepin/runs/<time>-<id>)",
    )
    gc_freeze: bool = Field(
        True, description="keep pre-run objects out of full GC passes while the run lasts"
    )
    functions_as_source: bool = Field(
        False,
        description="send functions as source (AllCodeStrategies), so sites whose workers"
        " run another Python minor or dill can still run them",
    )
    alerts: AlertsConfig | None = Field(
        None, description="a webhook and/or command told of site losses, budget and the end"
    )


class ResolvedSite:
    """A site entry with its site file loaded and its options checked against its schema."""

    def __init__(self, name: str, entry: SiteEntry, source: str, base_dir: Path | None) -> None:
        self.name = name
        self.entry = entry
        machine = (
            site_from_mapping(
                entry.site, name, f"{source}: sites.{name}.site", entry.set, relative_to=base_dir
            )
            if isinstance(entry.site, dict)
            else load_site(entry.site, entry.set, relative_to=base_dir)
        )
        validate_user_options(entry.options, schema_for(machine), f"{source}: sites.{name}")
        # The entry's options are this user's defaults on the machine (more workers per
        # node, fewer blocks, ...); capacity must reflect them.
        where = f"{source}: sites.{name}.options"
        self.site: Site = validate(
            Site, LocatedData(data={**machine.model_dump(), **entry.options}, source=where)
        )
        self.capacity = entry.capacity or self.site.capacity
        self.tags = frozenset([*self.site.tags, *entry.tags, name])

    @property
    def kind(self) -> SiteKind:
        assert self.entry.kind is not None
        return self.entry.kind

    def __repr__(self) -> str:
        return f"<site {self.name} {self.kind.value} capacity={self.capacity}>"


def load_config(path: str | Path) -> FederationConfig:
    """Read and validate a sites file; errors name its file, line and key.

    A Chiltepin 0.1.7 resource file is recognised and converted (see
    :mod:`chiltepin.compat`), so its users can bring their configuration as it is.
    """
    path = Path(path).expanduser()
    try:
        found = path.is_file()
    except (OSError, ValueError) as err:  # a NUL byte, a name longer than the OS allows
        raise ConfigError(f"not a usable sites file path: {err}", source=f"{path}"[:200]) from None
    if not found:
        raise ConfigError("no such sites file", source=path)
    located = load_mapping(path)
    from chiltepin import compat

    if compat.looks_like_chiltepin_017(located.data):
        log.warning("%s is a Chiltepin 0.1.7 resource file; converting it", path)
        located = compat.convert(located)
    return validate(FederationConfig, located)


def resolve(
    config: FederationConfig, source: str, base_dir: Path | None = None
) -> dict[str, ResolvedSite]:
    """Load every entry's site file (relative paths from ``base_dir``) and check options;
    a :class:`ResolvedConfig`'s sites are returned as they were resolved."""
    if isinstance(config, ResolvedConfig):
        return config.resolved
    return {
        name: ResolvedSite(name, entry, source, base_dir) for name, entry in config.sites.items()
    }


class ResolvedConfig(FederationConfig):
    """A sites file together with its sites, resolved once.

    What one layer resolved it hands on as it is: a ``Workflow`` gives its late-binding
    ``Federation`` this, and the federation's :func:`resolve` returns these sites instead of
    loading every site file again (a relative path in a sites file is resolved once, from
    where that file is).
    """

    _resolved: dict[str, ResolvedSite] = PrivateAttr(default_factory=dict)

    @classmethod
    def of(cls, sites: SitesArg) -> ResolvedConfig:
        """``sites`` in any accepted form, read, validated and resolved."""
        config, source, base_dir = coerce_sites(sites)
        if isinstance(config, ResolvedConfig):
            return config
        done = cls.model_construct(_fields_set=config.model_fields_set, **dict(config))
        done._resolved = resolve(config, source, base_dir)
        return done

    @property
    def resolved(self) -> dict[str, ResolvedSite]:
        """Site name → its resolved site, in the sites file's order."""
        return dict(self._resolved)


SitesArg = str | Path | FederationConfig | Mapping[str, SiteEntry | Mapping[str, Any]] | None
DEFAULT_SITES: dict[str, dict[str, Any]] = {"local": {"kind": "local", "site": "localhost"}}


def coerce_sites(sites: SitesArg) -> tuple[FederationConfig, str, Path | None]:
    """Any accepted form of ``sites`` → (config, name for messages, base dir for paths).

    ``None`` is the embedded local default, which needs no Globus account.
    """
    if isinstance(sites, FederationConfig):
        return sites, "<sites>", None
    if isinstance(sites, str | Path):
        path = Path(sites).expanduser()
        return load_config(path), str(path), path.parent
    entries = DEFAULT_SITES if sites is None else sites
    if not isinstance(entries, Mapping):
        raise ConfigError(
            "must be a sites file path, a FederationConfig, or a mapping of site name to"
            f" entry (e.g. {{'laptop': {{'kind': 'local', 'site': 'localhost'}}}});"
            f" got {type(entries).__name__} {entries!r:.80}",
            key="Federation(sites=...)",
        )
    data = {
        "sites": {
            name: e.model_dump(exclude_unset=True)
            if isinstance(e, SiteEntry)
            else dict(e)
            if isinstance(e, Mapping)
            else e
            for name, e in entries.items()
        }
    }
    return validate(FederationConfig, LocatedData(data=data, source="<sites>")), "<sites>", None


class FederationArgs(BaseModel):
    """``Federation(...)``'s own arguments, checked once with the sites file's messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Policy | None = None
    retries: int | None = Field(None, ge=0, le=100)
    budget: float | None = Field(None, gt=0, allow_inf_nan=False)
    status_poll_s: float = Field(5.0, gt=0, le=3600)
    gc_freeze: bool | None = None
    progress: bool | None = None
    run_dir: str | Path | None = None
    alerts: AlertsConfig | None = None
    warm: bool = True

    @classmethod
    def check(cls, **values: Any) -> FederationArgs:
        return validate(cls, LocatedData(data=values, source="Federation(...)"))


MAX_PATH_BYTES = 4000
"""Longest run directory path: its journal's side files must still fit the OS limit."""


def run_directory(path: str | Path) -> Path:
    """``path`` as a usable run directory, made if missing; refused with the reason when
    it is a file, too long, or cannot be created."""
    text = str(path)
    if "\0" in text:
        raise ConfigError(
            f"must be a directory path with no NUL byte; got {text!r:.80}", key="run_dir"
        )
    run_dir = Path(text).expanduser()
    longest = max((len(part.encode()) for part in run_dir.parts), default=0)
    if len(text.encode()) > MAX_PATH_BYTES or longest > 255:
        raise ConfigError(
            f"path too long ({len(text.encode())} bytes, longest name {longest}); at most"
            f" {MAX_PATH_BYTES} bytes, 255 per name: {text[:80]!r}...",
            key="run_dir",
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} exists and is not a directory", key="run_dir")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create {run_dir}: {err.strerror}", key="run_dir") from None
    return run_dir


def default_run_dir() -> Path:
    """``~/.chiltepin/runs/<time>-<id>``: sortable by start time, unique per run."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path.home() / ".chiltepin" / "runs" / f"{stamp}-{uuid.uuid4().hex[:6]}"
