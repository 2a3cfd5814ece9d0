"""`irsim submit`, `irsim real-aws describe|wait|stop` and `irsim import`: boto3 mode's commands,
the only ones that reach AWS (`irsim aws ...`, the old name of `real-aws`, still works and warns)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from botocore.exceptions import ClientError

from irsim.boto3mode import transport
from irsim.boto3mode.importer import (
    JOB_NAME,
    check_importable,
    describe_document,
    import_job,
    steps_document,
    without_metadata,
)
from irsim.boto3mode.shortlist import kept_summary, shortlist_request
from irsim.boto3mode.transport import (
    AwsFailure,
    WaitTimeout,
    aws_errors,
    fetch_steps,
    wait_for_real_job,
)
from irsim.cli.errors import CliError
from irsim.cli.jobparsers import DEPRECATED_AWS, REAL_AWS
from irsim.durable.store import JobStore
from irsim.exitcodes import EXIT_TIMEOUT
from irsim.inputs import load_json_file
from irsim.present.formats import dumps
from irsim.present.tables import describe_table
from irsim.service.job import execute_job

DRY_RUN_NOTE = "dry run: not submitted (add --yes to create the job with boto3)"


def _reports_aws_failures(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command handler that prints an AwsFailure (AWS CLI style for service errors); under the
    deprecated group name `irsim aws`, a warning naming `irsim real-aws` first."""
    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        label = " ".join(part for part in (getattr(args, "group", None) or args.command,
                                           getattr(args, "aws_command", None)) if part)
        if getattr(args, "group", None) == DEPRECATED_AWS:
            action = args.aws_command
            print(f"irsim: warning: `irsim {DEPRECATED_AWS} {action}` is deprecated, use `irsim {REAL_AWS} {action}` "
                  "(it reaches the real AWS service; the offline commands are the AWS CLI's names, e.g. "
                  "`irsim describe-inference-recommendations-job`)", file=sys.stderr)
        try:
            return handler(args)
        except AwsFailure as failure:
            if isinstance(failure.cause, ClientError):
                print(f"\n{failure.cause}", file=sys.stderr)
            else:
                print(f"irsim {label}: error: {failure.cause}{failure.hint}", file=sys.stderr)
            return failure.exit_code
    return run


def _print_json(document: Any) -> None:
    print(dumps(document))


