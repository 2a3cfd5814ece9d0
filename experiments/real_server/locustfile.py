"""Locust users for the real-server dataset: closed-loop users (no wait time) that POST CSV
rows to /invocations, under a STAIRS-like shape read from the environment.

IRSIM_USERS   users per step, comma separated (a steady run is one step)
IRSIM_STEP_S  seconds per step (default 60)
IRSIM_RECORDS where to write one CSV line per request at the end
IRSIM_SEED    seed of the payload draws (default 20260101)

Each request's payload has a random number of rows (lognormal, mean about 40), drawn from
a numpy Generator seeded per user, so the service time varies from request to request.
A request's record: user, start (epoch s), latency (s, measured around the call), the
gap since the same user's previous response (s: the loop's overhead, NaN for its first
request) and whether it succeeded.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import time

import numpy as np
from locust import FastHttpUser, LoadTestShape, constant, events, task

SCHEDULE = [int(users) for users in os.environ.get("IRSIM_USERS", "1").split(",")]
STEP_S = float(os.environ.get("IRSIM_STEP_S", "60"))
SEED = int(os.environ.get("IRSIM_SEED", "20260101"))
FEATURES = 16
RECORDS: list[tuple[int, float, float, float, int]] = []
STARTED: list[float] = []
_users = itertools.count()


def _bodies(count: int = 256) -> list[bytes]:
    """A fixed pool of CSV payloads of lognormally many rows (drawn once, seeded)."""
    rng = np.random.default_rng(SEED)
    sizes = np.clip(np.round(rng.lognormal(math.log(30.0), 0.8, count)), 1, 400).astype(int)
    return ["\n".join(",".join(f"{v:.4f}" for v in row) for row in rng.normal(size=(k, FEATURES))).encode()
            for k in sizes]


BODIES = _bodies()


class Invoker(FastHttpUser):
    """Invoke, wait for the response, invoke again."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.index = next(_users)
        self.rng = np.random.default_rng([SEED, self.index])
        self.last_end: float | None = None

    @task
    def invoke(self) -> None:
        body = BODIES[int(self.rng.integers(len(BODIES)))]
        wall = time.time()
        began = time.perf_counter()
        with self.client.post("/invocations", data=body, headers={"Content-Type": "text/csv"},
                              catch_response=True) as response:
            ok = response.status_code == 200
            if not ok:
                response.failure(f"status {response.status_code}")
        ended = time.perf_counter()
        gap = began - self.last_end if self.last_end is not None else math.nan
        RECORDS.append((self.index, wall, ended - began, gap, int(ok)))
        self.last_end = ended


class Stairs(LoadTestShape):
    """SCHEDULE[k] users during step k (all started at once), then stop."""

    def tick(self) -> tuple[int, float] | None:
        step = int(self.get_run_time() // STEP_S)
        if step >= len(SCHEDULE):
            return None
        return SCHEDULE[step], 1000.0


@events.test_start.add_listener
def _started(**_: object) -> None:
    STARTED.append(time.time())


@events.quitting.add_listener
def _write(**_: object) -> None:
    """The records, and the test's start (the shape's time 0) in a first comment line."""
    path = os.environ.get("IRSIM_RECORDS")
    if not path:
        return
    with open(path, "w", newline="") as handle:
        handle.write(f"# test_start_epoch_s={STARTED[0] if STARTED else math.nan!r}\n")
        writer = csv.writer(handle)
        writer.writerow(["user", "start_epoch_s", "latency_s", "gap_s", "ok"])
        writer.writerows(RECORDS)
