"""Hostile site files: bounded parsing and refusals that say where, never a traceback."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.errors import ConfigError
from chiltepin.sites.loader import load_site
from chiltepin.yamlfile import MAX_DOCUMENT_BYTES, load_mapping

BILLION_LAUGHS = "extends: hera\n" + "\n".join(
    [f"x0: &x0 [{', '.join(['lol'] * 10)}]"]
    + [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, 10)]
)


def write(tmp_path: Path, text: str | bytes, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_nested_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ConfigError, match=r"mine.yaml: YAML refused: aliases expand to more than"):
        load_site(write(tmp_path, BILLION_LAUGHS))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 100_000


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="recursive structure"):
        load_site(write(tmp_path, "extends: hera\ntags: &a [*a]\n"))


def test_a_huge_document_is_refused(tmp_path: Path) -> None:
    body = "extends: hera\n# " + "x" * MAX_DOCUMENT_BYTES + "\n"
    with pytest.raises(ConfigError, match=f"larger than {MAX_DOCUMENT_BYTES} bytes"):
        load_site(write(tmp_path, body))


def test_a_modest_alias_still_works(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, "extends: hera\ndescription: &d core-hours\ncost_unit: *d\n"))
    assert site.description == site.cost_unit == "core-hours"


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"extends: hera\naccount: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value).startswith(f"{path}:2: not UTF-8 text: byte 0xe9")


def test_a_missing_extends_target_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "account: a\nextends: nowhere.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value).startswith(f"{path}:2: extends: no such site 'nowhere.yaml'")


def test_a_non_string_extends_is_refused_with_its_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mine.yaml:1: extends: .* got \[1, 2\]"):
        load_site(write(tmp_path, "extends: [1, 2]\n"))


def test_an_unsafe_file_name_blames_the_file_not_a_name_key(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: hera\n", "my site.yaml")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    text = str(info.value)
    assert text.startswith(f"{path}: the file name 'my site' is the site's name")
    assert "rename the file or add a 'name:' key" in text
    assert load_site(write(tmp_path, "extends: hera\nname: mine\n", "my site.yaml")).name == "mine"


def test_a_self_extending_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"a site cannot extend itself: mine\.yaml -> mine\.yaml"):
        load_site(write(tmp_path, "extends: mine.yaml\n"))


def test_site_names_with_nul_or_huge_length_are_refused() -> None:
    with pytest.raises(ConfigError, match="no NUL byte"):
        load_site("he\0ra")
    with pytest.raises(ConfigError, match="no NUL byte"):
        load_site("x" * 5000 + ".yaml")
    with pytest.raises(ConfigError, match=r"no such site '\.\./endpoints/hera'"):
        load_site("../endpoints/hera")


def test_sites_check_reports_every_bad_file(tmp_path: Path) -> None:
    good = write(tmp_path, "extends: hera\n", "good.yaml")
    bad1 = write(tmp_path, "extends: hera\nwalltime: soon\n", "bad1.yaml")
    bad2 = write(tmp_path, b"\xff\xfe", "bad2.yaml")
    result = CliRunner().invoke(cli, ["sites", "check", str(bad1), str(good), str(bad2)])
    assert result.exit_code == 1
    assert f"{bad1}:2: walltime: must be HH:MM:SS" in result.output
    assert f"{good}: ok" in result.output
    assert f"{bad2}:1: not UTF-8 text" in result.output
    assert "2 of 3 files have problems" in result.output


def container(runtime: str, bind: str) -> str:
    body = f"container:\n  runtime: {runtime}\n  image: img\n  bind:\n    - '{bind}'\n"
    return "extends: hera\n" + body


@pytest.mark.parametrize(
    ("runtime", "bind"),
    [
        ("podman", "/data"),
        ("podman", "/data:/data"),
        ("podman", "/data/in:/in:ro,z,nosuid,rslave"),
        ("docker", "/data:/data:rw,Z,delegated"),
        ("apptainer", "/data:/mnt/data:ro"),
        ("singularity", "/scratch1:/scratch1"),
    ],
)
def test_container_binds_in_host_container_options_form_load(
    tmp_path: Path, runtime: str, bind: str
) -> None:
    site = load_site(write(tmp_path, container(runtime, bind)))
    assert site.container is not None and site.container.bind == [bind]


@pytest.mark.parametrize(
    ("runtime", "bind", "message"),
    [
        ("podman", "/data:data", "the container path 'data' is not absolute; got '/data:data'"),
        ("docker", "data:/data", "the host path 'data' is not absolute; got 'data:/data'"),
        ("podman", "/data:/data $(reboot)", "container path '/data $(reboot)' has other"),
        ("podman", "/a,/etc:/x", "the host path '/a,/etc' has other characters"),
        ("podman", "/a:/b:ro:x", "got '/a:/b:ro:x' (more than two ':')"),
        ("podman", "/a:/b:ro;reboot", "mount option 'ro;reboot' is not one podman takes"),
        ("podman", "/a:/b:idmap=uids=0-1-10", "mount option 'idmap=uids=0-1-10' is not one"),
        ("docker", "/a:/b:O", "mount option 'O' is not one docker takes; allowed: rw, ro, z"),
        ("apptainer", "/a:/b:ro,nosuid", "apptainer takes one mount option per bind, ro or rw"),
        ("singularity", "/a:/b:z", "option 'z' is not one singularity takes; allowed: ro, rw"),
        ("podman", "/a:/b:", "mount option '' is not one podman takes"),
    ],
)
def test_container_bind_parts_are_each_checked(
    tmp_path: Path, runtime: str, bind: str, message: str
) -> None:
    path = write(tmp_path, container(runtime, bind))
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value).startswith(f"{path}:6: container.bind.0: ")
    assert message in str(info.value)


def test_a_key_written_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: hera\naccount: mine\nqos: batch\naccount: theirs\n")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value) == (
        f"{path}:4: account: duplicate key: written on lines 2 and 4; give it once"
        " (YAML would silently keep only the last value)"
    )


def test_a_nested_duplicate_names_its_key_path(tmp_path: Path) -> None:
    body = "extends: hera\ntolerance:\n  drain_margin: 60\n  drain_margin: 600\n"
    with pytest.raises(ConfigError, match=r"mine.yaml:4: tolerance.drain_margin: duplicate key:"):
        load_site(write(tmp_path, body))
    flow = "extends: hera\ncontainer: {runtime: podman, image: a, image: b}\n"
    with pytest.raises(ConfigError, match=r"mine.yaml:2: container.image: .* lines 2 and 2"):
        load_site(write(tmp_path, flow))


def test_a_duplicate_in_an_extended_file_names_that_file(tmp_path: Path) -> None:
    parent = write(tmp_path, "extends: hera\nqos: a\nqos: b\n", "parent.yaml")
    with pytest.raises(ConfigError, match=rf"^{parent}:3: qos: duplicate key"):
        load_site(write(tmp_path, "extends: parent.yaml\n"))


def test_keys_brought_in_by_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    path = write(tmp_path, "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  a: 3\n")
    assert load_mapping(path).data["derived"] == {"a": 3, "b": 2}


def test_a_duplicate_in_a_set_value_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        load_site("hera", ["tolerance={drain_margin: 60, drain_margin: 600}"])
    assert str(info.value) == (
        "--set: tolerance: duplicate key 'drain_margin'; give it once"
        " (YAML would silently keep only the last value)"
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [(".inf", "inf"), ("-.inf", "-inf"), (".nan", "nan"), ("'1e999'", "inf"), ("-0.5", "-0.5")],
)
def test_a_cost_rate_must_be_finite_and_not_negative(tmp_path: Path, value: str, got: str) -> None:
    path = write(tmp_path, f"extends: hera\ncost_per_node_hour: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value) == (
        f"{path}:2: cost_per_node_hour: must be a finite number >= 0; got {got}"
    )
    assert load_site(path, ["cost_per_node_hour=2.5"]).cost_per_node_hour == 2.5


@pytest.mark.parametrize(
    "scratch", ["../shared/{run_id}", "work/../../x", "/scratch1/me/../..", ".."]
)
def test_a_scratch_with_a_parent_part_is_refused(tmp_path: Path, scratch: str) -> None:
    path = write(tmp_path, f"extends: hera\ntransfer:\n  scratch: '{scratch}'\n")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert str(info.value).startswith(
        f"{path}:3: transfer.scratch: must not contain a '..' part: it is the per-run work area"
    )
    assert str(info.value).endswith(f"got {scratch!r}")


def test_a_scratch_with_dots_in_names_loads(tmp_path: Path) -> None:
    body = "extends: hera\ntransfer:\n  scratch: /scratch1/me/..hidden/v1..2/{run_id}\n"
    assert load_site(write(tmp_path, body)).transfer.scratch.endswith("v1..2/{run_id}")
