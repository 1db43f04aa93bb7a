"""What experiments learn from: offers shown (exposures), and what each unit did after (qualified, handed off,
rated, bought), kept per unit as it happens so that results are one grouped read."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.offers import Experiment, ExperimentUnit, Exposure
from salesbot.offers.decisions import Choice, Placement, Unit


def record(
    session: Session, *, conversation_id: str, unit: Unit, choice: Choice, code: str | None, now: datetime
) -> None:
    """The offer (or a control arm's nothing) was shown now: one exposure per experiment, or one for the offer."""
    offer_id = choice.offer.id if choice.offer else None
    testing = [p for p in choice.placements if p.offers_arm]
    for placement in testing or [None]:
        session.add(
            Exposure(conversation_id=conversation_id, unit_key=unit.key, offer_id=offer_id, code=code, shown_at=now,
                     experiment_id=placement.experiment_id if placement else None,
                     arm=placement.arm if placement else None)
        )  # fmt: skip
    for placement in testing:
        enter(session, unit=unit, placement=placement, now=now)


def enter(session: Session, *, unit: Unit, placement: Placement, now: datetime) -> None:
    """The unit is in the experiment from its first exposure; later exposures only count (one upsert)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(ExperimentUnit).values(
        experiment_id=placement.experiment_id, unit_id=placement.unit_id, arm=placement.arm,
        customer_id=unit.customer_id, exposures=1, first_exposed_at=now, qualified=False, handed_off=False,
        purchases=0, revenue=0.0, discount=0.0,
    )  # fmt: skip
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["experiment_id", "unit_id"], set_={"exposures": ExperimentUnit.exposures + 1}
        )
    )


def _units(unit: Unit):  # type: ignore[no-untyped-def]
    ids = [i for i in (unit.visitor_id, unit.customer_id) if i]
    running = select(Experiment.id).where(Experiment.status == "running")
    return (ExperimentUnit.unit_id.in_(ids), ExperimentUnit.experiment_id.in_(running))


def became(session: Session, *, unit: Unit, qualified: bool = False, handed_off: bool = False) -> None:
    """The unit's lead became qualified, or was handed to a person, in a running experiment it is in."""
    values = {"qualified": True} if qualified else {}
    values |= {"handed_off": True} if handed_off else {}
    if values and _any(session):
        session.execute(update(ExperimentUnit).where(*_units(unit)).values(**values)
                        .execution_options(synchronize_session=False))  # fmt: skip


def rated(session: Session, *, unit: Unit, csat: int) -> None:
    if _any(session):
        session.execute(update(ExperimentUnit).where(*_units(unit)).values(csat=csat)
                        .execution_options(synchronize_session=False))  # fmt: skip


def bought(session: Session, *, customer_id: str | None, visitor_id: str | None, value: float, at: datetime) -> None:
    """A purchase counts for the running experiments its buyer is in when it falls within the experiment's
    window: after the first exposure and at most `primary_metric.days` after it."""
    for experiment_id, metric in session.execute(
        select(Experiment.id, Experiment.primary_metric).where(Experiment.status == "running")
    ).all():
        days = int((metric or {}).get("days") or 30)
        buyer = [ExperimentUnit.customer_id == customer_id] if customer_id else []
        buyer += [ExperimentUnit.unit_id == visitor_id] if visitor_id else []
        if not buyer:
            return
        session.execute(
            update(ExperimentUnit)
            .where(
                ExperimentUnit.experiment_id == experiment_id,
                or_(*buyer),
                ExperimentUnit.first_exposed_at <= at,
                ExperimentUnit.first_exposed_at >= at - timedelta(days=days),
            )
            .values(purchases=ExperimentUnit.purchases + 1, revenue=ExperimentUnit.revenue + value)
            .execution_options(synchronize_session=False)
        )


def _any(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(ExperimentUnit.experiment_id.is_not(None)))))
