"""The AWS-CLI-shaped commands (`irsim create-inference-recommendations-job ...`): the offline store answers
them with the AWS CLI v2's options, output and exit codes. Each command is built from its botocore operation
alone (options, help, skeletons, paging), so adding one is one line in AWS_COMMANDS."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

import botocore.session
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError, ProfileNotFound
from botocore.model import OperationModel
from botocore.utils import set_value_from_jmespath

from irsim.argtypes import seed
from irsim.cli.awsoutput import OUTPUTS, compile_query, plain, render
from irsim.cli.awsshapes import (
    SCALARS,
    AwsCliUsageError,
    Member,
    integer_value,
    json_argument,
    members,
    plain_text,
    scalar_list,
    skeleton,
    value_parser,
    yaml_argument,
    yaml_skeleton,
)
from irsim.durable.client import client as make_offline_client
from irsim.durable.store import StoreError
from irsim.errors import UserError, shortened
from irsim.exitcodes import AWS_GENERAL_ERROR, AWS_PARAMETER_ERROR, AWS_SERVICE_ERROR
from irsim.service.awsmodel import isolated_session
from irsim.service.awsmodel import operation as operation_model
from pricing import PricingError
from simulator import InputError

__all__ = ["AWS_COMMANDS", "AwsCliUsageError", "AwsCommand", "add_aws_commands", "report_aws_error"]

AWS_CONFIGURATION_ERROR = 253  # the AWS CLI's code for an invalid environment or configuration
DEFAULT_REGION = "us-east-1"   # irsim's own: offline answers need a pricing region (the AWS CLI would refuse)
#: AWS CLI global options that only shape a connection: offline there is none, so they are
#: accepted for scripts written for the AWS CLI and have no effect (a warning says so).
CONNECTION_OPTIONS = {"--endpoint-url": "URL", "--ca-bundle": "PATH", "--cli-read-timeout": "SECONDS",
                      "--cli-connect-timeout": "SECONDS", "--cli-binary-format": "FORMAT"}
CONNECTION_SWITCHES = ("--no-verify-ssl", "--no-sign-request")
#: irsim's words for library fields, when an error names one.
FIELD_FLAGS = {"profile": "--irsim-profile", "seed": "--seed", "region": "--region"}


class AwsConfigError(Exception):
    """The AWS configuration cannot be used (a named profile that does not exist): exit 253."""


def _job_type(request: dict[str, Any]) -> dict[str, Any]:  # irsim's own: --job-type ADVANCED is read as Advanced
    value = request.get("JobType")
    if isinstance(value, str):
        request["JobType"] = {"advanced": "Advanced", "default": "Default"}.get(value.lower(), value)
    return request


@dataclass(frozen=True)
class AwsCommand:
    """One AWS-CLI-shaped command: a SageMaker operation, answered by the offline client's method
    of the same (snake_case) name."""

    operation: str                 # botocore's operation name, e.g. "DescribeInferenceRecommendationsJob"
    simulates: bool = False        # takes --irsim-profile and --seed: the job is simulated by the worker
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return xform_name(self.operation, "-")

    @property
    def method(self) -> str:
        return xform_name(self.operation)

    @property
    def model(self) -> OperationModel:
        return operation_model(self.operation)

    @property
    def paging(self) -> dict[str, Any] | None:
        """botocore's paginator configuration of the operation, None when it has none."""
        return dict(config) if (config := _paginators().get(self.operation)) else None


@lru_cache(maxsize=1)
def _paginators() -> dict[str, Any]:
    """botocore's bundled SageMaker paginator model (read once)."""
    loader = isolated_session().get_component("data_loader")
    return dict(loader.load_service_model("sagemaker", "paginators-1")["pagination"])


AWS_COMMANDS: tuple[AwsCommand, ...] = (
    AwsCommand("CreateInferenceRecommendationsJob", simulates=True, normalise=_job_type),
    AwsCommand("DescribeInferenceRecommendationsJob"),
    AwsCommand("StopInferenceRecommendationsJob"),
    AwsCommand("ListInferenceRecommendationsJobs"),
    AwsCommand("ListInferenceRecommendationsJobSteps"),
    AwsCommand("GetScalingConfigurationRecommendation"),
)


