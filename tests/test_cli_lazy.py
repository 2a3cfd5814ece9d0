"""A command line that answers at once: `irsim --version`, `--help` and a usage error import no
heavy library (counted in a fresh interpreter, never timed), the lazy table of commands stays
true to the parsers it stands for, the parsers' copies of library limits equal the library's,
and a near miss gets "did you mean"."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from irsim.cli import options
from irsim.cli.app import COMMANDS, build_parser, resolve
from irsim.cli.usage import listed_commands

HEAVY = ("numpy", "pandas", "matplotlib", "botocore", "dask", "scipy", "plotly", "rich", "pulp", "simulator")


def imported_by(argv: list[str]) -> list[str]:
    """The modules a fresh interpreter holds after ``irsim *argv`` (its output discarded)."""
    script = ("import sys, io, contextlib\nfrom irsim.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
              "    try:\n        main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
              "print(__import__('json').dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["runn"], ["run", "--bogus"], ["recommend"],
                                  ["wait", "--timeout", "-1", "x"]], ids=" ".join)
def test_help_version_and_usage_errors_import_no_heavy_library(argv):
    modules = imported_by(argv)
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert len(modules) < 300  # 1,852 before the commands were imported lazily


@pytest.mark.slow(reason="a fresh interpreter importing the command line (2.4 s measured)")
def test_the_count_would_see_a_heavy_import():
    assert "numpy" in imported_by(["completion", "bash"]) or "botocore" in imported_by(["completion", "bash"])


def test_every_command_of_the_table_is_registered_with_its_help_and_its_handler_resolves():
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    for command in COMMANDS:
        assert command.name in commands.choices
        assert helps.get(command.name) == command.help, command.name
    handlers = set()
    for parser in dict.fromkeys(commands.choices.values()):
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for sub in ([*subparsers[0].choices.values()] if subparsers else [parser]):
            handler = sub.get_default("handler")
            handlers.add(handler)
            assert callable(handler) or callable(resolve(handler))
    assert len(handlers) > 20


def test_the_parsers_copies_of_the_library_limits_are_the_librarys():
    from autoscaling import DEFAULT_STARTUP_S
    from irsim.boto3mode.transport import DEFAULT_POLL_S
    from irsim.planning.sweep import MAX_SCENARIOS
    from irsim.service.replication import MAX_REPLICATIONS
    from optimizer.verdict import DEFAULT_PRECISION
    from simulator import ROUTING_POLICIES
    from simulator.simulation import MAX_REQUESTS_PER_S, MAX_USERS
    library = (MAX_REQUESTS_PER_S, MAX_USERS, tuple(ROUTING_POLICIES), MAX_SCENARIOS, DEFAULT_STARTUP_S,
               DEFAULT_POLL_S, DEFAULT_PRECISION, MAX_REPLICATIONS)
    copied = (options.MAX_REQUESTS_PER_S, options.MAX_USERS, options.ROUTING_POLICIES, options.MAX_SCENARIOS,
              options.DEFAULT_STARTUP_S, options.DEFAULT_POLL_S, options.DEFAULT_PRECISION, options.MAX_REPLICATIONS)
    assert copied == library


@pytest.mark.parametrize("argv, said", [
    (["runn"], "'runn' is not an irsim command; did you mean run?"),
    (["recomend", "x.json"], "did you mean recommend?"),
    (["run", "x.json", "--sed", "3"], "unrecognized arguments: --sed 3; did you mean --seed?"),
    (["simulate", "--instance-type", "t", "--users", "1", "--routing", "randm"],
     "'randm' is not one of random, least_outstanding_requests; did you mean random?"),
    (["real-aws", "wiat", "x"], "'wiat' is not an irsim action; did you mean wait?"),
])
def test_a_near_miss_gets_did_you_mean_in_one_line(argv, said, cli):
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and said in err and len(err.splitlines()) == 1, err


def test_the_deprecated_alias_is_not_listed_nor_offered(cli):
    code, out, _ = cli("--help")
    assert code == 0 and "real-aws" in out and "\n    aws " not in out
    assert "aws" not in listed_commands(build_parser([]))
    code, _, err = cli("xyzzy")
    assert code == 2 and "real-aws" not in err and len(err) < 200  # not every command in one long line
