"""Autoscaling what-ifs: traffic curves, Application Auto Scaling's target tracking replayed
per minute against a queueing model of the endpoint that carries backlogs across minutes
(checked by an exact replay and by the discrete-event engine), and the search for the cheapest
policy within an SLO-violation budget."""

from autoscaling.backlog import Judgement, judge
from autoscaling.curves import TrafficCurve, load_curve
from autoscaling.exact import ExactReplay, exact_replay
from autoscaling.latency import MinuteModel, parse_percentile
from autoscaling.policy import ALARMS, Alarms, CapacityTimeline, ScalingPolicy, replay
from autoscaling.search import Recommendation, recommend_policy
from autoscaling.synth import Bursts, Diurnal, flat, parse_curve, step, synthesize
from autoscaling.timeline import (
    DEFAULT_STARTUP_S,
    Scenario,
    StaticPlan,
    Timeline,
    evaluate_policy,
    static_peak,
)

__all__ = [
    "ALARMS",
    "DEFAULT_STARTUP_S",
    "Alarms",
    "Bursts",
    "CapacityTimeline",
    "Diurnal",
    "ExactReplay",
    "Judgement",
    "MinuteModel",
    "Recommendation",
    "ScalingPolicy",
    "Scenario",
    "StaticPlan",
    "Timeline",
    "TrafficCurve",
    "evaluate_policy",
    "exact_replay",
    "flat",
    "judge",
    "load_curve",
    "parse_curve",
    "parse_percentile",
    "recommend_policy",
    "replay",
    "static_peak",
    "step",
    "synthesize",
]
