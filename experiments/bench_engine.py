"""Benchmark irsim's event loop against SimPy, Ciw and a hand-written heapq loop.

Every engine simulates the same reference system in the same process:

* N = 20 closed-loop users with zero think time, each with one request in flight;
* one station of c = 4 workers behind a FIFO queue;
* lognormal service times, mean 20 ms, coefficient of variation 0.5;
* a 6000 s simulated horizon (about 1.2 M completed requests; 600 s with ``--quick``).

Because N > c all workers are busy from t = 0 on, so the exact throughput is
c / E[S] = 200 requests per simulated second and, by Little's law, the mean latency
(wait + service) is N / 200 = 100 ms. Each engine's measured throughput must agree with
the others' within 2% or the comparison is void (exit code 1).

Engines:

1. irsim: ``simulator.simulate`` with per-minute metrics and stopping conditions on; the
   whole call is timed, including the per-minute DataFrame; on the Python engine (``fast=False``).
1b. irsim fast: the same call on the compiled fast path (``fast=True``, simulator/fastpath.py):
   the same run event for event, so its requests and mean latency must equal irsim's exactly.
   Its compile time is reported apart: numba compiling from an empty cache, and loading from
   the disk cache, each in a fresh process (the timed runs start with the loop loaded).
2. idiomatic SimPy: one process per user, ``simpy.Resource(capacity=4)``, a latency list.
3. Ciw 3: a closed loop emulated by 20 customers injected at t = 0 (one batch of 20) and
   routed back to the same node with probability 1; Ciw draws its own lognormals.
4. heapq: the pure-Python floor, a heap of completion times and a deque FIFO.

Each engine runs several times and the best (shortest) wall time is reported. Then
irsim's wall time on horizon/10 and on the full horizon shows whether it scales linearly.

Routing at scale: irsim on K = 64 and 256 instances, each loaded as the reference model
(20 users per 4-worker instance, so 20K users), with random routing and with
least-outstanding-requests routing, on horizon/K simulated seconds (about as many requests
as the reference run). Least-outstanding routing's rate is reported against random
routing's at the same K, measured in the same process.

Five targets are judged: irsim >= 1.0 M requests per wall second, irsim >= 5x SimPy,
least-outstanding routing at 256 instances at least half as fast as random routing, and the
fast path at >= 3x the heapq floor measured in the same run and >= 10 M requests per wall
second (a quiet core; the CPU share says when the machine was not quiet). Random routing at
scale runs on the fast path too.

Usage: .venv/bin/python experiments/bench_engine.py [--quick] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from heapq import heappush, heapreplace
from importlib.metadata import version
from itertools import chain
from pathlib import Path
from typing import Any

import ciw
import numpy as np
import simpy

from simulator import LatencyThreshold, StoppingConditions, fastpath, simulate

FULL_HORIZON_S = 6000.0
QUICK_HORIZON_S = 600.0
SEED = 0
BLOCK = 1 << 15  # service times drawn per numpy call (irsim's engine uses the same size)
AGREEMENT_TOLERANCE = 0.02
TARGET_RATE = 1.0e6  # irsim requests per wall second
TARGET_SPEEDUP = 5.0  # irsim over idiomatic SimPy
ROUTING_INSTANCES = (64, 256)
ROUTING_POLICIES = ("random", "least_outstanding_requests")
TARGET_ROUTING_RATIO = 0.5  # least-outstanding over random routing's rate, at the largest K
TARGET_FAST_OVER_HEAPQ = 3.0  # the fast path over the heapq floor, in the same run
TARGET_FAST_RATE = 10.0e6  # fast-path requests per wall second (on a quiet core)
SHARED_BELOW = 0.9  # irsim's CPU share under which the report says the machine was shared


@dataclass(frozen=True)
class Model:
    """The reference closed-loop system every engine simulates."""

    users: int = 20
    workers: int = 4
    mean_s: float = 0.020
    cv: float = 0.5

    @property
    def lognormal_mu_sigma(self) -> tuple[float, float]:
        """(mu, sigma) of the underlying normal: sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2."""
        sigma2 = math.log1p(self.cv * self.cv)
        return math.log(self.mean_s) - sigma2 / 2.0, math.sqrt(sigma2)

    @property
    def throughput_per_s(self) -> float:
        """Exact saturated throughput c / E[S] (all workers are always busy when N > c)."""
        return self.workers / self.mean_s

    def profile(self) -> dict:
        """The model as an irsim service profile with one instance type, ``ml.ref``."""
        service = {"family": "lognormal", "mean_ms": self.mean_s * 1000.0, "cv": self.cv}
        return {"model": "reference", "instances": {"ml.ref": {"workers": self.workers, "service_time": service}}}


class Stopwatch:
    """Wall and CPU seconds since it started. On a shared machine the CPU share (CPU / wall)
    says how much of the wall time the run actually had a core for."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, time.process_time() - self._cpu


