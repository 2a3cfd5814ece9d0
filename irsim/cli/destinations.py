"""Every output destination a command was given, checked before the command does any work: a
folder given as a file, a file where a folder is expected, a folder that cannot be written are
one line naming the flag (exit 2) before a simulation runs, not a traceback after it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from irsim.present.files import writable_file, writable_folder


def check_destinations(args: argparse.Namespace, files: Sequence[str] = (), folders: Sequence[str] = ()) -> None:
    """The arguments (by dest) naming a file to write (``files``) or a folder to write into
    (``folders``), those given checked now; an InputError names the argument."""
    for dest in files:
        if getattr(args, dest, None) is not None:
            writable_file(getattr(args, dest), dest)
    for dest in folders:
        if getattr(args, dest, None) is not None:
            writable_folder(getattr(args, dest), dest)
