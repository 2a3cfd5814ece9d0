"""`irsim report`: one self-contained HTML page for an --out folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from irsim.present.files import writable_file, write_atomically
from irsim.present.html import build_report, needs_plotly, shared_script

#: The command that writes the file marking each kind of folder `irsim report` reads.
WRITERS = {"describe.json": "irsim run --out", "recommendation.json": "irsim recommend --out",
           "results.csv": "irsim sweep --out", "autoscale.json": "irsim autoscale --out"}


def cmd_report(args: argparse.Namespace) -> int:
    output = args.output or str(Path(args.folder) / "report.html")  # next to its input, not ./report.html
    writable_file(output, "output")
    page = build_report(args.folder, WRITERS)
    written = [write_atomically(output, lambda tmp: tmp.write_text(page))]
    if needs_plotly(page):  # one script beside the pages, shared by every page of the folder
        name, script = shared_script()
        beside = Path(output).parent / name
        if not beside.is_file() or beside.stat().st_size != len(script.encode()):
            written.append(write_atomically(beside, lambda tmp: tmp.write_text(script, encoding="utf-8")))
    print(f"wrote {', '.join(str(path) for path in written)}")
    return 0
