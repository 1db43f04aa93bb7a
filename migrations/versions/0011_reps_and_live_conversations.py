"""Reps and live conversations: reps, who speaks in each conversation and its history, per-conversation message
sequence numbers (backfilled), rep keys, and leads' owner and notes.

Conversations already waiting for a person become `queued`, waiting since their last change.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("teams", DOCUMENT, nullable=False),
        sa.Column("languages", DOCUMENT, nullable=False),
        sa.Column("categories", DOCUMENT, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=8), nullable=False),
        sa.Column("seen_at", MOMENT, nullable=True),
        sa.Column("last_assigned_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reps")),
        sa.UniqueConstraint("email", name=op.f("uq_reps_email")),
    )
    op.create_table(
        "handoff_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("rep_id", sa.String(length=32), nullable=True),
        sa.Column("changed_by", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("changed_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoff_changes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_changes")),
    )
    with op.batch_alter_table("handoff_changes", schema=None) as batch_op:
        batch_op.create_index("ix_handoff_changes_conversation_id", ["conversation_id", "id"], unique=False)

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rep_id", sa.String(length=32), nullable=True))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handoff_state", sa.String(length=16), server_default="bot", nullable=False))
        batch_op.add_column(sa.Column("waiting_since", MOMENT, nullable=True))
        batch_op.add_column(sa.Column("rep_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("offered_at", MOMENT, nullable=True))
        batch_op.add_column(sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("handoff_summary", DOCUMENT, nullable=True))
        batch_op.create_index(batch_op.f("ix_conversations_rep_id"), ["rep_id"], unique=False)

    with op.batch_alter_table("lead_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("changes", DOCUMENT, nullable=True))

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_leads_owner"), ["owner"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rep_id", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE messages SET seq = (SELECT count(*) FROM messages AS earlier "
        "WHERE earlier.conversation_id = messages.conversation_id AND earlier.id <= messages.id)"
    )
    op.execute(
        "UPDATE conversations SET last_seq = "
        "(SELECT coalesce(max(seq), 0) FROM messages WHERE messages.conversation_id = conversations.id)"
    )
    op.execute(
        "UPDATE conversations SET handoff_state = 'queued', waiting_since = updated_at WHERE status = 'awaiting_human'"
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_messages_conversation_id"), ["conversation_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_conversation_id"), type_="unique")
        batch_op.drop_column("rep_id")
        batch_op.drop_column("seq")

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_owner"))
        batch_op.drop_column("notes")
        batch_op.drop_column("owner")

    with op.batch_alter_table("lead_changes", schema=None) as batch_op:
        batch_op.drop_column("changes")
        batch_op.drop_column("changed_by")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_rep_id"))
        batch_op.drop_column("handoff_summary")
        batch_op.drop_column("last_seq")
        batch_op.drop_column("offered_at")
        batch_op.drop_column("rep_id")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("handoff_state")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("rep_id")

    with op.batch_alter_table("handoff_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_changes_conversation_id")

    op.drop_table("handoff_changes")
    op.drop_table("reps")
