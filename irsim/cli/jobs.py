"""The short job commands over the durable store: create, describe, steps, stop, list, wait."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from irsim.cli.argtypes import number, seed
from irsim.cli.run import load_request
from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.client import client as make_offline_client
from irsim.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from irsim.present.formats import dumps
from irsim.present.tables import describe_table, steps_table
from irsim.service.result import stored_document


def offline_client(args: argparse.Namespace) -> OfflineSageMakerClient:
    """The offline client of the store ``--home``, with the simulation options given."""
    return make_offline_client(home=args.home, profile=getattr(args, "profile", None), seed=getattr(args, "seed", None),
                  region=getattr(args, "region", "us-east-1"))


def print_response(document: Any, indent: int = 2) -> None:
    """An API response as JSON, without ResponseMetadata."""
    document = {k: v for k, v in document.items() if k != "ResponseMetadata"}
    print(dumps(document, indent=indent))


def simulation_options() -> argparse.ArgumentParser:
    """The options of a job simulated by the store's worker (a parent parser)."""
    simulation = argparse.ArgumentParser(add_help=False)
    simulation.add_argument("--profile", default=None, help="profile JSON path, or 'demo' (default)")
    simulation.add_argument("--seed", type=seed, default=None, help="random seed (default 0, as irsim run)")
    simulation.add_argument("--region", default="us-east-1", help="pricing and JobArn region (default us-east-1)")
    return simulation


def cmd_create(args: argparse.Namespace) -> int:
    request = load_request(args.job)
    print_response(offline_client(args).create_inference_recommendations_job(**request))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    client = offline_client(args)
    response = client.describe_inference_recommendations_job(JobName=args.name)
    if args.json:
        print_response(response)
    else:
        print(describe_table(response, stored_document(client.describe_extensions(args.name))))
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
    kwargs = {"StatusEquals": args.status} if args.status else {}
    paginator = offline_client(args).get_paginator("list_inference_recommendations_jobs")
    jobs = paginator.paginate(**kwargs).build_full_result()
    if args.json:
        print_response(jobs)
        return 0
    print(f"{'name':<40} {'type':<9} {'status':<12} created")
    for job in jobs.get("InferenceRecommendationsJobs", []):
        print(f"{job['JobName']:<40} {job['JobType']:<9} {job['Status']:<12} {job['CreationTime']:%Y-%m-%d %H:%M:%S}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    try:
        response = offline_client(args).wait_for_job(args.name, timeout_s=args.timeout)
    except TimeoutError as exc:  # still running: not an answer about the job
        print(f"irsim wait: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    print(f"{args.name}: {response['Status']}" + (f" ({response['FailureReason']})"
                                                    if response.get("FailureReason") else ""))
    return EXIT_OK if response["Status"] == "COMPLETED" else EXIT_FAILED


def add_job_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register create, describe, steps, stop, list and wait."""
    simulation = simulation_options()
    create = commands.add_parser("create", parents=[common, simulation], help="start a durable job (returns at once)")
    create.add_argument("job", metavar="JOB.json")
    create.set_defaults(handler=cmd_create)
    for name, handler, text in (("describe", cmd_describe, "a job's status and recommendations"),
                                ("steps", cmd_steps, "a job's benchmark steps")):
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("name", metavar="NAME")
        sub.add_argument("--json", action="store_true", help="print the AWS response as JSON")
        sub.set_defaults(handler=handler)
    stop = commands.add_parser("stop", parents=[common], help="stop a running job (keeps finished steps)")
    stop.add_argument("name", metavar="NAME")
    stop.set_defaults(handler=cmd_stop)
    listing = commands.add_parser("list", parents=[common], help="the jobs in the store")
    listing.add_argument("--status", choices=("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED"))
    listing.add_argument("--json", action="store_true", help="print the API's response shape as JSON")
    listing.set_defaults(handler=cmd_list)
    wait = commands.add_parser("wait", parents=[common], help="wait until a job ends (exit 0 if COMPLETED)",
                               description="Wait until the job leaves PENDING, IN_PROGRESS and STOPPING.",
                               epilog="exit codes: 0 the job COMPLETED; 1 it ended FAILED or STOPPED; "
                                      "2 --timeout ran out first (the job goes on) or bad input")
    wait.add_argument("name", metavar="NAME")
    wait.add_argument("--timeout", type=number(0, "seconds"), default=None,
                      help="give up after this many seconds, exit 2 (default: no limit)")
    wait.set_defaults(handler=cmd_wait)

