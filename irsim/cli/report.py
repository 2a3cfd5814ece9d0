"""`irsim report`: one self-contained HTML page for an --out folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from irsim.present.files import writable_file, write_atomically
from irsim.present.html import build_report

#: The command that writes the file marking each kind of folder `irsim report` reads.
WRITERS = {"describe.json": "irsim run --out", "recommendation.json": "irsim recommend --out",
           "results.csv": "irsim sweep --out", "autoscale.json": "irsim autoscale --out"}


def cmd_report(args: argparse.Namespace) -> int:
    output = args.output or str(Path(args.folder) / "report.html")  # next to its input, not ./report.html
    writable_file(output, "output")
    page = build_report(args.folder, WRITERS)
    write_atomically(output, lambda tmp: tmp.write_text(page))
    print(f"wrote {output}")
    return 0


def add_report_command(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="one self-contained HTML page for a run, recommend or sweep folder")
    report.add_argument("folder", metavar="DIR", help="an --out folder of irsim run, recommend or sweep")
    report.add_argument("-o", "--output", default=None, help="the page to write (default DIR/report.html)")
    report.set_defaults(handler=cmd_report)
