"""A policy (or a fixed count) under a traffic curve, minute by minute: capacity, latency,
SLO violations, failures and cost.

Cost counts every instance the endpoint is billed for: instances in service and instances
still starting (SageMaker bills an instance from its launch), for each whole minute, at
``price_per_hour / 60``. A minute violates the SLO when its percentile is above ``slo_ms`` or
its load saturates the instances in service; the percentile carries the backlog a saturated
stretch leaves (``autoscaling.backlog``), and each minute also has the probability that its
measured percentile, a noisy statistic of one minute's requests, lands above the SLO. A minute
without invocations violates nothing. ``Timeline.violating_minutes`` counts the minutes whose
predicted percentile is above the SLO; ``expected_violating`` +- ``violating_error`` is the
count a measurement would give (the sum of the probabilities, and its standard deviation).

Every minute also has a three-valued ``verdict`` (``optimizer.verdict``), so a minute whose
measurement could land on either side of the SLO is never shown as a plain yes or no: by the
model, ``misses`` when it violates with probability at least 1 - VERDICT_RISK, ``meets`` when
at most VERDICT_RISK, else ``too close to call``; by the engine, ``autoscaling.verify``'s
interval on the minute's own requests. ``Timeline.too_close_minutes`` counts the too-close ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoscaling.backlog import Judgement, judge
from autoscaling.curves import TrafficCurve
from autoscaling.latency import MinuteModel, parse_percentile
from autoscaling.policy import ALARMS, Alarms, CapacityTimeline, ScalingPolicy, replay
from autoscaling.verify import engine_check
from optimizer.capacity import Estimate, smallest_count
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from simulator import checks
from simulator.errors import InputError
from simulator.profiles import InstanceProfile

DEFAULT_STARTUP_S = 300.0
COLUMNS = ("minute", "invocations", "capacity", "pending", "utilization", "percentile_ms", "violating", "verdict",
           "failed")
#: The model decides a minute when it violates with probability below this or above 1 minus this
#: (a 95 % two-sided reading of the minute's sampling noise); in between it is too close to call.
VERDICT_RISK = 0.025


@dataclass(frozen=True)
class Timeline:
    """Per-minute ``frame`` (COLUMNS; ``model_percentile_ms`` too when the engine measured the
    percentile) and its totals: minutes, violating minutes, failed invocations, billed
    instance-minutes and their cost in dollars."""

    frame: pd.DataFrame = field(repr=False, compare=False)
    policy: ScalingPolicy
    percentile: float
    slo_ms: float
    price_per_hour: float
    minutes: int
    violating_minutes: int
    failed: float
    instance_minutes: int
    cost: float
    scale_outs: int = 0
    scale_ins: int = 0
    measured_by: str = "model"  # "model" (the per-minute queueing law) or "engine" (discrete-event)
    expected_violating: float = 0.0  # the sum of the minutes' violation probabilities (the count itself: engine)
    violating_error: float = 0.0  # its standard deviation
    too_close_minutes: int = 0  # minutes whose verdict is too close to call (module docstring)

    @property
    def violating_share(self) -> float:
        return self.violating_minutes / self.minutes if self.minutes else 0.0


@dataclass(frozen=True)
class Scenario:
    """What every evaluation of one curve shares: the curve, the latency law, the SLO, the
    price, the start-up time and the alarms."""

    curve: TrafficCurve
    model: MinuteModel
    slo_ms: float
    price_per_hour: float
    startup_s: float = DEFAULT_STARTUP_S
    alarms: Alarms = ALARMS

    @classmethod
    def of(cls, curve: TrafficCurve, entry: InstanceProfile, *, price_per_hour: float, percentile: str | float = "P95",
           slo_ms: float, startup_s: float = DEFAULT_STARTUP_S, routing: str = "random",
           alarms: Alarms = ALARMS) -> Scenario:
        """The scenario with every argument checked."""
        checks.positive(slo_ms, "slo_ms", what="milliseconds")
        checks.number(price_per_hour, "price_per_hour", minimum=0, what="dollars per hour")
        checks.number(startup_s, "startup_s", minimum=0, maximum=3600, what="seconds")
        return cls(curve=curve, model=MinuteModel(entry, parse_percentile(percentile), routing), slo_ms=float(slo_ms),
                   price_per_hour=float(price_per_hour), startup_s=float(startup_s), alarms=alarms)

    def judge(self, capacity: np.ndarray, *, percentiles: bool = True) -> Judgement:
        """Every minute judged on ``capacity`` instances in service: percentile with the backlog,
        violation probability (``autoscaling.backlog``)."""
        return judge(self.model, self.curve.per_minute, capacity, self.slo_ms, percentiles=percentiles)

    def score(self, policy: ScalingPolicy) -> tuple[float, float]:
        """(cost, violating minutes) of ``policy``, what the search compares without a frame: the
        larger of the predicted count and the count's bound (``Judgement.bound``)."""
        timeline = replay(self.curve.per_minute, policy, self.startup_s, self.alarms)
        billed = int(timeline.in_service.sum() + timeline.pending.sum())
        judged = self.judge(timeline.in_service, percentiles=False)
        predicted = int(judged.violating.sum())
        return billed * self.price_per_hour / 60.0, max(float(predicted), judged.bound)

    def timeline(self, policy: ScalingPolicy, capacity: CapacityTimeline | None = None, *, engine: bool = False,
                 seed: int = 0) -> Timeline:
        """The full per-minute Timeline of ``policy`` (its replay, unless ``capacity`` is given)."""
        capacity = capacity or replay(self.curve.per_minute, policy, self.startup_s, self.alarms)
        invocations = self.curve.per_minute
        judged = self.judge(capacity.in_service)
        model_percentile = judged.percentile_ms
        frame = pd.DataFrame({
            "minute": np.arange(1, len(invocations) + 1),
            "invocations": invocations,
            "capacity": capacity.in_service,
            "pending": capacity.pending,
            "utilization": np.minimum(1.0, self.model.offered_utilization(invocations, capacity.in_service)),
            "percentile_ms": model_percentile,
            "backlog": judged.backlog,
            "violation_probability": judged.probability,
        })
        frame["verdict"] = model_verdicts(judged.probability, invocations)
        if engine:
            checked = engine_check(self.curve, self.model.entry, capacity.in_service, percentile=self.model.percentile,
                                   slo_ms=self.slo_ms, routing=self.model.routing, seed=seed)
            saturated = np.isinf(model_percentile)
            frame["model_percentile_ms"] = model_percentile
            frame["percentile_ms"] = np.where(saturated, math.inf, checked.percentile_ms)
            frame["verdict"] = np.where(saturated, MISSES, np.array(checked.verdicts, dtype=object))
        frame["violating"] = (np.nan_to_num(frame["percentile_ms"].to_numpy(), nan=0.0) > self.slo_ms) if engine \
            else judged.violating
        frame["failed"] = self.model.failed(invocations, capacity.in_service)
        billed = int(capacity.in_service.sum() + capacity.pending.sum())
        expected, error = (judged.expected, judged.error) if not engine else (float(frame["violating"].sum()), 0.0)
        return Timeline(frame=frame, policy=policy, percentile=self.model.percentile, slo_ms=self.slo_ms,
                        price_per_hour=self.price_per_hour, minutes=len(invocations),
                        violating_minutes=int(frame["violating"].sum()), failed=float(frame["failed"].sum()),
                        instance_minutes=billed, cost=billed * self.price_per_hour / 60.0,
                        scale_outs=capacity.scale_outs, scale_ins=capacity.scale_ins,
                        measured_by="engine" if engine else "model", expected_violating=expected,
                        violating_error=error, too_close_minutes=int((frame["verdict"] == TOO_CLOSE).sum()))

    def smallest_static_count(self, rate_per_min: float) -> int:
        """The fewest instances whose percentile meets the SLO at ``rate_per_min``, found by the
        optimizer's count search (``optimizer.capacity.smallest_count``) over this law."""
        model = self.model
        if rate_per_min <= 0:
            return 1

        def evaluate(count: int) -> Estimate:
            value = model.quantile_at(rate_per_min / 60.0, count)
            return Estimate(percentile_ms=value, low_ms=value, high_ms=value, replications=0,
                            utilization=rate_per_min / (count * model.capacity_per_minute))

        decision = smallest_count(model.entry, rate_per_min / 60.0, model.percentile, self.slo_ms, evaluate)
        if decision.count is None:
            raise InputError("slo_ms", f"{model.entry.instance_type} cannot meet P{model.percentile:g} <= "
                                       f"{self.slo_ms:g} ms at {rate_per_min:,.0f} invocations per minute: "
                                       f"{decision.reason}")
        return decision.count


