"""`chiltepin endpoint configure/render`, judged by globus-compute-endpoint's own loaders."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from globus_compute_endpoint.endpoint.config.utils import get_config, load_config_yaml
from parsl.logconfigs.file import FileLogging

from chiltepin.cli.main import cli
from chiltepin.sites.loader import shipped_site_names

ENDPOINT_CLI = str(Path(sys.executable).parent / "globus-compute-endpoint")

# Representative submit-time options per scheduler, and what they must become.
OPTIONS = {
    "slurm": (
        {
            "partition": "debug",
            "qos": "debug",
            "account": "proj-1",
            "walltime": "01:00:00",
            "nodes_per_block": 2,
            "max_blocks": 2,
        },
        {
            "partition": "debug",
            "qos": "debug",
            "account": "proj-1",
            "walltime": "01:00:00",
            "nodes_per_block": 2,
            "max_blocks": 2,
        },
    ),
    "pbspro": (
        {"queue": "develop", "account": "UABC0001", "walltime": "02:00:00", "nodes_per_block": 2},
        {"queue": "develop", "account": "UABC0001", "walltime": "02:00:00", "nodes_per_block": 2},
    ),
    "local": ({"max_workers_per_node": 3, "max_blocks": 1}, {"max_blocks": 1}),
}
MULTINODE_LAUNCHER = {"slurm": "SrunLauncher", "pbspro": "MpiExecLauncher"}
PARSL_WORKER_POOL = "parsl.executors.high_throughput.process_worker_pool"


@pytest.fixture
def endpoint_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gc"
    monkeypatch.setenv("GLOBUS_COMPUTE_USER_DIR", str(root))
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def configure(site: str, *extra: str, name: str | None = None) -> Path:
    code, out = invoke("endpoint", "configure", name or f"ep-{site}", "--site", site, *extra)
    assert code == 0, out
    return Path(os.environ["GLOBUS_COMPUTE_USER_DIR"]) / (name or f"ep-{site}")


def endpoint_renders(endpoint: str, options: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """Ask the real `globus-compute-endpoint render-user-config` to render options."""
    options_file = tmp_path / f"{endpoint}-options.json"
    options_file.write_text(json.dumps(options))
    return subprocess.run(
        [
            ENDPOINT_CLI,
            "render-user-config",
            "--endpoint",
            endpoint,
            "--user-options",
            str(options_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("site_name", shipped_site_names())
def test_every_site_configures_and_the_endpoint_accepts_it(
    site_name: str, endpoint_root: Path, tmp_path: Path
) -> None:
    directory = configure(site_name)
    assert sorted(p.name for p in directory.iterdir()) == [
        "chiltepin-site.json",
        "config.yaml",
        "user_config_schema.json",
        "user_config_template.yaml.j2",
        "user_environment.yaml",
        "worker_log_config.pkl",
    ]
    parent = get_config(directory)  # the endpoint's own loader for config.yaml
    assert type(parent).__name__ == "CoreEndpointConfig"
    assert parent.mu_child_ep_grace_period_s == 30.0  # tolerance.start_grace_period
    assert parent.display_name == f"chiltepin {site_name} (ep-{site_name})"

    scheduler = json.loads((directory / "chiltepin-site.json").read_text())["site"]["scheduler"]
    options, expected = OPTIONS[scheduler]
    rendered = endpoint_renders(directory.name, options, tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    config = load_config_yaml(rendered.stdout)
    engine = config.engine
    assert type(engine).__name__ == "GlobusComputeEngine"
    provider = engine.executor.provider
    assert (
        type(provider).__name__
        == {"slurm": "SlurmProvider", "pbspro": "PBSProProvider", "local": "LocalProvider"}[
            scheduler
        ]
    )
    for key, value in expected.items():
        assert getattr(provider, key) == value, key
    if scheduler == "local":
        assert engine.executor.max_workers_per_node == 3
    else:
        assert type(provider.launcher).__name__ == MULTINODE_LAUNCHER[scheduler]
    engine.shutdown()


@pytest.mark.parametrize("site_name", shipped_site_names())
def test_mpi_option_selects_the_mpi_engine(
    site_name: str, endpoint_root: Path, tmp_path: Path
) -> None:
    configure(site_name)
    rendered = endpoint_renders(f"ep-{site_name}", {"mpi": True, "max_mpi_apps": 2}, tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    engine = load_config_yaml(rendered.stdout).engine
    assert type(engine).__name__ == "GlobusMPIEngine"
    assert type(engine.executor.provider.launcher).__name__ == "SimpleLauncher"
    assert engine.executor.max_workers_per_block == 2
    engine.shutdown()


def test_tolerance_knobs_reach_the_engine(endpoint_root: Path, tmp_path: Path) -> None:
    configure(
        "hera",
        "--set",
        "tolerance.worker_heartbeat_threshold=900",
        "--set",
        "tolerance.drain_margin=600",
        "--set",
        "account=abc",
    )
    rendered = endpoint_renders("ep-hera", {"walltime": "02:00:00"}, tmp_path)
    config = load_config_yaml(rendered.stdout)
    executor = config.engine.executor
    assert executor.heartbeat_threshold == 900
    assert executor.drain_period == 2 * 3600 - 600  # stops taking tasks 10 min before walltime
    assert config.idle_heartbeats_soft == 10
    assert config.engine.max_retries_on_system_failure == 2
    config.engine.shutdown()


def boxed_engine(tmp_path: Path, site_text: str) -> Any:
    """The engine the endpoint's own loader builds for a site file ``site_text``."""
    site = tmp_path / "boxed.yaml"
    site.write_text(site_text)
    directory = configure(str(site), name="boxed")
    rendered = endpoint_renders(directory.name, {}, tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    return load_config_yaml(rendered.stdout).engine


def test_container_image_and_binds_reach_the_engine(endpoint_root: Path, tmp_path: Path) -> None:
    engine = boxed_engine(
        tmp_path,
        "extends: hera\ncontainer:\n  runtime: apptainer\n  image: /images/wx.sif\n"
        "  bind: [/scratch1, /data/run-1]\n",
    )
    assert engine.container_type == "apptainer"
    assert engine.container_uri == "/images/wx.sif"
    assert engine.container_cmd_options == "-B /scratch1 -B /data/run-1"
    engine.shutdown()


def test_host_container_binds_with_options_reach_the_launch_command(
    endpoint_root: Path, tmp_path: Path
) -> None:
    """``/data:/data`` (and ``:ro,z``) is the usual podman/docker form: accepted, rendered
    as one argument each, and still one argument in the worker's launch command."""
    engine = boxed_engine(
        tmp_path,
        "extends: docker\ncontainer:\n  runtime: podman\n  image: localhost/wx:1\n"
        "  bind: [/scratch1, /data:/data, '/data/in:/in:ro,z']\n",
    )
    binds = "-v /scratch1:/scratch1 -v /data:/data -v /data/in:/in:ro,z"
    assert engine.container_cmd_options == f"--rm --network host {binds}"
    engine.run_dir = str(tmp_path / "run")
    words = shlex.split(engine.containerized_launch_cmd())
    assert words[:2] == ["podman", "run"] and "/data/in:/in:ro,z" in words
    assert words[words.index("/data/in:/in:ro,z") - 1] == "-v"
    engine.shutdown()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "container:\n  runtime: apptainer\n  image: 'img.sif; rm -rf ~'\n",
            "container.image: must be an image path or reference",
        ),
        (
            "container:\n  runtime: docker\n  image: img\n  bind: ['/data/x; rm -rf ~']\n",
            "container.bind.0: must be HOST_DIR[:CONTAINER_DIR[:OPTIONS]]",
        ),
        ("address: '127.0.0.1 $(reboot)'\n", "address: must be an IP address or host name"),
    ],
    ids=["image", "bind", "address"],
)
def test_shell_metacharacters_in_container_and_address_are_refused(
    body: str, message: str, endpoint_root: Path, tmp_path: Path
) -> None:
    site = tmp_path / "hostile.yaml"
    site.write_text("extends: hera\n" + body)
    code, out = invoke("endpoint", "configure", "hostile", "--site", str(site))
    assert code == 1 and f"{site}:" in out and message in out
    assert not (endpoint_root / "hostile").exists()


