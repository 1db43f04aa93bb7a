"""An experiment's results: per arm counts and rates from one grouped read, compared with the control, the
sample-ratio check, the too-small-sample warning, and the guardrail breaker that stops a harmful arm."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, case, func, select

from models.offers import Experiment, ExperimentUnit, OfferChange
from salesbot.database import UnitOfWork
from salesbot.offers import experiments, statistics
from salesbot.offers.experiments import GUARDRAILS

MIN_UNITS = 30  # a guardrail judges an arm from this many units on (a guardrail may set its own `min_units`)


def results(*, uow: UnitOfWork, experiment_id: str) -> dict[str, Any]:
    experiment = experiments.get(uow=uow, experiment_id=experiment_id)
    rows = _per_arm(uow, experiment)
    control = experiment.arms[0]["name"]  # the first arm is the control
    metric = experiment.primary_metric["kind"]
    arms = [_arm(experiment, rows.get(arm["name"]), arm, metric) for arm in experiment.arms]
    base = next(a for a in arms if a["name"] == control)
    for arm in arms[1:]:
        arm["against_control"] = _compare(base, arm, rows.get(control), rows.get(arm["name"]), metric)
    observed = [arm["units"] for arm in arms]
    srm = statistics.sample_ratio_p_value(observed=observed, weights=[a["weight"] for a in experiment.arms])
    breached = _breaker(uow, experiment, arms)
    return {
        "experiment_id": experiment.id,
        "name": experiment.name,
        "status": experiment.status,
        "primary_metric": experiment.primary_metric,
        "control": control,
        "arms": arms,
        "srm_p_value": srm,
        "sample_ratio_mismatch": sum(observed) > 0 and srm < statistics.SRM_THRESHOLD,
        "warnings": _warnings(experiment, arms, srm),
        "stopped_arms": sorted(set(experiment.stopped_arms or []) | set(breached)),
    }


def guard_all(*, uow: UnitOfWork) -> list[str]:
    """Run the guardrail breaker of every running experiment with guardrails; answers the arms it stopped."""
    with uow:
        running = uow.session.scalars(select(Experiment.id).where(Experiment.status == "running")).all()
    stopped = []
    for experiment_id in running:
        found = results(uow=uow, experiment_id=experiment_id)
        stopped += [f"{experiment_id}:{arm}" for arm in found["stopped_arms"]]
    return stopped


def _per_arm(uow: UnitOfWork, experiment: Experiment) -> dict[str, Any]:
    unit = ExperimentUnit
    with uow:
        grouped = uow.session.execute(
            select(
                unit.arm,
                func.count().label("units"),
                func.sum(unit.exposures).label("exposures"),
                func.sum(unit.qualified.cast(Integer)).label("qualified"),
                func.sum(case((unit.purchases > 0, 1), else_=0)).label("purchasers"),
                func.sum(unit.revenue).label("revenue"),
                func.sum(unit.revenue * unit.revenue).label("revenue_squares"),
                func.sum(unit.discount).label("discount"),
                func.sum(unit.handed_off.cast(Integer)).label("handed_off"),
                func.avg(unit.csat).label("csat"),
                func.count(unit.csat).label("ratings"),
            )
            .where(unit.experiment_id == experiment.id)
            .group_by(unit.arm)
        ).all()
    return {row.arm: row._asdict() for row in grouped}


def _arm(experiment: Experiment, row: dict | None, arm: dict, metric: str) -> dict[str, Any]:
    row = row or {}
    units = int(row.get("units") or 0)
    conversions = int(row.get("purchasers" if metric != "qualified" else "qualified") or 0)
    revenue, discount = float(row.get("revenue") or 0), float(row.get("discount") or 0)
    handed = int(row.get("handed_off") or 0)
    return {
        "name": arm["name"],
        "offer_id": arm.get("offer_id"),
        "prompt": arm.get("prompt"),
        "model": arm.get("model"),
        "weight": arm["weight"],
        "exposures": int(row.get("exposures") or 0),
        "units": units,
        "conversions": conversions,
        "conversion_rate": conversions / units if units else None,
        "revenue": round(revenue, 2),
        "revenue_per_unit": round(revenue / units, 4) if units else None,
        "discount_cost": round(discount, 2),
        "discount_cost_per_unit": round(discount / units, 4) if units else None,
        "csat": round(float(row["csat"]), 3) if row.get("csat") is not None else None,
        "ratings": int(row.get("ratings") or 0),
        "handoffs": handed,
        "handoff_rate": handed / units if units else None,
        "stopped": arm["name"] in (experiment.stopped_arms or []),
    }


def _compare(base: dict, arm: dict, rows_a: dict | None, rows_b: dict | None, metric: str) -> dict[str, Any]:
    if metric == "revenue":
        rows_a, rows_b = rows_a or {}, rows_b or {}
        means = statistics.compare_means(
            count_a=base["units"], sum_a=float(rows_a.get("revenue") or 0),
            sum_squares_a=float(rows_a.get("revenue_squares") or 0),
            count_b=arm["units"], sum_b=float(rows_b.get("revenue") or 0),
            sum_squares_b=float(rows_b.get("revenue_squares") or 0),
        )  # fmt: skip
        return {"test": "welch", "uplift": means.uplift, "uplift_low": means.uplift_low,
                "uplift_high": means.uplift_high, "p_value": means.p_value, "chance_to_beat": None}  # fmt: skip
    found = statistics.compare_proportions(
        conversions_a=base["conversions"], units_a=base["units"], conversions_b=arm["conversions"],
        units_b=arm["units"],
    )  # fmt: skip
    return {"test": "two proportions", "uplift": found.uplift, "uplift_low": found.uplift_low,
            "uplift_high": found.uplift_high, "p_value": found.p_value,
            "chance_to_beat": found.chance_to_beat}  # fmt: skip


def _warnings(experiment: Experiment, arms: list[dict], srm: float) -> list[str]:
    said = []
    if sum(arm["units"] for arm in arms) and srm < statistics.SRM_THRESHOLD:
        said.append(f"sample ratio mismatch (p = {srm:.2g}): the split differs from the weights; check assignment")
    base = arms[0]
    rate = base["conversion_rate"]
    for arm in arms[1:]:
        smallest = statistics.minimum_detectable_effect(
            base_rate=rate or 0.0, units_a=base["units"], units_b=arm["units"]
        )
        wanted = experiment.minimum_effect
        if smallest is None or (wanted is not None and smallest > wanted):
            said.append(
                f"arm {arm['name']}: too few units to detect "
                + (
                    f"a {wanted:.0%} effect (detectable now: {smallest:.0%})"
                    if smallest and wanted
                    else "any effect yet"
                )
            )
    return said


def _breaker(uow: UnitOfWork, experiment: Experiment, arms: list[dict]) -> list[str]:
    """Arms whose guardrail is breached are stopped now (their units see the control's nothing from then on)."""
    if experiment.status != "running" or not experiment.guardrails:
        return []
    values = {"csat": "csat", "handoff_rate": "handoff_rate", "discount_cost": "discount_cost_per_unit"}
    breached = []
    for arm in arms[1:]:
        for guardrail in experiment.guardrails:
            value = arm[values[guardrail["metric"]]]
            direction = GUARDRAILS[guardrail["metric"]]
            enough = arm["units"] >= guardrail.get("min_units", MIN_UNITS)
            if enough and arm["name"] not in breached and statistics.breached(value=value, limit=guardrail["limit"],
                                                                              direction=direction):  # fmt: skip
                breached.append(arm["name"])
    fresh = [name for name in breached if name not in (experiment.stopped_arms or [])]
    if fresh:
        with uow:
            stored = uow.session.get(Experiment, experiment.id)
            stored.stopped_arms = sorted(set(stored.stopped_arms or []) | set(fresh))
            uow.session.add(OfferChange(subject_id=experiment.id, action="breached", after={"arms": fresh}))
            uow.commit()
    return breached
