"""`irsim run`: a CreateInferenceRecommendationsJob request simulated in this process."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from irsim.cli.destinations import check_destinations
from irsim.cli.errors import CliError
from irsim.cli.printing import Printer
from irsim.inputs import load_json_file
from irsim.present.outputs import write_outputs
from irsim.present.progress import JobProgress, progress_console
from irsim.present.tables import recommendation_table, replication_table
from irsim.service.job import execute_job, replicate
from irsim.service.result import JobResult, Replications
from pricing import Catalogue, PricingError, catalogue_from_price_list, default_catalogue


def load_request(path: str) -> dict:
    """A CreateInferenceRecommendationsJob request from a JSON file (an object, or exit 2)."""
    request = load_json_file(path, "JOB")
    if not isinstance(request, dict):
        raise CliError(f"JOB: {path} must hold a JSON object (a CreateInferenceRecommendationsJob request)")
    return request


def price_list_catalogue(path: str) -> Catalogue:
    """The bundled catalogue with prices refreshed from an AWS Price List file (an error names
    the file and the field in it)."""
    document = load_json_file(path, "--price-list")
    try:
        return catalogue_from_price_list(default_catalogue(), document, path)
    except PricingError as exc:
        detail = exc.message if exc.field == "price_list" else f"{path}: {exc.field}: {exc.message}"
        raise PricingError("price_list", detail) from None


def cmd_run(args: argparse.Namespace) -> int:
    check_destinations(args, folders=("out",))
    printer = Printer.from_args(args)
    request = load_request(args.job)
    catalogue = price_list_catalogue(args.price_list) if args.price_list else None
    console = progress_console(args.quiet)
    watch = JobProgress(console) if console else None
    replicated = None
    with watch or contextlib.nullcontext():
        if watch:
            watch.stage(f"validating {args.job} and loading the service profile {args.service_profile}")
        if args.replications > 1:
            result, replicated = replicate(request, args.service_profile, args.seed, args.region, args.replications,
                                           catalogue=catalogue, watch=watch,
                                           max_requests_per_s=args.max_requests_per_s, precision=args.precision)
        else:
            result = execute_job(request, args.service_profile, seed=args.seed, region=args.region,
                                 catalogue=catalogue, watch=watch, max_requests_per_s=args.max_requests_per_s,
                                 precision=args.precision)
    if result.not_scheduled:  # decided before simulating: said before the results
        print(f"irsim run: warning: {result.not_scheduled[0].reason}", file=sys.stderr)
    if args.out:
        written = write_outputs(result, Path(args.out), replicated)
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    printer.emit(result.describe, lambda: _console(result, replicated, printer.wide),
                 "DescribeInferenceRecommendationsJob")
    return 0 if result.describe["Status"] == "COMPLETED" else 1


def _console(result: JobResult, replicated: Replications | None, wide: bool) -> str:
    """The recommendations table (and the replications' when there are some)."""
    text = recommendation_table(result, wide=wide)
    return text + ("\n" + replication_table(replicated) if replicated else "")
