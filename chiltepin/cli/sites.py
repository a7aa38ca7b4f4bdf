"""``chiltepin sites``: see the shipped site files and check your own."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from rich.table import Table

from chiltepin.cli.console import console
from chiltepin.errors import ChiltepinError
from chiltepin.sites.loader import load_site, shipped_site_names


@click.group("sites")
def command() -> None:
    """List, show and check site definitions.

    \b
    chiltepin sites list
    chiltepin sites show hera --set account=gsd-hpcs
    chiltepin sites check ~/my-sites/hera.yaml
    """


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_sites(as_json: bool) -> None:
    """The sites chiltepin ships (`endpoints/*.yaml`)."""
    sites = [load_site(name) for name in shipped_site_names()]
    if as_json:
        click.echo(json.dumps([site.model_dump(mode="json") for site in sites], indent=2))
        return
    table = Table("site", "scheduler", "partition/queue", "cores/node", "capacity", "description")
    for site in sites:
        where = site.partition or site.queue or "-"
        table.add_row(
            site.name,
            site.scheduler.value,
            where,
            str(site.cores_per_node),
            str(site.capacity),
            site.description,
        )
    console().print(table)


@command.command("show")
@click.argument("site")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key.")
def show(site: str, overrides: tuple[str, ...]) -> None:
    """Print SITE fully resolved (extends and overrides applied, defaults filled in)."""
    resolved = load_site(site, list(overrides)).model_dump(mode="json")
    click.echo(yaml.safe_dump(resolved, sort_keys=False), nl=False)


@command.command("convert")
@click.argument("legacy", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def convert(legacy: Path) -> None:
    """Print LEGACY, a Chiltepin 0.1.7 resource file, as a chiltepin sites file.

    Federation and Workflow also read 0.1.7 files directly; converting once gives you a
    file to extend (tags, capacity, shipped site files). Unsupported keys are errors.
    """
    from chiltepin.client.config import load_config

    config = load_config(legacy)
    click.echo(
        yaml.safe_dump(config.model_dump(mode="json", exclude_defaults=True), sort_keys=False),
        nl=False,
    )


@command.command("check")
@click.argument("files", nargs=-1, required=True)
def check(files: tuple[str, ...]) -> None:
    """Validate site FILES; print every problem with file, line and allowed values.

    Every file is checked, so one run lists all that need fixing (exit status 1 if any).
    """
    bad = 0
    for path in files:
        try:
            site = load_site(path)
        except ChiltepinError as err:
            bad += 1
            click.secho(str(err), fg="red", err=True)
            continue
        click.echo(f"{path}: ok (site {site.name!r}, {site.scheduler.value})")
    if bad:
        raise ChiltepinError(f"{bad} of {len(files)} files have problems")
