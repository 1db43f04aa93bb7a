"""Offers and experiments: offers with their change history, codes, per-customer claims, redemptions, exposures,
experiments and each experiment's units, purchases counted for them, and the offers each conversation showed.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("layer", sa.String(length=64), nullable=True),
        sa.Column("layer_start", sa.Float(), nullable=False),
        sa.Column("layer_end", sa.Float(), nullable=False),
        sa.Column("traffic", sa.Float(), nullable=False),
        sa.Column("arms", DOCUMENT, nullable=False),
        sa.Column("primary_metric", DOCUMENT, nullable=False),
        sa.Column("guardrails", DOCUMENT, nullable=False),
        sa.Column("minimum_effect", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stopped_arms", DOCUMENT, nullable=False),
        sa.Column("winner", sa.String(length=64), nullable=True),
        sa.Column("started_at", MOMENT, nullable=True),
        sa.Column("stopped_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_table(
        "exposures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("unit_key", sa.String(length=140), nullable=False),
        sa.Column("offer_id", sa.String(length=32), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("experiment_id", sa.String(length=32), nullable=True),
        sa.Column("arm", sa.String(length=64), nullable=True),
        sa.Column("shown_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposures")),
    )
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.create_index("ix_exposures_conversation_id", ["conversation_id"], unique=False)

    op.create_table(
        "offer_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changed_by", sa.String(length=32), nullable=True),
        sa.Column("before", DOCUMENT, nullable=True),
        sa.Column("after", DOCUMENT, nullable=True),
        sa.Column("changed_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_changes")),
    )
    with op.batch_alter_table("offer_changes", schema=None) as batch_op:
        batch_op.create_index("ix_offer_changes_subject", ["subject_id", "id"], unique=False)

    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("unique_codes", sa.Boolean(), nullable=False),
        sa.Column("starts_at", MOMENT, nullable=True),
        sa.Column("ends_at", MOMENT, nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("stackable", sa.Boolean(), nullable=False),
        sa.Column("eligibility", DOCUMENT, nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("max_per_customer", sa.Integer(), nullable=True),
        sa.Column("max_discount_total", sa.Float(), nullable=True),
        sa.Column("redeemed", sa.Integer(), nullable=False),
        sa.Column("discount_spent", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_table(
        "experiment_units",
        sa.Column("experiment_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("exposures", sa.Integer(), nullable=False),
        sa.Column("first_exposed_at", MOMENT, nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("discount", sa.Float(), nullable=False),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_units_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "unit_id", name=op.f("pk_experiment_units")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("experiment_units", schema=None) as batch_op:
        batch_op.create_index("ix_experiment_units_customer_id", ["customer_id"], unique=False)

    op.create_table(
        "offer_codes",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=32), nullable=False),
        sa.Column("unit_key", sa.String(length=140), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("used_at", MOMENT, nullable=True),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"], name=op.f("fk_offer_codes_offer_id_offers")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_offer_codes")),
        sa.UniqueConstraint("offer_id", "unit_key", name=op.f("uq_offer_codes_offer_id")),
    )
    op.create_table(
        "offer_customer_claims",
        sa.Column("offer_id", sa.String(length=32), nullable=False),
        sa.Column("unit_key", sa.String(length=140), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"], name=op.f("fk_offer_customer_claims_offer_id_offers")),
        sa.PrimaryKeyConstraint("offer_id", "unit_key", name=op.f("pk_offer_customer_claims")),
    )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("offer_id", sa.String(length=32), nullable=False),
        sa.Column("unit_key", sa.String(length=140), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("order_value", sa.Float(), nullable=True),
        sa.Column("discount", sa.Float(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"], name=op.f("fk_redemptions_offer_id_offers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redemptions_offer_id"), ["offer_id"], unique=False)

    with op.batch_alter_table("conversations") as table:
        table.add_column(sa.Column("offers_shown", DOCUMENT, nullable=True))
    op.create_table(
        "counted_purchases",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("counted_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_counted_purchases")),
    )


def downgrade() -> None:
    op.drop_table("counted_purchases")
    with op.batch_alter_table("conversations") as table:
        table.drop_column("offers_shown")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redemptions_offer_id"))

    op.drop_table("redemptions")
    op.drop_table("offer_customer_claims")
    op.drop_table("offer_codes")
    with op.batch_alter_table("experiment_units", schema=None) as batch_op:
        batch_op.drop_index("ix_experiment_units_customer_id")

    op.drop_table("experiment_units")
    op.drop_table("offers")
    with op.batch_alter_table("offer_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_changes_subject")

    op.drop_table("offer_changes")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_index("ix_exposures_conversation_id")

    op.drop_table("exposures")
    op.drop_table("experiments")
