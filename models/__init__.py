"""The persistent data model: SQLAlchemy 2.0 declarative tables, nothing else."""

from models.access import ApiKey
from models.base import Base
from models.catalog import Customer, Event, Item
from models.recommender import ModelVersion

__all__ = ["ApiKey", "Base", "Customer", "Event", "Item", "ModelVersion"]
