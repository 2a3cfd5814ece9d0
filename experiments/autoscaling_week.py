"""A synthetic week against three ways to provision ml.c5.large for the demo model at
P95 <= 20 ms: static at the peak, the policy irsim's search recommends (violation budget
0.1 % of minutes, 300 s start-up), and the policy GetScalingConfigurationRecommendation gives
(from an offline job on the same instance type; "pending" when that part of irsim is not
there). Prints each one's cost over the week, violating minutes and failed invocations, the
saving against static, the search's wall time and policies tried; then the per-minute law
against the optimizer's pre-screen and a long engine run at a few loads (why the law is the
convolution, not the tail split).

    .venv/bin/python experiments/autoscaling_week.py [--engine-check] [--replay]

``--replay`` checks the search's policy where the week can violate, by the model, the engine
(segment-wise: each constant-capacity segment its own run started empty, as before; and
continuous: one run with the policy's capacity schedule, requests in flight kept) and the exact
replay (``autoscaling/exact.py``) side by side. The whole week is 1.5 billion requests, beyond
the Python engine here, so it replays windows of 31 minutes around the minutes the model gives
the highest violation probability (merged, up to REPLAY_REQUESTS requests in all), each from
empty 15 minutes before its first judged minute; the model's expected violations outside the
windows are printed too.
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial
from typing import Any

import numpy as np

from autoscaling import (
    ScalingPolicy,
    Scenario,
    Timeline,
    TrafficCurve,
    evaluate_policy,
    parse_curve,
    recommend_policy,
    replay,
    static_peak,
)
from autoscaling.exact import exact_replay
from autoscaling.latency import MinuteModel
from autoscaling.verify import engine_percentiles, replay_continuous, replay_segments
from optimizer.capacity import approximate_quantile_ms
from optimizer.statistics import relaxation_requests
from optimizer.verdict import TOO_CLOSE
from pricing import hourly_price
from simulator import DEMO_PROFILE_PATH, load_profile, simulate

#: A day's continuous replay keeps tens of millions of requests: more than irsim's 1.5 M limit
#: (memory for a job), raised here on purpose for this measurement (a few GB of memory).
continuous_replay = partial(replay_continuous, max_held_requests=100_000_000)


SPEC = "diurnal:peak=300000,trough=30000,days=7,peak_hour=14,weekend=0.6,bursts=10,burst_height=1.5,noise=0.05,seed=0"
INSTANCE = "ml.c5.large"
PERCENTILE, SLO_MS, BUDGET, STARTUP_S = "P95", 20.0, 0.001, 300.0
JOB = {"JobName": "autoscaling-week", "JobType": "Default", "RoleArn": "arn:aws:iam::111122223333:role/R",
       "InputConfig": {"ModelName": "xgboost-demo", "EndpointConfigurations": [{"InstanceType": INSTANCE}]}}


def aws_row(curve: TrafficCurve) -> ScalingPolicy | str:
    """The policy GetScalingConfigurationRecommendation gives for this curve's range, from an
    offline Default job on the instance type; a string says why it is pending."""
    try:
        from irsim import execute_job
        from irsim.cli.autoscale import CompletedJob, aws_policy
        from irsim.service.scaling import PER_MINUTE, per_minute_document, per_minute_frames
    except ImportError as exc:
        return f"pending ({exc})"
    result = execute_job(JOB, profile=DEMO_PROFILE_PATH, seed=0)
    extensions = {**result.extensions(), PER_MINUTE: per_minute_document(result.scheduled)}
    job = CompletedJob(name=JOB["JobName"], describe=result.describe, extensions=extensions,
                       minutes=per_minute_frames(extensions[PER_MINUTE]), profile=load_profile(DEMO_PROFILE_PATH))
    candidates = [r for r in result.describe.get("InferenceRecommendations", [])
                  if r["EndpointConfiguration"].get("InstanceType") == INSTANCE]
    if not candidates:
        return "pending (the offline job recommended no ml.c5.large endpoint)"
    aws = aws_policy(job, candidates[0], curve)
    return ScalingPolicy(min_capacity=aws.min_capacity, max_capacity=aws.max_capacity, target_value=aws.target_value,
                         scale_in_cooldown_s=aws.scale_in_cooldown_s, scale_out_cooldown_s=aws.scale_out_cooldown_s)


def row(name: str, policy: str, timeline: Timeline, static_cost: float) -> str:
    """One provisioning: cost, saving, violating minutes (predicted; expected +- error by the
    minutes' sampling noise, autoscaling/backlog.py) and the invocations beyond capacity."""
    saving = 1.0 - timeline.cost / static_cost if static_cost else math.nan
    return (f"| {name} | {policy} | ${timeline.cost:,.2f} | {saving:+.1%} | {timeline.violating_minutes} "
            f"({timeline.expected_violating:.1f} ± {timeline.violating_error:.1f}) | {timeline.failed:,.0f} |")


def law_check() -> list[str]:
    """The law, the pre-screen's tail split and a long engine run (4,000 relaxation times)."""
    profile = load_profile(DEMO_PROFILE_PATH)
    entry = profile.instance(INSTANCE)
    model = MinuteModel(entry, 95.0)
    mean_s = entry.service_time.mean_ms / 1000.0
    lines = ["| rho | engine P95 ms | law ms | law vs engine | pre-screen ms | pre-screen vs engine |",
             "|---|---|---|---|---|---|"]
    for rho in (0.3, 0.6, 0.8, 0.9):
        rate = rho * entry.workers / mean_s
        requests = max(200_000, 4000 * relaxation_requests(rate, entry.workers, mean_s))
        measured = simulate(profile, INSTANCE, arrival_rate_per_s=rate, duration_s=requests / rate,
                            seed=5).percentile_ms(95)
        law = model.quantile_at(rate, 1)
        prescreen = approximate_quantile_ms(rate, entry.workers, entry.service_time, 0.95)
        lines.append(f"| {rho} | {measured:.2f} | {law:.2f} | {law / measured - 1:+.1%} | {prescreen:.2f} | "
                     f"{prescreen / measured - 1:+.1%} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine-check", action="store_true", help="also compare the per-minute model with two "
                                                                     "engine runs on a 2-hour curve (about a minute)")
    parser.add_argument("--replay", action="store_true", help="the search's policy where the week can violate: model, "
                                                              "engine both ways and exact replay side by side")
    args = parser.parse_args()
    curve = parse_curve(SPEC)
    entry = load_profile(DEMO_PROFILE_PATH).instance(INSTANCE)
    price = hourly_price(INSTANCE).per_hour
    common: dict[str, Any] = {"price_per_hour": price, "percentile": PERCENTILE, "slo_ms": SLO_MS}
    print(f"curve: {curve.source}\n  {curve.minutes:,} minutes, {curve.total_invocations / 1e9:.2f} billion "
          f"invocations, peak {curve.peak_per_minute:,.0f}/min; {INSTANCE} at ${price}/h; "
          f"{PERCENTILE} <= {SLO_MS:g} ms; budget {BUDGET:.1%} of minutes; start-up {STARTUP_S:g} s\n")
    began = time.perf_counter()
    found = recommend_policy(Scenario.of(curve, entry, startup_s=STARTUP_S, **common), violation_budget=BUDGET)
    search_s = time.perf_counter() - began
    static = static_peak(curve, entry, **common)
    base = static.timeline.cost
    lines = ["| provisioning | policy | cost over the week | saving vs static | violating minutes (expected) | "
             "beyond capacity |", "|---|---|---|---|---|---|",
             row("static at the peak", f"{static.count} instances", static.timeline, base),
             row("irsim's search", found.policy.describe(), found.timeline, base)]
    aws = aws_row(curve)
    if isinstance(aws, ScalingPolicy):
        timeline = evaluate_policy(Scenario.of(curve, entry, startup_s=STARTUP_S, **common), aws)
        lines.append(row("GetScalingConfigurationRecommendation", aws.describe(), timeline, base))
    else:
        lines.append(f"| GetScalingConfigurationRecommendation | {aws} | | | | |")
    print("\n".join(lines))
    print(f"\nsearch: {found.tried} policies replayed over {curve.minutes:,} minutes in {search_s:.1f} s "
          f"(budget {found.budget_minutes} minutes; scale-outs {found.timeline.scale_outs}, "
          f"scale-ins {found.timeline.scale_ins})\n")
    print("\n".join(law_check()))
    if args.engine_check:
        print("\n" + "\n".join(engine_check(entry)))
    if args.replay:
        print("\n" + "\n".join(replay_windows(curve, entry, found.timeline)))


#: The requests the windows of ``--replay`` may hold in all (each is served by the engine twice and
#: the exact replay once).
REPLAY_REQUESTS = 25e6
HALF_WINDOW = 15


def windows(probability: np.ndarray, per_minute: np.ndarray) -> list[tuple[int, int]]:
    """Merged [first, end) minute windows of 2 HALF_WINDOW + 1 minutes around the minutes of
    highest violation probability, most likely first, within REPLAY_REQUESTS requests."""
    chosen: list[tuple[int, int]] = []
    for minute in np.argsort(-probability, kind="stable").tolist():
        if probability[minute] <= 1e-3:
            break
        if any(a <= minute < b for a, b in chosen):
            continue
        window = (max(0, minute - HALF_WINDOW), min(per_minute.size, minute + HALF_WINDOW + 1))
        merged = sorted([*chosen, window])
        joined: list[tuple[int, int]] = []
        for a, b in merged:
            if joined and a <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(b, joined[-1][1]))
            else:
                joined.append((a, b))
        if sum(float(per_minute[a:b].sum()) for a, b in joined) > REPLAY_REQUESTS:
            break
        chosen = joined
    return chosen


