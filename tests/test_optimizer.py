"""The optimizer: exact M/M/c oracle answers, the ILP against brute force, the verification
loop, ranking, and `irsim recommend`."""

import importlib
import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import irsim
from irsim.cli.app import main
from optimizer import Candidate, Constraints, Option, Target, plan, solve
from optimizer.ranking import Alternative, pareto_front, parse_importance, rank
from simulator import InputError, load_profile
from simulator.analytic import mmc_response_quantile

plan_module = importlib.import_module("optimizer.plan")  # the module (its name is shadowed by the function)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def exponential_profile(types):
    return load_profile({"model": "oracle", "instances": {
        t: {"workers": c, "service_time": {"family": "exponential", "mean_ms": s}} for t, (c, s) in types.items()}})


def oracle_count(rate, workers, service_s, slo_s, q=0.95):
    """The exact smallest count: each instance is M/M/c at rate / count (random routing)."""
    count = math.floor(rate * service_s / workers) + 1
    while mmc_response_quantile(q, rate / count, workers, service_s) > slo_s:
        count += 1
    return count


def clear_margin(rate, workers, service_s, slo_s, count, q=0.95):
    """At the answer the P95 is at least 10 % under the SLO, one fewer at least 10 % over it."""
    at = mmc_response_quantile(q, rate / count, workers, service_s)
    below = mmc_response_quantile(q, rate / (count - 1), workers, service_s) if count > 1 else math.inf
    return at <= 0.9 * slo_s and below >= 1.1 * slo_s


ORACLE_CASES = [
    # (rate per s, SLO ms, {type: (workers, mean service ms)}, prices)
    (400.0, 60.0, {"ml.c5.large": (2, 10.0), "ml.c5.xlarge": (4, 9.0), "ml.m5.large": (2, 7.0)}),
    (150.0, 40.0, {"ml.c5.large": (1, 8.0), "ml.c5.xlarge": (2, 6.0), "ml.m5.xlarge": (4, 12.0)}),
    (900.0, 25.0, {"ml.c5.2xlarge": (8, 6.0), "ml.c5.xlarge": (4, 5.0), "ml.m5.2xlarge": (8, 4.0)}),
]


@pytest.mark.slow(reason="a whole search against exact M/M/c (2.7 s measured)")
@pytest.mark.parametrize("rate, slo_ms, types", ORACLE_CASES)
def test_the_optimizer_picks_the_exact_mmc_answer(rate, slo_ms, types):
    import pricing
    profile = exponential_profile(types)
    prices = {t: pricing.hourly_price(t).per_hour for t in types}
    answers = {}
    for instance_type, (workers, service_ms) in types.items():
        count = oracle_count(rate, workers, service_ms / 1000, slo_ms / 1000)
        if clear_margin(rate, workers, service_ms / 1000, slo_ms / 1000, count):
            answers[instance_type] = count
    assert answers, "the case must have a clear optimum"
    cheapest_cost = min(prices[t] * n for t, n in answers.items())
    result = plan(profile, [Candidate(t, prices[t]) for t in answers], Target(rate, 95, slo_ms), seed=1)
    assert result.chosen is not None
    (chosen_type, chosen_count), = result.chosen.counts.items()
    assert answers[chosen_type] == chosen_count and prices[chosen_type] * chosen_count == pytest.approx(cheapest_cost)
    # Every type that was simulated got its exact oracle count too.
    for decision in result.decisions:
        assert decision.count == answers[decision.instance_type]
    assert result.chosen.estimate.meets(slo_ms)


def test_a_type_whose_service_time_alone_breaks_the_slo_is_infeasible():
    profile = exponential_profile({"ml.c5.large": (2, 50.0), "ml.c5.xlarge": (4, 5.0)})
    result = plan(profile, [Candidate("ml.c5.large", 0.1), Candidate("ml.c5.xlarge", 0.2)], Target(100.0, 95, 40.0))
    assert dict(result.infeasible)["ml.c5.large"].startswith("its service time alone has P95")
    assert result.chosen.counts == {"ml.c5.xlarge": 1}


