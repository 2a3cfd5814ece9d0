"""The ``irsim`` parser and entry point: every command group registers itself here, and every
error a command raises becomes one line and an exit code (2 for bad input), never a traceback."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from botocore.exceptions import ClientError, ParamValidationError

from irsim.cli.autoscale import add_autoscale_command
from irsim.cli.awscli import AwsCliUsageError, add_aws_commands, report_aws_error
from irsim.cli.boto3 import add_boto3_commands
from irsim.cli.calibrate import add_calibrate_command
from irsim.cli.jobs import add_job_commands
from irsim.cli.logs import add_verbose_option, configure_logging, irsim_version
from irsim.cli.profile import add_profile_commands
from irsim.cli.recommend import add_recommend_command
from irsim.cli.report import add_report_command
from irsim.cli.run import add_run_command
from irsim.cli.serve import add_serve_command
from irsim.cli.simulate import add_simulate_command
from irsim.cli.sweep import add_sweep_command
from irsim.errors import UserError, shortened
from irsim.exitcodes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE
from pricing import PricingError
from simulator import InputError


class OneLineErrors(argparse.ArgumentParser):
    """argparse with a usage error said in one line (naming where the usage is), exit 2: the
    same shape as every other error irsim reports. Subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (`{self.prog} --help` shows the usage)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="irsim", description="SageMaker Inference Recommender, simulated offline.",
                                     epilog="`irsim COMMAND --help` for a command's options; -v (INFO) or -vv "
                                            "(DEBUG) on any command logs what it decides to stderr")
    parser.add_argument("--version", action="version", version=f"irsim {irsim_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_simulate_command(commands)
    add_run_command(commands)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=None, help="job store folder (default: $IRSIM_HOME or ~/.irsim)")
    add_job_commands(commands, common)
    add_aws_commands(commands, common)
    add_calibrate_command(commands)
    add_recommend_command(commands)
    add_sweep_command(commands)
    add_report_command(commands)
    add_autoscale_command(commands, common)
    add_boto3_commands(commands, common)
    add_serve_command(commands, common)
    add_profile_commands(commands, common)
    add_verbose_option(parser)
    return parser


def _options_by_dest(parser: argparse.ArgumentParser, command: Sequence[str]) -> dict[str, str]:
    """The option string of every argument of the subcommand ``command`` (e.g. ["aws", "wait"]),
    by its dest: how a library field such as ``instance_type`` is named on the command line."""
    for name in command:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or name not in subparsers[0].choices:
            break
        parser = subparsers[0].choices[name]
    return {action.dest: (action.option_strings[0] if action.option_strings else str(action.metavar or action.dest))
            for action in parser._actions if action.dest != "help"}


#: Library parameters whose command-line argument has another name (by its argparse dest).
LIBRARY_FIELDS = {"duration_s": "duration", "think_time_s": "think_time", "arrival_rate_per_s": "rate",
                  "instance_count": "instances"}


def _worded_for_the_command_line(exc: Exception, options: dict[str, str]) -> str:
    """The error as one line, with a library field that is one of the command's arguments
    named as its flag (and the parameter that raises a work budget, when it is one)."""
    field = getattr(exc, "field", None)
    message = str(exc)
    dest = LIBRARY_FIELDS.get(field, field) if isinstance(field, str) else None
    if isinstance(field, str) and dest in options:
        message = f"{options[dest]}: {getattr(exc, 'message', None) or message.removeprefix(field + ': ')}"
    argument = getattr(exc, "argument", None)  # advice naming a library argument: worded as the flag
    if isinstance(argument, str) and argument in options:
        message = message.replace(f"the {argument} argument", options[argument])
    parameter = getattr(exc, "parameter", None)
    if isinstance(parameter, str):
        flag = options.get(parameter)
        message = message.replace(f" ({parameter})", f" (raise it with {flag})" if flag else "")
    return one_line(message)


def one_line(message: str) -> str:
    """A message of several lines (botocore's parameter validation) joined into one."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return shortened(lines[0] if lines else message)
    head, rest = lines[0], "; ".join(lines[1:])
    return shortened(f"{head} {rest}" if head.endswith(":") else f"{head}; {rest}")


def _broken_pipe() -> int:
    """Whoever read standard output went away (``irsim ... | head``): end quietly, as a program
    SIGPIPE ends, with nothing more written to the closed pipe at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # a standard output without a descriptor
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``irsim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `irsim`: what there is to do
        parser.print_help()
        return 0
    configure_logging(getattr(args, "verbose", 0))
    command = [args.command] + ([args.aws_command] if getattr(args, "aws_command", None) else [])
    try:
        code = _run(parser, args, command)
        sys.stdout.flush()
    except BrokenPipeError:
        return _broken_pipe()
    return code


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, command: list[str]) -> int:
    """The command's handler, every error it raises turned into one line and an exit code."""
    try:
        if getattr(args, "aws_style", False):
            try:
                return args.handler(args)
            except (ParamValidationError, ClientError, AwsCliUsageError) as exc:
                return report_aws_error(exc)
        return args.handler(args)
    except (InputError, PricingError, UserError, ParamValidationError, ClientError) as exc:
        # A ClientError here is irsim's own validation, worded as the AWS CLI words it.
        message = _worded_for_the_command_line(exc, _options_by_dest(parser, command))
        if getattr(args, "aws_style", False):  # as the AWS CLI reports what it refuses to send
            return report_aws_error(exc, message)
        print(f"irsim {' '.join(command)}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("irsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
