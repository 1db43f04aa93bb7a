"""File imports on SQLite and PostgreSQL: every format, mappings, reject files, idempotent re-runs,
and an import that dies midway leaving the database consistent."""

import json

import pandas as pd
import pytest

from salesbot.bootstrap import bootstrap
from salesbot.catalog import imports
from salesbot.config import Settings
from salesbot.errors import InvalidInput

ITEMS = pd.DataFrame(
    {
        "sku": ["A-1", "A-2", "A-3", "bad id", "A-5"],
        "name": ["Mug", "Teapot", "Spoon", "Fork", None],
        "cost": ["4.50", "19.00", "-1", "2.00", "3.00"],
        "curr": ["GBP"] * 5,
        "colour": ["red", "blue", None, "green", "white"],
    }
)
ITEM_MAP = imports.Mapping.parse(("sku=item_id,name=title,cost=price,curr=currency,colour=attributes.color",))


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url))
    yield services
    services.close()


def write(frame: pd.DataFrame, path, fmt: str):
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    else:
        frame.to_parquet(path)
    return path


def run(shop, kind, path, mapping, tmp_path, **options):
    rejects = imports.RejectFile(tmp_path / f"{kind}.rejects.csv")
    report = imports.import_file(
        uow=shop.uow, kind=kind, path=path, mapping=mapping, policy=shop.event_policy, rejects=rejects, **options
    )
    return report, rejects


def table(shop, sql):
    with shop.engine.connect() as connection:
        return connection.exec_driver_sql(sql).all()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_format_imports_items_once(shop, tmp_path, fmt):
    path = write(ITEMS, tmp_path / f"items.{fmt}", fmt)
    report, _rejects = run(shop, "items", path, ITEM_MAP, tmp_path)
    assert (report.created, report.rejected_count) == (2, 3)
    rows = table(shop, "SELECT item_id, title, currency, attributes FROM items ORDER BY item_id")
    assert [(r[0], r[1], r[2]) for r in rows] == [("A-1", "Mug", "GBP"), ("A-2", "Teapot", "GBP")]
    attributes = json.loads(rows[0][3]) if isinstance(rows[0][3], str) else rows[0][3]
    assert attributes == {"color": "red"}
    again, _ = run(shop, "items", path, ITEM_MAP, tmp_path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_the_reject_file_names_row_and_reason_beside_the_data(shop, tmp_path):
    path = write(ITEMS, tmp_path / "items.csv", "csv")
    _report, rejects = run(shop, "items", path, ITEM_MAP, tmp_path)
    bad = pd.read_csv(rejects.path)
    assert list(bad.columns[:3]) == ["row", "reason", "sku"]
    assert bad.set_index("row").reason.to_dict() == {
        3: "price: must be a number greater than or equal to 0",
        4: "item_id must be 1-128 characters: letters, digits and . _ : @ -, starting with a letter or digit (no /)",
        5: "title is required",
    }


def purchases(rows: int) -> pd.DataFrame:
    """A UCI Online Retail-shaped export: invoice lines, some cancelled, some postage, some by guests."""
    frame = pd.DataFrame(
        {
            "InvoiceNo": [f"{536000 + n // 3}" for n in range(rows)],
            "StockCode": [f"8500{n % 4}" for n in range(rows)],
            "Description": ["WHITE MUG"] * rows,
            "Quantity": [1 + n % 3 for n in range(rows)],
            "InvoiceDate": pd.date_range("2011-01-01", periods=rows, freq="h"),
            "UnitPrice": [2.55] * rows,
            "CustomerID": [17850.0 + n % 5 for n in range(rows)],
            "Country": ["United Kingdom"] * rows,
        }
    )
    frame.loc[1, "InvoiceNo"] = "C536000"
    frame.loc[1, "Quantity"] = -1
    frame.loc[2, "StockCode"] = "POST"
    frame.loc[4, "CustomerID"] = None
    return frame


def test_the_uci_preset_imports_purchases_and_rejects_with_reasons(shop, tmp_path):
    path = write(purchases(30), tmp_path / "retail.parquet", "parquet")
    mapping = imports.Mapping.parse(("uci-online-retail",))
    items, _ = run(shop, "items", path, mapping, tmp_path)
    assert items.created == 4
    customers, _ = run(shop, "customers", path, mapping, tmp_path)
    assert customers.created == 5
    assert table(shop, "SELECT DISTINCT country FROM customers") == [("GB",)]
    events, _ = run(shop, "events", path, mapping, tmp_path)
    assert (events.created, events.rejected_count) == (27, 3)
    reasons = {rejection.index: rejection.reason for rejection in events.rejected}
    assert reasons[2].startswith("cancellation")
    assert reasons[3].startswith("not a product")
    assert reasons[5] == "needs a customer_id or a visitor_id"
    assert table(shop, "SELECT DISTINCT type, customer_id FROM events WHERE customer_id = '17850'") == [
        ("purchase", "17850")
    ]


def test_identical_lines_are_all_kept_and_a_rerun_adds_none_whatever_the_chunks(shop, tmp_path):
    lines = pd.concat([purchases(12)] * 2).sort_values("InvoiceNo", kind="stable")  # every line twice, adjacent
    path = write(lines, tmp_path / "retail.parquet", "parquet")
    mapping = imports.Mapping.parse(("uci-online-retail",))
    run(shop, "items", path, mapping, tmp_path)
    first, _ = run(shop, "events", path, mapping, tmp_path, chunk_rows=5)
    assert first.created == 2 * 9
    again, _ = run(shop, "events", path, mapping, tmp_path, chunk_rows=7)
    assert (again.created, again.duplicate) == (0, 18)


def test_an_import_that_dies_midway_keeps_whole_chunks_and_finishes_on_rerun(shop, tmp_path):
    events = pd.DataFrame(
        {
            "customer_id": [f"c-{n % 7}" for n in range(100)],
            "item_id": ["A-1"] * 100,
            "type": ["view"] * 100,
            "occurred_at": pd.date_range("2024-01-01", periods=100, freq="min", tz="UTC"),
        }
    )
    run(shop, "items", write(ITEMS, tmp_path / "items.csv", "csv"), ITEM_MAP, tmp_path)
    path = write(events, tmp_path / "events.jsonl", "jsonl")

    def crash_after_two_chunks(rows, seen=[]):  # noqa: B006 - counts calls across the import
        seen.append(rows)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(shop, "events", path, imports.Mapping(), tmp_path, chunk_rows=30, on_chunk=crash_after_two_chunks)
    assert table(shop, "SELECT count(*) FROM events") == [(60,)]
    finished, _ = run(shop, "events", path, imports.Mapping(), tmp_path, chunk_rows=30)
    assert (finished.created, finished.duplicate) == (40, 60)
    assert table(shop, "SELECT count(*) FROM events") == [(100,)]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [("sku", "should look like name=value"), ("missing-file.json", "cannot read"), ("=title", "name=value")],
)
def test_bad_mappings_are_named(spec, problem):
    with pytest.raises(InvalidInput) as caught:
        imports.Mapping.parse((spec,))
    assert problem in caught.value.detail


def test_an_unknown_format_is_named(tmp_path):
    with pytest.raises(InvalidInput, match="cannot tell the format"):
        imports.file_format(tmp_path / "items.xlsx")
