"""`irsim simulate`: one endpoint under constant users or Poisson arrivals."""

from __future__ import annotations

import argparse
from typing import Any

from irsim.cli.argtypes import integer, number, seed
from irsim.cli.destinations import check_destinations
from irsim.cli.errors import CliError
from irsim.present.files import write_atomically
from irsim.present.formats import dumps
from irsim.present.plots import plot_per_minute
from irsim.present.tables import simulation_summary
from irsim.service.benchmark import instance_resources
from irsim.service.minutes import numbered_minutes
from pricing import default_catalogue
from simulator import ROUTING_POLICIES, load_profile, simulate
from simulator.simulation import MAX_REQUESTS_PER_S, MAX_USERS


def cmd_simulate(args: argparse.Namespace) -> int:
    if (args.users is None) == (args.rate is None):
        raise CliError("give exactly one of --users N (closed-loop users) or --rate R (Poisson requests/s)")
    check_destinations(args, files=("per_minute", "plot"))
    profile = load_profile(args.profile)
    result = simulate(profile, args.instance_type, instance_count=args.instances, users=args.users,
                      arrival_rate_per_s=args.rate, duration_s=args.duration, seed=args.seed,
                      think_time_s=args.think_time, routing=args.routing,
                      resources=instance_resources(default_catalogue(), args.instance_type),
                      max_requests_per_s=args.max_requests_per_s)
    traffic = f"{args.users} closed-loop users" if args.users is not None else f"Poisson {args.rate:g} requests/s"
    per_minute = numbered_minutes(result.per_minute)  # minutes counted from 1, as in every output
    if args.per_minute:
        write_atomically(args.per_minute, lambda tmp: per_minute.to_csv(tmp, index=False))
    if args.plot:
        title = f"{profile.model}: {args.instances} x {args.instance_type}, {traffic}"
        write_atomically(args.plot, lambda tmp: plot_per_minute(per_minute, title, tmp))
    if args.json:
        document: dict[str, Any] = {"model": profile.model, **result.summary(),
                                    "per_minute": per_minute.to_dict(orient="records")}
        print(dumps(document))
    else:
        print(simulation_summary(result, profile.model, traffic))
    return 0


def add_simulate_command(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("simulate", help="simulate one endpoint under constant users or Poisson arrivals",
                              description="Simulate K instances of one type from a service profile.")
    sim.add_argument("--profile", default="demo", help="profile JSON path, or 'demo' (default)")
    sim.add_argument("--instance-type", required=True, help="e.g. ml.c5.large (must be in the profile)")
    sim.add_argument("--instances", type=integer(1), default=1, help="instance count K (default 1)")
    load = sim.add_mutually_exclusive_group()
    load.add_argument("--users", type=integer(1, MAX_USERS), help="closed-loop users (invoke, wait, invoke again)")
    load.add_argument("--rate", type=number(), help="open Poisson arrivals, requests per second")
    sim.add_argument("--duration", type=number(), default=600.0, help="simulated seconds (default 600)")
    sim.add_argument("--think-time", type=number(), default=0.0, help="mean think time in seconds (default 0)")
    sim.add_argument("--routing", choices=ROUTING_POLICIES, default="random", help="default: random")
    sim.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    sim.add_argument("--max-requests-per-s", type=number(1), default=MAX_REQUESTS_PER_S, metavar="N",
                     help=f"refuse a run that would simulate more requests per simulated second "
                          f"(default {MAX_REQUESTS_PER_S:,.0f})")
    sim.add_argument("--json", action="store_true", help="print JSON instead of the summary")
    sim.add_argument("--per-minute", metavar="CSV", help="write the per-minute series to this CSV file")
    sim.add_argument("--plot", metavar="PNG", help="write a per-minute chart to this PNG file")
    sim.set_defaults(handler=cmd_simulate)
