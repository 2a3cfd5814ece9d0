"""`irsim profile list/add/show`: the service profiles registered in the store, one per model,
so a job naming a model (irsim create, the client, irsim serve, the SDK) is simulated on it."""

from __future__ import annotations

import argparse
import json

from irsim.durable.profiles import ProfileRegistry
from irsim.durable.store import default_home
from irsim.inputs import load_json_file
from irsim.present.formats import dumps
from simulator import InputError


def registry(args: argparse.Namespace) -> ProfileRegistry:
    return ProfileRegistry(default_home() if args.home is None else args.home)


def cmd_profile_list(args: argparse.Namespace) -> int:
    for entry in registry(args).listed():
        profile = registry(args).get(entry.model)
        types = ", ".join(sorted(profile.instances)) if profile else "?"
        serverless = " + serverless" if profile and profile.serverless else ""
        print(f"{entry.model:<32} {'(bundled) ' if entry.bundled else ''}{entry.path}\n    {types}{serverless}")
    return 0


def cmd_profile_add(args: argparse.Namespace) -> int:
    source = args.profile if args.profile == "demo" else load_json_file(args.profile, "PROFILE")
    added = registry(args).add(source, model=args.model)
    print(f"registered the profile of model {added.model}: {added.path}")
    return 0


def cmd_profile_show(args: argparse.Namespace) -> int:
    profile = registry(args).get(args.model)
    if profile is None:
        raise InputError("MODEL", f"no profile is registered for model {args.model!r}: "
                                  f"{registry(args).how_to_get_one(args.model)}")
    print(dumps(profile.to_dict()) if not args.compact else json.dumps(profile.to_dict()))
    return 0


def add_profile_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    profile = commands.add_parser("profile", help="the service profiles of the store's models (list, add, show)",
                                  description="A job naming a model is simulated on the profile registered for it.")
    actions = profile.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="every registered profile (the demo's included)")
    listing.set_defaults(handler=cmd_profile_list)
    add = actions.add_parser("add", parents=[common], help="register a profile for a model")
    add.add_argument("profile", metavar="PROFILE", help="a profile JSON file (irsim calibrate writes one), or 'demo'")
    add.add_argument("--model", default=None, help="the model it describes (default: the profile's own 'model')")
    add.set_defaults(handler=cmd_profile_add)
    show = actions.add_parser("show", parents=[common], help="print the profile registered for a model")
    show.add_argument("model", metavar="MODEL")
    show.add_argument("--compact", action="store_true", help="one line of JSON")
    show.set_defaults(handler=cmd_profile_show)