def model_verdicts(probability: np.ndarray, invocations: np.ndarray) -> np.ndarray:
    """Per minute, from the probability that its measured percentile lands above the SLO:
    meets, misses or too close to call (VERDICT_RISK); None for a minute without invocations."""
    verdict = np.where(probability >= 1.0 - VERDICT_RISK, MISSES,
                       np.where(probability <= VERDICT_RISK, MEETS, TOO_CLOSE)).astype(object)
    verdict[np.asarray(invocations) <= 0] = None
    return verdict


@dataclass(frozen=True)
class StaticPlan:
    """Static provisioning at the peak: the count and its Timeline over the whole curve."""

    count: int
    timeline: Timeline


def evaluate_policy(scenario: Scenario, policy: ScalingPolicy, *, engine: bool = False, seed: int = 0) -> Timeline:
    """``policy`` under ``scenario`` (``Scenario.of(curve, entry, ...)``): the per-minute
    Timeline, its percentile from the queueing law or, with ``engine``, from the discrete-event
    engine."""
    return scenario.timeline(policy, engine=engine, seed=checks.seed(seed))


def static_peak(curve: TrafficCurve, entry: InstanceProfile, *, price_per_hour: float, percentile: str | float = "P95",
                slo_ms: float, routing: str = "random", engine: bool = False, seed: int = 0) -> StaticPlan:
    """The smallest fixed count meeting the SLO at the curve's peak minute, with its cost and
    violating minutes over the whole curve."""
    scenario = Scenario.of(curve, entry, price_per_hour=price_per_hour, percentile=percentile, slo_ms=slo_ms,
                           routing=routing)
    return static_plan(scenario, engine=engine, seed=seed)


def static_plan(scenario: Scenario, *, engine: bool = False, seed: int = 0) -> StaticPlan:
    """``static_peak`` for a built Scenario."""
    count = scenario.smallest_static_count(scenario.curve.peak_per_minute)
    minutes = scenario.curve.minutes
    fixed = CapacityTimeline(in_service=np.full(minutes, count), pending=np.zeros(minutes, dtype=int), scale_outs=0,
                             scale_ins=0)
    return StaticPlan(count=count, timeline=scenario.timeline(ScalingPolicy.static(count), fixed, engine=engine,
                                                              seed=seed))