@pytest.mark.slow
def test_the_answer_is_never_a_configuration_that_failed_verification(monkeypatch):
    profile = exponential_profile({"ml.c5.large": (2, 10.0), "ml.c5.xlarge": (4, 10.0)})
    real = plan_module.simulate_endpoint
    failed = []

    def first_fails(profile_, counts, target, seed):
        result = real(profile_, counts, target, seed)
        if not failed:  # pretend the first allocation missed its SLO in the whole-endpoint run
            failed.append(dict(counts))
            return type(result)(result.percentile_ms, result.low_ms, target.slo_ms * 2, result.replications,
                                result.utilization)
        return result

    monkeypatch.setattr(plan_module, "simulate_endpoint", first_fails)
    result = plan(profile, [Candidate("ml.c5.large", 0.1), Candidate("ml.c5.xlarge", 0.2)], Target(300.0, 95, 60.0))
    assert result.verifications == 2 and [dict(c) for c in result.failed_verifications] == failed
    assert dict(result.chosen.counts) != failed[0]
    assert all(a.counts != failed[0] or a is not result.chosen for a in result.alternatives)


# --- the ILP against brute force ---------------------------------------------------------------

def brute_force(options, target, constraints):
    best = None
    bounds = [range(max(math.ceil(target / o.rate_per_s), constraints.min_instances) + 2) for o in options]
    for counts in itertools.product(*bounds):
        used = [n for n in counts if n]
        if not constraints.allow_mixed and len(used) > 1:
            continue
        if sum(counts) < constraints.min_instances:
            continue
        if constraints.max_instances is not None and any(n > constraints.max_instances for n in counts):
            continue
        if sum(o.rate_per_s * n for o, n in zip(options, counts, strict=True)) < target - 1e-9:
            continue
        cost = sum(o.price_per_hour * n for o, n in zip(options, counts, strict=True))
        if constraints.budget_per_hour is not None and cost > constraints.budget_per_hour + 1e-9:
            continue
        if best is None or cost < best - 1e-9:
            best = cost
    return best


def test_a_budget_the_cheapest_allocation_meets_never_changes_it():
    """Found by the brute-force property below: with the budget written as a row repeating the
    objective, CBC answered 1 x $2 + 2 x $0.5 = $3 as optimal where 3 x $0.5 = $1.5 serves."""
    options = [Option("ml.t0.large", 20.0, 2.0), Option("ml.t1.large", 20.0, 0.5)]
    answer = solve(options, 50.0, Constraints(True, None, 1, 4.0))
    assert answer is not None and answer.counts == {"ml.t1.large": 3} and answer.cost_per_hour == 1.5
    assert solve(options, 50.0, Constraints(True, None, 1, 1.49)) is None  # under the cheapest: none


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@example(options=[(20.0, 2.0), (20.0, 0.5)], target=50.0, allow_mixed=True, quota=None, floor=1, budget=4.0)
@given(options=st.lists(st.tuples(st.floats(20, 300), st.floats(0.05, 2.0)), min_size=1, max_size=3),
       target=st.floats(50, 900), allow_mixed=st.booleans(), quota=st.one_of(st.none(), st.integers(1, 12)),
       floor=st.integers(1, 3), budget=st.one_of(st.none(), st.floats(0.2, 6.0)))
def test_ilp_matches_brute_force(options, target, allow_mixed, quota, floor, budget):
    opts = [Option(f"ml.t{i}.large", rate, price) for i, (rate, price) in enumerate(options)]
    constraints = Constraints(allow_mixed, quota, floor, budget)
    expected = brute_force(opts, target, constraints)
    solution = solve(opts, target, constraints)
    if expected is None:
        assert solution is None
    else:
        assert solution is not None and solution.cost_per_hour == pytest.approx(expected, abs=1e-6)
        assert solution.capacity_per_s >= target - 1e-6
        assert sum(solution.counts.values()) >= floor
        assert allow_mixed or len(solution.counts) == 1


# --- ranking --------------------------------------------------------------------------------------

