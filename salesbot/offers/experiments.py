"""Experiments marketers run: arms (an offer or none, a prompt variant, an LLM model), their life (draft, running,
stopped with a winner), and which arm a unit has."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from models.offers import Experiment, Offer, OfferChange
from salesbot.database import UnitOfWork
from salesbot.errors import Conflict, InvalidInput, NotFound
from salesbot.offers.assignment import Arm, assign, layer_slot
from salesbot.webhooks import outbox

UNITS = ("visitor", "customer")
METRICS = ("qualified", "purchase", "revenue")
GUARDRAILS = {"csat": "min", "handoff_rate": "max", "discount_cost": "max"}  # metric -> the side it must stay on


def create(*, uow: UnitOfWork, changed_by: str | None, prompts: tuple[str, ...], **values: Any) -> Experiment:
    checked = _checked(uow, values, prompts)
    experiment = Experiment(id="exp_" + secrets.token_hex(6), seed=secrets.token_hex(8), status="draft", **checked)
    with uow:
        uow.session.add(experiment)
        uow.session.flush()
        uow.session.add(OfferChange(subject_id=experiment.id, action="created", changed_by=changed_by,
                                    after=describe(experiment)))  # fmt: skip
        uow.commit()
        return experiment


def get(*, uow: UnitOfWork, experiment_id: str) -> Experiment:
    with uow:
        return _get(uow, experiment_id)


def get_all(*, uow: UnitOfWork) -> list[Experiment]:
    with uow:
        return list(uow.session.scalars(select(Experiment).order_by(Experiment.created_at.desc())))


FIXED_ONCE_RUNNING = ("unit", "arms", "traffic", "layer", "layer_start", "layer_end", "primary_metric")


def update(
    *, uow: UnitOfWork, experiment_id: str, changed_by: str | None, prompts: tuple[str, ...], **values: Any
) -> Experiment:
    """Change a draft freely; once started only its name, guardrails and minimum effect (changing arms or weights
    would move units between arms: start a new experiment instead)."""
    with uow:
        experiment = _get(uow, experiment_id)
        before = describe(experiment)
    fixed = [name for name in FIXED_ONCE_RUNNING if name in values and values[name] != before[name]]
    if experiment.status != "draft" and fixed:
        raise Conflict(f"experiment {experiment_id} is {experiment.status}: {', '.join(fixed)} cannot change; "
                       "start a new experiment")  # fmt: skip
    checked = _checked(uow, before | values, prompts)
    with uow:
        experiment = _get(uow, experiment_id)
        for name, value in checked.items():
            setattr(experiment, name, value)
        uow.session.add(OfferChange(subject_id=experiment.id, action="updated", changed_by=changed_by, before=before,
                                    after=describe(experiment)))  # fmt: skip
        uow.commit()
        return experiment


def start(*, uow: UnitOfWork, experiment_id: str, changed_by: str | None) -> Experiment:
    with uow:
        experiment = _get(uow, experiment_id)
        if experiment.status != "draft":
            raise Conflict(f"experiment {experiment_id} is {experiment.status}; only a draft starts")
        if experiment.layer:
            _check_layer(uow, experiment)
        experiment.status, experiment.started_at = "running", datetime.now(UTC)
        uow.session.add(OfferChange(subject_id=experiment.id, action="started", changed_by=changed_by))
        uow.commit()
        return experiment


def stop(*, uow: UnitOfWork, experiment_id: str, changed_by: str | None, winner: str | None = None) -> Experiment:
    """Stop it; a winner's arm (its offer, prompt and model) becomes what every visitor gets from now on."""
    with uow:
        experiment = _get(uow, experiment_id)
        if experiment.status != "running":
            raise Conflict(f"experiment {experiment_id} is {experiment.status}; only a running one stops")
        if winner is not None and winner not in {arm["name"] for arm in experiment.arms}:
            raise InvalidInput.for_field("winner", f"no arm {winner!r} in this experiment")
        experiment.status, experiment.stopped_at, experiment.winner = "stopped", datetime.now(UTC), winner
        uow.session.add(OfferChange(subject_id=experiment.id, action="stopped", changed_by=changed_by,
                                    after={"winner": winner}))  # fmt: skip
        outbox.emit(uow.session, "experiment.stopped", {"experiment_id": experiment.id, "name": experiment.name,
                                                       "winner": winner, "arm": _arm(experiment, winner)})  # fmt: skip
        uow.commit()
        return experiment


def winners(*, uow: UnitOfWork) -> dict[str, Any]:
    """What the latest stopped experiments made the default: {"prompt": ..., "model": ...} (empty: settings)."""
    with uow:
        stopped = uow.session.scalars(
            select(Experiment).where(Experiment.status == "stopped", Experiment.winner.is_not(None))
            .order_by(Experiment.stopped_at)
        ).all()  # fmt: skip
    defaults: dict[str, Any] = {}
    for experiment in stopped:
        arm = _arm(experiment, experiment.winner) or {}
        defaults |= {key: arm[key] for key in ("prompt", "model") if arm.get(key)}
    return defaults


