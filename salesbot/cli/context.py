"""What every `salesbot` command shares: clear one-line errors, the services built once, and times shown short."""

from __future__ import annotations

import click

from salesbot.bootstrap import Salesbot, bootstrap
from salesbot.config import Settings
from salesbot.errors import SalesbotError


class Command(click.Group):
    """Shows salesbot's errors as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except SalesbotError as exc:
            raise click.ClickException(exc.detail) from exc


def services(ctx: click.Context) -> Salesbot:
    if ctx.obj is None:
        ctx.obj = bootstrap(Settings.from_env())
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj


def when(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