@dataclass(frozen=True)
class Measurement:
    """One timed run: completed requests, wall and CPU seconds, mean latency in simulated seconds."""

    requests: int
    wall_s: float
    cpu_s: float
    mean_latency_s: float


@dataclass(frozen=True)
class Result:
    """An engine's best run out of ``repeats`` on ``horizon_s`` simulated seconds."""

    engine: str
    horizon_s: float
    repeats: int
    best: Measurement

    @property
    def rate(self) -> float:
        """Completed requests per wall second."""
        return self.best.requests / self.best.wall_s

    @property
    def cpu_share(self) -> float:
        """CPU seconds over wall seconds of the best run: 1.0 when nothing else competed."""
        return self.best.cpu_s / self.best.wall_s

    @property
    def throughput_per_s(self) -> float:
        """Completed requests per simulated second."""
        return self.best.requests / self.horizon_s


Runner = Callable[[Model, float, int], Measurement]


@dataclass(frozen=True)
class Engine:
    """A named runner and how many times to run it."""

    name: str
    run: Runner
    repeats: int


# --- the engines -------------------------------------------------------------------------

def run_irsim(model: Model, horizon_s: float, seed: int, instances: int = 1, routing: str = "random",
              fast: bool = False) -> Measurement:
    """irsim's public entry point with per-minute metrics and every stopping condition on;
    ``instances`` instances each get the model's users; on the Python engine, or on the
    compiled fast path with ``fast``."""
    stopping = StoppingConditions(max_invocations=10**9, latency=LatencyThreshold(95, 1e6),
                                  stop_on_flat_invocations=True)
    profile = model.profile()
    watch = Stopwatch()
    result = simulate(profile, "ml.ref", instance_count=instances, users=model.users * instances,
                      duration_s=horizon_s, seed=seed, routing=routing, stopping=stopping, fast=fast)
    wall, cpu = watch.elapsed()
    if result.duration_s != horizon_s:
        raise RuntimeError(f"irsim stopped early at {result.duration_s} s: {result.stop_reason}")
    return Measurement(result.completed, wall, cpu, float(result.latency_ms.mean()) / 1000.0)


def service_stream(model: Model, seed: int) -> Callable[[], float]:
    """A ``next()`` over lognormal service times drawn BLOCK at a time from a seeded Generator.

    The SimPy and heapq baselines call this inside their timed region, exactly as irsim's
    engine draws its own blocks inside ``simulate``: every engine pays for its own random
    numbers. Block draws keep that cost small (about 35 ns a draw, ~40 ms per 1.2 M) instead
    of the microsecond per-call numpy overhead that would dominate a pure-Python loop.
    """
    rng = np.random.default_rng(seed)
    mu, sigma = model.lognormal_mu_sigma

    def blocks() -> Iterator[list[float]]:
        while True:
            yield rng.lognormal(mu, sigma, BLOCK).tolist()

    return chain.from_iterable(blocks()).__next__


def run_simpy(model: Model, horizon_s: float, seed: int) -> Measurement:
    """Idiomatic SimPy: a process per user around a ``Resource``; latencies into a list."""
    watch = Stopwatch()
    next_service = service_stream(model, seed)
    env = simpy.Environment()
    workers = simpy.Resource(env, capacity=model.workers)
    latencies: list[float] = []

    def user() -> Generator[simpy.Event, Any, None]:
        while True:
            issued = env.now
            with workers.request() as request:
                yield request
                yield env.timeout(next_service())
            latencies.append(env.now - issued)

    for _ in range(model.users):
        env.process(user())
    env.run(until=horizon_s)
    wall, cpu = watch.elapsed()
    return Measurement(len(latencies), wall, cpu, sum(latencies) / len(latencies))


def run_ciw(model: Model, horizon_s: float, seed: int) -> Measurement:
    """Ciw with a closed loop emulated: one batch of N customers at t = 0, no other arrival
    (the next inter-arrival time is infinite), and routing back to node 1 with probability 1."""
    mu, sigma = model.lognormal_mu_sigma
    watch = Stopwatch()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Sequential([0.0, math.inf])],
        batching_distributions=[ciw.dists.Deterministic(model.users)],
        service_distributions=[ciw.dists.Lognormal(mu, sigma)],
        number_of_servers=[model.workers],
        routing=[[1.0]],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(horizon_s)
    wall, cpu = watch.elapsed()
    # Counting is not timed: Ciw already holds every record, there is nothing left to build.
    records = simulation.get_all_records(only=["service"])
    latency = sum(r.waiting_time + r.service_time for r in records)
    return Measurement(len(records), wall, cpu, latency / len(records))


