"""`irsim recommend` and `irsim.recommend()`: the optimizer's answer in the Describe item
shape (Metrics at the target rate), with irsim's details kept beside it."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

from calibration.transfer import complete_profile
from irsim.planning.ties import tie_broken, ties, within_limits
from irsim.service.request import PERCENTILES, BenchmarkSpec, JobSpec, parse_request
from optimizer import Candidate, Constraints, Plan, Target, Verified, parse_importance, plan
from optimizer.events import SERVERLESS, Observer, PlanEvent, ignore
from optimizer.ranking import Alternative, pareto_front, rank, scored
from optimizer.serverless import MAX_THROTTLED, ServerlessOption, serverless_options
from optimizer.throttling import ShareEstimate
from optimizer.verdict import DEFAULT_PRECISION
from pricing import Catalogue, PricingError, default_catalogue, serverless_cost_per_inference, serverless_rate
from simulator import InputError, Profile, checks, load_profile
from simulator.serverless import ServerlessProfile


def _candidate_types(job_types: list[str], profile: Profile, catalogue: Catalogue, which: str) -> list[str]:
    if which == "job":
        return list(dict.fromkeys(job_types))
    checks.choice(which, "candidates", ("job", "all"))
    priced = {t for (t, _region) in catalogue.prices}
    return sorted(t for t in set(profile.instances) | priced if not t.startswith("ml.t2."))


class RecommendOptions(TypedDict, total=False):
    """What ``recommend`` may be told besides the request (each defaults as the command line does)."""

    candidates: str                 # "job" (the request's types) or "all" (every profiled and priced type)
    min_instances: int
    max_instances: int | None
    allow_mixed: bool               # mixed instance types in one endpoint
    importance: str | None          # Studio's importance levels, e.g. "cost=5,latency=3"
    target_per_minute: float | None  # instead of StoppingConditions.MaxInvocations
    slo: str | None                 # "P99=50", instead of ModelLatencyThresholds
    routing: str
    closed_users: int | None        # closed-loop traffic of this many users instead of open Poisson
    budget_per_hour: float | None
    replications: int
    precision: float                # the relative precision at which a verdict is left too close to call
    serverless: bool                # weigh every memory size of the profile's serverless section


@dataclass(frozen=True)
class _Question:
    """The request's question, resolved: what rate, which SLO, under which constraints."""

    job: JobSpec
    profile: Profile
    types: list[str]                # the candidate instance types, in the order they are priced
    rate_per_minute: float
    percentile_name: str
    target: Target
    constraints: Constraints
    serverless: bool
    importance: str | None


def recommend(request: Mapping[str, Any], profile: Profile | Mapping[str, Any] | str | Path | None = None,
              seed: int = 0, region: str = "us-east-1", *, catalogue: Catalogue | None = None,
              observe: Observer = ignore, **options: Unpack[RecommendOptions]) -> dict[str, Any]:
    """The cheapest verified endpoint for the request's MaxInvocations and latency threshold
    (or ``target_per_minute`` and ``slo`` such as ``"P99=50"``), alternatives ranked, the
    Pareto front, and the types that cannot serve. ``serverless`` also weighs every memory
    size of the profile's serverless section (MaxConcurrency sized by Erlang B with the cold
    starts' setup inside the holding time, checked at steady state and from zero). ``observe``
    hears each step of the search (candidates sized, verifications, serverless sizes)."""
    catalogue = catalogue or default_catalogue()
    question = _question(request, profile, catalogue, options)
    priced, unpriced = _priced_candidates(question.types, catalogue, region)
    result = (plan(question.profile, priced, question.target, question.constraints, seed,
                   parse_importance(question.importance), observe)
              if priced or not question.serverless else NOTHING_PLANNED)
    rows = [_instance_row(_RowContext(question.job.job_name, question.rate_per_minute, question.percentile_name,
                                      question.profile, catalogue, region, seed, question.target.slo_ms), verified,
                          verified is result.chosen) for verified in result.alternatives]
    for row, verified in zip(rows, result.alternatives, strict=True):
        row["detail"]["WithinLimits"] = within_limits(verified.counts, verified.cost_per_hour, question.constraints)
        _add_next_count_down(row["detail"], verified, result, question.target.slo_ms)
    infeasible: list[dict[str, Any]] = [{"InstanceType": t, "Reason": r} for t, r in result.infeasible] + unpriced
    if question.serverless:
        _add_serverless(question, region, seed, observe, rows, infeasible)
    return _document(question, result, _ranked(rows, parse_importance(question.importance)), infeasible)


