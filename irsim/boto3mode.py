"""boto3 mode: from the simulated shortlist to the real service.

irsim answers offline which configurations are worth a real load test; this module hands
the cheapest of them to Amazon SageMaker Inference Recommender through boto3, and brings
real jobs back into the local store:

* ``irsim submit``: simulate a request (or reuse a finished job of the store), keep the
  ``--top`` cheapest recommended configurations and print the real
  CreateInferenceRecommendationsJob request; only with ``--yes`` is it sent.
* ``irsim aws describe|wait|stop``: a job on the real service.
* ``irsim import``: a real job (a saved Describe JSON file, or fetched by name) stored
  locally, so ``irsim describe`` and ``irsim list`` show it next to simulated jobs.

Only ``make_client`` creates a boto3 client; every call to AWS runs inside ``aws_errors``,
which turns botocore's exceptions into a message and an exit code (2 without credentials
or region, 254 for an error the service answered), never a traceback.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from irsim.aws import validate_params
from irsim.cli import EXIT_USAGE, CliError, load_json_file
from irsim.jobcommands import AWS_SERVICE_ERROR
from irsim.argtypes import integer, number
from irsim.jobreport import describe_table, json_default
from irsim.jobspec import DEFAULT_TRAFFIC_PATTERN, parse_request
from irsim.store import ACTIVE_STATUSES, JobExists, JobRecord, JobStore

OPERATION = "CreateInferenceRecommendationsJob"
AWS_GENERAL_ERROR = 255  # the AWS CLI's exit code for any other failure (e.g. no connection)
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "STOPPED")
DRY_RUN_NOTE = "dry run: not submitted (add --yes to create the job with boto3)"
DEFAULT_POLL_S = 60.0
#: InputConfig members the shortlist rebuilds (EndpointConfigurations, ResourceLimit) or
#: leaves out (Endpoints: existing endpoints, which the simulation did not rank).
REBUILT_INPUT_KEYS = ("EndpointConfigurations", "ResourceLimit", "Endpoints")
#: Request members rebuilt from a Describe response when a real job is imported.
IMPORTED_REQUEST_KEYS = ("JobName", "JobType", "RoleArn", "JobDescription", "InputConfig", "StoppingConditions")
REQUIRED_DESCRIBE_KEYS = ("JobName", "JobType", "JobArn", "RoleArn", "Status", "CreationTime", "LastModifiedTime",
                          "InputConfig")
TIMESTAMP_KEYS = frozenset({"CreationTime", "LastModifiedTime", "CompletionTime", "InvocationStartTime",
                            "InvocationEndTime"})
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}")


class ShortlistError(CliError):
    """Nothing to submit: no simulated configuration met the latency threshold."""


class AwsFailure(Exception):
    """A call to the real service failed: what to print and the exit code."""

    def __init__(self, cause: Exception, exit_code: int, hint: str = ""):
        super().__init__(str(cause))
        self.cause, self.exit_code, self.hint = cause, exit_code, hint


class WaitTimeout(Exception):
    """The job was still running when ``--timeout`` ran out."""


# --- the shortlist ----------------------------------------------------------------------------

def _cost(recommendation: Mapping[str, Any]) -> tuple[float, float]:
    metrics = recommendation.get("Metrics", {})
    return metrics.get("CostPerHour", math.inf), metrics.get("CostPerInference", math.inf)


def endpoint_configuration(recommendation: Mapping[str, Any]) -> dict[str, Any]:
    """The EndpointConfigurations entry that re-tests exactly one recommendation: its
    instance type, with each environment parameter pinned to its single value."""
    configuration: dict[str, Any] = {"InstanceType": recommendation["EndpointConfiguration"]["InstanceType"]}
    model = recommendation.get("ModelConfiguration", {})
    if model.get("InferenceSpecificationName"):
        configuration["InferenceSpecificationName"] = model["InferenceSpecificationName"]
    parameters = model.get("EnvironmentParameters", [])
    if parameters:
        configuration["EnvironmentParameterRanges"] = {"CategoricalParameterRanges": [
            {"Name": p["Key"], "Value": [p["Value"]]} for p in parameters]}
    return configuration


def _identity(configuration: Mapping[str, Any]) -> tuple:
    ranges = configuration.get("EnvironmentParameterRanges", {}).get("CategoricalParameterRanges", [])
    return (configuration["InstanceType"], configuration.get("InferenceSpecificationName"),
            tuple(sorted((r["Name"], tuple(r["Value"])) for r in ranges)))


def ranked_configurations(describe: Mapping[str, Any], top: int | None = None
                          ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The ``top`` (default: all) cheapest distinct configurations among the recommendations
    (which all met the threshold), by CostPerHour then CostPerInference, each with the
    recommendation it came from."""
    recommendations = [r for r in describe.get("InferenceRecommendations", [])
                       if "InstanceType" in r.get("EndpointConfiguration", {})]
    kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple] = set()
    for recommendation in sorted(recommendations, key=_cost):
        if top is not None and len(kept) == top:
            break
        configuration = endpoint_configuration(recommendation)
        if _identity(configuration) not in seen:
            seen.add(_identity(configuration))
            kept.append((configuration, recommendation))
    return kept


