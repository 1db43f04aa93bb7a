"""The persistent data model: SQLAlchemy 2.0 declarative tables, nothing else."""

from models.access import ApiKey
from models.base import Base
from models.catalog import Customer, Event, Item
from models.conversation import Conversation, Faq, Lead, LeadChange, Message, QualificationSchema
from models.recommender import ModelVersion

__all__ = [
    "ApiKey",
    "Base",
    "Conversation",
    "Customer",
    "Event",
    "Faq",
    "Item",
    "Lead",
    "LeadChange",
    "Message",
    "ModelVersion",
    "QualificationSchema",
]
