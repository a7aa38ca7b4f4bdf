"""Generated stage locations and SitePaths: a location inside the site's scratch when
written under ``{scratch}``, or a ChiltepinError; never another exception."""

from __future__ import annotations

import posixpath

from hypothesis import given
from hypothesis import strategies as st

from chiltepin.errors import ChiltepinError
from chiltepin.federation import SitePath
from chiltepin.staging import Location, at_site, expand, site_values
from tests.fuzz.profiles import ACCEPTED, TRIED, accepting, fuzz
from tests.fuzz.strategies import hostile_text

FRAGMENTS = [
    "{scratch}",
    "{run_id}",
    "{task_id}",
    "{user}",
    "{collection}",
    "{nope}",
    "{0}",
    "{}",
    "{scratch!r}",
    "{scratch:>9}",
    "{{",
    "}}",
    "/",
    "..",
    "../..",
    ".",
    "~",
    "/~/",
    "file://",
    "file:///",
    "globus://",
    "globus://coll/",
    "%2F",
    "a",
    "x.nc",
    " ",
]
hostile_templates = st.lists(st.one_of(st.sampled_from(FRAGMENTS), hostile_text), max_size=8).map(
    "".join
)
# Templates a workflow may well hold: a scheme or {scratch}, then path parts and fields.
plausible_templates = st.builds(
    lambda start, parts: start + "/".join(parts),
    st.sampled_from(["/", "file:///", "globus://coll-1/", "globus://{collection}/", "{scratch}/"]),
    st.lists(
        st.sampled_from(["a", "x.nc", "in", "{run_id}", "{task_id}", "{user}", "out/"]),
        max_size=4,
    ),
)
templates = st.one_of(plausible_templates, hostile_templates)
site_settings = st.tuples(
    st.sampled_from(["/scratch/me/{run_id}", "/tmp/c/{run_id}", "/~/work", "/s/{user}/x"]),
    st.one_of(st.none(), st.just("coll-1"), hostile_text.filter(bool)),
)


def values_for(setting: tuple[str, str | None]) -> dict[str, str] | None:
    """A site's template values, or None when its own settings are refused."""
    scratch, collection = setting
    try:
        return site_values(
            None, run_id="run-1", task_id="t1", user="me", scratch=scratch, collection=collection
        )
    except ChiltepinError:
        return None


def inside(path: str, scratch: str) -> bool:
    base = posixpath.normpath("/" + scratch.lstrip("/"))
    return path == base or path.startswith(base.rstrip("/") + "/")


@accepting("stage location (parse)", 0.1)  # accepted 27-48% in 7 runs of the CI profile
@given(text=templates)
@fuzz
def test_location_parse(text: str) -> None:
    TRIED["stage location (parse)"] += 1
    try:
        Location.parse(text)
    except ChiltepinError:
        return
    ACCEPTED["stage location (parse)"] += 1


@accepting("stage location (expand)", 0.15)  # accepted 30-43% in 7 runs of the CI profile
@given(template=templates, setting=site_settings)
@fuzz
def test_expanded_stage_locations(template: str, setting: tuple[str, str | None]) -> None:
    TRIED["stage location (expand)"] += 1
    values = values_for(setting)
    if values is None:
        return
    for fill in (expand, at_site):
        try:
            location = fill(template, values)
        except ChiltepinError:
            continue
        ACCEPTED["stage location (expand)"] += fill is expand  # one count per input
        body = template.split("://", 1)[-1]
        if template.startswith("{scratch}") or body.startswith("{scratch}"):
            assert inside(location.path, values["scratch"]), (template, location)


under_scratch = templates.map(lambda t: "{scratch}/" + t)


@accepting("SitePath", 0.15)  # accepted 36-55% in 7 runs of the CI profile
@given(template=st.one_of(templates, under_scratch), setting=site_settings)
@fuzz
def test_site_paths(template: str, setting: tuple[str, str | None]) -> None:
    TRIED["SitePath"] += 1
    values = values_for(setting)
    if values is None:
        return
    try:
        path = SitePath(template).at(values)
    except ChiltepinError:
        return
    ACCEPTED["SitePath"] += 1
    assert inside(path, values["scratch"]), (template, path)
