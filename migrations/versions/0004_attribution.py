"""Attribution: how often each model version was served, and an index on events that came from it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FROM_RECOMMENDATION = sa.text("recommendation_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as table:
        table.add_column(sa.Column("served", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index(
        "ix_events_recommendation_id",
        "events",
        ["recommendation_id"],
        sqlite_where=FROM_RECOMMENDATION,
        postgresql_where=FROM_RECOMMENDATION,
    )


def downgrade() -> None:
    op.drop_index("ix_events_recommendation_id", table_name="events")
    with op.batch_alter_table("model_versions") as table:
        table.drop_column("served")