def _add_next_count_down(detail: dict[str, Any], verified: Verified, result: Plan, slo_ms: float) -> None:
    """A single-type row at its type's smallest passing count: the verdict on one instance
    fewer, and what budget would settle it when it is too close to call."""
    decision = next((d for d in result.decisions if dict(verified.counts) == {d.instance_type: d.count}), None)
    if decision is None or decision.count is None or decision.count <= 1:
        return
    count = decision.count
    below = decision.next_down
    settle = below.settle(slo_ms) if below is not None else None
    detail["NextCountDown"] = {
        "Count": count - 1, "Verdict": decision.next_down_verdict(slo_ms),
        "Milliseconds": below.percentile_ms if below is not None else None,
        "ConfidenceInterval95": [below.low_ms, below.high_ms] if below is not None else None,
        "Settle": None if settle is None else {"Precision": settle.precision, "Requests": settle.requests,
                                               "Practical": settle.practical}}


def _question(request: Mapping[str, Any], profile: Profile | Mapping[str, Any] | str | Path | None,
              catalogue: Catalogue, options: RecommendOptions) -> _Question:
    """The request read with the options: the rate, the SLO, the constraints, the profile completed
    for every candidate type."""
    loaded = load_profile(profile if profile is not None else "demo")
    job = parse_request(request, default_instance_types=loaded.instances)
    conditions = request.get("StoppingConditions", {})
    target_per_minute = options.get("target_per_minute")
    rate_per_minute = target_per_minute if target_per_minute is not None else conditions.get("MaxInvocations")
    if not rate_per_minute or rate_per_minute <= 0:
        raise InputError("StoppingConditions.MaxInvocations",
                         "is the target rate (per minute): give it in the request or pass a target rate")
    percentile_name, slo_ms = _slo(options.get("slo"), conditions)
    # A job's serverless endpoint configurations are weighed as serverless options, not instance types.
    serverless = options.get("serverless", False) or any(b.serverless is not None for b in job.benchmarks)
    types = _candidate_types([b.instance_type for b in job.benchmarks if b.serverless is None], loaded, catalogue,
                             options.get("candidates", "job"))
    target = Target(rate_per_s=rate_per_minute / 60.0, percentile=PERCENTILES[percentile_name], slo_ms=slo_ms,
                    routing=options.get("routing", "random"), closed_users=options.get("closed_users"),
                    replications=options.get("replications", 3),
                    precision=options.get("precision", DEFAULT_PRECISION))
    constraints = Constraints(allow_mixed=options.get("allow_mixed", False),
                              max_instances=options.get("max_instances"),
                              min_instances=options.get("min_instances", 1),
                              budget_per_hour=options.get("budget_per_hour"))
    return _Question(job=job, profile=complete_profile(loaded, types, catalogue.vcpu_of), types=types,
                     rate_per_minute=rate_per_minute, percentile_name=percentile_name, target=target,
                     constraints=constraints, serverless=serverless, importance=options.get("importance"))


def _priced_candidates(types: list[str], catalogue: Catalogue,
                       region: str) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """The candidate types with their hourly price in ``region``, and those without one (and why)."""
    priced: list[Candidate] = []
    unpriced: list[dict[str, Any]] = []
    for instance_type in types:
        try:
            priced.append(Candidate(instance_type=instance_type,
                                    price_per_hour=catalogue.price(instance_type, region).per_hour))
        except PricingError as exc:
            unpriced.append({"InstanceType": instance_type, "Reason": str(exc)})
    return priced, unpriced


def _add_serverless(question: _Question, region: str, seed: int, observe: Observer, rows: list[dict[str, Any]],
                    infeasible: list[dict[str, Any]]) -> None:
    """Every memory size of the profile's serverless section, as a row when feasible, else infeasible."""
    section = question.profile.serverless
    if section is None:
        raise InputError("serverless", f"profile {question.profile.model!r} has no serverless section")
    for option in _serverless_options(section, question.target, question.target.slo_ms, region, seed):
        observe(PlanEvent(SERVERLESS, f"{option.memory_mb} MB: "
                                      + ("feasible" if option.feasible else f"infeasible ({option.reason})")))
        if option.feasible:
            rows.append(_serverless_row(question.job.job_name, option, question.rate_per_minute,
                                        question.percentile_name, region, seed))
        else:
            infeasible.append({"ServerlessConfig": {"MemorySizeInMB": option.memory_mb}, "Reason": option.reason})


