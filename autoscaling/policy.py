"""Application Auto Scaling's target tracking on SageMakerVariantInvocationsPerInstance,
replayed minute by minute.

What AWS documents (docs/semantics.md, "Autoscaling", cites each):

- the metric: invocations per minute divided by the variant's active instances;
- the alarms Application Auto Scaling creates: scale out when the metric is above the target
  for 3 one-minute datapoints in a row; scale in when it is below 90 % of the target for 15;
- scale out proportionally and fast, scale in gradually; MinCapacity and MaxCapacity bound
  the count; ScaleInCooldown and ScaleOutCooldown default to 300 s for SageMaker variants;
  during a scale-out cooldown the capacity the scale-out added counts as part of the desired
  capacity; a scale-out during a scale-in cooldown goes ahead and ends that cooldown;
  DisableScaleIn leaves scale-in to nobody;
- a metric without datapoints leaves its alarm in INSUFFICIENT_DATA: no scaling.

irsim's own rules where AWS says no more (each stated in docs/semantics.md):

- a minute without invocations publishes no datapoint (its alarms' runs start again);
- decisions fall at the end of a minute, on the datapoints up to it; new instances are billed
  from the next minute and take traffic ``ceil(startup_s / 60)`` minutes later;
- scale-out sets the desired count to ``ceil(base x metric / target)`` with the latest
  datapoint, where base is the instances in service during the scale-out cooldown (the
  capacity the metric was measured on: what was added is already counted) and the desired
  count otherwise (instances still starting included: why a cooldown shorter than the
  start-up overshoots); scale-in to ``ceil(the most invocations of the 15 low minutes /
  target)`` (gradual: sized for the busiest of them), never below MinCapacity, cancelling
  instances still starting first; the low alarm stays in alarm while its last 15 datapoints
  are low, so a further scale-in may follow its cooldown;
- the endpoint starts at the count the policy would hold for the first minute's traffic.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from simulator import checks
from simulator.endpoint import MAX_INSTANCES
from simulator.errors import InputError

MAX_COOLDOWN_S = 86_400  # Application Auto Scaling's cooldowns: 0 to a day
MAX_STARTUP_S = 3_600.0


@dataclass(frozen=True)
class ScalingPolicy:
    """A target-tracking policy on InvocationsPerInstance (invocations per instance per minute)."""

    min_capacity: int
    max_capacity: int
    target_value: float
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 300
    scale_in_disabled: bool = False

    def __post_init__(self) -> None:
        checks.integer(self.min_capacity, "min_capacity", minimum=1, maximum=MAX_INSTANCES)
        checks.integer(self.max_capacity, "max_capacity", minimum=self.min_capacity, maximum=MAX_INSTANCES,
                       what="an integer (at least min_capacity)")
        checks.positive(self.target_value, "target_value", what="invocations per instance per minute")
        checks.integer(self.scale_in_cooldown_s, "scale_in_cooldown_s", minimum=0, maximum=MAX_COOLDOWN_S)
        checks.integer(self.scale_out_cooldown_s, "scale_out_cooldown_s", minimum=0, maximum=MAX_COOLDOWN_S)
        if not isinstance(self.scale_in_disabled, bool):
            raise InputError("scale_in_disabled", f"must be true or false, got {self.scale_in_disabled!r}")

    @classmethod
    def static(cls, count: int) -> ScalingPolicy:
        """A fixed count: MinCapacity = MaxCapacity."""
        return cls(min_capacity=count, max_capacity=count, target_value=1.0)

    def describe(self) -> str:
        """One line for tables and logs."""
        return (f"min {self.min_capacity}, max {self.max_capacity}, target {self.target_value:,.0f}/instance/min, "
                f"cooldowns in {self.scale_in_cooldown_s} s / out {self.scale_out_cooldown_s} s"
                + (", scale-in disabled" if self.scale_in_disabled else ""))


@dataclass(frozen=True)
class Alarms:
    """The two alarms target tracking creates: datapoints in a row and the scale-in threshold."""

    high_datapoints: int = 3
    low_datapoints: int = 15
    low_ratio: float = 0.9

    def __post_init__(self) -> None:
        checks.integer(self.high_datapoints, "high_datapoints", minimum=1, maximum=60)
        checks.integer(self.low_datapoints, "low_datapoints", minimum=1, maximum=60)
        checks.number(self.low_ratio, "low_ratio", minimum=0, maximum=1)


ALARMS = Alarms()


@dataclass(frozen=True)
class CapacityTimeline:
    """Per minute: instances in service (taking traffic) and starting (billed, not serving)."""

    in_service: np.ndarray = field(repr=False)
    pending: np.ndarray = field(repr=False)
    scale_outs: int
    scale_ins: int


def startup_minutes(startup_s: float) -> int:
    """Whole minutes a new instance starts for before it takes traffic (rounded up)."""
    return math.ceil(checks.number(startup_s, "startup_s", minimum=0, maximum=MAX_STARTUP_S, what="seconds") / 60.0
                     - 1e-9)


def _ceil(value: float) -> int:
    """ceil() that does not round an exact integer up for a last-bit error."""
    return math.ceil(value * (1.0 - 1e-12))


def replay(invocations: np.ndarray, policy: ScalingPolicy, startup_s: float, alarms: Alarms = ALARMS
           ) -> CapacityTimeline:
    """The capacity ``policy`` gives minute by minute under ``invocations`` (module docstring)."""
    traffic = np.asarray(invocations, dtype=float).tolist()
    minutes, delay = len(traffic), startup_minutes(startup_s)
    target, low_threshold = policy.target_value, alarms.low_ratio * policy.target_value
    low, high = policy.min_capacity, policy.max_capacity
    high_needed, low_needed = alarms.high_datapoints, alarms.low_datapoints
    in_service = min(high, max(low, _ceil(traffic[0] / target))) if minutes and traffic[0] > 0 else low
    arriving = [0] * (minutes + delay + 2)
    serving, starting = [0] * minutes, [0] * minutes
    pending = high_run = 0
    window: deque[float] = deque(maxlen=low_needed)
    out_cooldown_end = in_cooldown_end = -1.0
    scale_outs = scale_ins = 0
    for minute, count in enumerate(traffic):
        if arriving[minute]:
            in_service += arriving[minute]
            pending -= arriving[minute]
        serving[minute], starting[minute] = in_service, pending
        if count <= 0:  # no datapoint: both alarms' runs start again
            high_run = 0
            window.clear()
            continue
        metric = count / in_service
        high_run = high_run + 1 if metric > target else 0
        if metric < low_threshold:
            window.append(count)
        else:
            window.clear()
        now_s = (minute + 1) * 60.0
        desired = in_service + pending
        if high_run >= high_needed:
            base = in_service if now_s <= out_cooldown_end else desired
            wanted = min(high, _ceil(base * metric / target))
            if wanted > desired:
                arriving[minute + 1 + delay] += wanted - desired
                pending += wanted - desired
                out_cooldown_end, in_cooldown_end = now_s + policy.scale_out_cooldown_s, -1.0
                scale_outs += 1
        elif (len(window) >= low_needed and not policy.scale_in_disabled and now_s >= in_cooldown_end):
            wanted = max(low, _ceil(max(window) / target))
            if wanted < desired:
                in_service, pending = _remove(arriving, minute, in_service, pending, desired - wanted)
                in_cooldown_end = now_s + policy.scale_in_cooldown_s
                scale_ins += 1
    return CapacityTimeline(in_service=np.array(serving), pending=np.array(starting), scale_outs=scale_outs,
                            scale_ins=scale_ins)


def _remove(arriving: list[int], minute: int, in_service: int, pending: int, count: int) -> tuple[int, int]:
    """Take ``count`` instances away at the end of ``minute``: the latest still starting first,
    then instances in service. Returns the new (in_service, pending)."""
    slot = len(arriving) - 1
    while count and pending and slot > minute:
        cancelled = min(count, arriving[slot])
        arriving[slot] -= cancelled
        pending -= cancelled
        count -= cancelled
        slot -= 1
    return in_service - count, pending
