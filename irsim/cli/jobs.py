"""The short job commands over the durable store: create, describe, steps, stop, list, wait, delete."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from botocore.exceptions import ClientError

from irsim.cli.errors import CliError
from irsim.cli.printing import Printer
from irsim.cli.run import load_request
from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.client import client as make_offline_client
from irsim.durable.processes import process_alive
from irsim.durable.store import ACTIVE_STATUSES, JobStore
from irsim.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from irsim.present.formats import dumps
from irsim.present.tables import describe_table, steps_table
from irsim.service.result import stored_document


def offline_client(args: argparse.Namespace) -> OfflineSageMakerClient:
    """The offline client of the store ``--home``, with the simulation options given."""
    return make_offline_client(home=args.home, profile=getattr(args, "service_profile", None),
                               seed=getattr(args, "seed", None), region=getattr(args, "region", None) or "us-east-1")


def print_response(document: Any, indent: int = 2) -> None:
    """An API response as JSON, without ResponseMetadata."""
    document = {k: v for k, v in document.items() if k != "ResponseMetadata"}
    print(dumps(document, indent=indent))


def cmd_create(args: argparse.Namespace) -> int:
    request = load_request(args.job)
    if args.job_name is not None:
        request = {**request, "JobName": args.job_name}
    try:
        response = offline_client(args).create_inference_recommendations_job(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUse":
            raise
        name = request.get("JobName")
        raise CliError(f"{exc.response['Error']['Message']} Run it again under another name with --job-name NAME, "
                       f"or remove the old job first with `irsim delete {name}` (see it with "
                       f"`irsim describe {name}`)") from None
    print_response(response)
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    printer = Printer.from_args(args)
    client = offline_client(args)
    response = client.describe_inference_recommendations_job(JobName=args.name)
    printer.emit(response, lambda: describe_table(response, stored_document(client.describe_extensions(args.name)),
                                                  wide=printer.wide), "DescribeInferenceRecommendationsJob")
    return 0


def cmd_steps(args: argparse.Namespace) -> int:
    steps = offline_client(args).get_paginator("list_inference_recommendations_job_steps") \
        .paginate(JobName=args.name).build_full_result()
    if args.json:
        print_response(steps)
        return 0
    print(steps_table(steps))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    offline_client(args).stop_inference_recommendations_job(JobName=args.name)
    print(f"stop requested: {args.name}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    printer = Printer.from_args(args)
    kwargs = {"StatusEquals": args.status} if args.status else {}
    paginator = offline_client(args).get_paginator("list_inference_recommendations_jobs")
    jobs = paginator.paginate(**kwargs).build_full_result()
    printer.emit(jobs, lambda: jobs_table(jobs.get("InferenceRecommendationsJobs", [])),
                 "ListInferenceRecommendationsJobs")
    return 0


def jobs_table(jobs: list[dict[str, Any]]) -> str:
    """One line a job: its whole name (never cut), type, status and creation time."""
    width = max([len("name"), *(len(job["JobName"]) for job in jobs)])
    lines = [f"{'name':<{width}}  {'type':<9} {'status':<12} created"]
    lines += [f"{job['JobName']:<{width}}  {job['JobType']:<9} {job['Status']:<12} "
              f"{job['CreationTime']:%Y-%m-%d %H:%M:%S}" for job in jobs]
    return "\n".join(lines)


def cmd_wait(args: argparse.Namespace) -> int:
    try:
        response = offline_client(args).wait_for_job(args.name, timeout_s=args.timeout)
    except TimeoutError as exc:  # still running: not an answer about the job
        print(f"irsim wait: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    print(f"{args.name}: {response['Status']}" + (f" ({response['FailureReason']})"
                                                    if response.get("FailureReason") else ""))
    return EXIT_OK if response["Status"] == "COMPLETED" else EXIT_FAILED


def cmd_delete(args: argparse.Namespace) -> int:
    """Remove a job from the local store; a running one only with --force, its worker ended first."""
    store = JobStore(args.home)
    record = store.get(args.name)
    if record is None:
        raise CliError(f"no job named {args.name} in the store {store.home} (`irsim list` shows its jobs)")
    if record.status in ACTIVE_STATUSES:
        if not args.force:
            raise CliError(f"job {args.name} is {record.status}: stop it with `irsim stop {args.name}` and wait, or "
                           "delete it now with --force (its worker is ended)")
        if record.worker_pid is not None and process_alive(record.worker_pid, record.worker_started):
            os.kill(record.worker_pid, signal.SIGTERM)
    store.delete(args.name)
    print(f"deleted {args.name} ({record.status}) from {store.path}")
    return 0
