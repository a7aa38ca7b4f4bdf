"""``chiltepin endpoint``: configure a site as a Globus Compute endpoint, and inspect it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from chiltepin.endpoints import lifecycle
from chiltepin.endpoints.configure import (
    allow_functions,
    configure_endpoint,
    endpoints_root,
    parse_environment,
    private_parent,
    render_endpoint,
)
from chiltepin.endpoints.render import EndpointRequest
from chiltepin.errors import ChiltepinError, ConfigError
from chiltepin.sites.loader import load_site
from chiltepin.yamlfile import MAX_DOCUMENT_BYTES, read_text

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
    chiltepin endpoint start hera-ep
    chiltepin endpoint status hera-ep --json
    chiltepin endpoint stop hera-ep
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
@click.option(
    "--env",
    "environment",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a variable in the user endpoints' environment (user_environment.yaml);"
    " repeatable. A root endpoint clears their environment, so pass e.g. SLURM_CONF here.",
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
@click.option(
    "--multi-user",
    is_flag=True,
    help="A multi-user endpoint, run as root: each identity's user endpoint runs as the local"
    " account --identity-mapping maps it to.",
)
@click.option(
    "--identity-mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Globus identity mapping (JSON, e.g. expression_identity_mapping#1.0.0) for --multi-user.",
)
@_config_dir_option
def configure(
    name: str,
    site_ref: str,
    overrides: tuple[str, ...],
    environment: tuple[str, ...],
    force: bool,
    contact_email: str | None,
    local_services: bool,
    multi_user: bool,
    identity_mapping: Path | None,
    config_dir: Path | None,
) -> None:
    """Write endpoint NAME for a site: config.yaml, the user config template and schema.

    The directory is written atomically and only after globus-compute-endpoint's own
    loaders accept it. Start it with `chiltepin endpoint start NAME`.
    """
    if multi_user != (identity_mapping is not None):
        raise click.UsageError("--multi-user and --identity-mapping FILE go together")
    site = load_site(site_ref, list(overrides))
    if contact_email is None and (multi_user or os.geteuid() == 0):
        contact_email = "root@localhost"
    request = EndpointRequest(
        endpoint_name=name,
        site=site,
        site_ref=site_ref,
        local_compute_services=local_services,
        contact_email=contact_email,
        environment=parse_environment(environment),
        identity_mapping=str(identity_mapping.resolve()) if identity_mapping else None,
    )
    path = configure_endpoint(request, endpoints_root(config_dir), force=force)
    click.echo(f"Configured endpoint {name!r} for site {site.name!r} in {path}")
    blocked = private_parent(Path(sys.executable)) if multi_user else None
    if blocked is not None:
        click.secho(
            f"note: {blocked} is private, so mapped accounts cannot run this Python"
            f" ({sys.executable}); start the endpoint from an environment they can read"
            " (user endpoints fail to start otherwise)",
            fg="yellow",
            err=True,
        )
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
        text = (
            click.get_text_stream("stdin").read(MAX_DOCUMENT_BYTES + 1)
            if source == "<stdin>"
            else read_text(options_file, "options file")
        )
        if len(text) > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"larger than {MAX_DOCUMENT_BYTES} bytes", source=source)
        try:
            options = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"invalid JSON: {err.msg}", source=source, line=err.lineno) from err
        except RecursionError:
            raise ConfigError("JSON nested too deeply", source=source) from None
    if not isinstance(options, dict):
        raise ConfigError("user options must be a JSON object", source=source)
    click.echo(render_endpoint(endpoints_root(config_dir) / name, options, source), nl=False)


def _print_status(current: lifecycle.EndpointStatus) -> None:
    state = f"running (pid {current.pid})" if current.running else "stopped"
    click.echo(f"{current.name}: {state}")
    click.echo(f"  site:        {current.site or '-'}")
    click.echo(f"  endpoint id: {current.endpoint_id or '(not registered yet)'}")
    click.echo(f"  directory:   {current.directory}")


@command.command("start")
@click.argument("name")
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for it.")
@_config_dir_option
def start(name: str, timeout: float, config_dir: Path | None) -> None:
    """Start endpoint NAME in the background and wait until it is registered and running."""
    current = lifecycle.start(endpoints_root(config_dir), name, timeout=timeout)
    click.echo(f"Started endpoint {name!r}: id {current.endpoint_id}, pid {current.pid}")


@command.command("stop")
@click.argument("name")
@_config_dir_option
def stop(name: str, config_dir: Path | None) -> None:
    """Stop endpoint NAME and everything it started (user endpoints, engines, jobs)."""
    root = endpoints_root(config_dir)
    was_running = lifecycle.status(root, name).running
    stragglers = lifecycle.stop(root, name)
    if not was_running:
        click.echo(f"Endpoint {name!r} was not running.")
        return
    click.echo(f"Stopped endpoint {name!r}.")
    if stragglers:
        click.secho(
            f"note: stopped {len(stragglers)} process(es) its shutdown left behind:"
            f" {', '.join(map(str, stragglers))}",
            fg="yellow",
            err=True,
        )


@command.command("restart")
@click.argument("name")
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for it.")
@_config_dir_option
def restart(name: str, timeout: float, config_dir: Path | None) -> None:
    """Stop endpoint NAME (if running) and start it again."""
    root = endpoints_root(config_dir)
    lifecycle.stop(root, name)
    current = lifecycle.start(root, name, timeout=timeout)
    click.echo(f"Restarted endpoint {name!r}: id {current.endpoint_id}, pid {current.pid}")


@command.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--workers",
    is_flag=True,
    help="Also ask the Globus Compute service what its workers run (per manager).",
)
@_config_dir_option
def status(name: str, as_json: bool, workers: bool, config_dir: Path | None) -> None:
    """Show whether endpoint NAME runs, and the versions it runs with. Exit 0 when
    running, 3 when stopped (as LSB init scripts do), 1 when not configured."""
    from chiltepin.federation.preflight import client_versions

    current = lifecycle.status(endpoints_root(config_dir), name)
    if not current.configured:
        raise ChiltepinError(
            f"endpoint {name!r} is not configured;"
            f" run: chiltepin endpoint configure {name} --site SITE"
        )
    versions: dict[str, object] = {"endpoint": client_versions().as_dict()}
    if workers and current.endpoint_id:
        versions["workers"] = _worker_versions(current.endpoint_id)
    if as_json:
        click.echo(json.dumps({**current.as_dict(), "versions": versions}, indent=2))
    else:
        _print_status(current)
        for where, seen in versions.items():
            click.echo(f"  {where + ':':12} {json.dumps(seen)}")
    sys.exit(0 if current.running else 3)


def _worker_versions(endpoint_id: str) -> list[dict[str, object]]:
    """Per manager, what the endpoint's engines report (empty when the service does not
    relay it: no Globus example shows it does)."""
    from globus_compute_sdk import Client

    from chiltepin import auth
    from chiltepin.federation.preflight import managers_of_status

    reply = Client(app=auth.globus_app()).get_endpoint_status(endpoint_id)
    return managers_of_status(reply.get("details") or {})


@command.command("allow")
@click.argument("name")
@click.argument("functions", nargs=-1, required=True, metavar="MODULE:FUNCTION...")
@_config_dir_option
def allow(name: str, functions: tuple[str, ...], config_dir: Path | None) -> None:
    """Register FUNCTIONS and allow them on endpoint NAME: prints each id and adds it to the
    endpoint's allow-list (restart the endpoint to apply)."""
    from globus_compute_sdk import Client

    from chiltepin import auth

    directory = endpoints_root(config_dir) / name
    entries = allow_functions(directory, Client(app=auth.globus_app()), list(functions))
    for entry in entries:
        click.echo(entry.line())
    click.echo(f"Allowed on {name!r}; apply with: chiltepin endpoint restart {name}", err=True)


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_config_dir_option
def list_(as_json: bool, config_dir: Path | None) -> None:
    """List configured endpoints with their site, state and id."""
    found = lifecycle.list_endpoints(endpoints_root(config_dir))
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in found], indent=2))
        return
    if not found:
        click.echo("No endpoints configured. Create one with: chiltepin endpoint configure")
        return
    for current in found:
        state = "running" if current.running else "stopped"
        click.echo(
            f"{current.name:20} {state:8} {current.site or '-':12} {current.endpoint_id or '-'}"
        )


@command.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_config_dir_option
def delete(name: str, yes: bool, config_dir: Path | None) -> None:
    """Stop endpoint NAME and delete it, locally and from the Globus Compute service."""
    if not yes:
        click.confirm(f"Delete endpoint {name!r} and its configuration?", abort=True)
    lifecycle.delete(endpoints_root(config_dir), name)
    click.echo(f"Deleted endpoint {name!r}.")