def _document(question: _Question, result: Plan, rows: list[dict[str, Any]],
              infeasible: list[dict[str, Any]]) -> dict[str, Any]:
    """recommend's answer: the Describe items, irsim's details beside them, and why."""
    levels = parse_importance(question.importance)
    items = [item for row in rows for item in row["items"]]
    front = pareto_front([_alternative(row) for row in rows])
    percentile_name, target = question.percentile_name, question.target
    return {
        "InferenceRecommendations": items,
        "Details": [row["detail"] for row in rows],
        "Infeasible": infeasible,
        "NotSimulated": [{"InstanceType": t, "Reason": r} for t, r in result.pruned],
        "Pareto": [{"RecommendationId": a.key, "CostPerHour": a.cost_per_hour, f"{percentile_name}Ms": a.latency_ms}
                   for a in front],
        "Target": {"InvocationsPerMinute": question.rate_per_minute, "Percentile": percentile_name,
                   "ValueInMilliseconds": target.slo_ms, "Routing": target.routing,
                   "Traffic": f"closed:{target.closed_users}" if target.closed_users else "open (Poisson)"},
        "Explanation": _scoped(result, rows) + ties(rows),  # why nothing fits, counts too close to call, a tie broken
        "Ranking": ("the verified cheapest first, then by Studio's importance levels ("
                    + ", ".join(f"{k}={v}" for k, v in levels.items()) + "): each criterion scaled to [0, 1] over "
                    "the alternatives, weighted 1 (lowest) to 5 (highest); RankScore is the sum"),
        "Warnings": _environment_warnings(question.job.benchmarks),
        "Simulations": {"run": result.simulations, "without_prescreen": result.naive_simulations,
                        "verifications": result.verifications,
                        "failed_verifications": [dict(c) for c in result.failed_verifications]},
    }


#: The plan of a request that has serverless options only (no instance type to size).
NOTHING_PLANNED = Plan(chosen=None, alternatives=(), pareto=(), decisions=(), infeasible=(), pruned=(), explanation=(),
                       simulations=0, naive_simulations=0, verifications=0)


def _serverless_options(section: ServerlessProfile, target: Target, slo_ms: float, region: str,
                        seed: int) -> list[ServerlessOption]:
    """Every memory size of the profile's serverless section, sized and checked at the target."""
    def price(memory_mb: int, billed_ms: float) -> float:
        return serverless_cost_per_inference(billed_ms, serverless_rate(memory_mb, region), section.payload_kb)
    return serverless_options(section, target.rate_per_s, target.percentile, slo_ms, price, target.replications, seed)


def _alternative(row: Mapping[str, Any]) -> Alternative:
    """A row as the ranking sees it: cost, latency and capacity."""
    return Alternative(key=row["id"], cost_per_hour=row["cost"], latency_ms=row["latency"],
                       capacity_per_s=row["capacity"])


def _scoped(result: Plan, rows: list[dict[str, Any]]) -> list[str]:
    """The plan's explanation; when it says no instance allocation fits but a serverless row is
    the answer, it says it speaks of real-time instances."""
    explanation = list(result.explanation)
    if result.chosen is None and explanation and any(r["detail"]["Verified"] for r in rows):
        explanation[0] = "Real-time instances: " + explanation[0]
    return explanation


def _environment_warnings(benchmarks: Sequence[BenchmarkSpec]) -> list[str]:
    """EnvironmentParameterRanges are not weighed by the optimizer: said, never dropped silently."""
    by_type: dict[str, list[str]] = {}
    for benchmark in benchmarks:
        if benchmark.environment:
            by_type.setdefault(benchmark.instance_type, []).append(
                ",".join(f"{k}={v}" for k, v in benchmark.environment))
    return [f"{instance_type}: EnvironmentParameterRanges ({'; '.join(values)}) are not weighed: recommend sizes "
            f"the type on its profile entry without environment variants (irsim run tests each combination)"
            for instance_type, values in by_type.items()]


