"""KPIs: recommendation lists answered per day, model version and strategy; indexes for reading conversations
started in a window and purchases by time.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendation_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("served", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "model_version", "strategy", name=op.f("pk_recommendation_counts")),
    )
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index(
        "ix_events_purchases_occurred_at",
        "events",
        ["occurred_at"],
        sqlite_where=sa.text("type = 'purchase'"),
        postgresql_where=sa.text("type = 'purchase'"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_purchases_occurred_at", table_name="events")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_table("recommendation_counts")
