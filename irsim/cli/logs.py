"""`--version` and `-v/--verbose`: irsim's version from its installed metadata, and the
standard library's logging of what a command decides, on stderr."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

#: The loggers of irsim's packages: what -v shows (third-party libraries keep their own level).
PACKAGES = ("irsim", "simulator", "pricing", "optimizer", "calibration")
FORMAT = "irsim: %(levelname)s %(name)s: %(message)s"


def irsim_version() -> str:
    """The installed distribution's version (``pip install -e .`` included)."""
    try:
        return version("irsim")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` on every command and subcommand below ``parser`` (not the top level,
    whose value a subcommand's default would overwrite); a command that defines its own keeps it."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sub in dict.fromkeys(action.choices.values()):  # aliases name one parser twice
            taken = {option for a in sub._actions for option in a.option_strings}
            if not taken & {"-v", "--verbose"}:
                sub.add_argument("-v", "--verbose", action="count", default=0,
                                 help="log what irsim decides to stderr: -v INFO, -vv DEBUG")
            add_verbose_option(sub)


def configure_logging(verbosity: int, stream: object = None) -> logging.Handler:
    """Send irsim's loggers to ``stream`` (default: the current stderr) at WARNING, INFO (-v)
    or DEBUG (-vv). Called again, it replaces the handler it installed before."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.set_name("irsim-cli")
    for name in PACKAGES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "irsim-cli"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
    return handler
