"""The Python engine's rate before and after the capacity schedule (issue 23), per CPU second.

A run without a schedule must not pay for the schedule: this times the Python engine
(``fast=False``) on ``make bench``'s reference system (20 closed-loop users, one instance of
4 workers, lognormal 20 ms cv 0.5, 6,000 simulated seconds: about 1.2 M requests) and on open
Poisson traffic over 4 instances with random routing (150 requests/s per instance, 5 ms
exponential, 2,000 s: 1.2 M requests), in a fresh process per run from each tree (``--before``,
a commit or a folder, against this one), alternating, best CPU time of ``--repeats`` each. CPU
seconds (``time.process_time``), not wall seconds: the machine is shared. The same run with a
capacity schedule (4 instances, then 3 to 5 every 100 s) is timed in this tree for scale.

    .venv/bin/python experiments/bench_schedule.py [--before 583ffaf] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = """
import json, sys, time
import simulator
from simulator import InstanceEndpoint, PoissonArrivals, RunSpec, load_profile
from simulator.distributions import Distribution
from simulator.profiles import InstanceProfile
case = sys.argv[1]
if case == "closed":
    profile = {"model": "ref", "instances": {"ml.c5.large": {"workers": 4, "service_time": {
        "family": "lognormal", "mean_ms": 20.0, "cv": 0.5}}}}
    began = time.process_time()
    result = simulator.simulate(load_profile(profile), "ml.c5.large", users=20, duration_s=6000.0, seed=1, fast=False)
else:
    entry = InstanceProfile(instance_type="ml.c5.large", workers=1, service_time=Distribution("exponential", 5.0, 1.0))
    kwargs = {}
    if case == "scheduled":
        kwargs["capacity_schedule"] = tuple((100.0 * k, 3 + k % 3) for k in range(1, 20))
    spec = RunSpec(endpoint=InstanceEndpoint(entry, instance_count=4), traffic=PoissonArrivals.constant(600.0, 2000.0),
                   seed=1, fast=False, **kwargs)
    began = time.process_time()
    result = simulator.run(spec)
print(json.dumps({"cpu_s": time.process_time() - began, "requests": int(result.completed)}))
"""


def tree(before: str, folder: str) -> str:
    """A folder holding the packages of ``before`` (a folder as is, else a commit of this repository)."""
    if Path(before).is_dir():
        return before
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", before, "simulator"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def once(path: str, case: str) -> dict:
    done = subprocess.run([sys.executable, "-c", RUN, case], cwd=path, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path})
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="583ffaf")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        old = tree(args.before, folder)
        print(f"before: {args.before}; after: this tree ({ROOT}); best CPU time of {args.repeats}, fresh process each")
        print("| run | requests | before: M req per CPU s | after: M req per CPU s | after / before |",
              "|---|---|---|---|---|", sep="\n")
        for case in ("closed", "open"):
            best: dict[str, dict] = {}
            for _ in range(args.repeats):
                for name, path in (("before", old), ("after", str(ROOT))):
                    got = once(path, case)
                    if name not in best or got["cpu_s"] < best[name]["cpu_s"]:
                        best[name] = got
            rates = {name: got["requests"] / got["cpu_s"] / 1e6 for name, got in best.items()}
            print(f"| {case} | {best['after']['requests']:,} | {rates['before']:.3f} | {rates['after']:.3f} | "
                  f"{rates['after'] / rates['before']:.3f} |", flush=True)
        got = min((once(str(ROOT), "scheduled") for _ in range(args.repeats)), key=lambda g: g["cpu_s"])
        print(f"\nopen, with a capacity schedule (this tree only): {got['requests']:,} requests, "
              f"{got['requests'] / got['cpu_s'] / 1e6:.3f} M per CPU s")


if __name__ == "__main__":
    main()