def test_workers_read_a_warnings_only_log_config_from_the_endpoint_directory(
    endpoint_root: Path, tmp_path: Path
) -> None:
    """Parsl's workers log every task at their default level; the endpoint's own loader
    builds an engine whose workers are launched with ``--logconf`` naming the endpoint's
    ``worker_log_config.pkl``, a warnings-only Parsl ``FileLogging``."""
    directory = configure("localhost")
    for options in ({}, {"mpi": True}):
        rendered = endpoint_renders(directory.name, options, tmp_path)
        assert rendered.returncode == 0, rendered.stderr
        engine = load_config_yaml(rendered.stdout).engine
        words = shlex.split(engine.executor.launch_cmd)
        engine.shutdown()
        assert words[:3] == ["globus-compute-endpoint", "python-exec", PARSL_WORKER_POOL]
        assert f"--logconf={directory.resolve() / 'worker_log_config.pkl'}" in words
        assert "--logconf={logconf}" not in words
    log_config = pickle.loads((directory / "worker_log_config.pkl").read_bytes())
    assert isinstance(log_config, FileLogging) and log_config.level == logging.WARNING


@pytest.mark.parametrize(
    ("site_text", "keeps"),
    [
        ("extends: localhost\nengine_debug: true\n", "worker_debug: true"),
        (
            "extends: localhost\ncontainer:\n  runtime: docker\n  image: wx:1\n",
            'container_type: "docker"',
        ),
    ],
    ids=["engine_debug", "container"],
)
def test_workers_keep_parsls_launch_command_for_debug_and_in_containers(
    site_text: str, keeps: str, endpoint_root: Path, tmp_path: Path
) -> None:
    """With ``engine_debug`` the workers log at DEBUG (``worker_debug``); in a container the
    endpoint directory is not mounted, so they keep Parsl's own level."""
    site = tmp_path / "boxed.yaml"
    site.write_text(site_text)
    directory = configure(str(site), name="boxed")
    rendered = endpoint_renders(directory.name, {}, tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert keeps in rendered.stdout and "launch_cmd" not in rendered.stdout
    engine = load_config_yaml(rendered.stdout).engine
    assert "--logconf={logconf}" in engine.executor.launch_cmd
    engine.shutdown()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partiton": "debug"}, "unknown option 'partiton' (did you mean 'partition'?)"),
        ({"nodes_per_block": "2"}, "nodes_per_block: must be of type integer; got '2'"),
        ({"nodes_per_block": 65}, "nodes_per_block: out of range (minimum 1, maximum 64); got 65"),
        ({"partition": "debug; rm -rf ~"}, "partition: must be 1-64 letters, digits"),
        ({"walltime": "1:00"}, "walltime: must be HH:MM:SS"),
        ({"queue": "main"}, "unknown option 'queue'"),
        (
            {"walltime": "999:59:59"},
            "walltime: must be HH:MM:SS from 00:00:01 up to the site's limit 08:00:00",
        ),
        ({"walltime": "00:00:00"}, "walltime: must be HH:MM:SS above 00:00:00"),
        ({"init_blocks": 5, "max_blocks": 2}, "init_blocks: must be at most max_blocks (2)"),
        ({"min_blocks": 5}, "min_blocks: must be at most the site's max_blocks (4)"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "out-of-range",
        "shell-metacharacters",
        "walltime",
        "not-for-slurm",
        "walltime-over-site-limit",
        "walltime-zero",
        "init-above-max-blocks",
        "min-above-site-max-blocks",
    ],
)
def test_bad_user_options_are_rejected_by_chiltepin_and_by_the_endpoint(
    options: dict, message: str, endpoint_root: Path, tmp_path: Path
) -> None:
    configure("hera")
    options_file = tmp_path / "options.json"
    options_file.write_text(json.dumps(options))
    code, out = invoke("endpoint", "render", "ep-hera", "--user-options", str(options_file))
    assert code == 1
    assert f"error: {options_file}: " in out and message in out
    # the endpoint's own schema check refuses the same options
    assert endpoint_renders("ep-hera", options, tmp_path).returncode != 0


