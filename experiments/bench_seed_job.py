"""Times the seed's Advanced job end to end (target: under 5 s on 2 cores).

Three measurements of the same request in one run: the job API in-process (benchmarks in
worker processes, as MaxParallelOfTests asks), the same serially, and the whole
`irsim run` command in a fresh interpreter (imports, validation, simulation, table and
the --out files). Prints each time, the ratios, and the target's verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_JOB = ROOT / "examples" / "seed-advanced-job.json"
TARGET_S = 5.0


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--job", type=Path, default=SEED_JOB)
    args = parser.parse_args()

    from irsim import execute_job

    request = json.loads(args.job.read_text())
    result = execute_job(request, "demo", seed=0)  # warm-up: imports, botocore model, catalogue
    tests = len(result.scheduled)
    parallel = best_of(args.repeats, lambda: execute_job(request, "demo", seed=0))
    serial = best_of(args.repeats, lambda: execute_job(request, "demo", seed=0, parallel=False))
    irsim = Path(sys.executable).with_name("irsim")
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(irsim), "run", str(args.job), "--quiet", "--out", str(Path(tmp) / "out")]
        cli = best_of(args.repeats, lambda: subprocess.run(command, check=True, capture_output=True))

    print(f"Job: {args.job.name}, {tests} benchmarks, "
          f"MaxParallelOfTests {request['InputConfig'].get('ResourceLimit', {}).get('MaxParallelOfTests', 1)}; "
          f"os.cpu_count() = {os.cpu_count()}; best of {args.repeats}")
    print(f"  job API, worker processes   {parallel:6.3f} s")
    print(f"  job API, serial             {serial:6.3f} s   (parallel / serial = {parallel / serial:.2f})")
    print(f"  `irsim run --out` (cold)    {cli:6.3f} s   (includes interpreter start and imports)")
    verdict = "PASS" if cli < TARGET_S else "FAIL"
    print(f"Target: whole job under {TARGET_S:g} s: {cli:.3f} s ({cli / TARGET_S:.0%} of the budget) -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
