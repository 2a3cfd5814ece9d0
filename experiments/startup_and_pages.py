"""What `irsim --version` imports, lazily against eagerly, and what a report page weighs with
plotly.js beside it against inlined: both measured now, in this process, as ratios.

    .venv/bin/python experiments/startup_and_pages.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNT = ("import sys, io, contextlib\n{setup}\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['--version'])\n"
         "    except SystemExit:\n        pass\nprint(len(sys.modules))")


def modules(setup: str) -> int:
    """Modules a fresh interpreter holds after ``setup`` and `irsim --version`."""
    done = subprocess.run([sys.executable, "-c", COUNT.format(setup=setup)], capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    lazy = modules("from irsim.cli import main")
    eager = modules("from irsim.cli.app import main, build_parser\nimport irsim.cli.run, irsim.cli.jobs, "
                    "irsim.cli.boto3, irsim.cli.sweep, irsim.cli.autoscale, irsim.cli.calibrate\nbuild_parser()")
    print(f"irsim --version imports {lazy} modules; with every command imported first (as before): {eager} "
          f"({eager / lazy:.1f}x)")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        run = [sys.executable, "-m", "irsim"]
        subprocess.run([*run, "run", str(ROOT / "examples" / "stairs-job.json"), "--quiet", "--out",
                        str(out / "job")], check=True, capture_output=True)
        subprocess.run([*run, "report", str(out / "job"), "-o", str(out / "job.html")], check=True,
                       capture_output=True)
        page = (out / "job.html").stat().st_size
        script = next(out.glob("plotly-*.min.js")).stat().st_size
        print(f"the job page weighs {page / 1e3:,.0f} KB with plotly.js beside it; {(page + script) / 1e6:,.2f} MB "
              f"with it inlined ({(page + script) / page:.0f}x); the shared script {script / 1e6:,.2f} MB, once")
    print(json.dumps({"modules_lazy": lazy, "modules_eager": eager, "page_bytes": page, "script_bytes": script}))


if __name__ == "__main__":
    main()
