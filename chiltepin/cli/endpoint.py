"""``chiltepin endpoint``: configure a site as a Globus Compute endpoint, and inspect it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from chiltepin.endpoints.configure import configure_endpoint, endpoints_root, render_endpoint
from chiltepin.endpoints.render import EndpointRequest
from chiltepin.errors import ConfigError
from chiltepin.sites.loader import load_site

_config_dir_option = click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory holding endpoint directories"
    " [default: $GLOBUS_COMPUTE_USER_DIR or ~/.globus_compute].",
)


@click.group("endpoint")
def command() -> None:
    """Turn a site into a Globus Compute endpoint and manage it.

    \b
    chiltepin endpoint configure hera-ep --site hera --set account=gsd-hpcs
    chiltepin endpoint render hera-ep --user-options opts.json
    """


@command.command("configure")
@click.argument("name")
@click.option(
    "--site",
    "site_ref",
    required=True,
    help="A shipped site (hera, hercules, ursa, gaea, derecho, docker, localhost)"
    " or the path of your own site file (which may say `extends: hera`).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a site key; repeatable. Dotted keys reach nested values:"
    " --set account=abc --set tolerance.drain_margin=600",
)
@click.option("--force", is_flag=True, help="Replace an existing configuration (keeps its id).")
@click.option(
    "--contact-email",
    default=None,
    help="Administrator contact, required by globus-compute-endpoint when it runs as root.",
)
@click.option(
    "--local-services",
    is_flag=True,
    help="Point the endpoint at the local Globus stand-in on 127.0.0.1 (offline tests only).",
)
@_config_dir_option
def configure(
    name: str,
    site_ref: str,
    overrides: tuple[str, ...],
    force: bool,
    contact_email: str | None,
    local_services: bool,
    config_dir: Path | None,
) -> None:
    """Write endpoint NAME for a site: config.yaml, the user config template and schema.

    The directory is written atomically and only after globus-compute-endpoint's own
    loaders accept it. Start it with `globus-compute-endpoint start NAME`.
    """
    site = load_site(site_ref, list(overrides))
    if contact_email is None and os.geteuid() == 0:
        contact_email = "root@localhost"
    request = EndpointRequest(
        endpoint_name=name,
        site=site,
        site_ref=site_ref,
        local_compute_services=local_services,
        contact_email=contact_email,
    )
    path = configure_endpoint(request, endpoints_root(config_dir), force=force)
    click.echo(f"Configured endpoint {name!r} for site {site.name!r} in {path}")
    if site.scheduler.value != "local" and site.account is None:
        click.secho(
            "note: no account is set; batch jobs go to your default allocation, if you have"
            " one (add --set account=PROJECT)",
            fg="yellow",
            err=True,
        )


@command.command("render")
@click.argument("name")
@click.option(
    "--user-options",
    "options_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON object of submit-time options (what Executor(user_endpoint_config=...) sends);"
    " '-' reads stdin. Omit to see the site defaults.",
)
@_config_dir_option
def render(name: str, options_file: Path | None, config_dir: Path | None) -> None:
    """Show the user endpoint config that a set of user options becomes on endpoint NAME.

    Options are validated against the endpoint's schema first; the output is rendered by
    the endpoint's own renderer and accepted by its loader.
    """
    options: object = {}
    source = "<defaults>"
    if options_file is not None:
        source = "<stdin>" if str(options_file) == "-" else str(options_file)
        text = click.get_text_stream("stdin").read() if source == "<stdin>" else _read(options_file)
        try:
            options = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"invalid JSON: {err.msg}", source=source, line=err.lineno) from err
    if not isinstance(options, dict):
        raise ConfigError("user options must be a JSON object", source=source)
    click.echo(render_endpoint(endpoints_root(config_dir) / name, options, source), nl=False)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read file: {err.strerror}", source=path) from err
