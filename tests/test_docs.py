"""The documentation stands alone and holds together: no tracked file points outside the
repository for its design, every relative link of README.md and docs/ resolves to a file (and
heading) in the repository, README stays a landing page, and `make path` puts irsim on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Names of design files that live outside the repository (a clone does not have them). Built
#: from parts so that this file does not name them itself.
OUTSIDE_REFERENCES = ("../" + "shared", "DESIGN" + ".md")

INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)


def tracked_files() -> list[Path]:
    """The repository's tracked files (every file under it, less the usual untracked folders,
    when git is not at hand)."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name]
    skip = {".git", ".venv", "build", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_no_file_points_outside_the_repository():
    offenders = []
    for path in tracked_files():
        if not path.is_file():  # deleted in the work tree but still tracked
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # an image or other binary file
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(reference in line for reference in OUTSIDE_REFERENCES):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "design references outside the repository:\n" + "\n".join(offenders)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings (outside code blocks)."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M)}


def links(page: Path) -> list[str]:
    """Every link target of a page (inline, image, reference definitions), outside code blocks."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text_without_code = re.sub(r"`[^`\n]*`", "", text)
    return INLINE_LINK.findall(text_without_code) + REFERENCE_DEFINITION.findall(text_without_code)


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... : not a file of the repository
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.is_relative_to(ROOT) or not destination.exists():
            broken.append(f"{target}: no such file in the repository")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_links_are_found():
    """The link checker sees the links it must check (a checker that finds none passes vacuously)."""
    found = links(ROOT / "README.md")
    assert "docs/semantics.md" in found and any(t.startswith("docs/aws.md#") for t in found)
    assert github_anchor("## boto3 mode: from the simulated shortlist to the real service".lstrip("# ")) == \
        "boto3-mode-from-the-simulated-shortlist-to-the-real-service"
    assert github_anchor("`irsim autoscale`") == "irsim-autoscale"


def test_every_docs_page_is_linked_from_readme():
    readme = set(links(ROOT / "README.md"))
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert any(t.partition("#")[0] == f"docs/{page.name}" for t in readme), page.name


def test_readme_is_a_landing_page():
    """README starts with the Quick start (make demo, make test) and stays short."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## Quick start"
    start = lines.index("## Quick start")
    first_block = lines[lines.index("```", start) + 1:]
    assert first_block[:first_block.index("```")] == ["make demo", "make test"]


@pytest.mark.skipif(not shutil.which("make") or not shutil.which("bash"), reason="needs make and bash")
def test_make_path_puts_irsim_on_path():
    """In a shell whose PATH lacks the environment, the line `make path` prints finds irsim."""
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the repository's folder (make demo creates it)")
    # A user's shell: no make of ours around it (under `make test` its flags would reach the child).
    shell = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV")}
    printed = subprocess.run(["make", "-s", "path"], cwd=ROOT, capture_output=True, text=True, check=True,
                             env=shell).stdout
    assert printed.strip() == ". .venv/bin/activate"
    shell["PATH"] = os.pathsep.join(p for p in shell.get("PATH", "").split(os.pathsep)
                                    if Path(p).resolve() != (ROOT / ".venv" / "bin").resolve())
    found = subprocess.run(["bash", "-c", 'eval "$(make -s path)" && command -v irsim'], cwd=ROOT,
                           capture_output=True, text=True, env=shell, check=True).stdout
    assert Path(found.strip()).resolve() == (ROOT / ".venv" / "bin" / "irsim").resolve()
