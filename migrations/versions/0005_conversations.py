"""Conversations: qualification schemas, conversations and their messages, leads and their changes, FAQs.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EXTERNAL_ID = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "qualification_schemas",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fields", DOCUMENT, nullable=False),
        sa.Column("thresholds", DOCUMENT, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_qualification_schemas")),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("customer_id", EXTERNAL_ID, nullable=True),
        sa.Column("visitor_id", EXTERNAL_ID, nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("page", DOCUMENT, nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("handoff_reason", sa.String(200), nullable=True),
        sa.Column("asked", sa.String(64), nullable=True),
        sa.Column("misunderstood", sa.SmallInteger(), nullable=False),
        sa.Column("tokens_used", sa.Integer(), nullable=False),
        sa.Column("csat", sa.SmallInteger(), nullable=True),
        sa.Column("csat_comment", sa.Text(), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("closed_at", MOMENT, nullable=True),
        sa.ForeignKeyConstraint(
            ["schema_version"],
            ["qualification_schemas.version"],
            name=op.f("fk_conversations_schema_version_qualification_schemas"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index("ix_conversations_customer_id", "conversations", ["customer_id"])
    op.create_index("ix_conversations_status_updated_at", "conversations", ["status", "updated_at"])
    op.create_table(
        "messages",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", DOCUMENT, nullable=False),
        sa.Column("brain", sa.String(16), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_conversation_id_id", "messages", ["conversation_id", "id"])
    op.create_table(
        "leads",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("customer_id", EXTERNAL_ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("score_breakdown", DOCUMENT, nullable=False),
        sa.Column("fields", DOCUMENT, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_leads_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_leads_conversation_id")),
    )
    op.create_index("ix_leads_status_updated_at", "leads", ["status", "updated_at"])
    op.create_table(
        "lead_changes",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("changed_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_changes_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_changes")),
    )
    op.create_index("ix_lead_changes_lead_id", "lead_changes", ["lead_id"])
    op.create_table(
        "faqs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("tags", DOCUMENT, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faqs")),
    )


def downgrade() -> None:
    for table in ("faqs", "lead_changes", "leads", "messages", "conversations", "qualification_schemas"):
        op.drop_table(table)
