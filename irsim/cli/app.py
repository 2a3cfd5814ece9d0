"""The ``irsim`` entry point: a table of commands, each imported only when it runs, and every
error a command raises turned into one line and an exit code (2 for bad input), never a
traceback.

A command is one line of ``COMMANDS``: its name, the ``"module:function"`` that adds its parser
to the subcommands (called with them; a function that also takes a second argument gets the
parent parser that brings --home), and the line `irsim --help` shows (None hides it). Only the
chosen command's module is imported to parse its arguments; its handler, ``set_defaults(
handler=...)`` as a function or as ``"module:function"``, is imported once they parse. So
`irsim --help`, `--version` and a usage error load no numpy, pandas or botocore."""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from irsim.cli.config import apply_defaults
from irsim.cli.logs import add_verbose_option, configure_logging, irsim_version
from irsim.cli.options import home_options
from irsim.cli.usage import OneLineErrors, deepest, one_line
from irsim.errors import UserError
from irsim.exitcodes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE

__all__ = ["COMMANDS", "Command", "build_parser", "main", "one_line"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """One ``irsim`` command: its name, the function that adds its parser, its help line."""

    name: str
    register: str      # "module:function", called with the subparsers action
    help: str | None   # what `irsim --help` lists (None: not listed, e.g. a deprecated alias)


P, J, AWS = "irsim.cli.parsers", "irsim.cli.jobparsers", "irsim.cli.awscli:add_aws_commands"


def _aws(name: str) -> Command:
    return Command(name, AWS, f"as `aws sagemaker {name}` (offline)")


COMMANDS: tuple[Command, ...] = (
    Command("simulate", f"{P}:add_simulate_command", "simulate one endpoint under constant users or Poisson arrivals"),
    Command("run", f"{P}:add_run_command", "run a CreateInferenceRecommendationsJob request offline"),
    Command("create", f"{J}:add_create_command", "start a durable job (returns at once)"),
    Command("describe", f"{J}:add_describe_command", "a job's status and recommendations"),
    Command("steps", f"{J}:add_steps_command", "a job's benchmark steps"),
    Command("stop", f"{J}:add_stop_command", "stop a running job (keeps finished steps)"),
    Command("list", f"{J}:add_list_command", "the jobs in the store"),
    Command("wait", f"{J}:add_wait_command", "wait until a job ends (exit 0 if COMPLETED)"),
    Command("delete", f"{J}:add_delete_command", "remove a job from the local store (not from AWS)"),
    _aws("create-inference-recommendations-job"),
    _aws("describe-inference-recommendations-job"),
    _aws("stop-inference-recommendations-job"),
    _aws("list-inference-recommendations-jobs"),
    _aws("list-inference-recommendations-job-steps"),
    _aws("get-scaling-configuration-recommendation"),
    Command("calibrate", f"{P}:add_calibrate_command",
            "fit a profile entry to CloudWatch data, samples or past results"),
    Command("recommend", f"{P}:add_recommend_command",
            "the cheapest endpoint that meets MaxInvocations within the SLO"),
    Command("sweep", f"{P}:add_sweep_command",
            "what-if scenarios (rates, SLOs, routing, service-time scale...) on Dask"),
    Command("report", f"{P}:add_report_command",
            "one HTML page for a run, recommend, sweep or autoscale folder, led by its answer"),
    Command("autoscale", f"{P}:add_autoscale_command",
            "the cheapest autoscaling policy for a job's recommendation under a traffic curve"),
    Command("submit", f"{J}:add_submit_command",
            "send the simulated shortlist to the real service (dry run without --yes)"),
    Command("real-aws", f"{J}:add_real_aws_command",
            "a job on the REAL SageMaker service, with boto3: describe, wait, stop"),
    Command("aws", f"{J}:add_deprecated_aws_command", None),
    Command("import", f"{J}:add_import_command",
            "store a finished real job locally (from a Describe file or from AWS)"),
    Command("completion", f"{P}:add_completion_command", "print a shell completion script (bash or zsh)"),
    Command("measure", "irsim.cli.measure:add_measure_commands",
            "run the request's load test against your own model server, here"),
    Command("sample-server", "irsim.cli.measure:add_measure_commands",
            "serve the bundled sample model on port 8080 (gunicorn)"),
    Command("serve", "irsim.cli.serve:add_serve_command",
            "serve the offline SageMaker API over HTTP for any AWS tool"),
    Command("doctor", "irsim.cli.doctor:add_doctor_command", "check the job store's rows; quarantine bad ones"),
    Command("profile", "irsim.cli.profile:add_profile_commands",
            "the service profiles of the store's models (list, add, show)"),
)

#: Commands whose work imports the simulator (seconds on a cold start): what loads is said first.
HEAVY = {"simulate", "run", "recommend", "sweep", "calibrate", "autoscale", "create", "submit"}


def resolve(reference: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` reference names (its module imported now)."""
    module, _, name = reference.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found


def _register(command: Command, commands: argparse._SubParsersAction) -> None:
    add = resolve(command.register)
    if add.__code__.co_argcount >= 2:  # the older shape: (commands, common)
        add(commands, home_options())
    else:
        add(commands)


def build_parser(only: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command (``only`` None), or of the commands in ``only`` with every
    other one a stub that knows its name and help line (enough for `irsim --help`, "did you
    mean" and dispatching, without importing its module)."""
    parser = OneLineErrors(prog="irsim", description="SageMaker Inference Recommender, simulated offline.",
                           epilog="`irsim COMMAND --help` for a command's options; -v (INFO) or -vv (DEBUG) on "
                                  "any command logs what it decides to stderr")
    parser.add_argument("--version", action="version", version=f"irsim {irsim_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    loaded = {command.register for command in COMMANDS if only is None or command.name in only}
    for command in COMMANDS:
        if command.name in commands.choices:  # added by another command's function (the AWS-shaped ones)
            continue
        if command.register in loaded:
            _register(command, commands)
        else:
            if command.help:
                commands.add_parser(command.name, add_help=False, help=command.help)
            else:
                commands.add_parser(command.name, add_help=False)
    add_verbose_option(parser)
    return parser


#: Library parameters whose command-line argument has another name (by its argparse dest).
LIBRARY_FIELDS = {"duration_s": "duration", "think_time_s": "think_time", "arrival_rate_per_s": "rate",
                  "instance_count": "instances", "profile": "service_profile", "output": "output_profile"}


def _options_by_dest(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The option string of every argument of ``parser``, by its dest: how a library field such
    as ``instance_type`` is named on the command line."""
    return {action.dest: (action.option_strings[0] if action.option_strings else str(action.metavar or action.dest))
            for action in parser._actions if action.dest != "help"}


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


def _broken_pipe() -> int:
    """Whoever read standard output went away (``irsim ... | head``): end quietly, as a program
    SIGPIPE ends, with nothing more written to the closed pipe at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # a standard output without a descriptor
        pass
    return EXIT_BROKEN_PIPE


def _chosen(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``irsim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = _chosen(argv)
    parser = build_parser([chosen] if chosen else [])
    args, extras = parser.parse_known_args(argv)
    if extras:
        deepest(parser, argv).error(f"unrecognized arguments: {' '.join(extras)}")
    if args.command is None:  # bare `irsim`: what there is to do
        parser.print_help()
        return 0
    configure_logging(getattr(args, "verbose", 0))
    command = [args.command] + ([args.aws_command] if getattr(args, "aws_command", None) else [])
    try:
        code = _run(deepest(parser, argv), args, command)
        sys.stdout.flush()
    except BrokenPipeError:
        return _broken_pipe()
    return code


def _handler(args: argparse.Namespace, command: list[str]) -> Callable[[argparse.Namespace], int]:
    """The command's handler, its module imported now (said on a terminal while the simulator loads)."""
    handler: Callable[[argparse.Namespace], int] | str = args.handler
    if callable(handler):
        return handler
    if command[0] in HEAVY and sys.stderr.isatty() and not getattr(args, "quiet", False):
        sys.stderr.write(f"irsim {command[0]}: loading the simulator (numpy, pandas, scipy) …")
        sys.stderr.flush()
        try:
            return resolve(handler)
        finally:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
    return resolve(handler)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, command: list[str]) -> int:
    """The command's handler, every error it raises turned into one line and an exit code."""
    try:
        resolved = apply_defaults(args, " ".join(command))
        args.explicit = resolved.explicit
        log.info("defaults: %s", ", ".join(f"{k} from {v}" for k, v in sorted(resolved.sources.items())) or "none")
        handler = _handler(args, command)
        return handler(args)
    except UserError as exc:
        return _refused(parser, args, command, exc)
    except KeyboardInterrupt:
        print("irsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if not isinstance(exc, _refused_kinds()):
            raise
        return _refused(parser, args, command, exc)


#: The library's errors that mean bad input (exit 2), by module: simulator's and pricing's, and
#: botocore's (irsim's own validation, worded as the AWS CLI words it). An error of a module
#: not yet imported cannot have been raised, so none is imported to recognise it.
REFUSED = (("simulator", "InputError"), ("pricing", "PricingError"), ("botocore.exceptions", "ParamValidationError"),
           ("botocore.exceptions", "ClientError"), ("irsim.cli.awsshapes", "AwsCliUsageError"))


def _refused_kinds() -> tuple[type, ...]:
    return tuple(getattr(sys.modules[module], name) for module, name in REFUSED if module in sys.modules)


def _refused(parser: argparse.ArgumentParser, args: argparse.Namespace, command: list[str], exc: Exception) -> int:
    message = _worded_for_the_command_line(exc, _options_by_dest(parser))
    if getattr(args, "aws_style", False):  # as the AWS CLI reports what it refuses to send
        return int(resolve("irsim.cli.awscli:report_aws_error")(exc, message))
    print(f"irsim {' '.join(command)}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
