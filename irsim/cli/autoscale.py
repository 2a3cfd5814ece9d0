"""`irsim autoscale JOB_DIR_OR_NAME --traffic FILE_OR_SPEC`: the cheapest target-tracking policy
for a job's recommended instance type under a traffic curve, against static provisioning at
the peak and against the policy GetScalingConfigurationRecommendation gives."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autoscaling import (
    ScalingPolicy,
    Scenario,
    Timeline,
    TrafficCurve,
    evaluate_policy,
    parse_curve,
    recommend_policy,
)
from autoscaling.latency import PERCENTILES
from autoscaling.policy import MAX_STARTUP_S
from calibration.transfer import complete_profile
from irsim.cli.destinations import check_destinations
from irsim.cli.printing import Printer
from irsim.durable.store import JobStore
from irsim.inputs import load_json_object
from irsim.planning.recommend import parse_slo
from irsim.present.autoscale import autoscale_table, minutes_frame, write_autoscale_outputs
from irsim.present.files import read_folder_csv
from irsim.present.units import without_units
from irsim.service.result import JobDocument, stored_document
from irsim.service.scaling import ScalingRecommendation, per_minute_frames, recommend_scaling
from optimizer.verdict import MEETS, MISSES, TOO_CLOSE
from pricing import default_catalogue
from simulator import InputError, Profile, checks, load_profile
from simulator.bounds import ResourceLimitError
from simulator.profiles import InstanceProfile

#: The engine check's verdict counts in the answer, by key.
VERDICT_KEYS = {"meets_minutes": MEETS, "misses_minutes": MISSES, "too_close_minutes": TOO_CLOSE}


@dataclass(frozen=True)
class CompletedJob:
    """A completed job's answers, wherever they were kept (an `irsim run --out` folder or the store)."""

    name: str
    describe: dict[str, Any]
    extensions: dict[str, Any] | None
    minutes: dict[int, pd.DataFrame]
    profile: Profile


def _folder_job(folder: Path, profile: str | None) -> CompletedJob:
    """An `irsim run --out` folder: describe.json, irsim.json and metrics.csv (the profile is
    not kept there: --profile, the demo profile by default, must be the model the job ran)."""
    describe = load_json_object(str(folder / "describe.json"), "JOB_DIR_OR_NAME", "a Describe response")
    extensions = load_json_object(str(folder / "irsim.json"), "JOB_DIR_OR_NAME", "irsim's extensions") \
        if (folder / "irsim.json").exists() else None
    minutes: dict[int, pd.DataFrame] = {}
    if (folder / "metrics.csv").exists():
        try:
            table = without_units(read_folder_csv(folder, "metrics.csv"))
            minutes = {int(i): table[table["benchmark"] == i].reset_index(drop=True)
                       for i in table["benchmark"].unique()}
        except (ValueError, KeyError, pd.errors.ParserError) as exc:
            raise InputError("job", f"{folder / 'metrics.csv'} cannot be read: {exc}") from None
    loaded = load_profile(profile or "demo")
    document = stored_document(extensions)
    model = document.model if document else None
    if model is not None and model != loaded.model:
        raise InputError("profile", f"{folder} was simulated on model {model!r}, not {loaded.model!r}: give its "
                                    "profile")
    return CompletedJob(name=str(describe.get("JobName", folder.name)), describe=describe, extensions=extensions,
                        minutes=minutes, profile=loaded)


def load_job(target: str, home: str | None, profile: str | None) -> CompletedJob:
    """The folder ``target`` names, else the stored job of that name; it must be COMPLETED."""
    folder = Path(target)
    if folder.is_dir():
        if not (folder / "describe.json").exists():
            raise InputError("job", f"{target} is a folder without describe.json (an `irsim run --out` folder)")
        job = _folder_job(folder, profile)
    else:
        store = JobStore(home)
        record = store.get(target)
        if record is None:
            raise InputError("job", f"{target!r} is neither an `irsim run --out` folder nor a job in {store.home}")
        describe = record.describe or {"JobName": record.name, "Status": record.status}
        stored = stored_document(record.extensions)
        job = CompletedJob(name=record.name, describe=describe, extensions=record.extensions,
                           minutes=per_minute_frames(stored.per_minute if isinstance(stored, JobDocument) else None),
                           profile=load_profile(profile if profile else record.profile))
    status = job.describe.get("Status")
    if status != "COMPLETED" or not job.describe.get("InferenceRecommendations"):
        raise InputError("job", f"job {job.name} is {status} without an instance recommendation: autoscaling needs a "
                                "COMPLETED job that recommends an instance type")
    return job


