"""The persistent data model: SQLAlchemy 2.0 declarative tables, nothing else."""

from models.access import ApiKey
from models.analytics import RecommendationCount
from models.base import Base
from models.catalog import Customer, Event, Item
from models.conversation import Conversation, Faq, Message, QualificationSchema
from models.feedback import MessageFeedback
from models.inbox import HandoffChange, Rep
from models.leads import Lead, LeadChange
from models.offers import (
    CountedPurchase,
    CustomerClaims,
    Experiment,
    ExperimentUnit,
    Exposure,
    Offer,
    OfferChange,
    OfferCode,
    Redemption,
)
from models.recommender import ModelVersion
from models.upkeep import JobLease, JobRun
from models.webhooks import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from models.widget import Trigger

__all__ = [
    "ApiKey",
    "Base",
    "Conversation",
    "CountedPurchase",
    "Customer",
    "CustomerClaims",
    "Delivery",
    "DeliveryAttempt",
    "Event",
    "Experiment",
    "ExperimentUnit",
    "Exposure",
    "Faq",
    "HandoffChange",
    "Item",
    "JobLease",
    "JobRun",
    "Lead",
    "LeadChange",
    "Message",
    "MessageFeedback",
    "ModelVersion",
    "Offer",
    "OfferChange",
    "OfferCode",
    "OutboxEvent",
    "QualificationSchema",
    "RecommendationCount",
    "Redemption",
    "Rep",
    "Trigger",
    "WebhookEndpoint",
]
