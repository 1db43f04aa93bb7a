"""Experiments (marketer): arms of offers, prompts and models on sticky units, their results and their winner."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.conversation.llm import PROMPTS
from salesbot.offers import experiments, results
from salesbot.offers.experiments import GUARDRAILS, METRICS, UNITS

blp = Blueprint("experiments", __name__, url_prefix="/v1/experiments", description="Tests of offers, prompts, models")


class ArmIn(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    weight = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1e6))
    offer_id = fields.Str(allow_none=True, metadata={"description": "The offer this arm shows; none: a control"})
    prompt = fields.Str(allow_none=True, metadata={"description": f"A prompt variant: {', '.join(PROMPTS)}"})
    model = fields.Str(allow_none=True, validate=validate.Length(max=200), metadata={"description": "LLM model"})


class MetricIn(Schema):
    kind = fields.Str(required=True, validate=validate.OneOf(METRICS))
    days = fields.Int(validate=validate.Range(min=1, max=365), metadata={"description": "purchase within N days"})


class GuardrailIn(Schema):
    metric = fields.Str(required=True, validate=validate.OneOf(list(GUARDRAILS)))
    limit = fields.Float(
        required=True, metadata={"description": "csat: at least; handoff_rate, discount_cost: at most"}
    )
    min_units = fields.Int(validate=validate.Range(min=1, max=1_000_000))


class ExperimentIn(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    unit = fields.Str(load_default="visitor", validate=validate.OneOf(UNITS))
    arms = fields.List(
        fields.Nested(ArmIn), required=True, validate=validate.Length(min=2, max=10),
        metadata={"description": "The first arm is the control"},
    )  # fmt: skip
    primary_metric = fields.Nested(MetricIn, load_default=lambda: {"kind": "qualified"})
    guardrails = fields.List(fields.Nested(GuardrailIn), load_default=list)
    minimum_effect = fields.Float(allow_none=True, validate=validate.Range(min=0, min_inclusive=False, max=100))
    traffic = fields.Float(load_default=1.0, validate=validate.Range(min=0, min_inclusive=False, max=1))
    layer = fields.Str(allow_none=True, validate=validate.Length(max=64),
                       metadata={"description": "Experiments in one layer never share a unit"})  # fmt: skip
    layer_start = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=1))
    layer_end = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1))


class ExperimentPatch(ExperimentIn):
    name = fields.Str(validate=validate.Length(min=1, max=200))
    unit = fields.Str(validate=validate.OneOf(UNITS))
    arms = fields.List(fields.Nested(ArmIn), validate=validate.Length(min=2, max=10))
    primary_metric = fields.Nested(MetricIn)
    guardrails = fields.List(fields.Nested(GuardrailIn))
    traffic = fields.Float(validate=validate.Range(min=0, min_inclusive=False, max=1))
    layer_start = fields.Float(validate=validate.Range(min=0, max=1))
    layer_end = fields.Float(validate=validate.Range(min=0, max=1))


class ExperimentOut(Schema):
    id = fields.Str(required=True)
    name = fields.Str(required=True)
    unit = fields.Str(required=True)
    status = fields.Str(required=True, metadata={"description": "draft, running or stopped"})
    arms = fields.Raw(required=True)
    primary_metric = fields.Raw(required=True)
    guardrails = fields.Raw(required=True)
    minimum_effect = fields.Float(allow_none=True)
    traffic = fields.Float(required=True)
    layer = fields.Str(allow_none=True)
    layer_start = fields.Float(required=True)
    layer_end = fields.Float(required=True)
    stopped_arms = fields.List(fields.Str(), required=True)
    winner = fields.Str(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    stopped_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)


class StopIn(Schema):
    winner = fields.Str(allow_none=True, metadata={"description": "The arm that becomes what everyone gets"})


class AssignmentOut(Schema):
    experiment_id = fields.Str(required=True)
    unit_id = fields.Str(required=True)
    arm = fields.Str(allow_none=True)
    in_experiment = fields.Bool(required=True)
    status = fields.Str(required=True)


class ResultsOut(Schema):
    experiment_id = fields.Str(required=True)
    name = fields.Str(required=True)
    status = fields.Str(required=True)
    primary_metric = fields.Raw(required=True)
    control = fields.Str(required=True)
    arms = fields.List(fields.Raw(), required=True)
    srm_p_value = fields.Float(required=True, metadata={"description": "Chi-square; below 0.001 is flagged"})
    sample_ratio_mismatch = fields.Bool(required=True)
    warnings = fields.List(fields.Str(), required=True)
    stopped_arms = fields.List(fields.Str(), required=True)


@blp.route("")
class Experiments(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, ExperimentOut(many=True))
    def get(self):
        """Every experiment, newest first"""
        return experiments.get_all(uow=uow())

    @requires(Role.MARKETER)
    @blp.arguments(ExperimentIn)
    @blp.response(201, ExperimentOut)
    def post(self, body):
        """A new experiment (a draft until started); its arms and weights cannot change once it runs"""
        return experiments.create(uow=uow(), changed_by=g.key_holder.key_id, prompts=tuple(PROMPTS), **body)


@blp.route("/<experiment_id>")
class Experiment(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, ExperimentOut)
    def get(self, experiment_id):
        """One experiment"""
        return experiments.get(uow=uow(), experiment_id=experiment_id)

    @requires(Role.MARKETER)
    @blp.arguments(ExperimentPatch)
    @blp.response(200, ExperimentOut)
    def patch(self, body, experiment_id):
        """Change a draft; a running experiment's arms, weights, unit, traffic and layer are fixed (409)"""
        changed = experiments.update(
            uow=uow(), experiment_id=experiment_id, changed_by=g.key_holder.key_id, prompts=tuple(PROMPTS), **body
        )
        salesbot().desk.refresh()
        return changed


@blp.route("/<experiment_id>/start")
class Start(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, ExperimentOut)
    def post(self, experiment_id):
        """Start assigning units (409 when its layer range overlaps a running experiment)"""
        started = experiments.start(uow=uow(), experiment_id=experiment_id, changed_by=g.key_holder.key_id)
        salesbot().desk.refresh()
        return started


@blp.route("/<experiment_id>/stop")
class Stop(MethodView):
    @requires(Role.MARKETER)
    @blp.arguments(StopIn)
    @blp.response(200, ExperimentOut)
    def post(self, body, experiment_id):
        """Stop it; a winner's prompt and model become the default for everyone"""
        stopped = experiments.stop(uow=uow(), experiment_id=experiment_id, changed_by=g.key_holder.key_id, **body)
        salesbot().desk.refresh()
        return stopped


@blp.route("/<experiment_id>/results")
class Results(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, ResultsOut)
    def get(self, experiment_id):
        """Per arm: exposures, units, conversions and rate, revenue and discount per unit, CSAT, hand-offs; each
        arm against the control (uplift with a 95% interval, p-value, chance to beat); the sample-ratio check"""
        found = results.results(uow=uow(), experiment_id=experiment_id)
        salesbot().desk.refresh()  # a guardrail may just have stopped an arm
        return found


@blp.route("/<experiment_id>/assignments/<unit_id>")
class Assignment(MethodView):
    @requires(Role.MARKETER, Role.SERVER)
    @blp.response(200, AssignmentOut)
    def get(self, experiment_id, unit_id):
        """Which arm a visitor or customer has, without exposing them"""
        return experiments.assignment(uow=uow(), experiment_id=experiment_id, unit_id=unit_id)
