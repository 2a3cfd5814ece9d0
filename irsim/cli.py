"""The ``irsim`` command line. Bad input exits with code 2 and one clear line, no traceback."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from botocore.exceptions import ClientError, ParamValidationError

from irsim.argtypes import integer, number
from pricing import PricingError, instance_spec
from simulator import InputError, InstanceResources, ROUTING_POLICIES, load_profile, simulate
from simulator.simulation import SimulationResult

EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing error: printed as ``irsim: error: ...`` with exit code 2."""


def _resources(instance_type: str) -> InstanceResources | None:
    try:
        spec = instance_spec(instance_type)
    except PricingError:
        return None
    return InstanceResources(spec.vcpu, spec.memory_mb)


def _format_summary(result: SimulationResult, model: str, traffic: str) -> str:
    s = result.summary()
    lat = s["latency_ms"]
    frame = result.per_minute
    cpu = frame["CPUUtilization"].mean()
    memory = frame["MemoryUtilization"].iloc[0] if len(frame) else math.nan
    lines = [
        f"irsim simulate: {model} on {result.instance_count} x {result.instance_type} "
        f"({result.workers} workers each, routing {result.routing}{'' if result.calibrated else ', NOT calibrated'})",
        f"  traffic          {traffic}, seed {result.seed}",
        f"  simulated        {result.duration_s:,.0f} s, ended by {result.stop_reason}",
        f"  completed        {result.completed:,} requests ({s['in_flight']} in flight at the end)",
        f"  throughput       {result.throughput_per_s:,.1f} /s = {s['invocations_per_minute']:,.0f} invocations/min",
        f"  ModelLatency ms  mean {lat['mean']:.2f}   p50 {lat['p50']:.2f}   p90 {lat['p90']:.2f}   "
        f"p95 {lat['p95']:.2f}   p99 {lat['p99']:.2f}",
        f"  utilization      CPU {cpu:.0f}% (0-100 x vCPU), memory "
        + ("n/a" if math.isnan(memory) else f"{memory:.0f}%"),
        *(f"  WARNING          {warning}" for warning in result.warnings),
        "",
        "  minute  users  invocations  p95 ms   p99 ms",
    ]
    for row in frame.itertuples():
        lines.append(f"  {row.minute:>6}  {row.Users:>5}  {row.Invocations:>11,}  {row.ModelLatency_p95 / 1000:>7.2f}"
                     f"  {row.ModelLatency_p99 / 1000:>7.2f}" + ("  (partial)" if row.seconds < 60 else ""))
    return "\n".join(lines)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from irsim.files import write_atomically
    from irsim.plots import plot_per_minute

    if (args.users is None) == (args.rate is None):
        raise CliError("give exactly one of --users N (closed-loop users) or --rate R (Poisson requests/s)")
    profile = load_profile(args.profile)
    result = simulate(profile, args.instance_type, instance_count=args.instances, users=args.users,
                      arrival_rate_per_s=args.rate, duration_s=args.duration, seed=args.seed,
                      think_time_s=args.think_time, routing=args.routing,
                      resources=_resources(args.instance_type))
    traffic = f"{args.users} closed-loop users" if args.users is not None else f"Poisson {args.rate:g} requests/s"
    if args.per_minute:
        write_atomically(args.per_minute, lambda tmp: result.per_minute.to_csv(tmp, index=False))
    if args.plot:
        title = f"{profile.model}: {args.instances} x {args.instance_type}, {traffic}"
        write_atomically(args.plot, lambda tmp: plot_per_minute(result.per_minute, title, tmp))
    if args.json:
        document: dict[str, Any] = {"model": profile.model, **result.summary(),
                                    "per_minute": result.per_minute.to_dict(orient="records")}
        print(json.dumps(document, indent=2, default=_json_default))
    else:
        print(_format_summary(result, profile.model, traffic))
    return 0


