"""The AWS-CLI-shaped commands (`irsim create-inference-recommendations-job ...`): the offline
store answers them with the AWS CLI's options, output and exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ParamValidationError

from irsim.cli.jobs import offline_client, print_response, simulation_options
from irsim.durable.store import StoreError
from irsim.errors import UserError
from irsim.exitcodes import AWS_PARAMETER_ERROR, AWS_SERVICE_ERROR
from pricing import PricingError
from simulator import InputError
from simulator.jsonfiles import parse_json, read_json


class AwsCliUsageError(Exception):
    """An argument the AWS CLI itself would reject (exit 252)."""


def _json_argument(value: str | None, option: str) -> Any:
    """An AWS CLI JSON argument: inline JSON or file://PATH."""
    if value is None:
        return None
    try:
        return read_json(value, option) if value.startswith("file://") else parse_json(value, option, "the value")
    except InputError as exc:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': {exc.message}") from None


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
    print_response(offline_client(args).create_inference_recommendations_job(**request), indent=4)
    return 0


def aws_describe(args: argparse.Namespace) -> int:
    request = _request(args, {"job_name": "JobName"})
    print_response(offline_client(args).describe_inference_recommendations_job(**request), indent=4)
    return 0


def aws_stop(args: argparse.Namespace) -> int:
    request = _request(args, {"job_name": "JobName"})
    offline_client(args).stop_inference_recommendations_job(**request)
    return 0


def _paginated(args: argparse.Namespace, method: str, options: dict[str, str]) -> int:
    request = _request(args, options)
    config = {key: value for key, value in (("MaxItems", args.max_items), ("PageSize", args.page_size),
                                            ("StartingToken", args.starting_token)) if value is not None}
    result = offline_client(args).get_paginator(method).paginate(**request, PaginationConfig=config).build_full_result()
    print_response(result, indent=4)
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


def add_aws_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register the AWS-CLI-shaped job commands."""
    simulation = simulation_options()
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--cli-input-json", help="the request as JSON, or file://PATH")

    def aws_command(name: str, handler: Callable[[argparse.Namespace], int], options: list[str],
                    parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common, aws, *parents],
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


def report_aws_error(exc: Exception, message: str | None = None) -> int:
    """Print an error (``message``, else the exception) the way the AWS CLI does and return its
    exit code: 252 for what it would refuse to send (bad parameters, input files, options),
    254 for what the service answers (its errors, and the offline store failing)."""
    print(f"\n{message or exc}", file=sys.stderr)
    if isinstance(exc, StoreError):
        return AWS_SERVICE_ERROR
    if isinstance(exc, (ParamValidationError, AwsCliUsageError, UserError, InputError, PricingError)):
        return AWS_PARAMETER_ERROR
    return AWS_SERVICE_ERROR