class AwsCliParser(argparse.ArgumentParser):
    """An AWS-shaped command's parser: a usage error is one line and exit 252 (never the
    top-level usage), an unknown option is refused here rather than by the top level, and an
    option is never abbreviated (the AWS CLI takes whole names only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(AWS_PARAMETER_ERROR)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"Unknown options: {', '.join(extras)}")
        return namespace, extras

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)
        except AwsCliUsageError as exc:  # a JSON, YAML or --query value that does not parse
            raise argparse.ArgumentError(None, str(exc)) from None


# --- the request --------------------------------------------------------------------------------

def _cli_input(args: argparse.Namespace) -> dict[str, Any]:
    """--cli-input-json or --cli-input-yaml (the AWS CLI takes one of them), {} without."""
    if args.cli_input_json is None and args.cli_input_yaml is None:
        return {}
    option = "--cli-input-json" if args.cli_input_json is not None else "--cli-input-yaml"
    document = json_argument(args.cli_input_json, option) if args.cli_input_json is not None else \
        yaml_argument(args.cli_input_yaml, option)
    if not isinstance(document, dict):
        raise AwsCliUsageError(f"Error parsing parameter '{option}': must be a mapping of the operation's "
                               "parameters (see --generate-cli-skeleton)")
    return dict(document)


def _request(command: AwsCommand, args: argparse.Namespace) -> dict[str, Any]:
    """The input file first, then each option given on the command line over it (as the AWS CLI
    combines them: https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-skeleton.html)."""
    request = _cli_input(args)
    for member in members(command.model):
        value = getattr(args, member.dest, None)
        if value is None:
            continue
        if scalar_list(member.shape) and len(value) == 1 and isinstance(value[0], str) \
                and value[0].lstrip().startswith("["):
            value = json_argument(value[0], member.flag)  # a list given as JSON
        elif member.shape.type_name not in SCALARS and not scalar_list(member.shape):
            value = json_argument(value, member.flag)  # inline JSON or file://PATH (no shorthand syntax)
        request[member.name] = value
    return command.normalise(request) if command.normalise else request


# --- configuration: the named profile, the region, the output ------------------------------------

@dataclass(frozen=True)
class Settings:
    """What the AWS CLI reads from the command line, the environment and the named profile."""

    region: str
    output: str


def _settings(args: argparse.Namespace) -> Settings:
    """--region, else AWS_REGION, AWS_DEFAULT_REGION, the named profile's region (irsim: else
    us-east-1); --output, else AWS_DEFAULT_OUTPUT, the profile's output, else json."""
    session = botocore.session.Session(profile=args.profile)
    try:
        scoped = session.get_scoped_config()
    except ProfileNotFound as exc:
        hint = ""
        if args.profile and (args.profile == "demo" or args.profile.endswith(".json") or os.path.exists(args.profile)):
            hint = (f"; --profile is the AWS CLI's named profile: give irsim's service profile with "
                    f"--irsim-profile {args.profile}")
        raise AwsConfigError(f"{exc}{hint}") from None
    region = args.region or os.environ.get("AWS_REGION") or session.get_config_variable("region") or DEFAULT_REGION
    output = args.output or os.environ.get("AWS_DEFAULT_OUTPUT") or scoped.get("output") or "json"
    if output not in OUTPUTS:
        raise AwsConfigError(f"the output format {output!r} (from AWS_DEFAULT_OUTPUT or the profile) is not one "
                             f"of {', '.join(OUTPUTS)}")
    return Settings(region=region, output=output)


def _warn_connection_options(args: argparse.Namespace) -> None:
    for flag in (*CONNECTION_OPTIONS, *CONNECTION_SWITCHES):
        if getattr(args, xform_name(flag.removeprefix("--").replace("-", "_")), None):
            print(f"irsim: warning: {flag} has no effect: irsim answers offline and opens no connection",
                  file=sys.stderr)


# --- answering ----------------------------------------------------------------------------------

def _call(command: AwsCommand, args: argparse.Namespace, settings: Settings) -> str:
    """The offline client's answer, queried and rendered."""
    request = _request(command, args)
    client = make_offline_client(home=args.home, profile=getattr(args, "irsim_profile", None),
                                 seed=getattr(args, "seed", None), region=settings.region)
    query = args.query.search if args.query is not None else (lambda document: document)
    paging = command.paging
    if paging is None or args.no_paginate or paging["input_token"] in request or paging["limit_key"] in request:
        response = getattr(client, command.method)(**request)
        return render(query(plain(response)), settings.output, command.operation)
    config = {key: value for key, value in (("MaxItems", args.max_items), ("PageSize", args.page_size),
                                            ("StartingToken", args.starting_token)) if value is not None}
    pages = client.get_paginator(command.method).paginate(**request, PaginationConfig=config)
    if settings.output != "text":
        return render(query(plain(pages.build_full_result())), settings.output, command.operation)
    rendered = []  # as the AWS CLI: text is written page by page, the query run on each page
    for page in pages:
        current: dict[str, Any] = {}
        for key in pages.result_keys:
            set_value_from_jmespath(current, key.expression, key.search(page))
        rendered.append(render(query(plain(current)), "text"))
    if pages.resume_token:
        rendered.append(render(query({"NextToken": {"NextToken": pages.resume_token}}), "text"))
    return "".join(rendered)


