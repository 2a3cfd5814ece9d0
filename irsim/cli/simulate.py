"""`irsim simulate`: one endpoint under constant users or Poisson arrivals."""

from __future__ import annotations

import argparse
from typing import Any

from irsim.cli.destinations import check_destinations
from irsim.cli.errors import CliError
from irsim.present.files import write_atomically
from irsim.present.formats import dumps
from irsim.present.plots import plot_per_minute
from irsim.present.tables import simulation_summary
from irsim.service.benchmark import instance_resources
from irsim.service.minutes import numbered_minutes
from pricing import default_catalogue
from simulator import load_profile, simulate


def cmd_simulate(args: argparse.Namespace) -> int:
    if (args.users is None) == (args.rate is None):
        raise CliError("give exactly one of --users N (closed-loop users) or --rate R (Poisson requests/s)")
    check_destinations(args, files=("per_minute", "plot"))
    profile = load_profile(args.service_profile)
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
