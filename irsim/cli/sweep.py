"""`irsim sweep`: what-if scenarios on Dask."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import pandas as pd

from irsim.cli.destinations import check_destinations
from irsim.cli.errors import CliError
from irsim.cli.printing import Printer
from irsim.planning.cluster import check_scheduler
from irsim.planning.sweep import answered, load_sweep, run_sweep, scenarios_summary
from irsim.present.progress import SweepProgress, progress_console


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.scheduler and args.workers:
        raise CliError("give --scheduler ADDRESS or --workers N, not both")
    check_destinations(args, folders=("out",))
    if args.scheduler:
        check_scheduler(args.scheduler)
    printer = Printer.from_args(args)
    sweep = load_sweep(args.sweep, max_scenarios=args.max_scenarios)
    out = Path(args.out)
    print(f"{len(sweep.scenarios)} scenarios -> {out}" + (" (resuming)" if args.resume else ""), file=sys.stderr)
    console = progress_console(args.quiet)
    with SweepProgress(console, len(sweep.scenarios)) if console else contextlib.nullcontext() as progress:
        table = run_sweep(sweep, out, scheduler=args.scheduler, workers=args.workers, resume=args.resume,
                          progress=progress)
    printer.emit(scenario_answers(table), lambda: scenarios_summary(table), "Scenarios")
    print(f"wrote {out / 'results.csv'}, {out / 'results.parquet'} and the plots in {out}", file=sys.stderr)
    return 0 if answered(table) else 1  # an infeasible scenario is answered; one that raised an error is not


#: The columns of a scenario's answer, when the results have them.
ANSWER = ("target_per_minute", "percentile", "slo_ms", "service_scale", "routing", "replications", "candidates",
          "instance_types", "status", "endpoint", "cost_per_hour", "percentile_ms", "error")


def scenario_answers(table: pd.DataFrame) -> list[dict]:
    """One record per scenario: its axis values, and the chosen endpoint or why there is none."""
    if table.empty:
        return []
    chosen = table[table["chosen"].eq(True)] if "chosen" in table else table.iloc[0:0]
    others = table[~table["scenario"].isin(chosen["scenario"])].drop_duplicates("scenario")
    rows = pd.concat([chosen, others]).sort_values("scenario")
    columns = [c for c in ANSWER if c in rows]
    return [{k: (None if pd.isna(v) else v) for k, v in record.items()}
            for record in rows[["scenario", *columns]].to_dict(orient="records")]