def run_heapq(model: Model, horizon_s: float, seed: int) -> Measurement:
    """The pure-Python floor: a heap of (completion, issue time) per busy worker and a FIFO.

    With zero think time a user re-issues the moment its response arrives, so the worker
    that just finished always has work: the new request joins the queue's tail and the
    worker takes the queue's head.
    """
    watch = Stopwatch()
    next_service = service_stream(model, seed)
    busy: list[tuple[float, float]] = []
    waiting: deque[float] = deque()
    latencies: list[float] = []
    record, enqueue, dequeue = latencies.append, waiting.append, waiting.popleft
    for _ in range(model.users):
        if len(busy) < model.workers:
            heappush(busy, (next_service(), 0.0))
        else:
            enqueue(0.0)
    while busy:
        now, issued = busy[0]
        if now > horizon_s:
            break
        record(now - issued)
        enqueue(now)
        heapreplace(busy, (now + next_service(), dequeue()))
    wall, cpu = watch.elapsed()
    return Measurement(len(latencies), wall, cpu, sum(latencies) / len(latencies))


# --- measuring ---------------------------------------------------------------------------

def best_of(engine: Engine, model: Model, horizon_s: float) -> Result:
    """Run ``engine`` ``engine.repeats`` times (same seed) and keep the shortest wall time."""
    runs = []
    for _ in range(engine.repeats):
        gc.collect()  # every run starts without the previous run's garbage
        runs.append(engine.run(model, horizon_s, SEED))
    return Result(engine.name, horizon_s, engine.repeats, min(runs, key=lambda m: m.wall_s))


def header_lines() -> list[str]:
    return [
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}",
        f"simpy {simpy.__version__}, ciw {ciw.__version__}, numpy {np.__version__}, irsim {version('irsim')}",
        f"os.cpu_count() = {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f} "
        "(other processes competing for the cores lower wall rates; see CPU share)",
    ]


def table_rows(results: Sequence[Result]) -> list[list[str]]:
    irsim, fast = results[0], results[1]
    rows = [["engine", "sim s", "requests", "wall s", "CPU share", "M req/s", "irsim speedup", "fast-path speedup",
             "runs"]]
    for r in results:
        speedup = "-" if r is irsim else f"{irsim.rate / r.rate:.2f}x"
        fast_speedup = "-" if r is fast else f"{fast.rate / r.rate:.2f}x"
        rows.append([r.engine, f"{r.horizon_s:g}", f"{r.best.requests:,}", f"{r.best.wall_s:.3f}",
                     f"{r.cpu_share:.0%}", f"{r.rate / 1e6:.3f}", speedup, fast_speedup, f"best of {r.repeats}"])
    return rows


def text_table(rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Columns padded to their widest cell: the first ``left`` flush left, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i < left else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Sequence[str]], left: int = 1) -> str:
    align = ["---"] * left + ["--:"] * (len(rows[0]) - left)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def agreement_lines(model: Model, results: Sequence[Result]) -> tuple[list[str], bool]:
    """Throughput and mean latency per engine against the exact values, and whether they agree."""
    exact_x, exact_r = model.throughput_per_s, model.users / model.throughput_per_s
    lines = [f"Same system? exact throughput c/E[S] = {exact_x:.1f} req/s, "
             f"mean latency N/X = {exact_r * 1000:.1f} ms (Little's law)"]
    for r in results:
        lines.append(f"  {r.engine:<14} {r.throughput_per_s:8.2f} req/s ({r.throughput_per_s / exact_x - 1:+.2%})"
                     f"   mean latency {r.best.mean_latency_s * 1000:7.2f} ms")
    rates = [r.throughput_per_s for r in results]
    spread = max(rates) / min(rates) - 1.0
    ok = spread <= AGREEMENT_TOLERANCE
    lines.append(f"Throughput agreement: max/min - 1 = {spread:.3%} "
                 f"(tolerance {AGREEMENT_TOLERANCE:.0%}): {'PASS' if ok else 'FAIL'}")
    python, fast = results[0].best, results[1].best
    same = python.requests == fast.requests and python.mean_latency_s == fast.mean_latency_s
    lines.append(f"Fast path = Python engine, exactly: {fast.requests:,} vs {python.requests:,} requests, mean latency "
                 f"{fast.mean_latency_s!r} vs {python.mean_latency_s!r} s: {'PASS' if same else 'FAIL'}")
    return lines, ok and same