def _nothing_to_submit(describe: Mapping[str, Any]) -> str:
    reason = f": {describe['FailureReason']}" if describe.get("FailureReason") else ""
    return (f"job {describe.get('JobName', '?')} ({describe.get('Status', '?')}) has no recommended configuration: "
            f"none met the latency threshold{reason}. Nothing to submit.")


def _input_config(request: Mapping[str, Any], configurations: list[dict[str, Any]]) -> dict[str, Any]:
    original = request["InputConfig"]
    config = {key: value for key, value in original.items() if key not in REBUILT_INPUT_KEYS}
    if "TrafficPattern" not in config:
        config["TrafficPattern"] = DEFAULT_TRAFFIC_PATTERN  # the traffic irsim simulated, made explicit
    count = len(configurations)
    parallel = original.get("ResourceLimit", {}).get("MaxParallelOfTests") or 1
    config["ResourceLimit"] = {"MaxNumberOfTests": count, "MaxParallelOfTests": min(parallel, count)}
    config["EndpointConfigurations"] = configurations
    return config


def shortlist_request(request: Mapping[str, Any], describe: Mapping[str, Any] | Any, top: int,
                      job_name: str | None = None) -> dict[str, Any]:
    """The real CreateInferenceRecommendationsJob request for the ``top`` cheapest
    configurations the simulated job recommended.

    ``describe`` is the simulated job's Describe response (or its ``JobResult``). The
    request keeps the job's name (unless ``job_name``), role, description, model and
    traffic; it is an Advanced job whose EndpointConfigurations are the kept
    configurations, one test each. Raises ShortlistError when nothing met the threshold,
    and botocore's ParamValidationError / ClientError if the result would be refused.
    """
    describe = getattr(describe, "describe", describe)
    if top < 1:
        raise ShortlistError(f"top must be at least 1, got {top}")
    configurations = [configuration for configuration, _ in ranked_configurations(describe, top)]
    if not configurations:
        raise ShortlistError(_nothing_to_submit(describe))
    shortlist: dict[str, Any] = {"JobName": job_name or request["JobName"], "JobType": "Advanced",
                                 "RoleArn": request["RoleArn"]}
    if "JobDescription" in request:
        shortlist["JobDescription"] = request["JobDescription"]
    shortlist["InputConfig"] = _input_config(request, configurations)
    if request.get("JobType") == "Default":
        shortlist["StoppingConditions"] = {"FlatInvocations": "Stop"}  # what a Default job was simulated with
    elif "StoppingConditions" in request:
        shortlist["StoppingConditions"] = request["StoppingConditions"]
    for key in ("OutputConfig", "Tags"):
        if key in request:
            shortlist[key] = request[key]
    shortlist = copy.deepcopy(shortlist)
    validate_params(OPERATION, shortlist)  # what boto3 checks before sending
    parse_request(shortlist)               # the service's rules, as irsim knows them
    return shortlist


# --- talking to AWS -----------------------------------------------------------------------------

def make_client(region: str | None):
    """The real boto3 SageMaker client (region None: boto3's default chain)."""
    import boto3
    return boto3.client("sagemaker", region_name=region)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Around calls to the real service only: botocore's exceptions become AwsFailure.
    (A ClientError raised elsewhere is irsim's own validation: bad input, exit 2.)"""
    try:
        yield
    except ClientError as exc:
        raise AwsFailure(exc, AWS_SERVICE_ERROR) from None
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise AwsFailure(exc, EXIT_USAGE, " (configure credentials: `aws configure`, AWS_PROFILE, or "
                                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)") from None
    except NoRegionError as exc:
        raise AwsFailure(exc, EXIT_USAGE, " (pass --region or set AWS_DEFAULT_REGION)") from None
    except ParamValidationError as exc:
        raise AwsFailure(exc, EXIT_USAGE) from None
    except BotoCoreError as exc:
        raise AwsFailure(exc, AWS_GENERAL_ERROR) from None


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


def _without_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key not in ("ResponseMetadata", "NextToken")}


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=json_default))


