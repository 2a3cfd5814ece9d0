"""The options of the commands over the job store (create, describe, steps, stop, list, wait,
delete) and of boto3 mode (submit, real-aws, import). Light, as irsim/cli/parsers.py: each
command names its handler as ``"module:function"``."""

from __future__ import annotations

import argparse

from irsim.argtypes import integer, number, seed
from irsim.cli.options import (
    DEFAULT_POLL_S,
    WAIT_EXIT_CODES,
    add_output_options,
    add_seed_and_region,
    add_service_profile,
    home_options,
)

STATUSES = ("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED")
JOBS = "irsim.cli.jobs"
BOTO3 = "irsim.cli.boto3"
REAL_AWS = "real-aws"    # the command group that reaches the real service
DEPRECATED_AWS = "aws"   # its old name, kept as an alias that warns and is not listed


def add_create_command(commands: argparse._SubParsersAction) -> None:
    create = commands.add_parser("create", parents=[home_options()], help="start a durable job (returns at once)",
                                 description="Store the job PENDING and simulate it in a detached worker; "
                                             "`irsim wait NAME` waits for it.")
    create.add_argument("job", metavar="JOB.json")
    create.add_argument("--job-name", default=None,
                        help="the job's name (default: the request's JobName): to run the same request again")
    add_service_profile(create)
    add_seed_and_region(create, "pricing and JobArn region")
    create.set_defaults(handler=f"{JOBS}:cmd_create", config_keys=("home", "service_profile", "seed", "region"))


