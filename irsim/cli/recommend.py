"""`irsim recommend`: the cheapest endpoint that meets the target within the SLO."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from irsim.cli.argtypes import integer, number, precision, seed
from irsim.cli.errors import CliError
from irsim.cli.run import load_request
from irsim.planning.recommend import recommend
from irsim.present.files import write_atomically
from irsim.present.formats import dumps
from irsim.present.plots import plot_recommendation
from irsim.present.progress import RecommendProgress, progress_console
from irsim.present.tables import plan_table
from optimizer.events import ignore
from optimizer.verdict import DEFAULT_PRECISION
from simulator import ROUTING_POLICIES


def cmd_recommend(args: argparse.Namespace) -> int:
    request = load_request(args.job)
    closed_users = None
    if args.traffic != "open":
        kind, _, users = args.traffic.partition(":")
        if kind != "closed" or not users.isdigit() or int(users) < 1:
            raise CliError(f"--traffic: must be 'open' or 'closed:N' with N >= 1 users, got {args.traffic!r}")
        closed_users = int(users)
    console = progress_console(args.quiet)
    with RecommendProgress(console) if console else contextlib.nullcontext() as progress:
        document = recommend(request, args.profile, seed=args.seed, region=args.region, candidates=args.candidates,
                             min_instances=args.min_instances, max_instances=args.max_instances,
                             allow_mixed=args.allow_mixed, importance=args.importance,
                             target_per_minute=args.target_rate, slo=args.slo, routing=args.routing,
                             closed_users=closed_users, budget_per_hour=args.budget,
                             replications=args.replications, precision=args.precision, serverless=args.serverless,
                             observe=progress or ignore)
    if args.plot:
        write_atomically(args.plot, lambda tmp: plot_recommendation(document, tmp))
    if args.out:
        out = Path(args.out)
        write_atomically(out / "recommendation.json", lambda tmp: tmp.write_text(dumps(document) + "\n"))
        write_atomically(out / "recommendation.png", lambda tmp: plot_recommendation(document, tmp))
    print(dumps(document) if args.json else plan_table(document, whole_answer="--json"))
    return 0 if document["Details"] and document["Details"][0]["Verified"] else 1


def add_recommend_command(commands: argparse._SubParsersAction) -> None:
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
    rec.add_argument("--precision", type=precision, default=DEFAULT_PRECISION, metavar="SHARE",
                     help="stop sampling a count whose interval holds the SLO once it is within +-SHARE "
                          "(too close to call; default 0.01); a finer precision buys more replications")
    rec.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    rec.add_argument("--region", default="us-east-1", help="pricing region (default us-east-1)")
    rec.add_argument("--json", action="store_true", help="print the document as JSON")
    rec.add_argument("--plot", metavar="PNG", help="cost against the percentile reached, SLO drawn")
    rec.add_argument("--out", metavar="DIR", help="write recommendation.json and recommendation.png (for irsim report)")
    rec.add_argument("--quiet", action="store_true",
                     help="no live progress on stderr (there is none when stderr is not a terminal)")
    rec.set_defaults(handler=cmd_recommend)