def load_json_file(path: str, what: str) -> Any:
    """Parse a JSON file; a syntax error becomes a CliError with its line and column."""
    try:
        text = Path(path.removeprefix("file://")).read_text()
    except OSError as exc:
        raise CliError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what}: {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from irsim.job import execute_job
    from irsim.jobreport import progress_printer, recommendation_table, replication_table, write_outputs

    request = load_json_file(args.job, "JOB")
    if not isinstance(request, dict):
        raise CliError(f"JOB: {args.job} must hold a JSON object (a CreateInferenceRecommendationsJob request)")
    traffic_s = _traffic_duration(request)
    catalogue = _catalogue(args.price_list) if args.price_list else None
    progress = None if args.quiet else progress_printer(traffic_s)
    replicated = None
    if args.replications > 1:
        from irsim.job import replicate
        result, replicated = replicate(request, args.profile, args.seed, args.region, args.replications,
                                       catalogue=catalogue, progress=progress)
    else:
        result = execute_job(request, args.profile, seed=args.seed, region=args.region, catalogue=catalogue,
                             progress=progress)
    if args.out:
        written = write_outputs(result, Path(args.out), replicated)
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    if args.json:
        from irsim.jobreport import dumps
        print(dumps(result.describe))
    else:
        print(recommendation_table(result))
        if replicated:
            print(replication_table(replicated))
    return 0 if result.describe["Status"] == "COMPLETED" else 1


def _catalogue(path: str):
    """The bundled catalogue with prices refreshed from an AWS Price List file: a bulk offer
    file, or saved `aws pricing get-products` pages."""
    from pricing import default_catalogue, read_get_products_pages, read_offer_file, refresh_catalogue

    document = load_json_file(path, "--price-list")
    is_offer_file = isinstance(document, dict) and "products" in document
    prices = read_offer_file(document) if is_offer_file else read_get_products_pages(document)
    if not prices:
        raise CliError(f"--price-list: {path} holds no SageMaker hosting prices")
    return refresh_catalogue(default_catalogue(), prices)


def _traffic_duration(request: dict) -> float:
    """The traffic pattern's length, for the progress bars (0 when the request lacks one)."""
    from simulator import traffic_from_api
    pattern = request.get("InputConfig", {}).get("TrafficPattern") if isinstance(request.get("InputConfig"), dict) \
        else None
    try:
        return traffic_from_api(pattern).duration_s if pattern else 900.0
    except (InputError, AttributeError, TypeError):
        return 0.0


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _cmd_recommend(args: argparse.Namespace) -> int:
    from irsim.files import write_atomically
    from irsim.jobreport import dumps
    from irsim.plots import plot_recommendation
    from irsim.recommend import recommend, recommendation_table

    request = load_json_file(args.job, "JOB")
    if not isinstance(request, dict):
        raise CliError(f"JOB: {args.job} must hold a JSON object (a CreateInferenceRecommendationsJob request)")
    closed_users = None
    if args.traffic != "open":
        kind, _, users = args.traffic.partition(":")
        if kind != "closed" or not users.isdigit() or int(users) < 1:
            raise CliError(f"--traffic: must be 'open' or 'closed:N' with N >= 1 users, got {args.traffic!r}")
        closed_users = int(users)
    document = recommend(request, args.profile, seed=args.seed, region=args.region, candidates=args.candidates,
                         min_instances=args.min_instances, max_instances=args.max_instances,
                         allow_mixed=args.allow_mixed, importance=args.importance, target_per_minute=args.target_rate,
                         slo=args.slo, routing=args.routing, closed_users=closed_users, budget_per_hour=args.budget,
                         replications=args.replications, serverless=args.serverless)
    if args.plot:
        write_atomically(args.plot, lambda tmp: plot_recommendation(document, tmp))
    if args.out:
        out = Path(args.out)
        write_atomically(out / "recommendation.json", lambda tmp: tmp.write_text(dumps(document) + "\n"))
        write_atomically(out / "recommendation.png", lambda tmp: plot_recommendation(document, tmp))
    print(dumps(document) if args.json else recommendation_table(document))
    return 0 if document["Details"] and document["Details"][0]["Verified"] else 1


def _add_recommend(commands: argparse._SubParsersAction) -> None:
    rec = commands.add_parser("recommend", help="the cheapest endpoint that meets MaxInvocations within the SLO",
                              description="Choose instance type and count at minimum CostPerHour, proven by "
                                          "simulating the whole endpoint at the target rate.")
    rec.add_argument("job", metavar="JOB.json")
    rec.add_argument("--profile", default="demo", help="profile JSON path, or 'demo' (default)")
    rec.add_argument("--candidates", choices=("job", "all"), default="job",
                     help="the job's EndpointConfigurations (default) or every profiled and priced type")
    rec.add_argument("--target-rate", type=number(1), default=None, metavar="PER_MIN",
                     help="invocations per minute (default: StoppingConditions.MaxInvocations)")
    rec.add_argument("--slo", default=None, metavar="P95=100",
                     help="percentile and milliseconds (default: the request's ModelLatencyThresholds)")
    rec.add_argument("--min-instances", type=integer(1), default=1, help="availability floor (default 1)")
    rec.add_argument("--max-instances", type=integer(1), default=None, help="per-type quota")
    rec.add_argument("--budget", type=number(0), default=None, metavar="USD_PER_HOUR", help="cost ceiling")
    rec.add_argument("--allow-mixed", action="store_true", help="allow several production variants of different types")
    rec.add_argument("--serverless", action="store_true",
                     help="also weigh serverless endpoints (every memory size, MaxConcurrency by Erlang B)")
    rec.add_argument("--importance", default=None, metavar="cost=highest,latency=moderate",
                     help="Studio's importance levels for cost, latency, throughput (orders the alternatives)")
    rec.add_argument("--routing", choices=ROUTING_POLICIES, default="random", help="default: random")
    rec.add_argument("--traffic", default="open", metavar="open|closed:N", help="Poisson (default) or N users")
    rec.add_argument("--replications", type=integer(2), default=3, help="seeded replications per decision (default 3)")
    rec.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    rec.add_argument("--region", default="us-east-1", help="pricing region (default us-east-1)")
    rec.add_argument("--json", action="store_true", help="print the document as JSON")
    rec.add_argument("--plot", metavar="PNG", help="cost against the percentile reached, SLO drawn")
    rec.add_argument("--out", metavar="DIR", help="write recommendation.json and recommendation.png (for irsim report)")
    rec.set_defaults(handler=_cmd_recommend)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from irsim.sweep import load_sweep, progress_line, run_sweep, scenarios_summary

    if args.scheduler and args.workers:
        raise CliError("give --scheduler ADDRESS or --workers N, not both")
    sweep = load_sweep(args.sweep)
    out = Path(args.out)
    print(f"{len(sweep.scenarios)} scenarios -> {out}" + (" (resuming)" if args.resume else ""), file=sys.stderr)
    table = run_sweep(sweep, out, scheduler=args.scheduler, workers=args.workers, resume=args.resume,
                      progress=progress_line)
    print(scenarios_summary(table))
    print(f"wrote {out / 'results.csv'}, {out / 'results.parquet'} and the plots in {out}", file=sys.stderr)
    return 0 if (table["status"] == "ok").all() else 1


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="what-if scenarios (rates, SLOs, routing, service-time scale...) on Dask",
                                description="Expand a base request and axes into scenarios and run the optimizer "
                                            "on each, on a local Dask cluster or an existing scheduler.")
    sweep.add_argument("sweep", metavar="SWEEP.json")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (tcp://host:port)")
    sweep.add_argument("--workers", type=integer(1), default=None, help="local worker processes (default: cores)")
    sweep.add_argument("--out", default="sweep-output", metavar="DIR", help="results folder (default sweep-output)")
    sweep.add_argument("--resume", action="store_true", help="skip scenarios whose results are already in DIR")
    sweep.set_defaults(handler=_cmd_sweep)


def _cmd_report(args: argparse.Namespace) -> int:
    from irsim.files import write_atomically
    from irsim.report import build_report

    page = build_report(args.folder)
    write_atomically(args.output, lambda tmp: tmp.write_text(page))
    print(f"wrote {args.output}")
    return 0


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="one self-contained HTML page for a run, recommend or sweep folder")
    report.add_argument("folder", metavar="DIR", help="an --out folder of irsim run, recommend or sweep")
    report.add_argument("-o", "--output", default="report.html", help="the page to write (default report.html)")
    report.set_defaults(handler=_cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="irsim", description="SageMaker Inference Recommender, simulated offline.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = commands.add_parser("simulate", help="simulate one endpoint under constant users or Poisson arrivals",
                              description="Simulate K instances of one type from a service profile.")
    sim.add_argument("--profile", default="demo", help="profile JSON path, or 'demo' (default)")
    sim.add_argument("--instance-type", required=True, help="e.g. ml.c5.large (must be in the profile)")
    sim.add_argument("--instances", type=integer(1), default=1, help="instance count K (default 1)")
    load = sim.add_mutually_exclusive_group()
    load.add_argument("--users", type=integer(1), help="closed-loop users (invoke, wait, invoke again)")
    load.add_argument("--rate", type=number(), help="open Poisson arrivals, requests per second")
    sim.add_argument("--duration", type=number(), default=600.0, help="simulated seconds (default 600)")
    sim.add_argument("--think-time", type=number(), default=0.0, help="mean think time in seconds (default 0)")
    sim.add_argument("--routing", choices=ROUTING_POLICIES, default="random", help="default: random")
    sim.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of the summary")
    sim.add_argument("--per-minute", metavar="CSV", help="write the per-minute series to this CSV file")
    sim.add_argument("--plot", metavar="PNG", help="write a per-minute chart to this PNG file")
    sim.set_defaults(handler=_cmd_simulate)

    run = commands.add_parser("run", help="run a CreateInferenceRecommendationsJob request offline",
                              description="Simulate an Inference Recommender job (Advanced or Default) and print "
                                          "its recommendations ranked by CostPerHour.")
    run.add_argument("job", metavar="JOB.json", help="the request, as boto3 or `aws sagemaker ... --cli-input-json` takes it")
    run.add_argument("--profile", default="demo", help="profile JSON path, or 'demo' (default)")
    run.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    run.add_argument("--region", default="us-east-1", help="pricing region and JobArn region (default us-east-1)")
    run.add_argument("--out", metavar="DIR", help="write describe.json, steps.json, irsim.json, metrics.csv, report.png")
    run.add_argument("--json", action="store_true", help="print the DescribeInferenceRecommendationsJob response")
    run.add_argument("--price-list", metavar="FILE",
                     help="refresh prices from an AWS Price List offer file or saved get-products pages")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--replications", type=integer(1), default=1, metavar="R",
                     help="run R independent seeded replications: means and 95%% intervals (default 1)")
    run.set_defaults(handler=_cmd_run)

    from irsim.jobcommands import add_job_commands
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=None, help="job store folder (default: $IRSIM_HOME or ~/.irsim)")
    add_job_commands(commands, common)
    from irsim.calibrate_cmd import add_calibrate_command
    add_calibrate_command(commands)
    _add_recommend(commands)
    _add_sweep(commands)
    _add_report(commands)
    from irsim.boto3mode import add_boto3_commands
    add_boto3_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``irsim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "aws_style", False):
        from irsim.jobcommands import AwsCliUsageError, report_aws_error
        try:
            return args.handler(args)
        except (ParamValidationError, ClientError, AwsCliUsageError) as exc:
            return report_aws_error(exc)
    try:
        return args.handler(args)
    except (InputError, PricingError, CliError) as exc:
        print(f"irsim {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ParamValidationError as exc:
        print(f"irsim {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as exc:
        # Worded as the AWS CLI words it.
        print(f"irsim {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("irsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
