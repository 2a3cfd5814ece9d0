"""Peak memory of the largest legal job (issue 15: the target is under 300 MB).

The largest legal job keeps its benchmarks busy longest at the highest rate a test can hold:
JobDurationInSeconds 18,000 (the maximum) less 300 s of provisioning leaves 17,700 s of
PHASES traffic (1 user + 3 a minute for an hour, then 181 users for 14,100 s); MaxInvocations
30,000 (the largest legal target) with FlatInvocations Continue and a 3,600,000 ms threshold,
on an instance that saturates just below 30,000 a minute (4 workers, lognormal 8.1 ms), so
that no stopping condition ends the test: about 8.7 million requests per benchmark.

Each benchmark runs in its own process, so the job's peak is one benchmark's peak (times the
processes running at once): this measures one benchmark in this process with
``resource.getrusage`` (``--benchmarks N`` runs N of them one after another) and prints the
peak RSS and the RSS after the imports alone.
"""

from __future__ import annotations

import argparse
import resource
import time


def largest_request(benchmarks: int) -> dict:
    phases = [{"InitialNumberOfUsers": 1, "SpawnRate": 3, "DurationInSeconds": 3600}]
    phases += [{"InitialNumberOfUsers": 181, "SpawnRate": 0, "DurationInSeconds": 3600}] * 3
    phases += [{"InitialNumberOfUsers": 181, "SpawnRate": 0, "DurationInSeconds": 3300}]
    return {"JobName": "largest-legal-job", "JobType": "Advanced", "RoleArn": "arn:aws:iam::111122223333:role/R",
            "InputConfig": {
                "ModelPackageVersionArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/m/1",
                "JobDurationInSeconds": 18000, "TrafficPattern": {"TrafficType": "PHASES", "Phases": phases},
                "ResourceLimit": {"MaxNumberOfTests": 10, "MaxParallelOfTests": 10},
                "EndpointConfigurations": [{"InstanceType": "ml.c5.xlarge"}] * benchmarks},
            "StoppingConditions": {"MaxInvocations": 30000, "FlatInvocations": "Continue",
                                   "ModelLatencyThresholds": [{"Percentile": "P95",
                                                               "ValueInMilliseconds": 3600000}]}}


PROFILE = {"model": "largest", "instances": {"ml.c5.xlarge": {
    "workers": 4, "service_time": {"family": "lognormal", "mean_ms": 8.1, "cv": 0.5}}}}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=int, default=1)
    args = parser.parse_args()

    from irsim.service.job import execute_job

    imports_mb = peak_mb()
    start = time.perf_counter()
    result = execute_job(largest_request(args.benchmarks), PROFILE, seed=0, parallel=False, production=False)
    elapsed = time.perf_counter() - start
    requests = sum(int(item.outcome.per_minute["Invocations"].sum()) for item in result.scheduled)
    print(f"status {result.describe['Status']}, {len(result.scheduled)} benchmark(s), {requests:,} requests, "
          f"{elapsed:.1f} s")
    print(f"peak RSS {peak_mb():.0f} MB (after the imports: {imports_mb:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