def chosen_recommendation(job: CompletedJob, recommendation_id: str | None) -> dict[str, Any]:
    """The recommendation given by id, else the instance-based one cheapest per inference."""
    candidates = [r for r in job.describe["InferenceRecommendations"] if "InstanceType" in r["EndpointConfiguration"]]
    if recommendation_id is not None:
        for recommendation in candidates:
            if recommendation["RecommendationId"] == recommendation_id:
                return recommendation
        known = ", ".join(r["RecommendationId"] for r in candidates)
        raise InputError("recommendation_id", f"{recommendation_id!r} is not an instance recommendation of job "
                                              f"{job.name} (it has {known})")
    if not candidates:
        raise InputError("job", f"job {job.name} recommends only serverless endpoints: nothing to autoscale")
    return min(candidates, key=lambda r: (r["Metrics"]["CostPerInference"], r["RecommendationId"]))


def profile_entry(job: CompletedJob, recommendation: dict[str, Any]) -> InstanceProfile:
    """The profile entry the recommendation's benchmark ran on (derived by calibration's scaling
    rules for a type the profile does not measure), in its environment."""
    instance_type = recommendation["EndpointConfiguration"]["InstanceType"]
    profile = complete_profile(job.profile, [instance_type], default_catalogue().vcpu_of)
    environment = {p["Key"]: p["Value"] for p in recommendation["ModelConfiguration"].get("EnvironmentParameters", [])}
    return profile.instances[instance_type].for_environment(environment)


def aws_policy(job: CompletedJob, recommendation: dict[str, Any], curve: TrafficCurve) -> ScalingRecommendation:
    """What GetScalingConfigurationRecommendation answers for this curve's lowest and highest minute."""
    request = {"InferenceRecommendationsJobName": job.name, "RecommendationId": recommendation["RecommendationId"],
               "ScalingPolicyObjective": {"MinInvocationsPerMinute": math.floor(float(curve.per_minute.min())),
                                          "MaxInvocationsPerMinute": math.ceil(curve.peak_per_minute)}}
    return recommend_scaling(request, job.describe, job.extensions, job.minutes, default_catalogue().vcpu_of,
                             job.profile)


def policy_document(policy: ScalingPolicy) -> dict[str, Any]:
    return {"MinCapacity": policy.min_capacity, "MaxCapacity": policy.max_capacity,
            "TargetValue": policy.target_value, "ScaleInCooldown": policy.scale_in_cooldown_s,
            "ScaleOutCooldown": policy.scale_out_cooldown_s}


def totals(timeline: Timeline) -> dict[str, Any]:
    return {"violating_minutes": timeline.violating_minutes, "too_close_minutes": timeline.too_close_minutes,
            "cost": timeline.cost, "instance_minutes": timeline.instance_minutes, "failed": timeline.failed}


def engine_document(timeline: Timeline) -> dict[str, Any]:
    """The engine check of the recommended policy: its violating minutes and the three-valued
    verdict of every minute, counted."""
    verdicts = timeline.frame["verdict"]
    return {"violating_minutes": timeline.violating_minutes,
            **{key: int((verdicts == verdict).sum()) for key, verdict in VERDICT_KEYS.items()},
            "replay": "one continuous discrete-event run over the whole curve, its capacity changes applied to "
                      "the running simulation and requests in flight kept"}


