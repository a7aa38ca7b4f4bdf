"""Contract: the endpoint's config renderer and loaders, called as the endpoint calls them."""

from __future__ import annotations

import inspect
from pathlib import Path

import jsonschema
import pytest
from globus_compute_endpoint.endpoint.config.utils import render_config_user_template

from chiltepin.upstream import config
from tests.upstream.contract import contract

ENDPOINT = "globus-compute-endpoint"
TEMPLATE = "engine:\n  type: ThreadPoolEngine\n  max_workers: {{ workers }}\n"
SCHEMA = {"type": "object", "properties": {"workers": {"type": "integer", "maximum": 4}}}


def test_the_renderer_takes_the_arguments_chiltepin_passes() -> None:
    with contract("config.utils.render_config_user_template", ENDPOINT, "takes these arguments"):
        parameters = set(inspect.signature(render_config_user_template).parameters)
        assert parameters >= {
            "parent_config",
            "user_config_template",
            "user_config_template_path",
            "mapped_identity",
            "user_config_schema",
            "user_opts",
            "user_runtime",
        }


def test_a_template_renders_validates_and_loads(tmp_path: Path) -> None:
    with contract("render_config_user_template / load_config_yaml", ENDPOINT, "render and load"):
        rendered = config.render_user_config(
            TEMPLATE, tmp_path / "t.yaml.j2", SCHEMA, {"workers": 3}
        )
        loaded = config.load_config_yaml(rendered)
        assert isinstance(loaded, config.UserEndpointConfig)
        assert type(loaded.engine).__name__ == "ThreadPoolEngine"
        assert loaded.engine.executor._max_workers == 3
    with pytest.raises(jsonschema.ValidationError):
        config.render_user_config(TEMPLATE, tmp_path / "t.yaml.j2", SCHEMA, {"workers": 9})


def test_options_are_encoded_as_the_endpoint_encodes_them() -> None:
    with contract("config.utils._sanitize_user_json", ENDPOINT, "quotes strings for YAML"):
        encoded = config.encode_like_user_options({"s": "a: b", "n": 2, "z": None, "l": ["x"]})
        assert encoded == {"s": '"a: b"', "n": 2, "z": "null", "l": ['"x"']}