def _answer(command: AwsCommand, args: argparse.Namespace) -> int:
    if args.generate_cli_skeleton == "yaml-input":
        sys.stdout.write(yaml_skeleton(command.model.input_shape))
        return 0
    if args.generate_cli_skeleton is not None:
        shape = command.model.input_shape if args.generate_cli_skeleton == "input" else command.model.output_shape
        sys.stdout.write(render(skeleton(shape), "json") or "{}\n")
        return 0
    settings = _settings(args)
    _warn_connection_options(args)
    sys.stdout.write(_call(command, args, settings))
    return 0


def _handler(command: AwsCommand, parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The command's handler: every error becomes one line on stderr and the AWS CLI's code."""
    def run(args: argparse.Namespace) -> int:
        if args.debug:
            logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        try:
            return _answer(command, args)
        except BrokenPipeError:
            raise
        except Exception as exc:
            if args.debug:
                traceback.print_exc()
            return report_aws_error(exc, _worded(exc, parser))
    return run


def _worded(exc: Exception, parser: argparse.ArgumentParser) -> str:
    """The error on one line, a library field named by its flag (``profile`` is --irsim-profile)."""
    field, message = getattr(exc, "field", None), str(exc)
    flags = {action.dest: action.option_strings[0] for action in parser._actions if action.option_strings}
    flag = None
    if isinstance(field, str):
        flag = flags.get(f"member_{xform_name(field)}", FIELD_FLAGS.get(field))
    if flag:
        message = f"{flag}: {getattr(exc, 'message', None) or message.removeprefix(f'{field}: ')}"
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "ResourceInUse":
        message += " (irsim: give the job another --job-name, or remove the old one with `irsim delete NAME`)"
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def report_aws_error(exc: Exception, message: str | None = None) -> int:
    """Print an error (``message``, else the exception) on one line and return the AWS CLI's exit
    code (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html): 252 for
    what it would refuse to send (bad parameters, input files, options), 253 for a configuration
    it cannot use, 254 for what the service answers (its errors, and the offline store failing),
    255 for anything else."""
    text = message or " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    print(shortened(text), file=sys.stderr)
    if isinstance(exc, (ClientError, StoreError)):
        return AWS_SERVICE_ERROR
    if isinstance(exc, (ParamValidationError, AwsCliUsageError, UserError, InputError, PricingError)):
        return AWS_PARAMETER_ERROR
    if isinstance(exc, AwsConfigError):
        return AWS_CONFIGURATION_ERROR
    return AWS_GENERAL_ERROR  # e.g. a botocore failure outside the service, or a bug


# --- the parsers --------------------------------------------------------------------------------

def _add_member(parser: argparse.ArgumentParser | Any, member: Member) -> None:
    help_text = argparse.SUPPRESS if member.hidden else member.help
    if member.shape.type_name == "boolean":
        parser.add_argument(member.flag, dest=member.dest, action="store_const", const=True, help=help_text)
        parser.add_argument("--no-" + member.flag.removeprefix("--"), dest=member.dest, action="store_const",
                            const=False, help=argparse.SUPPRESS)
        return
    parser.add_argument(member.flag, dest=member.dest, type=value_parser(member), metavar="VALUE",
                        nargs="+" if scalar_list(member.shape) else None, help=help_text)


def _add_global_options(parser: argparse.ArgumentParser, paged: bool) -> None:
    """The AWS CLI v2's global options that mean something here, with its own wording
    (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-options.html)."""
    group = parser.add_argument_group("AWS CLI global options")
    group.add_argument("--query", type=compile_query, default=None, metavar="JMESPATH",
                       help="A JMESPath query to use in filtering the response data (run on the whole response; "
                            "with --output text, on each page).")
    group.add_argument("--output", choices=OUTPUTS, default=None,
                       help="The formatting style for command output (default: AWS_DEFAULT_OUTPUT, else the named "
                            "profile's output, else json).")
    group.add_argument("--region", default=None,
                       help="The region to use: the job's pricing region and its JobArn (default: AWS_REGION, "
                            f"AWS_DEFAULT_REGION, the named profile's region, else irsim's {DEFAULT_REGION}).")
    group.add_argument("--profile", default=None, metavar="NAME",
                       help="Use a specific profile from your AWS credential file (its region and output; "
                            "irsim's service profile is --irsim-profile).")
    group.add_argument("--debug", action="store_true", help="Turn on debug logging (and a traceback on failure).")
    group.add_argument("--no-paginate", action="store_true",
                       help="Disable automatic pagination: one call, one page." if paged else argparse.SUPPRESS)
    group.add_argument("--no-cli-pager", action="store_true", help="Disable the pager (irsim never pages).")
    group.add_argument("--color", choices=("on", "off", "auto"), default="auto",
                       help="Turn on/off color output (irsim's output has none).")
    for flag, metavar in CONNECTION_OPTIONS.items():
        group.add_argument(flag, metavar=metavar, default=None, help="No effect offline (a warning says so).")
    for flag in CONNECTION_SWITCHES:
        group.add_argument(flag, action="store_true", help="No effect offline (a warning says so).")


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    inputs = parser.add_mutually_exclusive_group()
    inputs.add_argument("--cli-input-json", metavar="JSON", default=None,
                        help="Reads arguments from the JSON string provided (or file://PATH), in the format of "
                             "--generate-cli-skeleton; options given on the command line override its values.")
    inputs.add_argument("--cli-input-yaml", metavar="YAML", default=None,
                        help="Reads arguments from the YAML string provided (or file://PATH), in the format of "
                             "--generate-cli-skeleton yaml-input; options given on the command line override it.")
    parser.add_argument("--generate-cli-skeleton", nargs="?", const="input", default=None,
                        choices=("input", "output", "yaml-input"),
                        help="Prints a JSON skeleton of the operation's input (input, the default), a YAML one "
                             "(yaml-input) or the output's (output) to standard output, without calling it.")


def _add_paging_options(parser: argparse.ArgumentParser) -> None:
    paging = parser.add_argument_group("pagination (the AWS CLI's)")
    paging.add_argument("--starting-token", default=None,
                        help="A token to specify where to start paginating: the NextToken of a truncated response.")
    paging.add_argument("--page-size", type=integer_value, default=None,
                        help="The size of each page to get in the AWS service call.")
    paging.add_argument("--max-items", type=integer_value, default=None,
                        help="The total number of items to return; a NextToken follows when more are available.")


def _add_irsim_options(parser: argparse.ArgumentParser, simulates: bool) -> None:
    irsim = parser.add_argument_group("irsim's own options")
    if simulates:
        irsim.add_argument("--irsim-profile", metavar="PROFILE", default=None,
                           help="irsim's service profile: a profile JSON path, or 'demo' (default).")
        irsim.add_argument("--seed", type=seed, default=None,
                           help="the simulation's seed (default 0, as in irsim run: the same numbers)")


def add_aws_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register the AWS-CLI-shaped commands of AWS_COMMANDS (``common`` brings --home)."""
    default_class = commands._parser_class
    commands._parser_class = AwsCliParser
    try:
        for command in AWS_COMMANDS:
            _add_aws_command(commands, common, command)
    finally:
        commands._parser_class = default_class


def _add_aws_command(commands: argparse._SubParsersAction, common: argparse.ArgumentParser,
                     command: AwsCommand) -> None:
    model, paging = command.model, command.paging
    hidden = (paging["input_token"], paging["limit_key"]) if paging else ()
    description = (f"{plain_text(model.documentation)} Answered offline by irsim's job store, with the AWS CLI's "
                   "options, output and exit codes.")
    sub = commands.add_parser(command.name, parents=[common], help=f"as `aws sagemaker {command.name}` (offline)",
                              description=description.replace("%", "%%"))
    parameters = sub.add_argument_group(f"{command.operation} parameters (botocore's model)")
    for member in members(model, hidden):
        _add_member(parameters, member)
    _add_input_options(sub)
    if paging:
        _add_paging_options(sub)
    _add_global_options(sub, paged=paging is not None)
    _add_irsim_options(sub, command.simulates)
    sub.set_defaults(handler=_handler(command, sub), aws_style=True)
