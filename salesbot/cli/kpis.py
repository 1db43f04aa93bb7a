"""`salesbot kpis`: the KPIs of a window as a table in the terminal, the figures `GET /v1/kpis` answers."""

from __future__ import annotations

from datetime import datetime

import click
from tabulate import tabulate

from salesbot.analytics import kpis
from salesbot.analytics.figures import shown
from salesbot.analytics.window import GRANULARITIES, Window
from salesbot.cli.context import services


@click.command("kpis")
@click.option("--from", "start", type=click.DateTime(), default=None, help="Start (UTC); default 30 days before --to.")
@click.option("--to", "end", type=click.DateTime(), default=None, help="End, excluded (UTC); default now.")
@click.option("--granularity", type=click.Choice(GRANULARITIES), default="day", show_default=True)
@click.option("--purchase-days", default=14, show_default=True, type=click.IntRange(1, 365),
              help="How long after a conversation a purchase is credited to it.")  # fmt: skip
@click.pass_context
def kpis_command(
    ctx: click.Context, start: datetime | None, end: datetime | None, granularity: str, purchase_days: int
) -> None:
    """Print every KPI of the window: its figure, numerator and denominator."""
    app = services(ctx)
    window = Window.of(start=start, end=end, granularity=granularity)
    settings = app.settings
    prices = kpis.Prices(prompt=settings.llm_price_prompt, completion=settings.llm_price_completion)
    report = kpis.report(uow=app.uow(), window=window, purchase_days=purchase_days, prices=prices)
    click.echo(f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC")
    rows = [
        (figure["group"], figure["title"], shown(figure["value"], figure["unit"]),
         _plain(figure["numerator_value"]), _plain(figure["denominator_value"]))
        for figure in report["kpis"]
    ]  # fmt: skip
    click.echo(tabulate(rows, headers=("", "KPI", "value", "numerator", "denominator"), tablefmt="simple"))


def _plain(value: float | None) -> str:
    return "" if value is None else f"{value:,.6g}"