def add_describe_command(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("describe", parents=[home_options()], help="a job's status and recommendations")
    sub.add_argument("name", metavar="NAME")
    add_output_options(sub, "the DescribeInferenceRecommendationsJob response", wide=True)
    sub.set_defaults(handler=f"{JOBS}:cmd_describe", config_keys=("home",))


def add_steps_command(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("steps", parents=[home_options()], help="a job's benchmark steps")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--json", action="store_true", help="print the AWS response as JSON")
    sub.set_defaults(handler=f"{JOBS}:cmd_steps", config_keys=("home",))


def add_stop_command(commands: argparse._SubParsersAction) -> None:
    stop = commands.add_parser("stop", parents=[home_options()], help="stop a running job (keeps finished steps)")
    stop.add_argument("name", metavar="NAME")
    stop.set_defaults(handler=f"{JOBS}:cmd_stop", config_keys=("home",))


def add_list_command(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", parents=[home_options()], help="the jobs in the store")
    listing.add_argument("--status", choices=STATUSES)
    add_output_options(listing, "the ListInferenceRecommendationsJobs response")
    listing.set_defaults(handler=f"{JOBS}:cmd_list", config_keys=("home",))


def add_wait_command(commands: argparse._SubParsersAction) -> None:
    wait = commands.add_parser("wait", parents=[home_options()], help="wait until a job ends (exit 0 if COMPLETED)",
                               description="Wait until the job leaves PENDING, IN_PROGRESS and STOPPING.",
                               epilog=WAIT_EXIT_CODES)
    wait.add_argument("name", metavar="NAME")
    wait.add_argument("--timeout", type=number(0, "seconds"), default=None,
                      help="give up after this many seconds, exit 3 (default: no limit)")
    wait.set_defaults(handler=f"{JOBS}:cmd_wait", config_keys=("home",))


def add_delete_command(commands: argparse._SubParsersAction) -> None:
    delete = commands.add_parser(
        "delete", parents=[home_options()], help="remove a job from the local store (not from AWS)",
        description="Remove a job and its results from irsim's local job store, so that its name can be used "
                    "again. A job still running is refused unless --force (which ends its worker first).")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--force", action="store_true", help="also delete a job that is still running")
    delete.set_defaults(handler=f"{JOBS}:cmd_delete", config_keys=("home",))


def add_submit_command(commands: argparse._SubParsersAction) -> None:
    submit = commands.add_parser(
        "submit", parents=[home_options()],
        help="send the simulated shortlist to the real service (dry run without --yes)",
        description="Simulate JOB.json (or reuse --from-job), keep the --top cheapest recommended configurations "
                    "and print the real CreateInferenceRecommendationsJob request; --yes creates it with boto3.")
    submit.add_argument("job", metavar="JOB.json", nargs="?", help="the request to simulate first")
    submit.add_argument("--top", type=integer(1), required=True, help="how many configurations to keep")
    add_service_profile(submit)
    submit.add_argument("--seed", type=seed, default=None,
                        help="random seed of the simulation (default 0, $IRSIM_SEED or the config file's seed)")
    submit.add_argument("--region", default=None,
                        help="the real job's region, and the pricing region (default: boto3's, else us-east-1)")
    submit.add_argument("--job-name", default=None, help="the real job's name (default: the simulated job's)")
    submit.add_argument("--from-job", metavar="NAME", default=None, help="a finished job of the store (--home)")
    submit.add_argument("--yes", action="store_true", help="create the real job (costs money: real endpoints)")
    submit.set_defaults(handler=f"{BOTO3}:cmd_submit", config_keys=("home", "service_profile", "seed"))


def _add_real_aws(commands: argparse._SubParsersAction, group: str) -> None:
    """``irsim real-aws describe|wait|stop`` (and, not listed, the deprecated ``irsim aws``)."""
    deprecated = group == DEPRECATED_AWS
    description = ("Inference Recommender jobs on the real AWS service (credentials and region as boto3 finds them; "
                   "--region overrides the region)."
                   + (f" Deprecated name of `irsim {REAL_AWS}`." if deprecated else ""))
    if deprecated:  # not listed by `irsim --help`
        aws = commands.add_parser(group, description=description)
    else:
        aws = commands.add_parser(group, description=description,
                                  help="a job on the REAL SageMaker service, with boto3: describe, wait, stop")
    actions = aws.add_subparsers(dest="aws_command", required=True, metavar="ACTION")
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("name", metavar="NAME")
    region.add_argument("--region", default=None, help="the AWS region of the job (default: boto3's default chain)")
    describe = actions.add_parser("describe", parents=[region], help="a real job's status and recommendations")
    describe.add_argument("--json", action="store_true", help="print the AWS response as JSON")
    describe.set_defaults(handler=f"{BOTO3}:cmd_aws_describe", group=group)
    wait = actions.add_parser("wait", parents=[region], help="wait until a real job ends (exit 0 if COMPLETED)",
                              epilog=WAIT_EXIT_CODES)
    wait.add_argument("--poll", type=number(0, "a number of seconds"), default=DEFAULT_POLL_S,
                      help=f"seconds between Describe calls (default {DEFAULT_POLL_S:g})")
    wait.add_argument("--timeout", type=number(0, "a number of seconds"), default=None,
                      help="give up after this many seconds, exit 3 (default: no limit)")
    wait.set_defaults(handler=f"{BOTO3}:cmd_aws_wait", group=group)
    stop = actions.add_parser("stop", parents=[region], help="stop a real job")
    stop.set_defaults(handler=f"{BOTO3}:cmd_aws_stop", group=group)


def add_real_aws_command(commands: argparse._SubParsersAction) -> None:
    _add_real_aws(commands, REAL_AWS)


def add_deprecated_aws_command(commands: argparse._SubParsersAction) -> None:
    _add_real_aws(commands, DEPRECATED_AWS)


def add_import_command(commands: argparse._SubParsersAction) -> None:
    imported = commands.add_parser(
        "import", parents=[home_options()],
        help="store a finished real job locally (from a Describe file or from AWS)",
        description="Store a finished real job in the job store, so `irsim describe` and `irsim list` show it. "
                    "SOURCE is a saved `aws sagemaker describe-inference-recommendations-job` output; "
                    "--from-aws NAME fetches the job from the service instead (only then is AWS contacted).")
    imported.add_argument("source", metavar="SOURCE", nargs="?", default=None, help="a saved Describe JSON file")
    imported.add_argument("--from-aws", metavar="NAME", default=None,
                          help="fetch the finished job NAME from the service with boto3")
    imported.add_argument("--steps", metavar="FILE", default=None,
                          help="with SOURCE: saved `list-inference-recommendations-job-steps` output")
    imported.add_argument("--region", default=None, help="with --from-aws: the job's region (default: boto3's)")
    imported.set_defaults(handler=f"{BOTO3}:cmd_import", config_keys=("home",))
