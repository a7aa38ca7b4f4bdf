"""`chiltepin endpoint configure --multi-user --identity-mapping FILE`: what it writes, as
globus-compute-endpoint's own loader and identity mapper read it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.upstream import config as upstream

MAPPING = [
    {
        "DATA_TYPE": "expression_identity_mapping#1.0.0",
        "mappings": [
            {
                "source": "{username}",
                "match": r"(alice)@clients\.auth\.globus\.org",
                "output": "{0}",
            }
        ],
    }
]


def configure(tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        [
            "endpoint",
            "configure",
            "mu",
            "--site",
            "localhost",
            "--config-dir",
            str(tmp_path),
            *extra,
        ],
    )
    return result.exit_code, result.output


def test_multi_user_config_names_the_mapping_the_endpoint_maps_with(tmp_path: Path) -> None:
    mapping = tmp_path / "idmap.json"
    mapping.write_text(json.dumps(MAPPING))
    code, out = configure(tmp_path, "--multi-user", "--identity-mapping", str(mapping))
    assert code == 0, out
    config = upstream.load_config_yaml((tmp_path / "mu" / "config.yaml").read_text())
    assert isinstance(config, upstream.CoreEndpointConfig)
    assert config.identity_mapping_config_path == mapping.resolve()
    assert config.email  # globus-compute-endpoint wants a contact when it runs as root
    identity = {
        "sub": "x",
        "id": "x",
        "status": "used",
        "username": "alice@clients.auth.globus.org",
    }
    assert upstream.map_identities(mapping, [identity]) == "alice"
    assert upstream.map_identities(mapping, [{**identity, "username": "bob@x.org"}]) is None


def test_mapped_accounts_workers_keep_parsls_launch_command(tmp_path: Path) -> None:
    """The endpoint directory is root's: the mapped accounts' workers could not read a
    log config there, so their launch command stays Parsl's own."""
    mapping = tmp_path / "idmap.json"
    mapping.write_text(json.dumps(MAPPING))
    code, out = configure(tmp_path, "--multi-user", "--identity-mapping", str(mapping))
    assert code == 0, out
    directory = tmp_path / "mu"
    template = directory / "user_config_template.yaml.j2"
    schema = json.loads((directory / "user_config_schema.json").read_text())
    rendered = upstream.render_user_config(template.read_text(), template, schema, {})
    assert "launch_cmd" not in rendered


def test_a_mapping_the_endpoint_cannot_read_is_refused_naming_the_file(tmp_path: Path) -> None:
    mapping = tmp_path / "idmap.json"
    mapping.write_text('[{"DATA_TYPE": "no_such_mapping#9"}]')
    code, out = configure(tmp_path, "--multi-user", "--identity-mapping", str(mapping))
    assert code != 0 and "idmap.json" in out and "identity mapping" in out
    assert not (tmp_path / "mu").exists()


def test_multi_user_needs_a_mapping(tmp_path: Path) -> None:
    code, out = configure(tmp_path, "--multi-user")
    assert code != 0 and "--identity-mapping" in out