def wait_for_real_job(client: Any, name: str, poll_s: float = DEFAULT_POLL_S, timeout_s: float | None = None, *,
                      sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None,
                      on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Describe ``name`` every ``poll_s`` seconds until it leaves PENDING/IN_PROGRESS/STOPPING;
    ``on_status`` hears each new status. Raises WaitTimeout after ``timeout_s``. ``sleep`` and
    ``clock`` default to ``time.sleep`` and ``time.monotonic``, looked up at call time."""
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    deadline = None if timeout_s is None else clock() + timeout_s
    last = None
    while True:
        response = client.describe_inference_recommendations_job(JobName=name)
        status = response["Status"]
        if on_status and status != last:
            on_status(status)
        last = status
        if status not in ACTIVE_STATUSES:
            return response
        if deadline is not None and clock() >= deadline:
            raise WaitTimeout(f"{name} is still {status} after {timeout_s:g} s")
        sleep(poll_s if deadline is None else max(0.0, min(poll_s, deadline - clock())))


def fetch_steps(client: Any, name: str) -> dict[str, Any]:
    """All pages of a real job's ListInferenceRecommendationsJobSteps, as one response."""
    steps = client.get_paginator("list_inference_recommendations_job_steps").paginate(JobName=name) \
        .build_full_result()
    return {"Steps": steps.get("Steps", [])}


# --- import ---------------------------------------------------------------------------------

def _timestamp(key: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)  # cli_timestamp_format = none
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise CliError(f"{key}: {value!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_timestamps(document: Any) -> Any:
    """AWS CLI output with its timestamps (CreationTime, ..., InvocationEndTime) as datetimes."""
    if isinstance(document, dict):
        return {key: _timestamp(key, value) if key in TIMESTAMP_KEYS and value is not None
                else parse_timestamps(value) for key, value in document.items()}
    if isinstance(document, list):
        return [parse_timestamps(item) for item in document]
    return document


def read_describe_file(path: str) -> dict[str, Any]:
    """A saved `aws sagemaker describe-inference-recommendations-job` output."""
    document = load_json_file(path, "SOURCE")
    if not isinstance(document, dict):
        raise CliError(f"SOURCE: {path} must hold a DescribeInferenceRecommendationsJob response (a JSON object)")
    missing = [key for key in REQUIRED_DESCRIBE_KEYS if key not in document]
    if missing:
        raise CliError(f"SOURCE: {path} is not a DescribeInferenceRecommendationsJob response: "
                       f"missing {', '.join(missing)}")
    return _without_metadata(parse_timestamps(document))


def read_steps_file(path: str, name: str) -> dict[str, Any]:
    """A saved `aws sagemaker list-inference-recommendations-job-steps` output for job ``name``."""
    document = load_json_file(path, "--steps")
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise CliError(f"--steps: {path} must hold a ListInferenceRecommendationsJobSteps response "
                       "(an object with a Steps list)")
    others = sorted({step.get("JobName") for step in document["Steps"]} - {name})
    if others:
        raise CliError(f"--steps: {path} holds steps of job {others[0]}, not {name}")
    return {"Steps": parse_timestamps(document["Steps"])}


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        raise CliError(f"JobArn {arn!r} is not an ARN with a region")
    return parts[3]


def _check_importable(store: JobStore, name: str, status: str | None = None) -> None:
    if store.get(name) is not None:
        raise CliError(f"a job named {name} is already in the store {store.home}; nothing imported")
    if status is not None and status not in TERMINAL_STATUSES:
        raise CliError(f"job {name} is {status}: only a finished job (COMPLETED, FAILED or STOPPED) can be "
                       f"imported; wait for it with `irsim aws wait {name}`")


def import_job(store: JobStore, describe: Mapping[str, Any], steps: Mapping[str, Any], source: str) -> JobRecord:
    """Store a finished real job so the offline client answers for it. It is not simulated:
    its profile is empty, its seed 0, and its extensions say where it came from."""
    name = describe["JobName"]
    _check_importable(store, name, describe["Status"])
    request = {key: describe[key] for key in IMPORTED_REQUEST_KEYS if key in describe}
    # model, seed and benchmarks keep `irsim describe` (jobreport.describe_table) able to show it.
    extensions = {"source": source, "imported": True, "model": f"n/a (imported from {source}, not simulated)",
                  "seed": "n/a", "benchmarks": []}
    try:
        # One transaction, already in its final state: never seen half-imported.
        store.insert(name=name, arn=describe["JobArn"], job_type=describe["JobType"], request=request, profile={},
                     seed=0, region=_region_of(describe["JobArn"]), created=describe["CreationTime"],
                     status=describe["Status"], describe=dict(describe), steps=dict(steps),
                     completed=describe.get("CompletionTime"), failure_reason=describe.get("FailureReason"),
                     extensions=extensions, last_modified=describe["LastModifiedTime"])
    except JobExists:
        raise CliError(f"a job named {name} is already in the store {store.home}; nothing imported") from None
    return store.get(name)


def _is_file_source(source: str) -> bool:
    """A job name cannot hold '.' or '/': anything else, or an existing file, is a path."""
    return Path(source.removeprefix("file://")).is_file() or not JOB_NAME.fullmatch(source)


# --- commands ---------------------------------------------------------------------------------

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
    from irsim.job import execute_job
    request = load_json_file(args.job, "JOB")
    if not isinstance(request, dict):
        raise CliError(f"JOB: {args.job} must hold a JSON object (a CreateInferenceRecommendationsJob request)")
    print(f"irsim submit: simulating {request.get('JobName', args.job)} offline ...", file=sys.stderr)
    result = execute_job(request, args.profile or "demo", seed=args.seed or 0, region=region)
    return request, result.describe


def _label(configuration: Mapping[str, Any], recommendation: Mapping[str, Any]) -> str:
    environment = ",".join(f"{r['Name']}={r['Value'][0]}" for r in configuration
                           .get("EnvironmentParameterRanges", {}).get("CategoricalParameterRanges", []))
    return (configuration["InstanceType"] + (f" [{environment}]" if environment else "")
            + f" (${_cost(recommendation)[0]:.3f}/hour)")


def _kept_summary(describe: Mapping[str, Any], top: int) -> str:
    """One line for stderr: which configurations the shortlist kept, out of how many."""
    available = len(ranked_configurations(describe))
    if available > top:
        kept = f"the {top} cheapest of {available}"
    else:
        kept = f"all {available}" + (f" (fewer than --top {top} met the threshold)" if available < top else "")
    labels = ", ".join(_label(*pair) for pair in ranked_configurations(describe, top))
    return f"shortlist: {kept} recommended configurations: {labels}"


def cmd_submit(args: argparse.Namespace) -> int:
    """Print the real request for the --top cheapest simulated configurations; send it with --yes."""
    client = None
    if args.yes:
        with aws_errors():  # fail on a missing region before simulating
            client = make_client(args.region)
    region = args.region or (client.meta.region_name if client is not None else None) or "us-east-1"
    request, describe = _source_job(args, region)
    shortlist = shortlist_request(request, describe, args.top, job_name=args.job_name)
    _print_json(shortlist)
    print(_kept_summary(describe, args.top), file=sys.stderr)
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
        response = _without_metadata(make_client(args.region).describe_inference_recommendations_job(
            JobName=args.name))
    if args.json:
        _print_json(response)
        return 0
    try:
        print(describe_table(response))
    except (KeyError, TypeError, ValueError) as exc:  # a shape the table does not know (e.g. serverless)
        print(f"irsim aws describe: cannot tabulate this response ({type(exc).__name__}: {exc}); "
              "printing JSON", file=sys.stderr)
        _print_json(response)
    return 0


def cmd_aws_wait(args: argparse.Namespace) -> int:
    """Poll a real job until it ends; exit 0 if COMPLETED."""
    def show(status: str) -> None:
        print(f"{args.name}: {status}", file=sys.stderr, flush=True)

    try:
        with aws_errors():
            response = wait_for_real_job(make_client(args.region), args.name, args.poll, args.timeout,
                                         on_status=show)
    except WaitTimeout as exc:
        print(f"irsim aws wait: {exc}", file=sys.stderr)
        return 1
    reason = f" ({response['FailureReason']})" if response.get("FailureReason") else ""
    print(f"{args.name}: {response['Status']}{reason}")
    return 0 if response["Status"] == "COMPLETED" else 1


def cmd_aws_stop(args: argparse.Namespace) -> int:
    """Stop a real job."""
    with aws_errors():
        make_client(args.region).stop_inference_recommendations_job(JobName=args.name)
    print(f"stop requested: {args.name}")
    return 0


def _import_source_file(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.region:
        raise CliError("--region applies to a job fetched from the service, not to a file")
    describe = read_describe_file(args.source)
    steps = read_steps_file(args.steps, describe["JobName"]) if args.steps else {"Steps": []}
    return describe, steps


def _import_source_service(args: argparse.Namespace, store: JobStore) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.steps:
        raise CliError("--steps applies to a saved Describe file; a job fetched from the service brings its steps")
    _check_importable(store, args.source)  # before any call to AWS
    with aws_errors():
        client = make_client(args.region)
        describe = _without_metadata(client.describe_inference_recommendations_job(JobName=args.source))
    _check_importable(store, args.source, describe["Status"])  # before fetching the steps
    with aws_errors():
        return describe, fetch_steps(client, args.source)


def cmd_import(args: argparse.Namespace) -> int:
    """Store a finished real job, read from a saved Describe file or fetched by name."""
    store = JobStore(args.home)
    from_file = _is_file_source(args.source)
    describe, steps = _import_source_file(args) if from_file else _import_source_service(args, store)
    source = args.source if from_file else "aws"
    record = import_job(store, describe, steps, source)
    recommendations = len((record.describe or {}).get("InferenceRecommendations", []))
    print(f"imported {record.name} ({record.job_type}, {record.status}, {recommendations} recommendations, "
          f"{len(record.steps['Steps'])} steps) from {source} into {store.path}")
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
    submit.add_argument("--seed", type=integer(0), default=None, help="random seed of the simulation (default 0)")
    submit.add_argument("--region", default=None,
                        help="the real job's region, and the pricing region (default: boto3's, else us-east-1)")
    submit.add_argument("--job-name", default=None, help="the real job's name (default: the simulated job's)")
    submit.add_argument("--from-job", metavar="NAME", default=None, help="a finished job of the store (--home)")
    submit.add_argument("--yes", action="store_true", help="create the real job (costs money: real endpoints)")
    submit.set_defaults(handler=_reports_aws_failures("submit", cmd_submit))


def _add_aws(commands: argparse._SubParsersAction) -> None:
    aws = commands.add_parser("aws", help="a job on the real service, with boto3: describe, wait, stop",
                              description="Inference Recommender jobs on AWS (credentials and region as boto3 finds "
                                          "them; --region overrides the region).")
    actions = aws.add_subparsers(dest="aws_command", required=True, metavar="ACTION")
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("name", metavar="NAME")
    region.add_argument("--region", default=None, help="default: boto3's default chain")
    describe = actions.add_parser("describe", parents=[region], help="a real job's status and recommendations")
    describe.add_argument("--json", action="store_true", help="print the AWS response as JSON")
    describe.set_defaults(handler=_reports_aws_failures("aws describe", cmd_aws_describe))
    wait = actions.add_parser("wait", parents=[region], help="wait until a real job ends (exit 0 if COMPLETED)")
    wait.add_argument("--poll", type=number(0, "a number of seconds"), default=DEFAULT_POLL_S,
                      help=f"seconds between Describe calls (default {DEFAULT_POLL_S:g})")
    wait.add_argument("--timeout", type=number(0, "a number of seconds"), default=None,
                      help="seconds (default: no limit)")
    wait.set_defaults(handler=_reports_aws_failures("aws wait", cmd_aws_wait))
    stop = actions.add_parser("stop", parents=[region], help="stop a real job")
    stop.set_defaults(handler=_reports_aws_failures("aws stop", cmd_aws_stop))


def _add_import(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    imported = commands.add_parser(
        "import", parents=[common], help="store a finished real job locally (from a Describe file or from AWS)",
        description="Store a finished real job in the job store, so `irsim describe` and `irsim list` show it. "
                    "SOURCE is a saved `aws sagemaker describe-inference-recommendations-job` output, or a job "
                    "name fetched from the service.")
    imported.add_argument("source", metavar="SOURCE", help="a Describe JSON file, or a job NAME on AWS")
    imported.add_argument("--steps", metavar="FILE", default=None,
                          help="with a file SOURCE: saved `list-inference-recommendations-job-steps` output")
    imported.add_argument("--region", default=None, help="with a NAME: the job's region (default: boto3's)")
    imported.set_defaults(handler=_reports_aws_failures("import", cmd_import))


def add_boto3_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``submit``, ``aws describe|wait|stop`` and ``import``."""
    _add_submit(commands, common)
    _add_aws(commands)
    _add_import(commands, common)
