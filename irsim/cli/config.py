"""Defaults of the options every run repeats (service profile, region, job store, seed), from the
environment and from a config file (``~/.irsim/config.toml``, or the file ``IRSIM_CONFIG``
names), with the precedence flags > environment > file > irsim's own default.

The file is TOML (read by the standard library's tomllib), one key per default::

    service_profile = "profiles/my-model.json"   # a path from the file's folder, or "demo"
    region = "eu-west-1"
    home = "~/irsim-jobs"
    seed = 7
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irsim.argtypes import MAX_SEED
from irsim.cli.errors import CliError
from irsim.cli.options import DEFAULT_REGION, DEFAULT_SEED, DEMO_PROFILE

#: Each key the config file may set, the environment variable that overrides it, and its type.
ENVIRONMENT = {"service_profile": "IRSIM_SERVICE_PROFILE", "region": "IRSIM_REGION", "home": "IRSIM_HOME",
               "seed": "IRSIM_SEED"}
TYPES: dict[str, type] = {"service_profile": str, "region": str, "home": str, "seed": int}
BUILT_IN: dict[str, Any] = {"service_profile": DEMO_PROFILE, "region": DEFAULT_REGION, "seed": DEFAULT_SEED,
                            "home": None}
CONFIG_VARIABLE = "IRSIM_CONFIG"


def config_path() -> tuple[Path, bool]:
    """The config file, and whether the user named it (IRSIM_CONFIG: then it must exist)."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        return Path(named).expanduser(), True
    return Path("~/.irsim/config.toml").expanduser(), False


def read_config() -> dict[str, Any]:
    """The config file's defaults (empty without a file), paths resolved from its folder; a file
    that does not parse, an unknown key or a value of the wrong type is a CliError naming it."""
    path, named = config_path()
    if not path.is_file():
        if named:
            raise CliError(f"{CONFIG_VARIABLE}: {path} is not a file")
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise CliError(f"config file {path}: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key not in TYPES:
            raise CliError(f"config file {path}: unknown key {key!r} (allowed: {', '.join(TYPES)})")
        if not isinstance(value, TYPES[key]) or isinstance(value, bool):
            raise CliError(f"config file {path}: {key} must be a {TYPES[key].__name__}, got {value!r}")
        values[key] = value
    if "seed" in values:
        values["seed"] = _seed(values["seed"], f"config file {path}: seed")
    for key in ("service_profile", "home"):
        if key in values and values[key] != DEMO_PROFILE:
            values[key] = str(path.parent / Path(values[key]).expanduser())
    return values


def _seed(value: Any, where: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_SEED:
        raise CliError(f"{where} must be an integer from 0 to {MAX_SEED}, got {value!r}")
    return number


def _from_environment(key: str) -> Any:
    value = os.environ.get(ENVIRONMENT[key])
    if not value:
        return None
    return _seed(value, ENVIRONMENT[key]) if key == "seed" else value


@dataclass(frozen=True)
class Resolved:
    """Where each default came from (shown by -v), and the options given on the command line."""

    sources: dict[str, str]
    explicit: frozenset[str]


def apply_defaults(args: argparse.Namespace, command: str) -> Resolved:
    """Fill the command's ``config_keys`` that no flag gave, from the environment, then the
    config file, then irsim's default; the deprecated --profile becomes service_profile."""
    _deprecated_profile(args, command)
    keys = tuple(getattr(args, "config_keys", ()))
    explicit = frozenset(key for key in TYPES if getattr(args, key, None) is not None)
    sources = dict.fromkeys(explicit, "flag")
    file_values = read_config() if any(key not in explicit for key in keys) else {}
    for key in keys:
        if key in explicit:
            continue
        if key == "home" and os.environ.get(ENVIRONMENT["home"]):
            sources[key] = ENVIRONMENT["home"]  # the store reads it itself
            continue
        value = _from_environment(key)
        source = ENVIRONMENT[key]
        if value is None and key in file_values:
            value, source = file_values[key], "config file"
        if value is None:
            value, source = BUILT_IN[key], "default"
        setattr(args, key, value)
        sources[key] = source
    return Resolved(sources=sources, explicit=explicit)


def _deprecated_profile(args: argparse.Namespace, command: str) -> None:
    """--profile on a native command: the service profile's old name. It works, and says so when
    it reads a file; a value that is neither a file nor 'demo' (an AWS named profile, most
    likely) is refused with where such a profile goes."""
    value = getattr(args, "deprecated_profile", None)
    if value is None:
        return
    if getattr(args, "service_profile", None) is not None:
        raise CliError("give --service-profile or its deprecated name --profile, not both")
    path = Path(value.removeprefix("file://"))
    looks_like_a_file = path.is_file() or "/" in value or path.suffix == ".json"
    if value != DEMO_PROFILE and not looks_like_a_file:
        raise CliError(f"--profile: {value!r} is neither a service profile file nor 'demo'; on irsim's own commands "
                       "--profile is the deprecated name of --service-profile (an AWS named profile goes to the "
                       f"AWS-shaped commands, e.g. `irsim describe-inference-recommendations-job --profile {value}`)")
    if value != DEMO_PROFILE:
        print(f"irsim {command}: warning: --profile is deprecated here: use --service-profile {value} (read as "
              "irsim's service profile; --profile means an AWS named profile on the AWS-shaped commands)",
              file=sys.stderr)
    args.service_profile = value
