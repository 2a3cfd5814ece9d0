"""Make the real-server dataset: a scikit-learn model behind gunicorn (one sync worker,
pinned to core 0) under Locust (headless, pinned to core 1), a STAIRS ramp plus steady runs
at loads the ramp does not reach, each exported per minute in the shape
`aws cloudwatch get-metric-statistics` saves (Invocations; ModelLatency Average, Minimum,
Maximum and p50/p90/p95/p99 in microseconds; OverheadLatency Average in microseconds).

ModelLatency is the client's time around each call (listen-queue wait + service, as
SageMaker's ModelLatency includes the container's queueing); OverheadLatency is the time a
user spends between a response and its next request (the closed loop's overhead).

Usage: .venv/bin/python experiments/real_server/generate.py [--out tests/data/real_server]
(about 7 minutes of load; needs the `realdata` extra: pip install -e '.[realdata]').
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PORT = 18_080
RAMP = (1, 2, 3, 4)           # users per one-minute step
HELD_OUT = (6, 10)            # steady runs at loads the ramp never reached
STEADY_S = 65.0               # a steady run: 5 s to settle, then the minute that is kept
SETTLE_S = 5.0
PERCENTILES = (50, 90, 95, 99)


def _raise_priority() -> None:
    """In the child: run before any ordinary process on its core (real-time FIFO priority
    when allowed, else nice -20), so that other work on the machine disturbs the measured
    service times as little as it can. The kernel still keeps 5 % of each second for others."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError):
            os.nice(-20)


def start_server(port: int) -> subprocess.Popen[bytes]:
    """gunicorn, one sync worker, pinned to core 0; returns once /ping answers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "IRSIM_TREES": "20"}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(["taskset", "-c", "0", gunicorn, "--workers", "1", "--bind", f"127.0.0.1:{port}",
                               "--backlog", "2048", "--timeout", "60", "server:application"],
                              cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=_raise_priority)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the model server did not answer /ping within 60 s")


def run_locust(port: int, users: tuple[int, ...], step_s: float, records: Path) -> None:
    """One headless Locust run of the Stairs shape, pinned to core 1 (bounded in time)."""
    env = {**os.environ, "IRSIM_USERS": ",".join(map(str, users)), "IRSIM_STEP_S": str(step_s),
           "IRSIM_RECORDS": str(records)}
    locust = str(Path(sys.executable).with_name("locust"))
    limit = step_s * len(users) + 60
    subprocess.run(["taskset", "-c", "1", locust, "-f", str(HERE / "locustfile.py"), "--headless", "--host",
                    f"http://127.0.0.1:{port}", "--only-summary", "--loglevel", "WARNING"],
                   env=env, check=True, timeout=limit, stdout=subprocess.DEVNULL, preexec_fn=_raise_priority)


def read_records(path: Path) -> tuple[float, np.ndarray]:
    """(test start, rows of user, start, latency, gap, ok)."""
    with path.open() as handle:
        start = float(handle.readline().split("=", 1)[1])
        rows = list(csv.DictReader(handle))
    table = np.array([[float(r["user"]), float(r["start_epoch_s"]), float(r["latency_s"]), float(r["gap_s"]),
                       float(r["ok"])] for r in rows])
    return start, table


def per_minute(start: float, table: np.ndarray, first_s: float, minutes: int) -> list[dict[str, Any]]:
    """CloudWatch-like statistics per minute [first_s + 60 k, first_s + 60 (k + 1)) of the
    test, requests counted by completion; latencies in microseconds."""
    ok = table[:, 4] == 1
    completion = table[:, 1] + table[:, 2] - start
    out = []
    for k in range(minutes):
        low, high = first_s + 60.0 * k, first_s + 60.0 * (k + 1)
        inside = ok & (completion >= low) & (completion < high)
        latency = table[inside, 2] * 1e6
        gaps = table[inside, 3] * 1e6
        gaps = gaps[np.isfinite(gaps)]
        stamp = datetime.fromtimestamp(math.floor(start + low), tz=UTC).isoformat()
        out.append({"Timestamp": stamp, "Invocations": int(inside.sum()),
                    "errors": int(((~ok) & (completion >= low) & (completion < high)).sum()),
                    "latency": latency, "overhead": float(gaps.mean()) if gaps.size else math.nan})
    return out


def documents(minutes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """get-metric-statistics documents, one per metric (newest first, as CloudWatch may), with
    the Period they were asked for (a one-minute run's single datapoint cannot show it)."""
    invocations, latency, overhead, errors = [], [], [], []
    for m in minutes:
        invocations.append({"Timestamp": m["Timestamp"], "Sum": float(m["Invocations"]), "Unit": "None"})
        errors.append({"Timestamp": m["Timestamp"], "Sum": float(m["errors"]), "Unit": "None"})
        values = m["latency"]
        if values.size:
            latency.append({"Timestamp": m["Timestamp"], "Average": round(float(values.mean()), 1),
                            "Minimum": round(float(values.min()), 1), "Maximum": round(float(values.max()), 1),
                            "SampleCount": float(values.size), "Unit": "Microseconds",
                            "ExtendedStatistics": {f"p{p}": round(float(np.percentile(values, p)), 1)
                                                   for p in PERCENTILES}})
        if math.isfinite(m["overhead"]):
            overhead.append({"Timestamp": m["Timestamp"], "Average": round(m["overhead"], 1), "Unit": "Microseconds"})
    return {name: {"Label": name, "Period": 60, "Datapoints": points[::-1]} for name, points in
            (("Invocations", invocations), ("Invocation5XXErrors", errors), ("ModelLatency", latency),
             ("OverheadLatency", overhead))}


def write(folder: Path, docs: dict[str, dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in docs.items():
        (folder / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "real_server")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    server = start_server(args.port)
    runs: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            records = Path(tmp) / "ramp.csv"
            run_locust(args.port, RAMP, 60.0, records)
            start, table = read_records(records)
            write(args.out / "ramp", documents(per_minute(start, table, 0.0, len(RAMP))))
            runs["ramp"] = {"users_per_minute": list(RAMP), "requests": int(table.shape[0])}
            for users in HELD_OUT:
                records = Path(tmp) / f"steady-{users}.csv"
                run_locust(args.port, (users,), STEADY_S, records)
                start, table = read_records(records)
                write(args.out / f"steady-{users}users", documents(per_minute(start, table, SETTLE_S, 1)))
                runs[f"steady-{users}users"] = {"users": users, "requests": int(table.shape[0]),
                                                "kept_window_s": [SETTLE_S, SETTLE_S + 60.0]}
    finally:
        server.terminate()
        server.wait(timeout=30)
    manifest = {"made_by": "experiments/real_server/generate.py", "created": datetime.now(UTC).isoformat(),
                "server": "gunicorn 1 sync worker, taskset core 0, scikit-learn RandomForestRegressor 20 trees",
                "load": "locust headless FastHttpUser, no wait time, taskset core 1", "runs": runs,
                "priority": "SCHED_FIFO 20 for the server and Locust when allowed (else nice -20)",
                "python": platform.python_version(), "cpu_count": os.cpu_count(),
                "load_average_at_end": os.getloadavg()}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