def assignment(*, uow: UnitOfWork, experiment_id: str, unit_id: str) -> dict[str, Any]:
    """Which arm a unit has (or would have), without exposing it."""
    experiment = get(uow=uow, experiment_id=experiment_id)
    in_layer = not experiment.layer or (
        experiment.layer_start <= layer_slot(layer=experiment.layer, unit_id=unit_id) < experiment.layer_end
    )
    arms = [Arm(a["name"], float(a["weight"])) for a in experiment.arms]
    arm = assign(seed=experiment.seed, unit_id=unit_id, arms=arms, traffic=experiment.traffic) if in_layer else None
    return {"experiment_id": experiment.id, "unit_id": unit_id, "arm": arm, "in_experiment": arm is not None,
            "status": experiment.status}  # fmt: skip


def describe(experiment: Experiment) -> dict[str, Any]:
    names = ("name", "unit", "traffic", "layer", "layer_start", "layer_end", "arms", "primary_metric", "guardrails",
             "minimum_effect")  # fmt: skip
    return {name: getattr(experiment, name) for name in names}


def _arm(experiment: Experiment, name: str | None) -> dict[str, Any] | None:
    return next((arm for arm in experiment.arms if arm["name"] == name), None)


def _get(uow: UnitOfWork, experiment_id: str) -> Experiment:
    experiment = uow.session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"no experiment {experiment_id!r}")
    return experiment


def _check_layer(uow: UnitOfWork, experiment: Experiment) -> None:
    others = uow.session.scalars(
        select(Experiment).where(Experiment.layer == experiment.layer, Experiment.status == "running")
    ).all()
    for other in others:
        if other.layer_start < experiment.layer_end and experiment.layer_start < other.layer_end:
            raise Conflict(
                f"layer {experiment.layer!r}: [{experiment.layer_start}, {experiment.layer_end}) overlaps running "
                f"experiment {other.id} [{other.layer_start}, {other.layer_end}); units may be in only one"
            )


def _checked(uow: UnitOfWork, values: dict[str, Any], prompts: tuple[str, ...]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    if not str(values.get("name") or "").strip():
        problems["name"] = "must not be empty"
    if values.get("unit", "visitor") not in UNITS:
        problems["unit"] = f"must be one of {', '.join(UNITS)}"
    traffic = values.get("traffic", 1.0)
    if not (isinstance(traffic, int | float) and math.isfinite(traffic) and 0 < traffic <= 1):
        problems["traffic"] = "a share above 0 and at most 1"
    start, end = values.get("layer_start", 0.0), values.get("layer_end", 1.0)
    if not (0 <= start < end <= 1):
        problems["layer_end"] = "the layer's range must satisfy 0 <= layer_start < layer_end <= 1"
    problems |= _arm_problems(uow, values.get("arms"), prompts)
    metric = values.get("primary_metric") or {"kind": "qualified"}
    if metric.get("kind") not in METRICS:
        problems["primary_metric.kind"] = f"must be one of {', '.join(METRICS)}"
    days = metric.get("days", 30)
    if not (isinstance(days, int) and 1 <= days <= 365):
        problems["primary_metric.days"] = "a whole number of days from 1 to 365"
    for n, guardrail in enumerate(values.get("guardrails") or []):
        if guardrail.get("metric") not in GUARDRAILS:
            problems[f"guardrails.{n}.metric"] = f"must be one of {', '.join(GUARDRAILS)}"
        limit = guardrail.get("limit")
        if not (isinstance(limit, int | float) and math.isfinite(limit)):
            problems[f"guardrails.{n}.limit"] = "a number"
    if problems:
        first = next(iter(problems))
        raise InvalidInput(f"{first}: {problems[first]}", {name: [text] for name, text in problems.items()})
    return {
        "name": values["name"].strip(), "unit": values.get("unit", "visitor"), "traffic": float(traffic),
        "layer": values.get("layer"), "layer_start": float(start), "layer_end": float(end), "arms": values["arms"],
        "primary_metric": {"kind": metric["kind"], "days": days}, "guardrails": values.get("guardrails") or [],
        "minimum_effect": values.get("minimum_effect"),
    }  # fmt: skip


def _arm_problems(uow: UnitOfWork, arms: Any, prompts: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(arms, list) or not 2 <= len(arms) <= 10:
        return {"arms": "from 2 to 10 arms"}
    problems: dict[str, str] = {}
    names = [arm.get("name") for arm in arms]
    if len(set(names)) != len(names):
        problems["arms"] = "arm names must differ"
    with uow:
        offers = set(uow.session.scalars(select(Offer.id).where(Offer.deleted_at.is_(None))))
    if any(arm.get("offer_id") for arm in arms[1:]) and arms[0].get("offer_id"):
        problems["arms.0.offer_id"] = "the first arm is the control: it shows no offer, so its effect can be measured"
    for n, arm in enumerate(arms):
        weight = arm.get("weight")
        if not (isinstance(weight, int | float) and math.isfinite(weight) and weight > 0):
            problems[f"arms.{n}.weight"] = "a number above 0"
        if arm.get("offer_id") is not None and arm["offer_id"] not in offers:
            problems[f"arms.{n}.offer_id"] = f"no offer {arm['offer_id']!r}"
        if arm.get("prompt") is not None and arm["prompt"] not in prompts:
            problems[f"arms.{n}.prompt"] = f"no prompt variant {arm['prompt']!r}; known: {', '.join(prompts)}"
    return problems
