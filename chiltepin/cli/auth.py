"""``chiltepin login | logout | whoami``."""

from __future__ import annotations

import json

import click

from chiltepin import auth


@click.command("login")
@click.option(
    "--collection",
    "collections",
    multiple=True,
    metavar="UUID",
    help="Also consent to data_access on this mapped Transfer collection; repeatable.",
)
@click.option("--force", is_flag=True, help="Log in again even if tokens are valid.")
def login(collections: tuple[str, ...], force: bool) -> None:
    """Log in to Globus for Compute and Transfer.

    People: run once in a terminal and follow the link. CI and pipelines: export
    GLOBUS_COMPUTE_CLIENT_ID and GLOBUS_COMPUTE_CLIENT_SECRET; no prompt is ever shown.
    """
    app = auth.login(collections, force=force)
    who = auth.whoami(app)
    kind = "client identity" if who.client_credentials else "user"
    click.echo(f"Logged in as {who.username} ({kind} {who.id})")


@click.command("logout")
def logout() -> None:
    """Revoke and delete the stored Globus tokens."""
    auth.logout()
    click.echo("Logged out.")


@click.command("whoami")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def whoami(as_json: bool) -> None:
    """Show the identity chiltepin acts as (never a token)."""
    who = auth.whoami()
    if as_json:
        click.echo(json.dumps(who.__dict__))
    else:
        kind = "client identity" if who.client_credentials else "user"
        click.echo(f"{who.username} ({kind} {who.id})")


commands = [login, logout, whoami]
