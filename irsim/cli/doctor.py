"""`irsim doctor`: read every row of the job store as irsim reads it, report the rows that cannot
be read (corrupt JSON, a bad timestamp, a forged datetime tag), and with --quarantine move them
out of the way (into the store's quarantine table), so the store answers as if they were never
written."""

from __future__ import annotations

import argparse

from irsim.durable.doctor import examine, quarantine
from irsim.durable.store import JobStore
from irsim.exitcodes import EXIT_FAILED, EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    store = JobStore(args.home)
    checkup = examine(store)
    counts = ", ".join(f"{count:,} {table}" for table, count in checkup.rows.items())
    print(f"job store {store.path}: {counts}; SQLite's check: {checkup.integrity}")
    for bad in checkup.bad:
        print(f"damaged {bad}")
    if not checkup.bad:
        print("no damaged rows")
        return EXIT_OK if checkup.integrity == "ok" else EXIT_FAILED
    if not args.quarantine:
        print(f"{len(checkup.bad)} damaged rows: `irsim doctor --quarantine` moves them into the store's "
              "quarantine table (their jobs then no longer exist)")
        return EXIT_FAILED
    moved = quarantine(store, checkup.bad)
    print(f"quarantined {moved} rows into the quarantine table of {store.path}")
    return EXIT_OK if checkup.integrity == "ok" else EXIT_FAILED


def add_doctor_command(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register doctor."""
    doctor = commands.add_parser("doctor", parents=[common], help="check the job store's rows; quarantine bad ones",
                                 description="Read every row of the job store as irsim reads it and report the "
                                             "rows that cannot be read.",
                                 epilog="exit codes: 0 no damaged rows are left (and SQLite's check is ok); "
                                        "1 damaged rows remain; 2 the store cannot be opened")
    doctor.add_argument("--quarantine", action="store_true",
                        help="move the damaged rows into the store's quarantine table (kept whole, in one "
                             "transaction)")
    doctor.set_defaults(handler=cmd_doctor)
