"""Generated Federation arguments, sites mappings, per-task resources and call payloads:
accepted, or refused with a ChiltepinError; never another exception."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chiltepin.client.calls import SERIALIZER, Call, verbatim_sizes
from chiltepin.client.config import FederationArgs, coerce_sites, run_directory
from chiltepin.client.resources import Resources, parse_resources
from chiltepin.errors import ChiltepinError
from tests.fuzz.profiles import TRIED, exposed, fuzz
from tests.fuzz.strategies import hostile_text, values

WORK = Path(tempfile.mkdtemp(prefix="chiltepin-fuzz-args-"))
(WORK / "a-file").write_text("")


@given(
    args=st.fixed_dictionaries(
        {},
        optional={
            "policy": st.one_of(st.sampled_from(["soonest", "capacity"]), values),
            "retries": st.one_of(st.integers(-10, 200), values),
            "budget": values,
            "status_poll_s": values,
            "gc_freeze": values,
            "progress": values,
            "run_dir": values,
        },
    )
)
@fuzz
def test_federation_arguments(args: dict[str, Any]) -> None:
    TRIED["Federation arguments"] += 1
    with contextlib.suppress(ChiltepinError):
        FederationArgs.check(**args)


@given(name=st.one_of(hostile_text, st.just("a-file"), st.text("a/.", max_size=300)))
@fuzz
def test_run_dirs(name: str) -> None:
    TRIED["run_dir"] += 1
    try:
        made = run_directory(WORK / name)
    except ChiltepinError:
        return
    assert made.is_dir()


@given(
    sites=st.one_of(
        values,
        st.dictionaries(
            hostile_text,
            st.one_of(
                values,
                st.fixed_dictionaries(
                    {"kind": st.sampled_from(["local", "endpoint"]), "site": values},
                    optional={"options": values, "set": values, "endpoint_id": values},
                ),
            ),
            max_size=3,
        ),
    )
)
@fuzz
def test_sites_mappings(sites: Any) -> None:
    TRIED["Federation sites mapping"] += 1
    if isinstance(sites, str):  # a path: covered by the sites-file tests
        return
    with contextlib.suppress(ChiltepinError):
        coerce_sites(sites)


RESOURCE_KEYS = sorted(Resources.model_fields)


@given(
    resources=st.dictionaries(
        st.one_of(st.sampled_from(RESOURCE_KEYS), hostile_text), values, max_size=4
    ),
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
    if parsed.launcher_options is not None:
        assert not exposed(parsed.launcher_options)


class Unpicklable:
    def __reduce__(self) -> Any:
        raise RuntimeError("no")


FUNCTION = SERIALIZER.serialize(len)


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
    restored = Call.restore(call.arguments)
    assert restored.arguments == call.arguments
    floor = sum(verbatim_sizes({"call": (FUNCTION, tuple(args))}).values()) * 4 // 3
    assert floor <= len(call.arguments)  # the bound that refuses before serialising holds
