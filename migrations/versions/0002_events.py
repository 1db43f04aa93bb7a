"""Events: what customers and visitors did with items.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("visitor_id", ID, nullable=True),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recommendation_id", sa.String(64), nullable=True),
        sa.CheckConstraint("customer_id IS NOT NULL OR visitor_id IS NOT NULL", name=op.f("ck_events_has_actor")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index("ix_events_customer_id_occurred_at", "events", ["customer_id", "occurred_at"])
    op.create_index("ix_events_item_id_type", "events", ["item_id", "type"])


def downgrade() -> None:
    op.drop_table("events")
