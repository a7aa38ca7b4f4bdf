"""Allow-lists in site files, and how they render into the endpoint's config."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from chiltepin.endpoints.render import EndpointRequest, endpoint_files
from chiltepin.errors import ConfigError
from chiltepin.sites import allowlist
from chiltepin.sites.loader import load_site
from chiltepin.upstream import config as upstream

ID = str(uuid.uuid4())


def rendered(overrides: list[str]) -> upstream.CoreEndpointConfig:
    site = load_site("localhost", overrides)
    request = EndpointRequest("ep", site, "localhost", contact_email="a@b.c")
    files = endpoint_files(request, Path("/srv/endpoints/ep"))
    config = upstream.load_config_yaml(files["config.yaml"])
    assert isinstance(config, upstream.CoreEndpointConfig)
    return config


def test_listed_ids_render_into_the_config_the_endpoint_loads() -> None:
    config = rendered([f'allowed_functions=["{ID} tests.federation.tasks:square"]'])
    assert config.allowed_functions == (ID,)


def test_an_empty_list_restricts_everything_and_no_list_restricts_nothing() -> None:
    assert rendered(["allowed_functions=[]"]).allowed_functions == ()
    assert rendered([]).allowed_functions is None


def test_a_file_of_entries_with_comments(tmp_path: Path) -> None:
    listing = tmp_path / "allowed.txt"
    listing.write_text(f"# forecast functions\n{ID} tests.federation.tasks:square  # v1\n\n")
    assert rendered([f"allowed_functions={listing}"]).allowed_functions == (ID,)
    assert allowlist.resolve(str(listing)) == [
        allowlist.Allowed(ID, "tests.federation.tasks:square")
    ]


def test_a_bad_entry_names_the_file_line_and_the_entry(tmp_path: Path) -> None:
    listing = tmp_path / "allowed.txt"
    listing.write_text(f"{ID}\nnot-a-uuid tests:f\n")
    with pytest.raises(ConfigError, match=r"allowed.txt:2: 'not-a-uuid' is not a function UUID"):
        allowlist.resolve(str(listing))
    with pytest.raises(ConfigError, match="allowed_functions"):
        load_site("localhost", ['allowed_functions=["square"]'])


def test_adding_appends_to_the_file_a_site_names(tmp_path: Path) -> None:
    listing = tmp_path / "allowed.txt"
    listing.write_text(f"{ID} a:b")
    new = allowlist.Allowed(str(uuid.uuid4()), "c:d")
    assert allowlist.add(str(listing), [new]) == str(listing)
    assert [a.name for a in allowlist.resolve(str(listing))] == ["a:b", "c:d"]
    assert allowlist.add(None, [new]) == [f"{new.function_id} c:d"]
