"""Job commands over the durable store: the short ones (create, describe, steps, stop, list,
wait) and the AWS-CLI-shaped ones (`irsim create-inference-recommendations-job ...`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ParamValidationError

from irsim.jobreport import describe_table, endpoint_label, json_default

AWS_PARAMETER_ERROR = 252  # the AWS CLI's exit code for a request it refuses to send
AWS_SERVICE_ERROR = 254    # ... and for an error the service answered


class AwsCliUsageError(Exception):
    """An argument the AWS CLI itself would reject (exit 252)."""


def _client(args: argparse.Namespace):
    from irsim.client import client
    return client(home=args.home, profile=getattr(args, "profile", None), seed=getattr(args, "seed", None),
                  region=getattr(args, "region", "us-east-1"))


def _print_json(document: Any, indent: int = 2) -> None:
    document = {k: v for k, v in document.items() if k != "ResponseMetadata"}
    print(json.dumps(document, indent=indent, default=json_default))


# --- short commands ----------------------------------------------------------------------

def cmd_create(args: argparse.Namespace) -> int:
    from irsim.cli import CliError, load_json_file
    request = load_json_file(args.job, "JOB")
    if not isinstance(request, dict):
        raise CliError(f"JOB: {args.job} must hold a JSON object (a CreateInferenceRecommendationsJob request)")
    _print_json(_client(args).create_inference_recommendations_job(**request))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    client = _client(args)
    response = client.describe_inference_recommendations_job(JobName=args.name)
    if args.json:
        _print_json(response)
    else:
        print(describe_table(response, client.describe_extensions(args.name)))
    return 0


def cmd_steps(args: argparse.Namespace) -> int:
    steps = _client(args).get_paginator("list_inference_recommendations_job_steps") \
        .paginate(JobName=args.name).build_full_result()
    if args.json:
        _print_json(steps)
        return 0
    print(f"{'#':>2}  {'status':<11} {'instance type':<34} {'MaxInvocations':>14} {'latency ms':>10}  reason")
    for i, step in enumerate(steps.get("Steps", [])):
        benchmark = step.get("InferenceBenchmark", {})
        label = endpoint_label(benchmark.get("EndpointConfiguration", {}), benchmark.get("ModelConfiguration"))
        metrics = benchmark.get("EndpointMetrics", {})
        invocations = f"{metrics['MaxInvocations']:,}" if metrics else "-"
        latency = f"{metrics['ModelLatency'] / 1000:.2f}" if metrics else "-"
        print(f"{i:>2}  {step['Status']:<11} {label:<34} {invocations:>14} {latency:>10}  "
              f"{benchmark.get('FailureReason', '')}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    _client(args).stop_inference_recommendations_job(JobName=args.name)
    print(f"stop requested: {args.name}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    kwargs = {"StatusEquals": args.status} if args.status else {}
    jobs = _client(args).get_paginator("list_inference_recommendations_jobs").paginate(**kwargs).build_full_result()
    if args.json:
        _print_json(jobs)
        return 0
    print(f"{'name':<40} {'type':<9} {'status':<12} created")
    for job in jobs.get("InferenceRecommendationsJobs", []):
        print(f"{job['JobName']:<40} {job['JobType']:<9} {job['Status']:<12} {job['CreationTime']:%Y-%m-%d %H:%M:%S}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    try:
        response = _client(args).wait_for_job(args.name, timeout_s=args.timeout)
    except TimeoutError as exc:
        print(f"irsim wait: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {response['Status']}" + (f" ({response['FailureReason']})"
                                                    if response.get("FailureReason") else ""))
    return 0 if response["Status"] == "COMPLETED" else 1


# --- AWS-CLI-shaped commands ------------------------------------------------------------------

def _json_argument(value: str | None, option: str) -> Any:
    """An AWS CLI JSON argument: inline JSON or file://PATH."""
    if value is None:
        return None
    text = value
    if value.startswith("file://"):
        try:
            text = Path(value[len("file://"):]).read_text()
        except OSError as exc:
            raise AwsCliUsageError(f"Error parsing parameter '{option}': Unable to load paramfile {value}: "
                                   f"{exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': Invalid JSON: {exc.msg} "
                               f"(line {exc.lineno} column {exc.colno})\nJSON received: {text[:200]}") from None


def _request(args: argparse.Namespace, options: dict[str, str]) -> dict[str, Any]:
    """--cli-input-json first, then the explicit options over it (as the AWS CLI merges them)."""
    request = _json_argument(args.cli_input_json, "--cli-input-json") or {}
    if not isinstance(request, dict):
        raise AwsCliUsageError("Error parsing parameter '--cli-input-json': must be a JSON object")
    for attribute, key in options.items():
        value = getattr(args, attribute, None)
        if value is not None:
            request[key] = value
    return request


