"""Site files: shipped ones validate; bad ones fail naming file, line, key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.errors import ConfigError
from chiltepin.sites.loader import load_site, shipped_site_names
from chiltepin.sites.model import Scheduler

SHIPPED = ["derecho", "docker", "gaea", "hera", "hercules", "localhost", "ursa"]


def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_all_seven_sites_ship_and_validate() -> None:
    assert shipped_site_names() == SHIPPED
    sites = {name: load_site(name) for name in SHIPPED}
    assert sites["derecho"].scheduler is Scheduler.pbspro
    assert sites["localhost"].scheduler is Scheduler.local
    assert sites["hera"].cores_per_node == 40
    assert sites["gaea"].clusters == "c5"
    for site in sites.values():
        assert site.name in SHIPPED
        assert site.capacity >= 1


def test_extends_overrides_and_merges_nested_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extends: hera\naccount: gsd-hpcs\nqos: debug\ntolerance:\n  drain_margin: 120\n",
    )
    site = load_site(path)
    hera = load_site("hera")
    assert site.name == "mine"
    assert (site.account, site.qos, site.partition) == ("gsd-hpcs", "debug", "hera")
    assert site.tolerance.drain_margin == 120
    # keys of the nested mapping the user did not write keep the parent's values
    assert site.tolerance.worker_heartbeat_threshold == hera.tolerance.worker_heartbeat_threshold
    assert site.worker_init == hera.worker_init


def test_extends_a_relative_user_file_and_set_overrides(tmp_path: Path) -> None:
    write(tmp_path, "extends: docker\npartition: big\n", "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nmax_blocks: 2\n", "child.yaml")
    site = load_site(child, ["nodes_per_block=2", "tolerance.strategy_period=1.5"])
    assert (site.partition, site.max_blocks, site.nodes_per_block) == ("big", 2, 2)
    assert site.tolerance.strategy_period == 1.5


def test_unquoted_walltime_is_not_read_as_a_number(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, "extends: hera\nwalltime: 01:30:00\n"))
    assert site.walltime == "01:30:00"
    assert load_site("hera", ["walltime=2:00:00"]).walltime == "2:00:00"


def test_numeric_looking_account_stays_a_string() -> None:
    assert load_site("hera", ["account=1234"]).account == "1234"


def error_for(tmp_path: Path, body: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_site(write(tmp_path, "extends: hera\n" + body))
    return info.value


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    err = error_for(tmp_path, "account: a\npartiton: hera\n")
    text = str(err)
    assert f"{tmp_path / 'mine.yaml'}:3: partiton: unknown key" in text
    assert "did you mean 'partition'?" in text
    assert "allowed keys here:" in text and "walltime" in text


def test_unknown_nested_key_lists_the_nested_keys(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "tolerance:\n  heartbeat: 5\n"))
    assert ":3: tolerance.heartbeat: unknown key" in text
    assert "worker_heartbeat_period" in text and "partition" not in text


def test_wrong_type(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "nodes_per_block: two\n"))
    assert ":2: nodes_per_block:" in text and "integer" in text and "'two'" in text


def test_out_of_range(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "cores_per_node: 0\n"))
    assert ":2: cores_per_node: must be greater than or equal to 1; got 0" in text


def test_shell_metacharacters_in_partition(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, 'partition: "debug; rm -rf ~"\n'))
    assert ":2: partition: must be 1-64 letters, digits" in text
    assert "'debug; rm -rf ~'" in text


def test_bad_walltime_format(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "walltime: 1h\n"))
    assert ":2: walltime: must be HH:MM:SS" in text


def test_bad_enum_lists_allowed_values(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "scheduler: sge\n"))
    assert "scheduler: must be one of 'slurm', 'pbspro' or 'local'; got 'sge'" in text


def test_batch_directive_must_be_a_directive(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, 'scheduler_options: ["--mem=4G"]\n'))
    assert "scheduler_options.0" in text and "#SBATCH" in text


def test_key_not_meaningful_for_scheduler(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "queue: main\n"))
    assert "'queue' does not apply to scheduler 'slurm'" in text


def test_limits_are_enforced_with_both_values(tmp_path: Path) -> None:
    text = str(error_for(tmp_path, "walltime: '09:00:00'\n"))
    assert "walltime 09:00:00 > limits.max_walltime 08:00:00" in text


def test_a_user_endpoint_idle_exit_inside_the_start_grace_is_refused(tmp_path: Path) -> None:
    """A user endpoint that exits within the endpoint's start-request grace after its
    last submission is started again with no work, and stays up for
    idle_heartbeats_hard (issue 28): refused, naming both ways out."""
    soon = "tolerance:\n  endpoint_heartbeat_period: 5\n  idle_heartbeats_soft: 1\n"
    text = str(error_for(tmp_path, soon))
    assert ":2: tolerance:" in text and "exit after 5 s, within twice start_grace_period" in text
    assert "idle_heartbeats_soft 0 (never exit) or at least 12" in text
    assert "start_grace_period at most 2.5" in text
    shorter_grace = write(tmp_path, f"extends: hera\n{soon}  start_grace_period: 2\n")
    assert load_site(shorter_grace).tolerance.start_grace_period == 2
    never_exits = write(tmp_path, "extends: hera\ntolerance:\n  idle_heartbeats_soft: 0\n")
    assert load_site(never_exits).tolerance.idle_heartbeats_soft == 0


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    err = error_for(tmp_path, "walltime: 1h\nnodes_per_block: 0\nbogus: 1\n")
    assert len(err.errors) == 3  # type: ignore[attr-defined]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: hera\naccount: [unclosed\nqos: x\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml:\d+: invalid YAML"):
        load_site(path)


def test_error_in_parent_file_is_attributed_to_the_parent(tmp_path: Path) -> None:
    write(tmp_path, "extends: docker\nmax_blocks: many\n", "base.yaml")
    child = write(tmp_path, "extends: base.yaml\naccount: a\n", "child.yaml")
    with pytest.raises(ConfigError, match=r"base\.yaml:2: max_blocks"):
        load_site(child)


def test_set_errors_name_the_command_line() -> None:
    with pytest.raises(ConfigError, match=r"^--set: max_blocks: must be greater"):
        load_site("hera", ["max_blocks=0"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_site("hera", ["max_blocks"])


def test_unknown_site_lists_shipped_sites() -> None:
    with pytest.raises(ConfigError, match="no such site 'heraa'; shipped sites: derecho, docker"):
        load_site("heraa")


def test_extends_cycle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(ConfigError) as info:
        load_site(tmp_path / "a.yaml")
    assert str(info.value) == (
        f"{tmp_path / 'b.yaml'}:1: extends: 'extends' cycle: a.yaml -> b.yaml -> a.yaml"
    )
