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
    DEFAULT_POLL_S,
    AwsFailure,
    WaitTimeout,
    aws_errors,
    fetch_steps,
    wait_for_real_job,
)
from irsim.cli.argtypes import integer, number, seed
from irsim.cli.errors import CliError
from irsim.durable.store import JobStore
from irsim.inputs import load_json_file
from irsim.present.formats import dumps
from irsim.present.tables import describe_table
from irsim.service.job import execute_job

DRY_RUN_NOTE = "dry run: not submitted (add --yes to create the job with boto3)"
REAL_AWS = "real-aws"    # the command group that reaches the real service
DEPRECATED_AWS = "aws"   # its old name, kept as an alias that warns


def _reports_aws_failures(label: str, handler: Callable[[argparse.Namespace], int]
                          ) -> Callable[[argparse.Namespace], int]:
    """A command handler that prints an AwsFailure (AWS CLI style for service errors)."""
    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
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
        if args.profile is not None or args.seed is not None:
            raise CliError("--profile and --seed apply to JOB.json simulated now, not to --from-job")
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
    result = execute_job(request, args.profile or "demo", seed=args.seed or 0, region=region)
    return request, result.describe


def cmd_submit(args: argparse.Namespace) -> int:
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


def cmd_aws_describe(args: argparse.Namespace) -> int:
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


def cmd_aws_wait(args: argparse.Namespace) -> int:
    """Poll a real job until it ends; exit 0 if COMPLETED."""
    def show(status: str) -> None:
        print(f"{args.name}: {status}", file=sys.stderr, flush=True)

    try:
        with aws_errors():
            response = wait_for_real_job(transport.make_client(args.region), args.name, args.poll, args.timeout,
                                         on_status=show)
    except WaitTimeout as exc:
        print(f"irsim {args.group} wait: {exc}", file=sys.stderr)
        return 1
    reason = f" ({response['FailureReason']})" if response.get("FailureReason") else ""
    print(f"{args.name}: {response['Status']}{reason}")
    return 0 if response["Status"] == "COMPLETED" else 1


def cmd_aws_stop(args: argparse.Namespace) -> int:
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


def cmd_import(args: argparse.Namespace) -> int:
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


# --- argument parsing -----------------------------------------------------------------------

def _add_submit(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    submit = commands.add_parser(
        "submit", parents=[common], help="send the simulated shortlist to the real service (dry run without --yes)",
        description="Simulate JOB.json (or reuse --from-job), keep the --top cheapest recommended configurations "
                    "and print the real CreateInferenceRecommendationsJob request; --yes creates it with boto3.")
    submit.add_argument("job", metavar="JOB.json", nargs="?", help="the request to simulate first")
    submit.add_argument("--top", type=integer(1), required=True, help="how many configurations to keep")
    submit.add_argument("--profile", default=None, help="profile JSON path, or 'demo' (default)")
    submit.add_argument("--seed", type=seed, default=None, help="random seed of the simulation (default 0)")
    submit.add_argument("--region", default=None,
                        help="the real job's region, and the pricing region (default: boto3's, else us-east-1)")
    submit.add_argument("--job-name", default=None, help="the real job's name (default: the simulated job's)")
    submit.add_argument("--from-job", metavar="NAME", default=None, help="a finished job of the store (--home)")
    submit.add_argument("--yes", action="store_true", help="create the real job (costs money: real endpoints)")
    submit.set_defaults(handler=_reports_aws_failures("submit", cmd_submit))


def _deprecated(handler: Callable[[argparse.Namespace], int], action: str) -> Callable[[argparse.Namespace], int]:
    """``irsim aws ACTION``: the same command, after a warning naming the new one."""
    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        print(f"irsim: warning: `irsim {DEPRECATED_AWS} {action}` is deprecated, use `irsim {REAL_AWS} {action}` "
              "(it reaches the real AWS service; the offline commands are the AWS CLI's names, e.g. "
              "`irsim describe-inference-recommendations-job`)", file=sys.stderr)
        return handler(args)
    return run


def _add_real_aws(commands: argparse._SubParsersAction, group: str) -> None:
    """``irsim real-aws describe|wait|stop`` (and, hidden from the help, the deprecated ``irsim aws``)."""
    deprecated = group == DEPRECATED_AWS
    listed: dict[str, Any] = {} if deprecated else {
        "help": "a job on the REAL SageMaker service, with boto3: describe, wait, stop"}
    aws = commands.add_parser(group, **listed,
                              description="Inference Recommender jobs on the real AWS service (credentials and "
                                          "region as boto3 finds them; --region overrides the region)."
                                          + (f" Deprecated name of `irsim {REAL_AWS}`." if deprecated else ""))
    actions = aws.add_subparsers(dest="aws_command", required=True, metavar="ACTION")
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("name", metavar="NAME")
    region.add_argument("--region", default=None, help="the AWS region of the job (default: boto3's default chain)")

    def handler(action: str, run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        reported = _reports_aws_failures(f"{group} {action}", run)
        return _deprecated(reported, action) if deprecated else reported

    describe = actions.add_parser("describe", parents=[region], help="a real job's status and recommendations")
    describe.add_argument("--json", action="store_true", help="print the AWS response as JSON")
    describe.set_defaults(handler=handler("describe", cmd_aws_describe), group=group)
    wait = actions.add_parser("wait", parents=[region], help="wait until a real job ends (exit 0 if COMPLETED)")
    wait.add_argument("--poll", type=number(0, "a number of seconds"), default=DEFAULT_POLL_S,
                      help=f"seconds between Describe calls (default {DEFAULT_POLL_S:g})")
    wait.add_argument("--timeout", type=number(0, "a number of seconds"), default=None,
                      help="seconds (default: no limit)")
    wait.set_defaults(handler=handler("wait", cmd_aws_wait), group=group)
    stop = actions.add_parser("stop", parents=[region], help="stop a real job")
    stop.set_defaults(handler=handler("stop", cmd_aws_stop), group=group)


def _add_import(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    imported = commands.add_parser(
        "import", parents=[common], help="store a finished real job locally (from a Describe file or from AWS)",
        description="Store a finished real job in the job store, so `irsim describe` and `irsim list` show it. "
                    "SOURCE is a saved `aws sagemaker describe-inference-recommendations-job` output; "
                    "--from-aws NAME fetches the job from the service instead (only then is AWS contacted).")
    imported.add_argument("source", metavar="SOURCE", nargs="?", default=None, help="a saved Describe JSON file")
    imported.add_argument("--from-aws", metavar="NAME", default=None,
                          help="fetch the finished job NAME from the service with boto3")
    imported.add_argument("--steps", metavar="FILE", default=None,
                          help="with SOURCE: saved `list-inference-recommendations-job-steps` output")
    imported.add_argument("--region", default=None, help="with --from-aws: the job's region (default: boto3's)")
    imported.set_defaults(handler=_reports_aws_failures("import", cmd_import))


def add_boto3_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``submit``, ``real-aws describe|wait|stop`` (and its deprecated alias ``aws``) and ``import``."""
    _add_submit(commands, common)
    _add_real_aws(commands, REAL_AWS)
    _add_real_aws(commands, DEPRECATED_AWS)
    _add_import(commands, common)
