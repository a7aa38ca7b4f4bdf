"""Generated site files and ``--set`` overrides: a valid site that renders with nothing a
shell would act on outside quotes, or a ChiltepinError; never another exception."""

from __future__ import annotations

import resource
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from chiltepin.endpoints.render import render_for_options
from chiltepin.errors import ChiltepinError
from chiltepin.sites.loader import load_site
from chiltepin.sites.model import Site, walltime_seconds
from tests.fuzz.profiles import ACCEPTED, TRIED, accepting, exposed, fuzz
from tests.fuzz.strategies import hostile_text, safe_names, values, walltimes

WORK = Path(tempfile.mkdtemp(prefix="chiltepin-fuzz-sites-"))
SITE_KEYS = sorted(Site.model_fields)
SHELL_BOUND = ("partition", "queue", "qos", "account", "clusters", "walltime")


def check_rendered(site: Site, options: dict[str, Any]) -> dict[str, Any]:
    """Render ``options`` on ``site``; assert nothing reaching a shell is exposed."""
    rendered = yaml.safe_load(render_for_options(site, options, "fuzz"))
    engine = rendered["engine"]
    provider = engine["provider"]
    shell_values = [engine.get(k) for k in ("container_uri", "container_cmd_options", "address")]
    shell_values += [provider.get(k) for k in SHELL_BOUND]
    for value in shell_values:
        if isinstance(value, str):
            assert not exposed(value), (value, exposed(value))
    if isinstance(provider.get("walltime"), str):
        assert (
            0 < walltime_seconds(provider["walltime"]) <= walltime_seconds(site.limits.max_walltime)
        )
    assert provider["init_blocks"] <= provider["max_blocks"]
    assert provider["min_blocks"] <= provider["max_blocks"]
    return rendered


def write(name: str, text: str | bytes) -> Path:
    path = WORK / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


small = st.one_of(st.integers(0, 4), st.integers(-1, 30))
binds = st.sampled_from(["/scratch1", "/data:/data", "/data/in:/in:ro", "/d:/d:ro,z", "/d:/d:rw"])
# Per key, values a site file may well hold, mixed with hostile ones: most examples pass
# validation, so rendering (and what reaches a shell) is exercised, not only refusal.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "partition": safe_names,
    "account": safe_names,
    "qos": safe_names,
    "queue": safe_names,
    "clusters": safe_names,
    "address": st.one_of(st.just("127.0.0.1"), st.just("::1"), safe_names),
    "walltime": walltimes,
    "nodes_per_block": small,
    "init_blocks": small,
    "min_blocks": small,
    "max_blocks": small,
    "max_workers_per_node": small,
    "cores_per_node": small,
    "limits": st.fixed_dictionaries(
        {}, optional={"max_walltime": walltimes, "max_blocks": small, "max_nodes_per_block": small}
    ),
    "container": st.fixed_dictionaries(
        {
            "runtime": st.sampled_from(["apptainer", "docker", "podman", "singularity"]),
            "image": st.one_of(hostile_text, st.sampled_from(["/i/wx.sif", "docker://a/b:1"])),
            "bind": st.lists(st.one_of(hostile_text, binds), max_size=3),
        }
    ),
}
site_documents = st.builds(
    lambda base, changes: {"extends": base, **changes},
    st.sampled_from(["hera", "derecho", "docker", "localhost", "gaea"]),
    st.dictionaries(
        st.sampled_from(sorted(PLAUSIBLE)), st.just(None), min_size=1, max_size=3
    ).flatmap(
        lambda keys: st.fixed_dictionaries(
            {key: st.one_of(PLAUSIBLE[key], PLAUSIBLE[key], PLAUSIBLE[key], values) for key in keys}
        )
    ),
)


@accepting("site file (structured)", 0.1)  # accepted 20-36% in 7 runs of the CI profile
@given(document=site_documents)
@fuzz
def test_generated_site_files(document: dict[str, Any]) -> None:
    TRIED["site file (structured)"] += 1
    path = write("structured.yaml", yaml.safe_dump(document, allow_unicode=True))
    try:
        site = load_site(path)
    except ChiltepinError:
        return
    ACCEPTED["site file (structured)"] += 1
    check_rendered(site, {})


YAML_ALPHABET = st.sampled_from([*"abc:-[]{},&*!|>'\"#%@` \n\t.01", "\x00", "é", "\udcff"])


def alias_bomb(width: int, depth: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return "extends: hera\n" + "\n".join(lines) + "\n"


# Hostile text, alias bombs and bytes, and (so that accepting still works is checked
# too) a valid document's text with plausible values.
raw_documents = st.one_of(
    st.lists(YAML_ALPHABET, max_size=200).map("".join),
    st.builds(alias_bomb, st.integers(1, 12), st.integers(1, 12)),
    st.binary(max_size=64).map(lambda b: b"extends: hera\naccount: " + b),
    st.builds(
        "extends: {}\naccount: {}\nwalltime: '{}'\n".format,
        st.sampled_from(["hera", "derecho", "localhost"]),
        safe_names,
        st.sampled_from(["00:10:00", "01:00:00", "00:00:30"]),
    ),
)


@accepting("site file (raw text, aliases)", 0.05)  # accepted 10-31% in 7 runs of the CI profile
@given(document=raw_documents)
@fuzz
def test_raw_site_file_text(document: str | bytes) -> None:
    TRIED["site file (raw text, aliases)"] += 1
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        path = write("raw.yaml", document)
        load_site(path)
        ACCEPTED["site file (raw text, aliases)"] += 1
    except ChiltepinError:
        pass
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 300


SET_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    **{k: v for k, v in PLAUSIBLE.items() if k not in ("container", "limits")},
    "limits.max_walltime": walltimes,
    "limits.max_blocks": small,
    "container.runtime": st.sampled_from(["apptainer", "docker"]),
    "container.image": st.one_of(st.just("/i/wx.sif"), hostile_text),
    "container.bind": st.lists(st.one_of(binds, hostile_text), max_size=2),
}


def assignment(key: str, *, hostile: bool = True) -> st.SearchStrategy[str]:
    """``key=value`` with a plausible value for the key (as YAML), or (``hostile``) a
    hostile one."""
    as_yaml = SET_PLAUSIBLE[key].map(
        lambda v: yaml.safe_dump(v, default_flow_style=True).removesuffix("\n...\n").strip()
    )
    value = st.one_of(as_yaml, as_yaml, hostile_text) if hostile else as_yaml
    return value.map(lambda v: f"{key}={v}")


SET_KEYS = st.sampled_from(sorted(SET_PLAUSIBLE))
# Lists of plausible assignments only (which a site should mostly take), and lists mixing
# in hostile values and hostile text.
assignments = st.one_of(
    st.lists(SET_KEYS.flatmap(lambda k: assignment(k, hostile=False)), min_size=1, max_size=3),
    st.lists(st.one_of(SET_KEYS.flatmap(assignment), hostile_text), min_size=1, max_size=3),
)


@accepting("--set values", 0.05)  # accepted 17-37% in 7 runs of the CI profile
@given(overrides=assignments, base=st.sampled_from(["hera", "derecho", "localhost"]))
@fuzz
def test_set_overrides(overrides: list[str], base: str) -> None:
    TRIED["--set values"] += 1
    try:
        site = load_site(base, overrides)
    except ChiltepinError:
        return
    ACCEPTED["--set values"] += 1
    check_rendered(site, {})