def _source_job(args: argparse.Namespace, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request and Describe response to shortlist from: a stored job, or JOB.json simulated now."""
    if args.from_job:
        if args.job:
            raise CliError("give JOB.json (simulated now) or --from-job NAME (a finished job of the store), not both")
        if {"service_profile", "seed"} & set(getattr(args, "explicit", ())):
            raise CliError("--service-profile and --seed apply to JOB.json simulated now, not to --from-job")
        store = JobStore(args.home)
        record = store.get(args.from_job)
        if record is None:
            raise CliError(f"no job named {args.from_job} in the store {store.home}")
        if record.describe is None:
            raise CliError(f"job {args.from_job} is {record.status} and has no recommendations yet; "
                           f"wait for it with `irsim wait {args.from_job}`")
        return record.request, record.describe
    if not args.job:
        raise CliError("give JOB.json (simulated now) or --from-job NAME (a finished job of the store)")
    request = load_json_file(args.job, "JOB")
    if not isinstance(request, dict):
        raise CliError(f"JOB: {args.job} must hold a JSON object (a CreateInferenceRecommendationsJob request)")
    print(f"irsim submit: simulating {request.get('JobName', args.job)} offline ...", file=sys.stderr)
    result = execute_job(request, args.service_profile or "demo", seed=args.seed or 0, region=region)
    return request, result.describe


def _submit(args: argparse.Namespace) -> int:
    """Print the real request for the --top cheapest simulated configurations; send it with --yes."""
    client = None
    if args.yes:
        with aws_errors():  # fail on a missing region before simulating
            client = transport.make_client(args.region)
    region = args.region or (client.meta.region_name if client is not None else None) or "us-east-1"
    request, describe = _source_job(args, region)
    shortlist = shortlist_request(request, describe, args.top, job_name=args.job_name)
    _print_json(shortlist)
    print(kept_summary(describe, args.top), file=sys.stderr)
    if client is None:
        print(DRY_RUN_NOTE, file=sys.stderr)
        return 0
    with aws_errors():
        response = client.create_inference_recommendations_job(**shortlist)
    _print_json({"JobArn": response["JobArn"]})
    return 0


def _aws_describe(args: argparse.Namespace) -> int:
    """A real job, as irsim's table or as JSON."""
    with aws_errors():
        response = without_metadata(transport.make_client(args.region).describe_inference_recommendations_job(
            JobName=args.name))
    if args.json:
        _print_json(response)
        return 0
    try:
        print(describe_table(response))
    except (KeyError, TypeError, ValueError) as exc:  # a shape the table does not know (e.g. serverless)
        print(f"irsim {args.group} describe: cannot tabulate this response ({type(exc).__name__}: {exc}); "
              "printing JSON", file=sys.stderr)
        _print_json(response)
    return 0


def _aws_wait(args: argparse.Namespace) -> int:
    """Poll a real job until it ends; exit 0 if COMPLETED."""
    def show(status: str) -> None:
        print(f"{args.name}: {status}", file=sys.stderr, flush=True)

    try:
        with aws_errors():
            response = wait_for_real_job(transport.make_client(args.region), args.name, args.poll, args.timeout,
                                         on_status=show)
    except WaitTimeout as exc:
        print(f"irsim {args.group} wait: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    reason = f" ({response['FailureReason']})" if response.get("FailureReason") else ""
    print(f"{args.name}: {response['Status']}{reason}")
    return 0 if response["Status"] == "COMPLETED" else 1


def _aws_stop(args: argparse.Namespace) -> int:
    """Stop a real job."""
    with aws_errors():
        transport.make_client(args.region).stop_inference_recommendations_job(JobName=args.name)
    print(f"stop requested: {args.name}")
    return 0


def _import_source_file(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.region:
        raise CliError("--region applies to a job fetched from the service (--from-aws NAME), not to a file")
    describe = describe_document(load_json_file(args.source, "SOURCE"), f"SOURCE: {args.source}")
    steps = (steps_document(load_json_file(args.steps, "--steps"), describe["JobName"], f"--steps: {args.steps}")
             if args.steps else {"Steps": []})
    return describe, steps


def _import_source_service(args: argparse.Namespace, store: JobStore) -> tuple[dict[str, Any], dict[str, Any]]:
    name = args.from_aws
    if args.steps:
        raise CliError("--steps applies to a saved Describe file; a job fetched from the service brings its steps")
    if not JOB_NAME.fullmatch(name):
        raise CliError(f"--from-aws: {name!r} is not an Inference Recommender job name (letters, digits and "
                       "hyphens, at most 64)")
    check_importable(store, name)  # before any call to AWS
    with aws_errors():
        client = transport.make_client(args.region)
        describe = without_metadata(client.describe_inference_recommendations_job(JobName=name))
    check_importable(store, name, describe["Status"])  # before fetching the steps
    with aws_errors():
        return describe, fetch_steps(client, name)


def _import(args: argparse.Namespace) -> int:
    """Store a finished real job, read from a saved Describe file, or fetched from AWS when told
    (--from-aws NAME): a missing file is an error, never a name to look up."""
    if (args.source is None) == (args.from_aws is None):
        raise CliError("give SOURCE (a saved Describe file) or --from-aws NAME (a job fetched from the service)"
                       + (", not both" if args.source else ""))
    store = JobStore(args.home)
    from_file = args.source is not None
    describe, steps = _import_source_file(args) if from_file else _import_source_service(args, store)
    source = args.source if from_file else "aws"
    record = import_job(store, describe, steps, source)
    recommendations = len((record.describe or {}).get("InferenceRecommendations", []))
    steps_count = len((record.steps or {}).get("Steps", []))
    print(f"imported {record.name} ({record.job_type}, {record.status}, {recommendations} recommendations, "
          f"{steps_count} steps) from {source} into {store.path}")
    return 0


cmd_submit = _reports_aws_failures(_submit)
cmd_aws_describe = _reports_aws_failures(_aws_describe)
cmd_aws_wait = _reports_aws_failures(_aws_wait)
cmd_aws_stop = _reports_aws_failures(_aws_stop)
cmd_import = _reports_aws_failures(_import)