def aws_create(args: argparse.Namespace) -> int:
    for attribute, option in (("input_config", "--input-config"), ("stopping_conditions", "--stopping-conditions"),
                              ("output_config", "--output-config"), ("tags", "--tags")):
        setattr(args, attribute, _json_argument(getattr(args, attribute), option))
    if args.job_type is not None:
        args.job_type = {"advanced": "Advanced", "default": "Default"}.get(args.job_type.lower(), args.job_type)
    request = _request(args, {"job_name": "JobName", "job_type": "JobType", "role_arn": "RoleArn",
                              "input_config": "InputConfig", "job_description": "JobDescription",
                              "stopping_conditions": "StoppingConditions", "output_config": "OutputConfig",
                              "tags": "Tags"})
    _print_json(_client(args).create_inference_recommendations_job(**request), indent=4)
    return 0


def aws_describe(args: argparse.Namespace) -> int:
    request = _request(args, {"job_name": "JobName"})
    _print_json(_client(args).describe_inference_recommendations_job(**request), indent=4)
    return 0


def aws_stop(args: argparse.Namespace) -> int:
    request = _request(args, {"job_name": "JobName"})
    _client(args).stop_inference_recommendations_job(**request)
    return 0


def _paginated(args: argparse.Namespace, method: str, options: dict[str, str]) -> int:
    request = _request(args, options)
    config = {key: value for key, value in (("MaxItems", args.max_items), ("PageSize", args.page_size),
                                            ("StartingToken", args.starting_token)) if value is not None}
    result = _client(args).get_paginator(method).paginate(**request, PaginationConfig=config).build_full_result()
    _print_json(result, indent=4)
    return 0


def aws_list_jobs(args: argparse.Namespace) -> int:
    return _paginated(args, "list_inference_recommendations_jobs", {
        "creation_time_after": "CreationTimeAfter", "creation_time_before": "CreationTimeBefore",
        "last_modified_time_after": "LastModifiedTimeAfter", "last_modified_time_before": "LastModifiedTimeBefore",
        "name_contains": "NameContains", "status_equals": "StatusEquals", "sort_by": "SortBy",
        "sort_order": "SortOrder", "model_name_equals": "ModelNameEquals",
        "model_package_version_arn_equals": "ModelPackageVersionArnEquals"})


def aws_list_steps(args: argparse.Namespace) -> int:
    return _paginated(args, "list_inference_recommendations_job_steps",
                      {"job_name": "JobName", "status": "Status", "step_type": "StepType"})


def add_job_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register the short and the AWS-CLI-shaped job commands."""
    simulation = argparse.ArgumentParser(add_help=False)
    simulation.add_argument("--profile", default=None, help="profile JSON path, or 'demo' (default)")
    simulation.add_argument("--seed", type=int, default=None, help="seed (default: a stable hash of the job name)")
    simulation.add_argument("--region", default="us-east-1", help="pricing and JobArn region (default us-east-1)")

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
    wait = commands.add_parser("wait", parents=[common], help="wait until a job ends (exit 0 if COMPLETED)")
    wait.add_argument("name", metavar="NAME")
    wait.add_argument("--timeout", type=float, default=None, help="seconds (default: no limit)")
    wait.set_defaults(handler=cmd_wait)

    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--cli-input-json", help="the request as JSON, or file://PATH")

    def aws_command(name: str, handler, options: list[str], **extra) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common, aws] + extra.get("parents", []),
                                  help=f"as `aws sagemaker {name}`")
        for option in options:
            sub.add_argument(option)
        sub.set_defaults(handler=handler, aws_style=True)
        return sub

    aws_command("create-inference-recommendations-job", aws_create,
                ["--job-name", "--job-type", "--role-arn", "--input-config", "--job-description",
                 "--stopping-conditions", "--output-config", "--tags"], parents=[simulation])
    aws_command("describe-inference-recommendations-job", aws_describe, ["--job-name"])
    aws_command("stop-inference-recommendations-job", aws_stop, ["--job-name"])
    pagination = ["--max-items", "--page-size"]
    jobs = aws_command("list-inference-recommendations-jobs", aws_list_jobs,
                       ["--creation-time-after", "--creation-time-before", "--last-modified-time-after",
                        "--last-modified-time-before", "--name-contains", "--status-equals", "--sort-by",
                        "--sort-order", "--model-name-equals", "--model-package-version-arn-equals",
                        "--starting-token"])
    steps = aws_command("list-inference-recommendations-job-steps", aws_list_steps,
                        ["--job-name", "--status", "--step-type", "--starting-token"])
    for sub in (jobs, steps):
        for option in pagination:
            sub.add_argument(option, type=int)


def report_aws_error(exc: Exception) -> int:
    """Print an error the way the AWS CLI does and return its exit code."""
    print(f"\n{exc}", file=sys.stderr)
    if isinstance(exc, (ParamValidationError, AwsCliUsageError)):
        return AWS_PARAMETER_ERROR
    return AWS_SERVICE_ERROR
