"""/v1/items: the store's products."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import requires
from api.catalog.schemas import ItemBatchIn, ItemIn, ItemOut, ItemPageOut, ItemPageQuery, ItemWithCountsOut
from api.schemas import BatchReport
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.catalog import items

blp = Blueprint("items", __name__, url_prefix="/v1/items", description="Products the store sells")


@blp.route("")
class Items(MethodView):
    @requires(Role.SERVER)
    @blp.arguments(ItemPageQuery, location="query")
    @blp.response(200, ItemPageOut)
    def get(self, query):
        """List items by id, a page at a time"""
        return items.get_page(uow=uow(), **query)


@blp.route("/batch")
class ItemBatch(MethodView):
    @requires(Role.SERVER)
    @blp.arguments(ItemBatchIn)
    @blp.response(200, BatchReport)
    def post(self, batch):
        """Create or replace up to 1,000 items; each bad row is reported by its index, the good ones are kept"""
        return items.rows.put_many(uow=uow(), rows=batch["items"])


@blp.route("/<item_id>")
class Item(MethodView):
    @requires(Role.SERVER)
    @blp.response(200, ItemWithCountsOut)
    def get(self, item_id):
        """Get one item, with how many events of each type it has had"""
        return items.describe(uow=uow(), item_id=item_id, event_types=salesbot().settings.event_weights)

    @requires(Role.SERVER)
    @blp.arguments(ItemIn)
    @blp.response(200, ItemOut)
    def put(self, item, item_id):
        """Create an item or replace all of its fields"""
        return items.put(uow=uow(), item_id=item_id, **item)

    @requires(Role.SERVER)
    @blp.response(204)
    def delete(self, item_id):
        """Delete an item"""
        items.delete(uow=uow(), item_id=item_id)
