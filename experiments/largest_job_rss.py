"""Peak memory of the largest accepted jobs, per process and for the whole job (issue 15: under
300 MB; issue 27: at most 300 MB in any process and 600 MB for the whole job).

Each case runs in a child process (``--child``) that this script watches: every 50 ms it reads,
for the child and every process under it (the job's benchmark processes), ``VmHWM`` (the
kernel's own peak RSS of the process, exact whatever the polling misses), the current RSS and
the PSS (``/proc/PID/smaps_rollup``: pages shared by the forked processes counted once, shared
among them). It prints each process's peak and, for the whole job, the largest sum of current
RSS and of PSS seen at one instant, and the sum of the per-process peaks (an upper bound: they
need not fall at the same instant). The child reports its own VmHWM and ``resource.getrusage``
for its largest finished child (ru_maxrss, which Linux carries across fork: an upper bound).

Cases:

- ``limits``: the job right at irsim's new limits (simulator/bounds.py): STAIRS of 2,000 s with
  33,333 steps of 3 users (99,999 users in flight, the limit is 100,000) on an instance that
  completes 24,980 requests a second (32 workers, 1.281 ms): 1,498,829 requests held in a
  minute (limit 1,500,000) and 49.96 million requests per benchmark (limit 50,000,000);
  FlatInvocations Continue and a threshold no minute reaches, so nothing stops a benchmark
  early; 10 benchmarks (MaxNumberOfTests 10), MaxParallelOfTests 10 (the pool runs as many as
  the machine has cores).
- ``legal``: issue 15's largest legal job (17,700 s of PHASES up to 181 users, about 8.7 million
  requests per benchmark at 30,000 a minute).
- ``simulate``: ``irsim simulate`` (which keeps every request for its whole-run percentiles) at
  the limit on requests held: the demo profile's ml.c5.xlarge, 200 users, the longest
  ``--duration`` the limit accepts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.05
STEPS = 33_333


def limits_request(benchmarks: int) -> dict:
    """The job at every new limit at once (see the module's docstring)."""
    return {"JobName": "largest-accepted-job", "JobType": "Advanced",
            "RoleArn": "arn:aws:iam::111122223333:role/R",
            "InputConfig": {
                "ModelPackageVersionArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/m/1",
                "JobDurationInSeconds": 18000,
                "TrafficPattern": {"TrafficType": "STAIRS",
                                   "Stairs": {"DurationInSeconds": 2000, "NumberOfSteps": STEPS, "UsersPerStep": 3}},
                "ResourceLimit": {"MaxNumberOfTests": 10, "MaxParallelOfTests": 10},
                "EndpointConfigurations": [{"InstanceType": "ml.c5.xlarge"}] * benchmarks},
            "StoppingConditions": {"FlatInvocations": "Continue",
                                   "ModelLatencyThresholds": [{"Percentile": "P95",
                                                               "ValueInMilliseconds": 3600000}]}}


LIMITS_PROFILE = {"model": "largest", "instances": {"ml.c5.xlarge": {
    "workers": 32, "service_time": {"family": "lognormal", "mean_ms": 1.281, "cv": 0.5}}}}


def legal_request(benchmarks: int) -> dict:
    """Issue 15's largest legal job: 17,700 s of PHASES at up to 181 users."""
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


LEGAL_PROFILE = {"model": "largest", "instances": {"ml.c5.xlarge": {
    "workers": 4, "service_time": {"family": "lognormal", "mean_ms": 8.1, "cv": 0.5}}}}


def _mb(kib: int) -> float:
    return kib / 1024.0


def run_child(case: str, benchmarks: int, parallel: bool) -> dict:
    """In the child: run the case, report what it did and its peaks (module docstring)."""
    before = proc_field(Path("/proc/self/status"), "VmHWM")
    start = time.perf_counter()
    if case == "simulate":
        report = _simulate_at_the_limit()
    else:
        from irsim.service.job import execute_job
        request, profile = ((limits_request(benchmarks), LIMITS_PROFILE) if case == "limits"
                            else (legal_request(benchmarks), LEGAL_PROFILE))
        result = execute_job(request, profile, seed=0, parallel=parallel)
        requests = sum(int(item.outcome.per_minute["Invocations"].sum()) for item in result.scheduled)
        report = {"status": result.describe["Status"], "benchmarks": len(result.scheduled), "requests": requests}
    report["seconds"] = time.perf_counter() - start
    report["self_peak_mb"] = _mb(proc_field(Path("/proc/self/status"), "VmHWM"))
    report["largest_child_peak_mb"] = _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    report["before_mb"] = _mb(before)
    return report


def _simulate_at_the_limit() -> dict:
    """``irsim simulate`` as the command line runs it, at the longest duration the limit on
    held requests accepts for 200 users on the demo profile's ml.c5.xlarge."""
    from irsim.cli.app import main
    from simulator import load_profile
    from simulator.bounds import MAX_HELD_REQUESTS
    entry = load_profile("demo").instance("ml.c5.xlarge")
    rate = min(200 / (entry.service_time.mean_ms / 1000.0), entry.workers / (entry.service_time.mean_ms / 1000.0))
    duration = int(MAX_HELD_REQUESTS / rate)
    code = main(["simulate", "--instance-type", "ml.c5.xlarge", "--users", "200", "--duration", str(duration),
                 "--json"])
    return {"exit": code, "duration_s": duration, "rate_per_s": rate}


def _descendants(root: int) -> list[int]:
    """``root`` and every process under it (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def proc_field(path: Path, name: str) -> int:
    """A ``Name:  N kB`` field of a /proc file (0 when the process is gone)."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def watch(argv: list[str]) -> tuple[dict, dict]:
    """Run the child and poll it: per-process peaks, and the whole job's largest sums."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    peaks: dict[int, int] = {}
    most = {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0}
    while child.poll() is None:
        pids = _descendants(child.pid)
        rss = pss = 0
        for pid in pids:
            proc = Path(f"/proc/{pid}")
            peaks[pid] = max(peaks.get(pid, 0), proc_field(proc / "status", "VmHWM"))
            rss += proc_field(proc / "status", "VmRSS")
            pss += proc_field(proc / "smaps_rollup", "Pss")
        most["rss_mb"] = max(most["rss_mb"], _mb(rss))
        most["pss_mb"] = max(most["pss_mb"], _mb(pss))
        most["processes"] = max(most["processes"], len(pids))
        time.sleep(POLL_S)
    out = child.stdout.read() if child.stdout else ""
    report = json.loads(out.strip().splitlines()[-1])
    most["per_process_peak_mb"] = sorted((round(_mb(v), 1) for v in peaks.values() if v), reverse=True)
    most["sum_of_peaks_mb"] = _mb(sum(peaks.values()))
    return report, most


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("limits", "legal", "simulate"), default="limits")
    parser.add_argument("--benchmarks", type=int, default=10)
    parser.add_argument("--serial", action="store_true", help="benchmarks one after another in one process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.case, args.benchmarks, not args.serial)))
        return 0
    argv = [sys.executable, __file__, "--child", "--case", args.case, "--benchmarks", str(args.benchmarks)]
    argv += ["--serial"] if args.serial else []
    report, most = watch(argv)
    print(f"case {args.case}: os.cpu_count() = {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print("child:", json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in report.items()}))
    print(f"per-process peak RSS (VmHWM), MB: {most['per_process_peak_mb']}")
    print(f"whole job: largest RSS sum {most['rss_mb']:.0f} MB, largest PSS sum {most['pss_mb']:.0f} MB "
          f"(at one instant, {most['processes']} processes at most); sum of per-process peaks "
          f"{most['sum_of_peaks_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