def test_render_shows_site_defaults_and_options(endpoint_root: Path, tmp_path: Path) -> None:
    configure("docker")
    code, out = invoke("endpoint", "render", "ep-docker")
    assert code == 0, out
    assert load_config_yaml(out).engine.executor.provider.partition == "debug"
    options_file = tmp_path / "o.json"
    options_file.write_text('{"partition": "long", "walltime": "00:20:00"}')
    code, out = invoke("endpoint", "render", "ep-docker", "--user-options", str(options_file))
    provider = load_config_yaml(out).engine.executor.provider
    assert (provider.partition, provider.walltime) == ("long", "00:20:00")


def test_render_of_unconfigured_endpoint_says_how_to_configure(endpoint_root: Path) -> None:
    code, out = invoke("endpoint", "render", "nope")
    assert code == 1
    assert "chiltepin endpoint configure nope --site SITE" in out


def test_render_rejects_malformed_json(endpoint_root: Path, tmp_path: Path) -> None:
    configure("docker")
    bad = tmp_path / "bad.json"
    bad.write_text('{"partition": ')
    code, out = invoke("endpoint", "render", "ep-docker", "--user-options", str(bad))
    assert code == 1 and f"{bad}:1: invalid JSON" in out


def test_bad_site_leaves_no_directory(endpoint_root: Path) -> None:
    code, out = invoke("endpoint", "configure", "x", "--site", "hera", "--set", "walltime=1h")
    assert code == 1 and "--set: walltime: must be HH:MM:SS" in out
    assert not (endpoint_root / "x").exists()
    assert not endpoint_root.exists() or list(endpoint_root.iterdir()) == []