def _ranked(rows: list[dict[str, Any]], importance: Mapping[str, str]) -> list[dict[str, Any]]:
    """The verified cheapest first (real-time or serverless), the rest in ranking order, each
    with its RankScore (why it stands where it does)."""
    verified = [r for r in rows if r["verified"]]
    chosen = min(verified, key=lambda r: (r["cost"], r["latency"])) if verified else None
    chosen = tie_broken(chosen, rows)
    scores = scored([_alternative(row) for row in rows], importance) if rows else []
    for row, score in zip(rows, scores, strict=True):
        row["detail"]["Verified"] = row is chosen
        row["detail"]["RankScore"] = round(score, 3)
    order = rank([_alternative(row) for row in rows], importance)
    by_id = {r["id"]: r for r in rows}
    ranked = [by_id[a.key] for a in order]
    return ([chosen] if chosen else []) + [r for r in ranked if r is not chosen]


@dataclass(frozen=True)
class _RowContext:
    """What every instance row of one answer shares."""

    job_name: str
    rate_per_minute: float
    percentile: str
    profile: Profile
    catalogue: Catalogue
    region: str
    seed: int
    slo_ms: float


def _instance_row(context: _RowContext, verified: Verified, chosen: bool) -> dict[str, Any]:
    recommendation_id = _identifier(context.job_name, verified, context.seed)
    items = [_item(recommendation_id, variant, instance_type, count, verified, context.rate_per_minute,
                   context.profile)
             for variant, (instance_type, count) in enumerate(sorted(verified.counts.items()))]
    detail = _details(recommendation_id, verified, chosen, context.percentile, context.profile,
                      context.catalogue, context.region)
    detail[context.percentile]["Verdict"] = verified.estimate.verdict(context.slo_ms)
    return {"id": recommendation_id, "items": items, "cost": verified.cost_per_hour, "verified": chosen,
            "latency": verified.estimate.percentile_ms, "capacity": verified.capacity_per_s, "detail": detail}


def _serverless_row(job_name: str, option: ServerlessOption, rate_per_minute: float, percentile: str, region: str,
                    seed: int) -> dict[str, Any]:
    key = f"serverless-{option.memory_mb}-{option.max_concurrency}"
    recommendation_id = f"{job_name}/{hashlib.sha256(f'{key}:{seed}'.encode()).hexdigest()[:8]}"
    digest = hashlib.sha256(recommendation_id.encode()).hexdigest()
    config = {"MemorySizeInMB": option.memory_mb, "MaxConcurrency": option.max_concurrency}
    estimate, cost_per_hour = option.estimate, option.cost_per_hour
    assert estimate is not None and cost_per_hour is not None, "a feasible option was sized and simulated"
    item = {"RecommendationId": recommendation_id,
            "Metrics": {"CostPerHour": cost_per_hour,
                        "CostPerInference": cost_per_hour / (rate_per_minute * 60),
                        "MaxInvocations": round(float(rate_per_minute)),
                        "ModelLatency": round(float(estimate.percentile_ms * 1000))},
            "EndpointConfiguration": {"EndpointName": f"sm-epc-{digest[:24]}", "VariantName": "variant-1",
                                      "ServerlessConfig": config},
            "ModelConfiguration": {}}
    detail = {"RecommendationId": recommendation_id, "Counts": {}, "ServerlessConfig": config, "Verified": False,
              percentile: {"Milliseconds": estimate.percentile_ms,
                           "ConfidenceInterval95": [estimate.low_ms, estimate.high_ms],
                           "Replications": estimate.replications,
                     "DecidedBy": estimate.decided_by},
              "Utilization": None, "ThrottledShare": option.throttled_share_steady,
              "ThrottledSharePredicted": option.throttled_share_predicted,
              "ThrottledShareSteady": option.throttled_share_steady,
              "ThrottledShareFirstMinute": option.throttled_share_first_minute,
              "ThrottledShareSteadyInterval": _share_interval(option.steady),
              "ThrottledShareFirstMinuteInterval": _share_interval(option.first_minute),
              "ColdStartFractionPredicted": option.cold_start_fraction_predicted,
              "ColdStartFractionSteady": option.cold_start_fraction_steady,
              "MaxConcurrencyByLaw": option.law_concurrency,
              "MaxConcurrencyFirstMinute": option.first_minute_concurrency,
              "CapacityPerMinute": rate_per_minute,
              "Calibrated": True, "PriceConfidence": [serverless_rate(option.memory_mb, region).confidence]}
    return {"id": recommendation_id, "items": [item], "cost": cost_per_hour, "verified": True,
            "latency": estimate.percentile_ms, "capacity": rate_per_minute / 60.0, "detail": detail}