def traffic_curve(text: str) -> TrafficCurve:
    """The --traffic curve; an error in one of a spec's keys is worded under the flag too."""
    try:
        return parse_curve(text, field="traffic")
    except InputError as exc:
        if exc.field.startswith("traffic."):
            raise InputError("traffic", f"{exc.field.removeprefix('traffic.')}: {exc.message}") from None
        raise


def bounded(text: str, field: str, low: float, high: float, what: str) -> float:
    """A number from ``low`` to ``high`` given as ``text``, else an InputError naming ``field``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    return checks.number(value, field, minimum=low, maximum=high, what=what)


def cmd_autoscale(args: argparse.Namespace) -> int:
    check_destinations(args, folders=("out",))
    printer = Printer.from_args(args)
    percentile, slo_ms = parse_slo(args.slo, percentiles=tuple(f"P{p:g}" for p in PERCENTILES))
    args.violation_budget = bounded(args.violation_budget, "violation_budget", 0.0, 1.0, "a share of minutes")
    args.startup_s = bounded(args.startup_s, "startup_s", 0.0, MAX_STARTUP_S, "seconds")
    curve = traffic_curve(args.traffic)
    job = load_job(args.job, args.home, args.service_profile)
    recommendation = chosen_recommendation(job, args.recommendation_id)
    entry = profile_entry(job, recommendation)
    endpoint = recommendation["EndpointConfiguration"]
    price = recommendation["Metrics"]["CostPerHour"] / endpoint["InitialInstanceCount"]
    scenario = Scenario.of(curve, entry, price_per_hour=price, percentile=percentile, slo_ms=slo_ms,
                           startup_s=args.startup_s)
    try:
        found = recommend_policy(scenario, violation_budget=args.violation_budget, verify=args.engine_check)
    except ResourceLimitError as exc:  # only the engine check keeps every request of the curve
        raise InputError("engine_check", f"the curve is too long for the engine check, which keeps every request to "
                                         f"judge each minute by its arrivals: {exc.message}; check a shorter window "
                                         "of the curve") from None
    static = found.static
    aws = aws_policy(job, recommendation, curve)
    aws_given = ScalingPolicy(min_capacity=aws.min_capacity, max_capacity=aws.max_capacity,
                              target_value=aws.target_value, scale_in_cooldown_s=aws.scale_in_cooldown_s,
                              scale_out_cooldown_s=aws.scale_out_cooldown_s)
    aws_timeline = evaluate_policy(scenario, aws_given)
    chosen = found.timeline
    document = {
        "job": job.name, "recommendation_id": recommendation["RecommendationId"],
        "instance_type": endpoint["InstanceType"], "price_per_hour": price,
        "traffic": {"source": curve.source, "minutes": curve.minutes,
                    "minimum_per_minute": float(curve.per_minute.min()), "peak_per_minute": curve.peak_per_minute,
                    "total_invocations": curve.total_invocations, "notes": list(curve.notes)},
        "slo": {"percentile": percentile, "ms": slo_ms}, "violation_budget": args.violation_budget,
        "budget_minutes": found.budget_minutes, "within_budget": found.within_budget, "startup_s": args.startup_s,
        "policy": policy_document(chosen.policy), "minutes": chosen.minutes, **totals(chosen),
        "static_peak": {"count": static.count, **totals(static.timeline)},
        "aws_policy": {**policy_document(aws_given), "TargetCpuUtilizationPerCore": aws.target_cpu_per_core,
                       **totals(aws_timeline),
                       "rule": f"TargetValue {aws.target_value:,.0f} from the benchmark's CPU ({aws.rule}"
                               f"{', held at the per-instance max' if aws.capped else ''}), capacities for "
                               f"{math.floor(float(curve.per_minute.min())):,} to {math.ceil(curve.peak_per_minute):,}"
                               " invocations/min"},
    }
    if found.verified is not None:
        document["engine_check"] = engine_document(found.verified)
    if args.out:
        frame = minutes_frame(chosen.frame, aws_timeline.frame, static.timeline.frame, found.verified)
        written = write_autoscale_outputs(Path(args.out), document, frame)
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    printer.emit(document, lambda: autoscale_table(document), "Autoscale")
    return 0
