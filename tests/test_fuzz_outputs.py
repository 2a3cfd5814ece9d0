"""Fuzzing what tests/test_fuzz_readers.py does not reach (issue 27, item 7): YAML given to
--cli-input-yaml (mutated requests, flipped bytes, anchors and aliases, deep nesting), `irsim
report` on run folders with one file mutated, and output paths made of awkward parts (a file
where a folder goes, a folder where a file goes, a FIFO, links, names too long, NUL). Every
case either works (and the output is there, whole) or is one line on stderr with nothing new
written: never a traceback, never a file left half-made.

A few examples per fuzzer in the fast run; the ``slow`` twin runs many."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import strategies as st
from test_fuzz_readers import EXAMPLES_PER_READER, _mutate, assert_works_or_one_line, file_bytes, fuzz
from test_outputs_hardening import SEED_JOB, copy_of, run_folder  # noqa: F401 — run_folder is a fixture

from irsim.durable.client import OfflineSageMakerClient


def everything_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


# --- YAML -------------------------------------------------------------------------------------------

def yaml_request() -> dict[str, Any]:
    request = json.loads(SEED_JOB.read_text())
    request["JobName"] = "from-yaml"
    return request


ALIAS_SHAPES = [
    "a: &x [1, 2]\nb: *x\n",
    "JobName: &n from-yaml\nJobDescription: *n\n",
    "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" if i else "l0: &l0 [x]\n" for i in range(8)),
    "a: &a\n  b: *a\n",  # a recursive alias
    "? [1, 2]\n: complex key\n",
    "!!python/object/apply:os.system ['true']\n",
    "[" * 300 + "]" * 300,
    "a: !!binary aGVsbG8=\n",
    "---\na: 1\n---\nb: 2\n",
]


@st.composite
def yaml_texts(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "flipped", "alias", "file bytes"]))
    if kind == "alias":
        return draw(st.sampled_from(ALIAS_SHAPES)).encode()
    if kind == "file bytes":
        return draw(file_bytes(yaml_request()))  # JSON is YAML too
    document = copy.deepcopy(yaml_request())
    if kind == "mutated":
        document = _mutate(draw, document)
    data = bytearray(yaml.safe_dump(document).encode())
    if kind == "flipped":
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def check_yaml(cli, tmp_path: Path, data: bytes) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    (work / "job.yaml").write_bytes(data)
    code, _, err = cli("create-inference-recommendations-job", "--cli-input-yaml", f"file://{work / 'job.yaml'}",
                         "--home", work / "home")
    assert_works_or_one_line(code, err, worked=(0,), refused=code if code in (252, 254) else 252)
    assert len(err) < 2000  # no expanded value echoed back


@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_cli_input_yaml(cli, tmp_path, monkeypatch, examples):
    monkeypatch.setattr(OfflineSageMakerClient, "_start_worker", lambda self, name: None)  # stays PENDING
    fuzz(examples, yaml_texts(), lambda data: check_yaml(cli, tmp_path, data))


# --- report folders ---------------------------------------------------------------------------------

@st.composite
def folder_changes(draw: Any, base: Path) -> tuple[str, bytes | None]:
    """One file of a run folder changed: a JSON file mutated (or its bytes), metrics.csv cut or
    flipped, or a file removed."""
    name = draw(st.sampled_from(["describe.json", "describe.json", "irsim.json", "irsim.json", "metrics.csv",
                                 "report.png"]))
    if draw(st.integers(0, 9)) == 0:
        return name, None
    original = (base / name).read_bytes()
    if name.endswith(".json"):
        return name, draw(file_bytes(json.loads(original)))
    data = bytearray(original[: draw(st.integers(0, len(original)))])
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return name, bytes(data)


def check_report(cli, tmp_path: Path, base: Path, change: tuple[str, bytes | None]) -> None:
    folder = copy_of(base, Path(tempfile.mkdtemp(dir=tmp_path)) / "run")
    name, data = change
    if data is None:
        (folder / name).unlink()
    else:
        (folder / name).write_bytes(data)
    before = everything_under(folder)
    code, _, err = cli("report", folder)
    assert_works_or_one_line(code, err, worked=(0,))
    if code == 0:
        assert (folder / "report.html").read_text().endswith("</html>\n")
    else:
        assert everything_under(folder) == before


@pytest.mark.slow(reason="many generated report folders and output paths, each a whole command (2.6 s measured)")
@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
def test_fuzzed_report_folders(cli, tmp_path, run_folder, examples):  # noqa: F811 — the fixture
    fuzz(examples, folder_changes(run_folder), lambda change: check_report(cli, tmp_path, run_folder, change))


# --- output paths -----------------------------------------------------------------------------------

PARTS = ["a-file", "a-folder", "a-fifo", "link-to-folder", "dangling-link", "new", "new", "..", ".", "x" * 300,
         "nul\x00byte", "spaced name", "é"]


def sandbox(tmp_path: Path) -> Path:
    """A fresh folder with one of each kind of thing an output path may run into."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "a-file").write_text("kept\n")
    (root / "a-folder").mkdir()
    os.mkfifo(root / "a-fifo")
    os.symlink(root / "a-folder", root / "link-to-folder")
    os.symlink(root / "nowhere", root / "dangling-link")
    return root


output_paths = st.lists(st.sampled_from(PARTS), min_size=1, max_size=3).map(lambda parts: "/".join(parts))
#: Each command and the flag whose value the path becomes; the simulation is kept short.
WRITERS = [("--per-minute", ["simulate", "--instance-type", "ml.c5.large", "--users", "1", "--duration", "60"]),
           ("--plot", ["simulate", "--instance-type", "ml.c5.large", "--users", "1", "--duration", "60"]),
           ("-o", ["report"])]


def check_output_path(cli, tmp_path: Path, base: Path, writer: tuple[str, list[str]], relative: str) -> None:
    root = sandbox(tmp_path)
    flag, argv = writer
    argv = [*argv, copy_of(base, root / "run")] if argv == ["report"] else argv
    target = f"{root}/{relative}"
    before = everything_under(root)
    code, _, err = cli(*argv, flag, target)
    assert_works_or_one_line(code, err, worked=(0,))
    after = everything_under(root)
    assert not [p for p in after if p.name.startswith((".irsim-probe.", "."))], "a temporary file was left"
    if code == 0:
        assert Path(target).is_file() and Path(target).stat().st_size > 0
    else:
        assert after == before, f"{sorted(after - before)} written by a refused command"
    assert (root / "a-file").read_bytes() == b"kept\n" or Path(target).resolve() == (root / "a-file").resolve()


@pytest.mark.slow(reason="many generated report folders and output paths, each a whole command (1.2 s measured)")
@pytest.mark.parametrize("examples", EXAMPLES_PER_READER)
@pytest.mark.parametrize("writer", WRITERS, ids=[flag for flag, _ in WRITERS])
def test_fuzzed_output_paths(cli, tmp_path, run_folder, writer, examples):  # noqa: F811 — the fixture
    fuzz(examples, output_paths, lambda path: check_output_path(cli, tmp_path, run_folder, writer, path))