def replay_windows(curve: TrafficCurve, entry: Any, timeline: Timeline) -> list[str]:
    """The search's policy in the windows where the week can violate: violating minutes by the
    model, the engine (segment-wise and continuous, one seed) and the exact replay (two seeds)."""
    frame = timeline.frame
    probability = frame["violation_probability"].to_numpy()
    capacity = frame["capacity"].to_numpy()
    chosen = windows(probability, curve.per_minute)
    inside = np.zeros(curve.minutes, dtype=bool)
    for a, b in chosen:
        inside[a:b] = True
    lines = [f"replayed windows: {len(chosen)} ({int(inside.sum())} minutes, "
             f"{curve.per_minute[inside].sum() / 1e6:.1f} M requests); model's expected violations outside them "
             f"{probability[~inside].sum():.2f}",
             "| window (minutes) | requests | model: violating (expected) | too close (model) | engine, segment-wise | "
             "engine, continuous | exact replay (2 seeds) |", "|---|---|---|---|---|---|---|"]
    for a, b in chosen:
        part = TrafficCurve(per_minute=curve.per_minute[a:b], start=None, source=f"minutes {a}-{b}")
        cells = []
        for continuous in (False, True):
            began = time.perf_counter()
            measured = engine_percentiles(part, entry, capacity[a:b], percentile=95.0, seed=a,
                                          replay=continuous_replay if continuous else replay_segments)
            cells.append(f"{int((np.nan_to_num(measured) > SLO_MS).sum())} ({time.perf_counter() - began:.0f} s)")
        exact = [int(exact_replay(part.per_minute, capacity[a:b], entry, rng=np.random.default_rng(seed))
                     .violating(SLO_MS).sum()) for seed in (1, 2)]
        lines.append(f"| {a}-{b} | {part.total_invocations / 1e6:.1f} M | {int(frame['violating'][a:b].sum())} "
                     f"({probability[a:b].sum():.1f}) | {int((frame['verdict'][a:b] == TOO_CLOSE).sum())} | "
                     f"{' | '.join(cells)} | {', '.join(map(str, exact))} |")
    return lines


