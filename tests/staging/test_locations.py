"""Locations and per-site templates (no service needed)."""

from __future__ import annotations

import uuid

import pytest

from chiltepin.sites.model import Transfer
from chiltepin.staging import Location, LocationError, StagePair, at_site, expand, site_values


@pytest.mark.parametrize(
    ("text", "scheme", "collection", "path", "recursive"),
    [
        ("globus://NOAA Hera/~/ic/m01.nc", "globus", "NOAA Hera", "/~/ic/m01.nc", False),
        ("globus://NOAA Hera/~/ic/", "globus", "NOAA Hera", "/~/ic", True),
        ("globus://a%2Fb/x", "globus", "a/b", "/x", False),
        ("file:///scratch/run/out/", "file", None, "/scratch/run/out", True),
        ("file://localhost/tmp/a", "file", None, "/tmp/a", False),
        ("/tmp//a/./b", "file", None, "/tmp/a/b", False),
    ],
)
def test_parse(text: str, scheme: str, collection: str | None, path: str, recursive: bool) -> None:
    loc = Location.parse(text)
    assert (loc.scheme, loc.collection, loc.path, loc.recursive) == (
        scheme,
        collection,
        path,
        recursive,
    )
    assert Location.parse(str(loc)) == loc


def test_uuid_collection_and_explicit_recursive_flag() -> None:
    cid = str(uuid.uuid4())
    loc = Location.parse(f"globus://{cid}/data", recursive=True)
    assert loc.collection == cid and loc.recursive
    assert str(loc) == f"globus://{cid}/data/"


@pytest.mark.parametrize(
    "text",
    [
        "globus://",
        "globus://onlyname",
        "relative/path",
        "http://x/y",
        "file://remote/x",
        "s3://b/k",
    ],
)
def test_bad_locations_say_what_is_allowed(text: str) -> None:
    with pytest.raises(LocationError, match="bad location"):
        Location.parse(text)


def test_expand_fills_site_values_and_nested_templates() -> None:
    values = site_values(
        Transfer(collection="NOAA Hera", scratch="/scratch1/{user}/chiltepin/{run_id}"),
        run_id="r7",
        task_id="t3",
        user="jdoe",
    )
    assert values["scratch"] == "/scratch1/jdoe/chiltepin/r7"
    loc = expand("globus://{collection}{scratch}/{task_id}/in/", values)
    assert loc == Location(
        scheme="globus",
        collection="NOAA Hera",
        path="/scratch1/jdoe/chiltepin/r7/t3/in",
        recursive=True,
    )
    assert expand("file://{scratch}/x", {"scratch": "/tmp/s"}).path == "/tmp/s/x"
    assert expand("file:///a/{{literal}}", {}).path == "/a/{literal}"


def test_missing_template_value_names_it_and_the_known_ones() -> None:
    with pytest.raises(LocationError) as info:
        expand("file://{scratch}/{task_id}", {"scratch": "/s", "run_id": "r"})
    assert "{task_id}" in str(info.value) and "run_id, scratch" in str(info.value)


def test_a_site_scratch_with_an_unfilled_placeholder_names_it_not_a_cycle() -> None:
    with pytest.raises(LocationError) as info:
        site_values(Transfer(scratch="/scratch1/{project}/{user}/{run_id}"), run_id="r")
    text = str(info.value)
    assert "uses {project}, which has no value here" in text and "cycle" not in text
    assert "values: run_id, user" in text


def test_site_values_from_a_site_default_scratch() -> None:
    values = site_values(Transfer(), run_id="abc")
    assert values["scratch"] == "/tmp/chiltepin/abc"
    assert "collection" not in values and "task_id" not in values


def test_pair_shapes() -> None:
    file_into_dir = StagePair.model_validate(("file:///a/b.nc", "file:///out/"))
    assert file_into_dir.destination.path == "/out/b.nc"
    assert not file_into_dir.destination.recursive
    tree = StagePair.model_validate({"source": "file:///a/", "destination": "file:///out"})
    assert tree.destination.recursive and tree.destination.path == "/out"


def test_at_site_uses_the_collection_when_the_site_has_one() -> None:
    remote = site_values(Transfer(collection="NOAA Hera", scratch="/s/{run_id}"), run_id="r")
    assert str(at_site("{scratch}/in/", remote)) == "globus://NOAA Hera/s/r/in/"
    here = site_values(Transfer(scratch="/tmp/{run_id}"), run_id="r")
    assert str(at_site("{scratch}/out.nc", here)) == "file:///tmp/r/out.nc"
    with pytest.raises(LocationError, match="absolute"):
        at_site("relative/{run_id}", here)
