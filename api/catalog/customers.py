"""/v1/customers: the store's customers."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import requires
from api.catalog.schemas import CustomerIn, CustomerOut
from api.wiring import uow
from salesbot.access.roles import Role
from salesbot.catalog import customers

blp = Blueprint("customers", __name__, url_prefix="/v1/customers", description="The store's customers")


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
        """Delete a customer"""
        customers.delete(uow=uow(), customer_id=customer_id)
