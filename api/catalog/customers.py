"""/v1/customers: the store's customers and what they did."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import requires
from api.catalog.schemas import CustomerBatchIn, CustomerIn, CustomerOut, EventPageOut, PageQuery
from api.schemas import BatchReport
from api.wiring import uow
from salesbot.access.roles import Role
from salesbot.catalog import customers, events

blp = Blueprint("customers", __name__, url_prefix="/v1/customers", description="The store's customers")


@blp.route("/batch")
class CustomerBatch(MethodView):
    @requires(Role.SERVER)
    @blp.arguments(CustomerBatchIn)
    @blp.response(200, BatchReport)
    def post(self, batch):
        """Create or replace up to 1,000 customers; each bad row is reported by its index, the good ones kept"""
        return customers.rows.put_many(uow=uow(), rows=batch["customers"])


@blp.route("/<customer_id>")
class Customer(MethodView):
    @requires(Role.SERVER)
    @blp.response(200, CustomerOut)
    def get(self, customer_id):
        """Get one customer"""
        return customers.get(uow=uow(), customer_id=customer_id)

    @requires(Role.SERVER)
    @blp.arguments(CustomerIn)
    @blp.response(200, CustomerOut)
    def put(self, customer, customer_id):
        """Create a customer or replace all of their fields"""
        return customers.put(uow=uow(), customer_id=customer_id, **customer)

    @requires(Role.SERVER)
    @blp.response(204)
    def delete(self, customer_id):
        """Delete a customer and their events"""
        customers.delete(uow=uow(), customer_id=customer_id)


@blp.route("/<customer_id>/events")
class CustomerEvents(MethodView):
    @requires(Role.SERVER)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, EventPageOut)
    def get(self, query, customer_id):
        """A customer's events, newest first, a page at a time"""
        return events.get_page_for_customer(uow=uow(), customer_id=customer_id, **query)
