"""Federation arguments, sites files and per-task resources: refused with file, key, value
and what is allowed, before any engine starts; never a traceback."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy
import pytest

from chiltepin.client.calls import SERIALIZER, Call, verbatim_sizes
from chiltepin.client.config import load_config, resolve
from chiltepin.client.limits import MAX_PAYLOAD_BYTES
from chiltepin.client.resources import parse_resources
from chiltepin.errors import ConfigError
from chiltepin.federation import Federation, NotCallable, PayloadTooLarge
from chiltepin.federation.staging import stage_specs
from chiltepin.staging import Location, LocationError
from tests.federation import tasks

LOCAL = {"here": {"kind": "local", "site": "localhost"}}
ENDPOINT = "1" * 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sites": ["x"]}, "Federation(sites=...): must be a sites file path, a Federation"),
        ({"sites": {"x": "y"}}, "sites.x: must be a valid dictionary or instance of SiteEntry"),
        ({"budget": "abc"}, "Federation(...): budget: must be a valid number"),
        ({"budget": -1}, "Federation(...): budget: must be greater than 0"),
        ({"policy": "bogus"}, "policy: must be one of 'soonest', 'round_robin', 'capacity'"),
        ({"retries": -5}, "Federation(...): retries: must be greater than or equal to 0"),
        ({"status_poll_s": 0}, "Federation(...): status_poll_s: must be greater than 0"),
        ({"run_dir": "x" * 300}, "run_dir: path too long (300 bytes, longest name 300)"),
        ({"run_dir": "a\0b"}, "run_dir: must be a directory path with no NUL byte"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_bad_federation_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Federation(**{"sites": LOCAL, **kwargs}, progress=False)
    assert message in str(info.value)


def test_a_run_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match=r"run_dir: .*/f exists and is not a directory"):
        Federation(LOCAL, run_dir=tmp_path / "f", progress=False)


def sites_file(tmp_path: Path, options: str) -> Path:
    path = tmp_path / "sites.yaml"
    path.write_text(f"sites:\n  hera:\n    endpoint_id: '{ENDPOINT}'\n    site: hera\n{options}")
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("walltime: '999:59:59'", "walltime: must be HH:MM:SS from 00:00:01 up to the site's"),
        ("walltime: '00:00:00'", "walltime: must be HH:MM:SS above 00:00:00"),
        ("init_blocks: 9\n      max_blocks: 2", "init_blocks: must be at most max_blocks (2)"),
        ("min_blocks: 5", "min_blocks: must be at most the site's max_blocks (4)"),
    ],
)
def test_site_entry_options_are_bounded_by_the_site(
    tmp_path: Path, options: str, message: str
) -> None:
    path = sites_file(tmp_path, f"    options:\n      {options}\n")
    with pytest.raises(ConfigError) as info:
        resolve(load_config(path), str(path), tmp_path)
    assert f"{path}: sites.hera: " in str(info.value) and message in str(info.value)


def test_non_utf8_and_unusable_sites_file_paths(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_bytes(b"sites:\n  x:\n    site: caf\xc3\x28\n")
    with pytest.raises(ConfigError, match=r"sites.yaml:3: not UTF-8 text: byte 0xc3"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such sites file"):
        load_config(tmp_path / "a\0b.yaml")
    with pytest.raises(ConfigError, match="not a usable sites file path"):
        load_config(tmp_path / ("x" * 300 + ".yaml"))


@pytest.mark.parametrize(
    "flags",
    ["--cpu-bind=cores; rm -rf ~", "-n 4 `reboot`", "$(id)", "a\nb", "--x='y'", "a  b", ""],
)
def test_launcher_options_with_shell_syntax_are_refused(flags: str) -> None:
    with pytest.raises(ConfigError, match="resources: launcher_options: must be launcher flags"):
        parse_resources({"launcher_options": flags, "nodes": 1})


def test_plain_launcher_options_pass() -> None:
    flags = "--cpu-bind=cores --distribution=block:cyclic -c 2"
    assert parse_resources({"launcher_options": flags}).launcher_options == flags


def test_a_site_named_twice_in_a_sites_file_is_refused(tmp_path: Path) -> None:
    path = sites_file(tmp_path, "  hera:\n    kind: local\n    site: localhost\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(
        f"{path}:5: sites.hera: duplicate key: written on lines 2 and 5; give it once"
    )


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    """A local federation whose engine never starts: every call here is refused at submit."""
    with Federation(LOCAL, run_dir=tmp_path_factory.mktemp("run"), progress=False) as fed:
        yield fed
        assert fed.futures == []


PAIR = "must be a (source, destination) pair of locations (strings, paths or Location objects)"


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"stage_in": [("file:///a", "{scratch}/a"), "file:///b"]}, "stage_in item 1: " + PAIR),
        ({"stage_out": [("a", "b", "c")]}, f"stage_out item 0: {PAIR}"),
        ({"stage_in": [("{scratch}/a",)]}, f"stage_in item 0: {PAIR}"),
        ({"stage_in": ["ab"]}, f"stage_in item 0: {PAIR}"),  # not the pair ('a', 'b')
        ({"stage_in": [(None, "/x")]}, "got (None, '/x') (NoneType is not a location)"),
        ({"stage_out": [5]}, f"stage_out item 0: {PAIR}"),
        ({"stage_in": "file:///a"}, "stage_in: must be a list of pairs, each a (source,"),
        ({"stage_out": 7}, "stage_out: must be a list of pairs"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_a_stage_item_that_is_not_a_pair_is_refused_naming_it(
    federation: Federation, stage: dict, message: str
) -> None:
    with pytest.raises(LocationError) as info:
        federation.submit(tasks.square, 2, **stage)
    assert message in str(info.value)


def test_stage_pairs_of_paths_and_locations_are_taken(tmp_path: Path) -> None:
    pairs = [(tmp_path / "a", Location.parse("file:///b")), ["globus://c/d", "{scratch}/d"]]
    assert stage_specs(pairs, "stage_in") == (
        (str(tmp_path / "a"), "file:///b"),
        ("globus://c/d", "{scratch}/d"),
    )


@pytest.mark.parametrize("fn", [5, "tasks.square", None, tasks.square(3)], ids=repr)
def test_a_function_that_cannot_be_called_is_refused_at_submit_and_map(
    federation: Federation, fn: object
) -> None:
    expected = (
        "the function to run must be callable (a function, or an object with __call__);"
        f" got {fn!r} ({type(fn).__name__}). Pass the function itself, not its result"
    )
    with pytest.raises(NotCallable) as info:
        federation.submit(fn, 2)
    assert str(info.value).startswith(f"Federation.submit: {expected}")
    assert isinstance(info.value, TypeError)
    with pytest.raises(NotCallable, match=r"^Federation\.map: the function to run must be"):
        federation.map(fn, [1, 2])  # at the call, not when its results are read


LIMIT = "Globus Compute accepts at most 10 MB per task (every site is held to that, local ones too"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((b"x" * 50_000_000,), {}, "(largest part: argument 0) serialises to at least 66.7 MB"),
        ((1,), {"text": "é" * 9_000_000}, "(largest part: keyword argument 'text') serialises"),
        (([b"x" * 4_000_000, [b"y" * 4_000_000]],), {}, "serialises to at least 10.7 MB"),
    ],
    ids=["bytes", "str", "nested"],
)
def test_a_huge_argument_to_a_local_site_is_refused_before_it_is_serialised(
    federation: Federation, args: tuple, kwargs: dict, message: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as info:
            federation.submit(tasks.square, *args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith("the call ") and message in str(info.value)
    assert LIMIT in str(info.value)
    assert peak < 1_000_000  # nothing was copied: serialising 50 MB takes ten times that


def test_an_object_passed_twice_counts_once_as_pickle_writes_it_once() -> None:
    block = b"x" * 6_000_000
    assert verbatim_sizes({"a": block, "b": [block, {"k": block}]}) == {"a": 6_000_000, "b": 1}
    call = Call.of(SERIALIZER.serialize(len), (block, block), {})  # 8 MB: under the limit
    assert len(call.arguments) < MAX_PAYLOAD_BYTES


OUT_OF_MEMORY = """
import resource
from chiltepin.client.calls import SERIALIZER, Call
from chiltepin.client.limits import PayloadTooLarge
function, numbers = SERIALIZER.serialize(len), [7] * 20_000_000
with open("/proc/self/statm") as statm:
    in_use = int(statm.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (in_use + 32_000_000, resource.RLIM_INFINITY))
