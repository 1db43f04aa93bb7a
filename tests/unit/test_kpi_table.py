"""The README's KPI table says what the code computes: one row per KPI, word for word its definition."""

from pathlib import Path

from salesbot.analytics.kpis import KPIS


def test_the_readme_lists_every_kpi_as_defined():
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = set(text.splitlines())
    expected = [f"| `{k.name}` | {k.group} | {k.definition} | {k.numerator} | {k.denominator or '-'} |" for k in KPIS]
    missing = [row for row in expected if row not in rows]
    assert missing == [], "the README's KPI table is missing or has an old definition of these"
