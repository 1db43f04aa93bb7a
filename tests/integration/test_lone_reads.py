"""A shopper's hot-path read (their history) survives the database dropping its pooled connection: the read is
tried once more on a new connection instead of failing the request, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, text

from models import Event
from salesbot.bootstrap import bootstrap
from salesbot.catalog import events, items
from salesbot.config import Settings
from salesbot.database import _reader

HISTORY = select(Event.item_id).where(Event.customer_id == "c-1")


def test_a_lone_read_outlives_a_connection_the_server_closed(database_url):
    shop = bootstrap(Settings(database_url=database_url))
    try:
        items.put(uow=shop.uow(), item_id="sku-1", title="Kettle", category="tea", price="20", currency="EUR")
        rows = [{"customer_id": "c-1", "item_id": "sku-1", "type": "view", "occurred_at": "2025-05-01T10:00:00Z"}]
        report = events.record(uow=shop.uow(), events=rows, policy=shop.event_policy)
        assert not getattr(report, "rejected", None), report
        assert [row.item_id for row in shop.uow().read(HISTORY, {})] == ["sku-1"]
        reader = _reader(shop.uow()._session_factory.kw["bind"])
        if reader.dialect.name == "postgresql":  # end the pooled connection's server side, as a restart would
            with shop.uow() as uow:
                uow.session.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                ))  # fmt: skip
                uow.commit()
        assert [row.item_id for row in shop.uow().read(HISTORY, {})] == ["sku-1"]
    finally:
        shop.close()