def scaling_lines(model: Model, irsim: Engine, full: Result) -> list[str]:
    """irsim on a tenth of the horizon against the full horizon: wall time should scale ~10x."""
    short = best_of(irsim, model, full.horizon_s / 10.0)
    return [
        "Linear scaling (irsim, best of each):",
        f"  {short.horizon_s:>6g} s: {short.best.requests:>10,} requests in {short.best.wall_s:.3f} s "
        f"= {short.rate / 1e6:.3f} M req/s",
        f"  {full.horizon_s:>6g} s: {full.best.requests:>10,} requests in {full.best.wall_s:.3f} s "
        f"= {full.rate / 1e6:.3f} M req/s",
        f"  wall-time ratio {full.best.wall_s / short.best.wall_s:.2f} (linear = 10)",
    ]


def routing_results(model: Model, horizon_s: float) -> dict[tuple[int, str], Result]:
    """irsim on each of ROUTING_INSTANCES instances with each routing policy, horizon / K each."""
    results = {}
    for instances in ROUTING_INSTANCES:
        for routing, fast in [(policy, False) for policy in ROUTING_POLICIES] + [("random", True)]:
            runner = partial(run_irsim, instances=instances, routing=routing, fast=fast)
            label = f"{routing} (fast path)" if fast else routing
            engine = Engine(f"irsim K={instances} {label}", runner, 3)
            results[instances, label] = best_of(engine, model, horizon_s / instances)
            print(f"  ... {engine.name}: {results[instances, label].rate / 1e6:.3f} M req/s", file=sys.stderr,
                  flush=True)
    return results


def routing_rows(results: dict[tuple[int, str], Result]) -> list[list[str]]:
    rows = [["instances", "routing", "users", "sim s", "requests", "wall s", "CPU share", "M req/s", "vs random",
             "runs"]]
    for (instances, routing), r in results.items():
        ratio = r.rate / results[instances, "random"].rate
        rows.append([str(instances), routing, f"{instances * Model().users:,}", f"{r.horizon_s:g}",
                     f"{r.best.requests:,}", f"{r.best.wall_s:.3f}", f"{r.cpu_share:.0%}", f"{r.rate / 1e6:.3f}",
                     f"{ratio:.2f}x", f"best of {r.repeats}"])
    return rows


def target_lines(results: dict[str, Result], routing: dict[tuple[int, str], Result]) -> list[str]:
    irsim, simpy_result, fast, heapq = results["irsim"], results["SimPy"], results["irsim fast"], results["heapq"]
    speedup = irsim.rate / simpy_result.rate
    over_heapq = fast.rate / heapq.rate
    largest = max(ROUTING_INSTANCES)
    ratio = routing[largest, "least_outstanding_requests"].rate / routing[largest, "random"].rate
    lines = [
        f"Target: irsim >= {TARGET_RATE / 1e6:.1f} M requests/s: {irsim.rate / 1e6:.3f} M/s "
        f"-> {'PASS' if irsim.rate >= TARGET_RATE else 'FAIL'}",
        f"Target: irsim >= {TARGET_SPEEDUP:g}x idiomatic SimPy: {speedup:.2f}x "
        f"-> {'PASS' if speedup >= TARGET_SPEEDUP else 'FAIL'}",
        f"Target: least-outstanding routing at {largest} instances within {1 / TARGET_ROUTING_RATIO:g}x of random "
        f"routing: {ratio:.2f}x random's rate -> {'PASS' if ratio >= TARGET_ROUTING_RATIO else 'FAIL'}",
        f"Target: fast path >= {TARGET_FAST_OVER_HEAPQ:g}x the heapq floor of this run: {over_heapq:.2f}x "
        f"-> {'PASS' if over_heapq >= TARGET_FAST_OVER_HEAPQ else 'FAIL'}",
        f"Target: fast path >= {TARGET_FAST_RATE / 1e6:.0f} M requests/s on a quiet core: {fast.rate / 1e6:.3f} M/s "
        f"-> {'PASS' if fast.rate >= TARGET_FAST_RATE else 'FAIL'}",
    ]
    if min(fast.cpu_share, heapq.cpu_share) < SHARED_BELOW:
        per_cpu = (fast.best.requests / fast.best.cpu_s) / (heapq.best.requests / heapq.best.cpu_s)
        lines.append(f"The fast path and heapq had a core {fast.cpu_share:.0%} and {heapq.cpu_share:.0%} of their wall "
                     f"time: per CPU second the fast path ran {per_cpu:.2f}x the heapq floor (an estimate, not the "
                     "measurement the target asks for).")
    for r in (irsim, fast):
        if r.cpu_share < SHARED_BELOW:
            lines.append(f"The machine was shared: {r.engine}'s best run had a core {r.cpu_share:.0%} of its wall "
                         f"time; per CPU second it ran {r.best.requests / r.best.cpu_s / 1e6:.3f} M requests "
                         "(an estimate of the wall rate on an idle machine, not a measurement of it).")
    return lines


