"""`irsim sweep`: what-if scenarios on Dask."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from irsim.cli.argtypes import integer
from irsim.cli.destinations import check_destinations
from irsim.cli.errors import CliError
from irsim.planning.cluster import check_scheduler
from irsim.planning.sweep import MAX_SCENARIOS, answered, load_sweep, run_sweep, scenarios_summary
from irsim.present.progress import SweepProgress, progress_console


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.scheduler and args.workers:
        raise CliError("give --scheduler ADDRESS or --workers N, not both")
    check_destinations(args, folders=("out",))
    if args.scheduler:
        check_scheduler(args.scheduler)
    sweep = load_sweep(args.sweep, max_scenarios=args.max_scenarios)
    out = Path(args.out)
    print(f"{len(sweep.scenarios)} scenarios -> {out}" + (" (resuming)" if args.resume else ""), file=sys.stderr)
    console = progress_console(args.quiet)
    with SweepProgress(console, len(sweep.scenarios)) if console else contextlib.nullcontext() as progress:
        table = run_sweep(sweep, out, scheduler=args.scheduler, workers=args.workers, resume=args.resume,
                          progress=progress)
    print(scenarios_summary(table))
    print(f"wrote {out / 'results.csv'}, {out / 'results.parquet'} and the plots in {out}", file=sys.stderr)
    return 0 if answered(table) else 1  # an infeasible scenario is answered; one that raised an error is not


def add_sweep_command(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="what-if scenarios (rates, SLOs, routing, service-time scale...) on Dask",
                                description="Expand a base request and axes into scenarios and run the optimizer "
                                            "on each, on a local Dask cluster or an existing scheduler.")
    sweep.add_argument("sweep", metavar="SWEEP.json")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (tcp://host:port)")
    sweep.add_argument("--workers", type=integer(1), default=None, help="local worker processes (default: cores)")
    sweep.add_argument("--out", default="sweep-output", metavar="DIR", help="results folder (default sweep-output)")
    sweep.add_argument("--resume", action="store_true", help="skip scenarios whose results are already in DIR")
    sweep.add_argument("--max-scenarios", type=integer(1), default=MAX_SCENARIOS, metavar="N",
                       help=f"refuse a sweep of more than N scenarios before starting (default {MAX_SCENARIOS})")
    sweep.add_argument("--quiet", action="store_true",
                       help="no live progress on stderr (there is none when stderr is not a terminal)")
    sweep.epilog = ("exit codes: 0 every scenario answered (an endpoint, or infeasible with its reason); "
                    "1 a scenario raised an error; 2 bad input")
    sweep.set_defaults(handler=cmd_sweep)
