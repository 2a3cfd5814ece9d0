"""200 what-if scenarios on Dask: one local worker process against two on this machine
(target: a speed-up of at least 1.7x on 2 cores), and the two tables must be identical."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from irsim.planning.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 1.7


def sweep_file(folder: Path, scenarios: int) -> Path:
    rates = [1000 * (i + 1) for i in range(scenarios // 10)]
    axes = {"instance_types": [["ml.c5.large", "ml.c5.xlarge", "ml.m5.large"]], "target_per_minute": rates,
            "slo": ["P95=10", "P95=20", "P95=50", "P95=100", "P99=100"], "service_scale": [1.0, 1.2],
            "replications": [2]}
    path = folder / "sweep.json"
    path.write_text(json.dumps({"base": str(ROOT / "examples" / "seed-advanced-job.json"), "seed": 1, "axes": axes}))
    return path


def timed(sweep, out: Path, workers: int) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    table = run_sweep(sweep, out, workers=workers)
    return time.perf_counter() - start, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sweep = load_sweep(sweep_file(folder, args.scenarios))
        one_s, one = timed(sweep, folder / "one", 1)
        two_s, two = timed(sweep, folder / "two", 2)
    key = ["scenario", "endpoint"]
    same = one.sort_values(key).reset_index(drop=True).equals(two.sort_values(key).reset_index(drop=True))
    ok = int((one["status"] == "ok").groupby(one["scenario"]).all().sum())
    print(f"{len(sweep.scenarios)} scenarios ({ok} answered), os.cpu_count() = {os.cpu_count()}; "
          "wall time includes starting the LocalCluster")
    print(f"  1 worker   {one_s:7.2f} s  ({len(sweep.scenarios) / one_s:5.1f} scenarios/s)")
    print(f"  2 workers  {two_s:7.2f} s  ({len(sweep.scenarios) / two_s:5.1f} scenarios/s)")
    speedup = one_s / two_s
    print(f"  identical tables: {same}")
    print(f"Target: speed-up >= {TARGET_SPEEDUP}x: {speedup:.2f}x -> {'PASS' if speedup >= TARGET_SPEEDUP else 'FAIL'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
