"""`irsim list` against the size of the store: one page of ListInferenceRecommendationsJobs (100
jobs) in stores of 1,000 and 5,000 finished jobs, by the paged SQL query against the old path
measured in the same run (every page read and decoded every row, then sorted and cut in Python),
and the whole listing (every page, as `irsim list` asks for them). Target: a page in under a
second at 5,000 jobs, with time and memory that do not grow with the store.

Every row is a real finished job (its Describe, steps and irsim.json documents from one small
simulated job), so decoding costs what it costs in a user's store."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import irsim
import irsim.durable.store as store_module
from irsim.durable.paging import token_for
from irsim.durable.store import JobStore, _columns, now_utc, record_of
from irsim.durable.worker import end_states
from irsim.service.job import execute_job
from simulator import load_profile

ROOT = Path(__file__).resolve().parent.parent
PAGE = 100


def finished_job() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The request, profile and end-state columns of one small job, simulated once."""
    request = json.loads((ROOT / "examples" / "seed-advanced-job.json").read_text())
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]
    result = execute_job(request, "demo", seed=1, parallel=False)
    ended, _ = end_states(result)
    return request, load_profile("demo").to_dict(), ended


def fill(home: Path, jobs: int, template: tuple[dict, dict, dict]) -> None:
    """``jobs`` finished jobs, one creation time a second apart, written in one transaction."""
    request, profile, ended = template
    store = JobStore(home)
    start = now_utc() - timedelta(days=1)
    rows = []
    for i in range(jobs):
        name = f"job-{i:05d}"
        columns = _columns({"name": name, "arn": f"arn:aws:sagemaker:us-east-1:111122223333:"
                                                 f"inference-recommendations-job/{name}",
                            "job_type": "Advanced", "request": {**request, "JobName": name}, "profile": profile,
                            "seed": i, "region": "us-east-1", "created": start + timedelta(seconds=i),
                            **ended, "last_modified": start + timedelta(seconds=i)})
        rows.append(columns)
    with store.transaction() as connection:
        connection.executemany(f"INSERT INTO jobs ({', '.join(rows[0])}) VALUES ({', '.join('?' for _ in rows[0])})",
                               [list(r.values()) for r in rows])


def old_page(store: JobStore, offset: int) -> list:
    """The path before: every row read and decoded, sorted in Python, then cut to the page."""
    with store.reading() as connection:
        rows = connection.execute("SELECT * FROM jobs ORDER BY created, name").fetchall()
    records = sorted((record_of(row) for row in rows), key=lambda r: (r.created, r.name), reverse=True)
    return records[offset:offset + PAGE]


def measured(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall time of ``repeats`` runs (s) and the peak of Python memory it allocates (MB)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    action()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return best, peak


def bench(jobs: int, template: tuple[dict, dict, dict], repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        fill(home, jobs, template)
        client = irsim.client(home=home)
        store = client.store
        last = (jobs - 1) // PAGE * PAGE
        first_new = measured(lambda: client.list_inference_recommendations_jobs(MaxResults=PAGE), repeats)
        token = token_for(last, {}, client.paging_key)
        last_new = measured(lambda: client.list_inference_recommendations_jobs(MaxResults=PAGE, NextToken=token),
                            repeats)
        first_old = measured(lambda: old_page(store, 0), repeats)
        checked, store_module.shape_problem = store_module.shape_problem, lambda column, document: None
        try:  # the same page without the shape checks of each row's request and Describe
            unchecked = measured(lambda: client.list_inference_recommendations_jobs(MaxResults=PAGE), repeats)
        finally:
            store_module.shape_problem = checked
        paginator = client.get_paginator("list_inference_recommendations_jobs")
        start = time.perf_counter()
        listed = paginator.paginate().build_full_result()["InferenceRecommendationsJobs"]
        whole_new = time.perf_counter() - start
        assert len(listed) == jobs and listed[0]["JobName"] == f"job-{jobs - 1:05d}"
        assert [r.name for r in old_page(store, PAGE)] == [
            j["JobName"] for j in client.list_inference_recommendations_jobs(
                MaxResults=PAGE, NextToken=token_for(PAGE, {}, client.paging_key))["InferenceRecommendationsJobs"]]
    return {"jobs": jobs, "first_new": first_new[0], "first_new_mb": first_new[1], "unchecked": unchecked[0],
            "last_new": last_new[0],
            "first_old": first_old[0], "first_old_mb": first_old[1], "whole_new": whole_new,
            "whole_old": first_old[0] * -(-jobs // PAGE)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    template = finished_job()
    results = [bench(jobs, template, args.repeats) for jobs in args.jobs]
    print(f"one page = {PAGE} jobs; each row a real finished job; best of {args.repeats}")
    print("| jobs | page 1, paged SQL | last page, paged SQL | page 1, old full decode | old / new | "
          "peak MB new / old | whole listing new | whole listing old (pages x one page) | "
          "page 1 without shape checks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['jobs']:,} | {r['first_new'] * 1000:.1f} ms | {r['last_new'] * 1000:.1f} ms | "
              f"{r['first_old'] * 1000:.0f} ms | {r['first_old'] / r['first_new']:.0f}x | "
              f"{r['first_new_mb']:.1f} / {r['first_old_mb']:.0f} | {r['whole_new']:.2f} s | {r['whole_old']:.0f} s | "
              f"{r['unchecked'] * 1000:.1f} ms |")
    worst = max(max(r["first_new"], r["last_new"]) for r in results)
    growth = results[-1]["first_new"] / results[0]["first_new"] if len(results) > 1 else 1.0
    print(f"slowest page {worst * 1000:.1f} ms (target < 1000 ms); page 1 time grows {growth:.2f}x from "
          f"{results[0]['jobs']:,} to {results[-1]['jobs']:,} jobs")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
