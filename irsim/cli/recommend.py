"""`irsim recommend`: the cheapest endpoint that meets the target within the SLO."""

from __future__ import annotations

import argparse
import contextlib

from irsim.cli.destinations import check_destinations
from irsim.cli.errors import CliError
from irsim.cli.printing import Printer
from irsim.cli.run import load_request
from irsim.planning.recommend import recommend
from irsim.present.files import write_atomically, write_folder
from irsim.present.formats import dumps
from irsim.present.plantable import plan_table
from irsim.present.plots import plot_recommendation
from irsim.present.progress import RecommendProgress, progress_console
from optimizer.events import ignore


def cmd_recommend(args: argparse.Namespace) -> int:
    printer = Printer.from_args(args)
    request = load_request(args.job)
    closed_users = None
    if args.traffic != "open":
        kind, _, users = args.traffic.partition(":")
        if kind != "closed" or not users.isdigit() or int(users) < 1:
            raise CliError(f"--traffic: must be 'open' or 'closed:N' with N >= 1 users, got {args.traffic!r}")
        closed_users = int(users)
    check_destinations(args, files=("plot",), folders=("out",))
    console = progress_console(args.quiet)
    with RecommendProgress(console) if console else contextlib.nullcontext() as progress:
        document = recommend(request, args.service_profile, seed=args.seed, region=args.region,
                             candidates=args.candidates, min_instances=args.min_instances,
                             max_instances=args.max_instances,
                             allow_mixed=args.allow_mixed, importance=args.importance,
                             target_per_minute=args.target_rate, slo=args.slo, routing=args.routing,
                             closed_users=closed_users, budget_per_hour=args.budget,
                             replications=args.replications, precision=args.precision, serverless=args.serverless,
                             observe=progress or ignore)
    if args.plot:
        write_atomically(args.plot, lambda tmp: plot_recommendation(document, tmp))
    if args.out:
        write_folder(args.out, {"recommendation.json": lambda tmp: tmp.write_text(dumps(document) + "\n"),
                                "recommendation.png": lambda tmp: plot_recommendation(document, tmp)})
    printer.emit(document, lambda: plan_table(document, whole_answer="--output json", wide=printer.wide))
    return 0 if document["Details"] and document["Details"][0]["Verified"] else 1
