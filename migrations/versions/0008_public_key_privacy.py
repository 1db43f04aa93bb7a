"""Public keys and privacy: each site key's identity secret, each conversation's token (stored hashed).

Conversations started before this revision have no token: only server, rep and admin keys may touch them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as table:
        table.add_column(sa.Column("identity_secret", sa.String(64), nullable=True))
    with op.batch_alter_table("conversations") as table:
        table.add_column(sa.Column("token_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as table:
        table.drop_column("token_hash")
    with op.batch_alter_table("api_keys") as table:
        table.drop_column("identity_secret")
