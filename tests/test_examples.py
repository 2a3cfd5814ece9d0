"""Every bundled example through every command it is meant for (docs/ and examples/), each
expected to exit 0 — the serverless example in `recommend` included — and every `irsim` line
of the ```bash blocks of README.md and of each docs/ page, run as written: so every documented
command still runs."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
pytestmark = pytest.mark.slow

#: example -> the commands it is meant for (docs/running.md, recommend.md, serverless.md, jobs.md,
#: sweeps.md, aws.md); JOB stands for the example's path.
USES = {
    "seed-advanced-job.json": [["run", "JOB"], ["run", "JOB", "--replications", "2"], ["recommend", "JOB"],
                               ["create", "JOB"], ["submit", "JOB", "--top", "2"]],
    "stairs-job.json": [["run", "JOB"], ["recommend", "JOB"], ["create", "JOB"]],
    "serverless-job.json": [["run", "JOB"], ["recommend", "JOB"], ["recommend", "JOB", "--serverless"],
                            ["create", "JOB"]],
    "sweep.json": [["sweep", "JOB", "--workers", "2", "--out", "OUT"]],
    # docs/measure.md: `irsim measure` needs a live server (tests/test_measure.py runs it); here the requests
    # as `irsim run` and `irsim submit` take them after --calibrate (on the demo profile)
    "measure-stairs-job.json": [["run", "JOB"]],
    "measure-whatif-job.json": [["run", "JOB"], ["submit", "JOB", "--top", "2"]],
}


def test_every_example_has_its_commands():
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(USES)


@pytest.mark.parametrize("example, argv", [(name, argv) for name, uses in USES.items() for argv in uses],
                         ids=lambda value: value if isinstance(value, str) else " ".join(value))
def test_example_exits_0(example, argv, cli, home, tmp_path):
    args = [str(EXAMPLES / example) if a == "JOB" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    if argv[0] in ("create", "submit"):
        args += ["--home", str(home)]
    code, out, err = cli(*args)
    assert code == 0, err
    if argv[0] == "create":
        name = json.loads((EXAMPLES / example).read_text())["JobName"]
        code, out, err = cli("wait", name, "--home", home, "--timeout", "300")
        assert code == 0 and out.startswith(f"{name}: COMPLETED"), out + err
    if argv[0] == "sweep":
        assert "INFEASIBLE" in out and "slo=P95=10" in out  # listed by their axis values
        assert not re.search(r"\b[0-9a-f]{12}\b", out)  # not by hash


# --- README and docs/ ---------------------------------------------------------------------------

#: Pages whose ```bash blocks are commands run as written; a plain ``` block is a synopsis
#: (placeholders, shell redirection) and is not run.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: What marks a line that reaches real AWS (credentials, money), with the reason it is not run.
#: Such a line must also say so in its comment ("# reaches AWS"), so nothing is skipped unawares.
REACHES_AWS = {
    "--yes": "submit --yes creates a real job (real endpoints, billed)",
    "real-aws ": "the real-aws commands call the SageMaker service",
    "--from-aws": "import --from-aws reads a job from the SageMaker service",
}
AWS_COMMENT = "# reaches AWS"


def page_commands(page: Path) -> list[str]:
    """The `irsim ...` lines of a page's ```bash and ```console blocks (a leading `$ ` dropped),
    each with its comment."""
    lines = []
    for block in re.findall(r"```(?:bash|console)\n(.*?)```", page.read_text(), re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("irsim ") or line == "irsim":
                lines.append(line)
    return lines


def command_of(line: str) -> str:
    """The line without its trailing comment (two spaces and a #)."""
    return line.split("  #")[0].strip()


def reaches_aws(line: str) -> str | None:
    """Why the line is not run (it reaches AWS), or None; a marked line must say so."""
    reason = next((why for marker, why in REACHES_AWS.items() if marker in command_of(line)), None)
    assert (reason is not None) == (AWS_COMMENT in line), f"{line!r}: reaches AWS iff its comment says so"
    return reason


def test_documented_commands_are_many_and_cover_every_command():
    """README shows the everyday commands; with the pages, every command of the CLI has a line."""
    readme = page_commands(ROOT / "README.md")
    assert len(readme) >= 10
    documented = {shlex.split(command_of(line))[1] for page in PAGES for line in page_commands(page)
                  if len(shlex.split(command_of(line))) > 1}
    for command in ("run", "report", "simulate", "recommend", "create", "wait", "describe", "steps", "list",
                    "sweep", "autoscale", "calibrate", "submit", "describe-inference-recommendations-job"):
        assert command in documented, command


@pytest.mark.parametrize("page", [p for p in PAGES if page_commands(p)], ids=lambda p: p.name)
def test_documented_commands_run(page, cli, home, tmp_path, monkeypatch):
    """A page's lines run in order in one folder (later lines read what earlier ones wrote),
    from the repository's examples copied there, against a fresh store; each page on its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRSIM_HOME", str(home))
    shutil.copytree(EXAMPLES, tmp_path / "examples")  # subfolders too (examples/my-model: docs/walkthrough.md)
    ran = 0
    for line in page_commands(page):
        if reaches_aws(line):
            continue
        code, _, err = cli(*shlex.split(command_of(line))[1:])
        assert code == 0, f"{page.name}: {line}: exit {code}: {err.strip()[-500:]}"
        ran += 1
    assert ran > 0
