"""Generated Federation arguments, sites mappings, per-task resources and call payloads:
accepted, or refused with a ChiltepinError; never another exception.

Each boundary gets plausible inputs as well as hostile ones, and must accept a fair share
of what it is given (``accepting``): refusing everything is a failure too."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chiltepin.client.calls import SERIALIZER, Call, verbatim_sizes
from chiltepin.client.config import FederationArgs, coerce_sites, run_directory
from chiltepin.client.resources import Resources, parse_resources
from chiltepin.errors import ChiltepinError
from tests.fuzz.profiles import ACCEPTED, TRIED, accepting, exposed, fuzz
from tests.fuzz.strategies import hostile_text, safe_names, values

WORK = Path(tempfile.mkdtemp(prefix="chiltepin-fuzz-args-"))
(WORK / "a-file").write_text("")


def three_ways(plausible: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Keyword dictionaries whose values are all plausible, or each plausible or hostile,
    or all hostile: what a boundary must accept as well as what it must refuse."""

    def kwargs(value: Any) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({}, optional={k: value(v) for k, v in plausible.items()})

    return st.one_of(
        kwargs(lambda v: v), kwargs(lambda v: st.one_of(v, values)), kwargs(lambda v: values)
    )


FEDERATION_ARGS: dict[str, st.SearchStrategy[Any]] = {
    "policy": st.sampled_from(["soonest", "capacity"]),
    "retries": st.integers(0, 100),
    "budget": st.floats(0.01, 1e6),
    "status_poll_s": st.floats(0.01, 3600),
    "gc_freeze": st.booleans(),
    "progress": st.one_of(st.none(), st.booleans()),
    "run_dir": st.text("abc/._-", max_size=20),
}


@accepting("Federation arguments", 0.15)  # accepted 29-43% in 7 runs of the CI profile
@given(args=three_ways(FEDERATION_ARGS))
@fuzz
def test_federation_arguments(args: dict[str, Any]) -> None:
    TRIED["Federation arguments"] += 1
    try:
        FederationArgs.check(**args)
    except ChiltepinError:
        return
    ACCEPTED["Federation arguments"] += 1


@accepting("run_dir", 0.5)  # accepted 92-99% in 7 runs of the CI profile
@given(name=st.one_of(hostile_text, st.just("a-file"), st.text("a/.", max_size=300)))
@fuzz
def test_run_dirs(name: str) -> None:
    TRIED["run_dir"] += 1
    try:
        made = run_directory(WORK / name)
    except ChiltepinError:
        return
    ACCEPTED["run_dir"] += 1
    assert made.is_dir()


site_entries = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("local"), "site": st.sampled_from(["localhost", "hera"])},
        optional={
            "capacity": st.integers(1, 64),
            "tags": st.lists(safe_names, max_size=2),
            "prefetch": st.integers(1, 100),
        },
    ),
    st.fixed_dictionaries(
        {"site": st.sampled_from(["hera", "derecho"]), "endpoint_id": st.uuids().map(str)},
        optional={
            "kind": st.just("endpoint"),
            "options": st.dictionaries(safe_names, st.integers(0, 9), max_size=2),
            "set": st.lists(st.just("max_blocks=2"), max_size=1),
            "offline_grace_s": st.floats(1, 600),
        },
    ),
)
plausible_sites = st.dictionaries(safe_names, site_entries, min_size=1, max_size=3)
hostile_sites = st.dictionaries(
    hostile_text,
    st.one_of(
        values,
        st.fixed_dictionaries(
            {"kind": st.sampled_from(["local", "endpoint"]), "site": values},
            optional={"options": values, "set": values, "endpoint_id": values},
        ),
    ),
    max_size=3,
)


@accepting("Federation sites mapping", 0.08)  # accepted 19-27% in 7 runs of the CI profile
@given(sites=st.one_of(plausible_sites, values, hostile_sites))
@fuzz
def test_sites_mappings(sites: Any) -> None:
    if isinstance(sites, str):  # a path: covered by the sites-file tests
        return
    TRIED["Federation sites mapping"] += 1
    try:
        coerce_sites(sites)
    except ChiltepinError:
        return
    ACCEPTED["Federation sites mapping"] += 1


RESOURCE_KEYS = sorted(Resources.model_fields)
counts = st.integers(1, 8)
PLAUSIBLE_RESOURCES: dict[str, st.SearchStrategy[Any]] = {
    "nodes": counts,
    "ranks_per_node": counts,
    "ranks": counts,
    "launcher_options": st.just("--cpu-bind=cores"),
    "mpi": st.booleans(),
    "walltime": st.sampled_from(["00:10:00", "01:00:00"]),
    "partition": safe_names,
    "queue": safe_names,
    "qos": safe_names,
    "account": safe_names,
    "exclusive": st.booleans(),
    "max_workers_per_node": counts,
    "cores_per_worker": st.floats(0.5, 8),
}
hostile_resources = st.dictionaries(
    st.one_of(st.sampled_from(RESOURCE_KEYS), hostile_text), values, max_size=4
)


@accepting("resources", 0.05)  # accepted 13-41% in 7 runs of the CI profile
@given(
    resources=st.one_of(three_ways(PLAUSIBLE_RESOURCES), hostile_resources),
    flags=st.one_of(st.none(), hostile_text, st.just("--cpu-bind=cores -c 2")),
)
@fuzz
def test_resources(resources: dict[str, Any], flags: str | None) -> None:
    TRIED["resources"] += 1
    if flags is not None:
        resources = {**resources, "launcher_options": flags}
    try:
        parsed = parse_resources(resources)
    except ChiltepinError:
        return
    ACCEPTED["resources"] += 1
    if parsed.launcher_options is not None:
        assert not exposed(parsed.launcher_options)


class Unpicklable:
    def __reduce__(self) -> Any:
        raise RuntimeError("no")


FUNCTION = SERIALIZER.serialize(len)


@accepting("call payloads", 0.25)  # accepted 48-63% in 7 runs of the CI profile
@given(
    args=st.lists(st.one_of(values, st.builds(Unpicklable), st.binary(max_size=64)), max_size=3),
    big=st.integers(0, 9).map(lambda n: 11_000_000 if n == 9 else 0),  # over the limit
)
@fuzz
def test_call_payloads(args: list[Any], big: int) -> None:
    TRIED["call payloads"] += 1
    if big:
        args = [*args, b"x" * big]
    try:
        call = Call.of(FUNCTION, tuple(args), {})
    except ChiltepinError:
        return
    ACCEPTED["call payloads"] += 1
    restored = Call.restore(call.arguments)
    assert restored.arguments == call.arguments
    floor = sum(verbatim_sizes({"call": (FUNCTION, tuple(args))}).values()) * 4 // 3
    assert floor <= len(call.arguments)  # the bound that refuses before serialising holds
