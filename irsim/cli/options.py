"""Options several commands share, defined without importing the library: the job store's
--home, the service profile (--service-profile, with --profile its deprecated name), the
output of a command that prints a result (--output, --query, --json, --wide), and the limits
the parsers name in their help. A parser module imports only this, argparse and argtypes, so
that `irsim COMMAND --help` and a usage error answer before numpy is loaded."""

from __future__ import annotations

import argparse

from irsim.argtypes import seed

#: The library's limits and defaults that help texts name (tests/test_cli_lazy.py checks each
#: against the library's own constant: they are copied here only to keep parsing light).
MAX_REQUESTS_PER_S = 1_000_000.0      # simulator.simulation.MAX_REQUESTS_PER_S
MAX_USERS = 100_000                   # simulator.simulation.MAX_USERS
MAX_REPLICATIONS = 100                # irsim.service.replication.MAX_REPLICATIONS
ROUTING_POLICIES = ("random", "least_outstanding_requests")  # simulator.ROUTING_POLICIES
MAX_SCENARIOS = 1000                  # irsim.planning.sweep.MAX_SCENARIOS
DEFAULT_STARTUP_S = 300.0             # autoscaling.DEFAULT_STARTUP_S
DEFAULT_POLL_S = 60.0                 # irsim.boto3mode.transport.DEFAULT_POLL_S
DEFAULT_PRECISION = 0.01              # optimizer.verdict.DEFAULT_PRECISION
DEFAULT_REGION = "us-east-1"
DEFAULT_SEED = 0
DEMO_PROFILE = "demo"

#: What --output takes on irsim's own commands (the AWS CLI's formats, awsoutput.py).
OUTPUT_FORMATS = ("json", "table", "text", "yaml")
#: The exit codes of every wait command (irsim wait, irsim real-aws wait).
WAIT_EXIT_CODES = ("exit codes: 0 the job COMPLETED; 1 it ended FAILED or STOPPED; 2 bad input; "
                   "3 --timeout ran out first (the job goes on)")


def home_options() -> argparse.ArgumentParser:
    """A parent parser with --home (the job store)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=None,
                        help="job store folder (default: $IRSIM_HOME, the config file's home, or ~/.irsim)")
    return common


def add_service_profile(parser: argparse.ArgumentParser | argparse._ArgumentGroup, default_text: str = "'demo'"
                        ) -> None:
    """--service-profile, and --profile as its deprecated name (a warning says so when it reads
    a file; the AWS-shaped commands keep --profile as the AWS CLI's named profile)."""
    parser.add_argument("--service-profile", metavar="PROFILE", default=None,
                        help=f"irsim's service profile: a profile JSON path, or 'demo' (default: {default_text}, "
                             "$IRSIM_SERVICE_PROFILE or the config file's service_profile)")
    parser.add_argument("--profile", dest="deprecated_profile", metavar="PROFILE", default=None,
                        help=argparse.SUPPRESS)  # the deprecated name of --service-profile (docs/profiles.md)


def add_seed(parser: argparse.ArgumentParser) -> None:
    """--seed, whose default may come from the environment or the config file."""
    parser.add_argument("--seed", type=seed, default=None,
                        help="random seed (default 0, $IRSIM_SEED or the config file's seed)")


def add_seed_and_region(parser: argparse.ArgumentParser, region_text: str = "pricing region") -> None:
    """--seed and --region, whose defaults may come from the environment or the config file."""
    add_seed(parser)
    parser.add_argument("--region", default=None,
                        help=f"{region_text} (default us-east-1, $IRSIM_REGION or the config file's region)")


def add_output_options(parser: argparse.ArgumentParser, what: str, wide: bool = False) -> None:
    """--output, --query and --json for a command that prints ``what``; --wide when its table
    has a wider view."""
    group = parser.add_argument_group("output")
    group.add_argument("--output", choices=OUTPUT_FORMATS, default=None,
                       help=f"print {what} as json, yaml, text (tab-separated) or table (boxed), as the AWS CLI "
                            "prints them (default: irsim's console view; json when --query is given)")
    group.add_argument("--query", metavar="JMESPATH", default=None,
                       help="a JMESPath expression applied before printing, as the AWS CLI's --query")
    group.add_argument("--json", action="store_true", help="the same as --output json")
    if wide:
        group.add_argument("--wide", action="store_true",
                           help="every column, however wide (default: a view that fits 100 columns)")
