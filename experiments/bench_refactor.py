"""Did a refactor slow the engine? The simulator of an earlier commit against the working tree's,
on the reference model of bench_engine.py (20 closed-loop users, 4 workers, lognormal 20 ms,
cv 0.5), in alternating subprocesses so that both see the same load on a shared machine.

Each subprocess imports its own ``simulator`` (the earlier commit's is exported with ``git
archive`` to a temporary folder), runs ``simulate`` three times and reports its best CPU time
(``time.process_time``: less sensitive to other processes than wall time). The summary gives
each side's median and best rate in requests per CPU second and the ratio of the medians.

Usage: .venv/bin/python experiments/bench_refactor.py [COMMIT] [--pairs N] [--horizon S]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import gc, sys, time
sys.path.insert(0, sys.argv[1])
import simulator
assert simulator.__file__.startswith(sys.argv[1]), simulator.__file__
from simulator import LatencyThreshold, StoppingConditions, simulate
profile = {"model": "ref", "instances": {"ml.ref": {"workers": 4, "service_time": {
    "family": "lognormal", "mean_ms": 20.0, "cv": 0.5}}}}
stopping = StoppingConditions(max_invocations=10**9, latency=LatencyThreshold(95, 1e6))
best = float("inf")
for _ in range(3):
    gc.collect()
    began = time.process_time()
    result = simulate(profile, "ml.ref", users=20, duration_s=float(sys.argv[2]), seed=0, stopping=stopping)
    best = min(best, time.process_time() - began)
print(result.completed / best)
"""


def rate(tree: Path, horizon_s: float) -> float:
    """Requests per CPU second of ``tree``'s simulator (best of three runs in a fresh process)."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(horizon_s)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", nargs="?", default="HEAD~1", help="the earlier commit (default HEAD~1)")
    parser.add_argument("--pairs", type=int, default=5, help="alternating runs of each side (default 5)")
    parser.add_argument("--horizon", type=float, default=6000.0, help="simulated seconds per run (default 6000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.commit, "simulator"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        before, after = [], []
        for _ in range(args.pairs):
            before.append(rate(Path(folder), args.horizon))
            after.append(rate(ROOT, args.horizon))
    for name, rates in ((args.commit, before), ("working tree", after)):
        print(f"{name:>14}: median {statistics.median(rates) / 1e6:.3f}, best {max(rates) / 1e6:.3f} M requests per "
              f"CPU s ({', '.join(f'{r / 1e6:.3f}' for r in rates)})")
    print(f"working tree / {args.commit}: {statistics.median(after) / statistics.median(before):.3f}x (medians), "
          f"{max(after) / max(before):.3f}x (best)")


if __name__ == "__main__":
    main()
