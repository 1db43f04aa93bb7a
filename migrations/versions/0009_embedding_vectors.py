"""Retrieval by meaning: each FAQ's and catalog item's embedding, per model, computed once when the text changes.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_vectors",
        sa.Column("faq_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(["faq_id"], ["faqs.id"], name=op.f("fk_faq_vectors_faq_id_faqs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("faq_id", "model", name=op.f("pk_faq_vectors")),
    )
    op.create_table(
        "item_vectors",
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.item_id"], name=op.f("fk_item_vectors_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", "model", name=op.f("pk_item_vectors")),
    )


def downgrade() -> None:
    op.drop_table("item_vectors")
    op.drop_table("faq_vectors")
