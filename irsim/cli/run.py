"""`irsim run`: a CreateInferenceRecommendationsJob request simulated in this process."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from irsim.cli.argtypes import integer, number, precision, seed
from irsim.cli.errors import CliError
from irsim.inputs import load_json_file
from irsim.present.formats import dumps
from irsim.present.outputs import write_outputs
from irsim.present.progress import JobProgress, progress_console
from irsim.present.tables import recommendation_table, replication_table
from irsim.service.job import execute_job, replicate
from optimizer.verdict import DEFAULT_PRECISION
from pricing import Catalogue, PricingError, catalogue_from_price_list, default_catalogue
from simulator.simulation import MAX_REQUESTS_PER_S


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
    request = load_request(args.job)
    catalogue = price_list_catalogue(args.price_list) if args.price_list else None
    console = progress_console(args.quiet)
    watch = JobProgress(console) if console else None
    replicated = None
    with watch or contextlib.nullcontext():
        if args.replications > 1:
            result, replicated = replicate(request, args.profile, args.seed, args.region, args.replications,
                                           catalogue=catalogue, watch=watch, precision=args.precision,
                                           max_requests_per_s=args.max_requests_per_s)
        else:
            result = execute_job(request, args.profile, seed=args.seed, region=args.region, catalogue=catalogue,
                                 watch=watch, max_requests_per_s=args.max_requests_per_s, precision=args.precision)
    if result.not_scheduled:  # decided before simulating: said before the results
        print(f"irsim run: warning: {result.not_scheduled[0].reason}", file=sys.stderr)
    if args.out:
        written = write_outputs(result, Path(args.out), replicated)
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    if args.json:
        print(dumps(result.describe))
    else:
        print(recommendation_table(result))
        if replicated:
            print(replication_table(replicated))
    return 0 if result.describe["Status"] == "COMPLETED" else 1


def add_run_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run a CreateInferenceRecommendationsJob request offline",
                              description="Simulate an Inference Recommender job (Advanced or Default) and print "
                                          "its recommendations ranked by CostPerHour.")
    run.add_argument("job", metavar="JOB.json",
                     help="the request, as boto3 or `aws sagemaker ... --cli-input-json` takes it")
    run.add_argument("--profile", default="demo", help="profile JSON path, or 'demo' (default)")
    run.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    run.add_argument("--region", default="us-east-1", help="pricing region and JobArn region (default us-east-1)")
    run.add_argument("--out", metavar="DIR",
                     help="write describe.json, steps.json, irsim.json, metrics.csv, report.png")
    run.add_argument("--json", action="store_true", help="print the DescribeInferenceRecommendationsJob response")
    run.add_argument("--price-list", metavar="FILE",
                     help="refresh prices from an AWS Price List offer file or saved get-products pages")
    run.add_argument("--quiet", action="store_true",
                     help="no live progress on stderr (there is none when stderr is not a terminal)")
    run.add_argument("--max-requests-per-s", type=number(1), default=MAX_REQUESTS_PER_S, metavar="N",
                     help="refuse a benchmark that would simulate more requests per simulated second "
                          f"(default {MAX_REQUESTS_PER_S:,.0f})")
    run.add_argument("--precision", type=precision, default=DEFAULT_PRECISION, metavar="SHARE",
                     help="the production check stops sampling a count whose interval holds the threshold once it "
                          "is within +-SHARE (too close to call; default 0.01)")
    run.add_argument("--replications", type=integer(1), default=1, metavar="R",
                     help="run R independent seeded replications: means and 95%% intervals (default 1)")
    run.set_defaults(handler=cmd_run)
