"""Counts kept for KPIs that no other row records: how many recommendation lists each model version and strategy
answered, per day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class RecommendationCount(Base):
    """Recommendation lists answered on one day by one model version (`popular` without a model) and strategy."""

    __tablename__ = "recommendation_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(16), primary_key=True)
    served: Mapped[int] = mapped_column(BigInteger, default=0)