#: Loads the compiled loop in a fresh process and prints what that cost.
KERNEL_PROBE = ("import time; start = time.perf_counter(); from simulator import fastpath; k = fastpath.kernel(); "
                "print(k.load_s, k.from_cache, time.perf_counter() - start)")


def kernel_load(cache_dir: str | None) -> tuple[float, bool, float]:
    """(seconds to compile or load the loop, whether from numba's cache, seconds with the imports) in a
    fresh process; ``cache_dir`` replaces numba's cache directory (an empty one: a cold compile)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    done = subprocess.run([sys.executable, "-c", KERNEL_PROBE], env=env, capture_output=True, text=True, check=True)
    load, cached, total = done.stdout.split()
    return float(load), cached == "True", float(total)


def compile_lines() -> list[str]:
    """The fast path's one-off costs, apart from its rate: a compile into an empty cache, then a
    load from the project's cache (filled by this process first if it was empty)."""
    with tempfile.TemporaryDirectory(prefix="irsim-numba-") as empty:
        cold, cold_cached, cold_total = kernel_load(empty)
    here = fastpath.kernel()
    if here is None:
        raise SystemExit("numba is not installed: the fast path cannot be measured")
    warm, warm_cached, warm_total = kernel_load(None)
    return [
        "Fast path's one-off cost, each in a fresh process (not in the timed runs):",
        f"  compile into an empty cache: {cold:.2f} s (from cache: {cold_cached}); with importing irsim and numba "
        f"{cold_total:.2f} s",
        f"  load from numba's disk cache: {warm:.2f} s (from cache: {warm_cached}); with importing irsim and numba "
        f"{warm_total:.2f} s",
        f"  this process: {here.load_s:.2f} s (from cache: {here.from_cache})",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"simulate {QUICK_HORIZON_S:g} s instead of {FULL_HORIZON_S:g} s (smoke test)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the report as Markdown to PATH")
    args = parser.parse_args(argv)

    model = Model()
    horizon = QUICK_HORIZON_S if args.quick else FULL_HORIZON_S
    irsim = Engine("irsim", run_irsim, 3)
    engines = [irsim, Engine("irsim fast", partial(run_irsim, fast=True), 5), Engine("SimPy", run_simpy, 2),
               Engine("Ciw", run_ciw, 2), Engine("heapq", run_heapq, 3)]

    header = header_lines()
    print("\n".join(header))
    print(f"Model: N={model.users} closed-loop users, c={model.workers} workers (FIFO), lognormal service "
          f"mean {model.mean_s * 1000:g} ms cv {model.cv:g}, zero think time, {horizon:g} s simulated, seed {SEED}")
    print("Each engine: best (shortest wall time) of its runs, same seed, gc.collect() before each run.\n",
          flush=True)
    compiling = compile_lines()

    results = []
    for engine in engines:
        results.append(best_of(engine, model, horizon))
        print(f"  ... {engine.name}: {results[-1].rate / 1e6:.3f} M req/s", file=sys.stderr, flush=True)
    rows = table_rows(results)
    agreement, agreed = agreement_lines(model, results)
    scaling = scaling_lines(model, irsim, results[0])
    routing = routing_results(model, horizon)
    routing_table = routing_rows(routing)
    routing_title = (f"Routing at scale: K instances of the model with {model.users} users each, "
                     f"{horizon:g}/K simulated s (best of each):")
    targets = target_lines({r.engine: r for r in results}, routing)

    print(text_table(rows))
    for block in (agreement, compiling, scaling):
        print()
        print("\n".join(block))
    print()
    print(routing_title)
    print(text_table(routing_table, left=2))
    print()
    print("\n".join(targets))

    if args.markdown:
        sections = ["# irsim engine benchmark", "\n".join(f"- {line}" for line in header), markdown_table(rows)]
        sections += ["```\n" + "\n".join(block) + "\n```" for block in (agreement, compiling, scaling)]
        sections += [routing_title, markdown_table(routing_table, left=2), "```\n" + "\n".join(targets) + "\n```"]
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(sections) + "\n")
        print(f"\nMarkdown written to {args.markdown}")
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())
