"""`salesbot keys`: create, list and revoke API keys, and give site keys a new identity secret."""

from __future__ import annotations

import click
from tabulate import tabulate

from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.cli.context import Command, services, when

ROLE_HELP = "site: browsers; server: store back end; rep: sales reps; marketer: offers and KPIs; admin: everything"


@click.group(cls=Command)
def keys_group() -> None:
    """Create, list and revoke API keys."""


@keys_group.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help=ROLE_HELP)
@click.option("--name", default=None, help="What the key is for, e.g. 'shop front end'.")
@click.pass_context
def keys_create(ctx: click.Context, role: str, name: str | None) -> None:
    """Create an API key and print it once: it is stored hashed and cannot be shown again."""
    key, secret = keys.create(uow=services(ctx).uow(), role=role, name=name or f"{role} key")
    click.echo(f"created {key.role} key {key.id} ({key.name}); store it now, it is not shown again:", err=True)
    click.echo(secret)
    if key.identity_secret:
        click.echo("identity secret, for your server only (it signs customer ids for X-Customer-Hash):", err=True)
        click.echo(key.identity_secret)


@keys_group.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List API keys (never their secrets)."""
    rows = [
        (k.id, k.name, k.role, f"{k.prefix}…", when(k.created_at), when(k.last_used_at), when(k.revoked_at))
        for k in keys.get_all(uow=services(ctx).uow())
    ]
    headers = ("id", "name", "role", "starts with", "created", "last used", "revoked")
    click.echo(tabulate(rows, headers=headers) if rows else "no keys yet: salesbot keys create --role admin")


@keys_group.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by its id (see `salesbot keys list`); requests with it get 401 from now on."""
    key = keys.revoke(uow=services(ctx).uow(), key_id=key_id)
    click.echo(f"revoked {key.id} ({key.name})")


@keys_group.command("identity-secret")
@click.argument("key_id")
@click.pass_context
def keys_identity_secret(ctx: click.Context, key_id: str) -> None:
    """Give a site key a new identity secret and print it once; customer hashes made with the old one stop working."""
    secret = keys.new_identity_secret(uow=services(ctx).uow(), key_id=key_id)
    click.echo(f"new identity secret for {key_id}, for your server only:", err=True)
    click.echo(secret)