def engine_check(entry: Any) -> list[str]:
    """The test's 2-hour cosine (30,000 to 120,000 a minute) under a 1-12, 21,000 policy: the
    model's P95 per minute against two independent engine runs, by band of load."""
    minutes = np.arange(120)
    curve = TrafficCurve(per_minute=30_000 + 90_000 * (1 - np.cos(2 * np.pi * minutes / 120)) / 2, start=None,
                         source="2-hour cosine")
    capacity = replay(curve.per_minute, ScalingPolicy(1, 12, 21_000), STARTUP_S).in_service
    model = MinuteModel(entry, 95.0)
    predicted = model.percentile_ms(curve.per_minute, capacity)
    utilization = model.offered_utilization(curve.per_minute, capacity)
    began = time.perf_counter()
    first, second = (engine_percentiles(curve, entry, capacity, percentile=95.0, seed=seed,
                                                        replay=continuous_replay) for seed in (12, 13))
    lines = [f"engine check: {curve.total_invocations / 1e6:.1f} M requests per run, two runs in "
             f"{time.perf_counter() - began:.0f} s",
             "| rho | minutes | model vs run 1: mean, max abs | model vs mean of runs: mean, max abs | "
             "run 1 vs run 2: max abs |", "|---|---|---|---|---|"]
    mean = (first + second) / 2
    for low, high in ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9), (0.0, 0.9)):
        band = (utilization > low) & (utilization <= high)
        one, both = predicted[band] / first[band] - 1, predicted[band] / mean[band] - 1
        runs = np.abs(first[band] / second[band] - 1)
        lines.append(f"| {low}-{high} | {band.sum()} | {one.mean():+.1%}, {np.abs(one).max():.1%} | "
                     f"{both.mean():+.1%}, {np.abs(both).max():.1%} | {runs.max():.1%} |")
    return lines


if __name__ == "__main__":
    main()