try:
    Call.of(function, (numbers,), {})
except PayloadTooLarge as err:
    print(err)
"""


def test_a_call_that_runs_out_of_memory_serialising_is_refused_not_a_memory_error() -> None:
    """A long list of numbers holds no string or array to bound its size by, so it is
    serialised to be measured; when that runs out of memory (here, 32 MB to spare), the
    call is refused like any oversize one."""
    ran = subprocess.run(
        [sys.executable, "-c", OUT_OF_MEMORY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.startswith("the call serialises to more than this process's memory holds;")
    assert LIMIT in ran.stdout


def test_numeric_arrays_count_their_bytes_and_arrays_of_objects_do_not() -> None:
    numbers = numpy.zeros(2_000_000)  # 16 MB of float64
    assert verbatim_sizes({"a": numbers}) == {"a": 16_000_000}
    with pytest.raises(PayloadTooLarge, match=r"argument 0\) serialises to at least 21.3 MB"):
        Call.of(SERIALIZER.serialize(len), (numbers,), {})
    nones = numpy.full(2_000_000, None)  # 16 MB of pointers, pickled as 2 MB
    assert verbatim_sizes({"a": nones}) == {"a": 0}
    assert len(Call.of(SERIALIZER.serialize(len), (nones,), {}).arguments) < MAX_PAYLOAD_BYTES