def test_existing_endpoint_is_kept_unless_forced(endpoint_root: Path) -> None:
    directory = configure("docker", name="dev")
    (directory / "endpoint.json").write_text('{"endpoint_id": "kept"}')
    before = (directory / "user_config_template.yaml.j2").read_text()

    code, out = invoke("endpoint", "configure", "dev", "--site", "docker", "--set", "max_blocks=2")
    assert code == 1 and "already configured" in out and "--force" in out
    code, out = invoke(
        "endpoint", "configure", "dev", "--site", "docker", "--force", "--set", "max_blocks=99"
    )
    assert code == 1 and "max_blocks 99 > limits.max_blocks 3" in out
    assert (directory / "user_config_template.yaml.j2").read_text() == before

    configure("docker", "--force", "--set", "max_blocks=2", name="dev")
    assert (directory / "user_config_template.yaml.j2").read_text() != before
    assert (directory / "endpoint.json").read_text() == '{"endpoint_id": "kept"}'
    assert sorted(p.name for p in endpoint_root.iterdir()) == ["dev"]


def test_bad_endpoint_name(endpoint_root: Path) -> None:
    code, out = invoke("endpoint", "configure", "../evil", "--site", "docker")
    assert code == 1 and "endpoint names are 1-64 letters" in out


def test_config_dir_option(tmp_path: Path) -> None:
    code, out = invoke(
        "endpoint",
        "configure",
        "d",
        "--site",
        "localhost",
        "--config-dir",
        str(tmp_path / "elsewhere"),
    )
    assert code == 0, out
    assert (tmp_path / "elsewhere" / "d" / "config.yaml").is_file()


def test_user_environment_puts_this_python_first(endpoint_root: Path) -> None:
    directory = configure("localhost")
    text = (directory / "user_environment.yaml").read_text()
    assert f'PATH: "{Path(sys.executable).parent}:' in text


def test_options_file_that_is_not_utf8_or_too_deep(endpoint_root: Path, tmp_path: Path) -> None:
    configure("docker")
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{\n"partition": "d\xe9bug"}')
    code, out = invoke("endpoint", "render", "ep-docker", "--user-options", str(latin))
    assert code == 1 and f"{latin}:2: not UTF-8 text: byte 0xe9" in out
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    code, out = invoke("endpoint", "render", "ep-docker", "--user-options", str(deep))
    assert code == 1 and f"{deep}: JSON nested too deeply" in out


def test_a_site_path_cannot_break_out_of_template_comments(
    endpoint_root: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "odd #}{{ 7 * 7 }}\nengine: x"
    odd.mkdir()
    (odd / "site.yaml").write_text("extends: docker\n")
    directory = configure(str(odd / "site.yaml"), name="odd")
    header = (directory / "user_config_template.yaml.j2").read_text().split("-#}")[0]
    assert "{{ 7 * 7 }}" in header and "\\n" in header
    config = (directory / "config.yaml").read_text()
    assert "\nengine: x" not in config
    code, out = invoke("endpoint", "render", "odd")
    assert code == 0 and "49" not in out
