"""The persistent data model: SQLAlchemy 2.0 declarative tables, nothing else."""

from models.access import ApiKey
from models.base import Base
from models.catalog import Customer, Event, Item
from models.conversation import Conversation, Faq, Lead, LeadChange, Message, QualificationSchema
from models.recommender import ModelVersion
from models.webhooks import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "Conversation",
    "Customer",
    "Delivery",
    "DeliveryAttempt",
    "Event",
    "Faq",
    "Item",
    "Lead",
    "LeadChange",
    "Message",
    "ModelVersion",
    "OutboxEvent",
    "QualificationSchema",
    "WebhookEndpoint",
]