def _share_interval(share: ShareEstimate | None) -> dict[str, Any] | None:
    """A simulated throttled share's 95 % interval, its verdict against 0.1 % and the arrivals behind it."""
    if share is None:
        return None
    return {"Low": share.low, "High": share.high, "Verdict": share.verdict(MAX_THROTTLED), "Arrivals": share.issued,
            "Dispersion": share.dispersion}


def parse_slo(text: Any, field: str = "slo", percentiles: Sequence[str] = tuple(PERCENTILES)) -> tuple[str, float]:
    """An SLO written ``P95=100``: the percentile's name (one of ``percentiles``: a job's
    thresholds take P95 and P99) and milliseconds (finite, > 0)."""
    name, _, value = text.partition("=") if isinstance(text, str) else ("", "", "")
    name = name.strip().upper()
    try:
        ms = float(value)
    except ValueError:
        ms = math.nan
    if name not in percentiles or not 0 < ms < math.inf:
        raise InputError(field, f"must look like P95=100 (percentile {' or '.join(percentiles)}, milliseconds > 0), "
                                f"got {text!r}")
    return name, ms


def _slo(text: str | None, conditions: Mapping[str, Any]) -> tuple[str, float]:
    if text:
        return parse_slo(text)
    thresholds = conditions.get("ModelLatencyThresholds") or []
    if not thresholds:
        raise InputError("StoppingConditions.ModelLatencyThresholds",
                         "is the SLO: give it in the request or pass an SLO such as P95=100")
    return thresholds[0]["Percentile"], float(thresholds[0]["ValueInMilliseconds"])


def _identifier(job_name: str, verified: Verified, seed: int) -> str:
    key = ",".join(f"{t}={n}" for t, n in sorted(verified.counts.items()))
    return f"{job_name}/{hashlib.sha256(f'{key}:{seed}'.encode()).hexdigest()[:8]}"


def _item(recommendation_id: str, variant: int, instance_type: str, count: int, verified: Verified,
          rate_per_minute: float, profile: Profile) -> dict[str, Any]:
    entry = profile.instance(instance_type)
    digest = hashlib.sha256(recommendation_id.encode()).hexdigest()
    cpu = verified.estimate.utilization * entry.workers * entry.cpu_per_worker * 100.0
    return {
        "RecommendationId": recommendation_id,
        "Metrics": {"CostPerHour": verified.cost_per_hour,
                    "CostPerInference": verified.cost_per_hour / (rate_per_minute * 60),
                    "MaxInvocations": round(float(rate_per_minute)),
                    "ModelLatency": round(float(verified.estimate.percentile_ms * 1000)),
                    "CpuUtilization": round(cpu, 2)},
        "EndpointConfiguration": {"EndpointName": f"sm-epc-{digest[:24]}", "VariantName": f"variant-{variant + 1}",
                                  "InstanceType": instance_type, "InitialInstanceCount": count},
        "ModelConfiguration": {},
    }


def _details(recommendation_id: str, verified: Verified, chosen: bool, percentile: str, profile: Profile,
             catalogue: Catalogue, region: str) -> dict[str, Any]:
    estimate = verified.estimate
    return {
        "RecommendationId": recommendation_id,
        "Counts": dict(verified.counts),
        "Verified": chosen,
        percentile: {"Milliseconds": estimate.percentile_ms,
                     "ConfidenceInterval95": [estimate.low_ms, estimate.high_ms],
                     "Replications": estimate.replications,
                     "DecidedBy": estimate.decided_by},
        "Utilization": estimate.utilization,
        "CapacityPerMinute": verified.capacity_per_s * 60,
        "Calibrated": all(profile.instance(t).calibrated for t in verified.counts),
        "PriceConfidence": sorted({catalogue.price(t, region).confidence for t in verified.counts}),
    }