def test_pareto_front_and_importance():
    alternatives = [Alternative("a", 1.0, 50, 100), Alternative("b", 2.0, 20, 100), Alternative("c", 2.5, 30, 120),
                    Alternative("d", 0.8, 80, 90)]
    assert [a.key for a in pareto_front(alternatives)] == ["d", "a", "b"]
    # Weighted sum of min-max normalised criteria (weights 1..5): with cost 5, latency 1,
    # throughput 1, a scores 5 x 0.88 + 0.5 + 0.33 = 5.24 and the cheapest, d, 5 x 1 = 5.
    ranked = rank(alternatives, parse_importance("cost=highest,latency=lowest,throughput=lowest"))
    assert [a.key for a in ranked] == ["a", "d", "b", "c"]
    assert rank(alternatives, parse_importance("cost=lowest,latency=highest,throughput=lowest"))[0].key == "b"
    with pytest.raises(InputError, match="Lowest, Low, Moderate, High, Highest") as info:
        parse_importance("cost=urgent")
    assert info.value.field == "importance"  # the domain field; only the command line knows --importance


# --- the API and the CLI ----------------------------------------------------------------------------

def big_request():
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": t} for t in
                                                        ("ml.c5.large", "ml.c5.xlarge", "ml.m5.large")]
    request["StoppingConditions"]["MaxInvocations"] = 30000
    request["StoppingConditions"]["ModelLatencyThresholds"] = [{"Percentile": "P95", "ValueInMilliseconds": 10}]
    return request


@pytest.mark.slow
def test_recommend_document_shapes_and_determinism():
    document = irsim.recommend(big_request(), seed=3)
    assert document == irsim.recommend(big_request(), seed=3)
    first = document["InferenceRecommendations"][0]
    assert first["Metrics"]["MaxInvocations"] == 30000
    assert first["Metrics"]["CostPerInference"] == pytest.approx(first["Metrics"]["CostPerHour"] / (30000 * 60))
    assert document["Details"][0]["Verified"] is True
    low, high = document["Details"][0]["P95"]["ConfidenceInterval95"]
    assert low <= document["Details"][0]["P95"]["Milliseconds"] <= high <= 10
    assert set(document) >= {"InferenceRecommendations", "Infeasible", "Pareto"}


@pytest.mark.slow
def test_recommend_cli(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(big_request()))
    assert main(["recommend", str(job), "--plot", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "verified cheapest" in out and "P95 ms" in out
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["recommend", str(job), "--json", "--slo", "P99=20", "--min-instances", "2"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["Target"]["Percentile"] == "P99" and sum(document["Details"][0]["Counts"].values()) >= 2
    assert main(["recommend", str(job), "--slo", "P90=5"]) == 2
    assert "--slo: must look like P95=100" in capsys.readouterr().err
    assert main(["recommend", str(job), "--traffic", "closed"]) == 2
    assert main(["recommend", str(job), "--budget", "0.01"]) == 1
    assert "closest misses" in capsys.readouterr().out


@pytest.mark.slow
def test_least_outstanding_routing_and_closed_traffic_use_whole_endpoint_simulations():
    profile = exponential_profile({"ml.c5.large": (1, 20.0)})
    candidates = [Candidate("ml.c5.large", 0.1)]
    random_routing = plan(profile, candidates, Target(120.0, 95, 80.0, routing="random"), seed=2)
    least = plan(profile, candidates, Target(120.0, 95, 80.0, routing="least_outstanding_requests"), seed=2)
    # Joining the shortest queue never needs more instances than splitting at random.
    assert least.chosen.counts["ml.c5.large"] <= random_routing.chosen.counts["ml.c5.large"]
    assert least.chosen.estimate.meets(80.0)
    # 20 users must reach 120 requests a second within the SLO: at most 1 / 20 ms each per
    # instance, so at least 3 instances whatever the latency says.
    closed = plan(profile, candidates, Target(120.0, 95, 400.0, closed_users=20), seed=2)
    assert closed.chosen.counts["ml.c5.large"] >= 3
    assert closed.chosen.estimate.throughput_per_s >= 0.99 * 120.0
