"""Outputs and the readers around them: a destination that cannot be written is refused before
any work (the work itself is replaced by a tripwire here), a write the system refuses (a file
size limit, a full disk) is one line and leaves nothing, `irsim report` reads its folder on the
hardened loader, --resume runs an unreadable scenario file again, and --scheduler and the local
cluster are one line and loopback-only."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from test_store_hardening import one_line_naming, unwritable
from test_sweep import write_sweep

from irsim.cli import report, run, simulate, sweep
from irsim.exitcodes import EXIT_USAGE
from irsim.present.files import WriteError, write_atomically, write_folder

ROOT = Path(__file__).resolve().parent.parent
SEED_JOB = ROOT / "examples" / "seed-advanced-job.json"


def tripwire(*args: object, **kwargs: object) -> None:
    raise AssertionError("the work ran before the destination was checked")


@pytest.fixture
def no_work(monkeypatch):
    """The simulation, the job and the sweep fail the test if they are reached."""
    for module, name in ((simulate, "simulate"), (run, "execute_job"), (sweep, "run_sweep"),
                         (report, "build_report")):
        monkeypatch.setattr(module, name, tripwire)


def left_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


SIMULATE = ("simulate", "--instance-type", "ml.c5.large", "--users", "2", "--duration", "120")


@pytest.mark.parametrize("flag", ["--per-minute", "--plot"])
def test_a_folder_given_as_a_file_is_refused_before_simulating(tmp_path, cli, no_work, flag):
    (tmp_path / "a-folder").mkdir()
    code, out, err = cli(*SIMULATE, flag, tmp_path / "a-folder")
    assert code == EXIT_USAGE and out == "" and one_line_naming(err, flag, "is a folder")
    assert left_in(tmp_path) == {"a-folder"} and left_in(tmp_path / "a-folder") == set()


def test_a_file_where_a_folder_is_expected_is_refused_before_running(tmp_path, cli, no_work):
    (tmp_path / "a-file").write_text("kept\n")
    for out_dir in (tmp_path / "a-file", tmp_path / "a-file" / "below"):
        code, _, err = cli("run", SEED_JOB, "--out", out_dir)
        assert code == EXIT_USAGE and one_line_naming(err, "--out", "a-file"), err
    code, _, err = cli("sweep", ROOT / "examples" / "sweep.json", "--out", tmp_path / "a-file")
    assert code == EXIT_USAGE and one_line_naming(err, "--out", "a-file"), err
    assert left_in(tmp_path) == {"a-file"} and (tmp_path / "a-file").read_text() == "kept\n"


def test_report_refuses_a_folder_as_its_page_before_reading(tmp_path, cli, no_work):
    (tmp_path / "page.html").mkdir()
    code, _, err = cli("report", tmp_path, "-o", tmp_path / "page.html")
    assert code == EXIT_USAGE and one_line_naming(err, "-o", "is a folder")


def test_a_folder_that_cannot_be_written_is_refused_before_running(tmp_path, cli, no_work):
    locked = tmp_path / "locked"
    locked.mkdir()
    with unwritable(locked):
        code, _, err = cli("run", SEED_JOB, "--out", locked / "out")
        assert code == EXIT_USAGE and one_line_naming(err, "--out", str(locked))
        code, _, err = cli(*SIMULATE, "--per-minute", locked / "minutes.csv")
        assert code == EXIT_USAGE and one_line_naming(err, "--per-minute", str(locked))
    assert left_in(locked) == set()


def irsim_limited(args: list[object], max_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    """``irsim *args`` in a process that may write no file larger than ``max_bytes`` (ulimit -f)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return subprocess.run([sys.executable, "-m", "irsim.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, preexec_fn=limit, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                          timeout=600)


@pytest.mark.slow(reason="whole commands under a file-size limit, a full disk or a bad report folder (6.8 s measured)")
def test_a_file_size_limit_is_one_line_and_leaves_nothing(tmp_path):
    done = irsim_limited([*SIMULATE, "--per-minute", tmp_path / "minutes.csv"], 300, tmp_path)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert one_line_naming(done.stderr, "minutes.csv", "File too large")
    assert left_in(tmp_path) == set()
    done = irsim_limited(["run", SEED_JOB, "--out", tmp_path / "out", "--quiet"], 20_000, tmp_path)
    assert done.returncode == EXIT_USAGE and one_line_naming(done.stderr, "File too large"), done.stderr
    assert left_in(tmp_path) == set()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (root only); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.mark.slow(reason="whole commands under a file-size limit, a full disk or a bad report folder (1.0 s measured)")
def test_a_full_disk_is_one_line_and_leaves_nothing(tiny_disk, cli):
    code, _, err = cli("run", SEED_JOB, "--out", tiny_disk / "out", "--quiet")
    assert code == EXIT_USAGE and one_line_naming(err, "No space left on device"), err
    assert left_in(tiny_disk) == set()
    with pytest.raises(WriteError, match="No space left"):
        write_atomically(tiny_disk / "big.bin", lambda tmp: tmp.write_bytes(b"x" * 200_000))
    with pytest.raises(WriteError, match="No space left"):
        write_folder(tiny_disk / "folder", {"a": lambda tmp: tmp.write_text("a"),
                                            "b": lambda tmp: tmp.write_bytes(b"x" * 200_000)})
    assert left_in(tiny_disk) == set()


# --- irsim report on folders that are not as irsim writes them --------------------------------

@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A real `irsim run --out` folder (made once)."""
    folder = tmp_path_factory.mktemp("run") / "out"
    request = json.loads(SEED_JOB.read_text())
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"}]
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]
    job = folder.parent / "job.json"
    job.write_text(json.dumps(request))
    done = subprocess.run([sys.executable, "-m", "irsim.cli", "run", str(job), "--out", str(folder), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    return folder


def copy_of(folder: Path, into: Path) -> Path:
    into.mkdir()
    for path in folder.iterdir():
        (into / path.name).write_bytes(path.read_bytes())
    return into


BAD_FILES = [
    ("describe.json", "{not json", "not valid JSON"),
    ("describe.json", "[1, 2]", "not as"),
    ("describe.json", json.dumps({"JobName": 3}), "not as"),
    ("irsim.json", json.dumps({"benchmarks": "many"}), ""),
    ("metrics.csv", "", "not a CSV table"),
    ("metrics.csv", "benchmark\n\"unclosed", ""),
]


@pytest.mark.slow(reason="whole commands under a file-size limit, a full disk or a bad report folder (3.2 s measured)")
@pytest.mark.parametrize("name, text, words", BAD_FILES)
def test_report_on_a_bad_run_folder_is_one_line(run_folder, tmp_path, cli, name, text, words):
    folder = copy_of(run_folder, tmp_path / "copy")
    (folder / name).write_text(text)
    code, _, err = cli("report", folder)
    assert code in (0, EXIT_USAGE), err
    if code:
        assert one_line_naming(err, str(folder), words) and not (folder / "report.html").exists()


@pytest.mark.slow(reason="the first test here pays for a whole `irsim run` (run_folder, about 5 s)")
def test_report_refuses_a_fifo_in_the_folder_without_waiting(run_folder, tmp_path, cli):
    folder = copy_of(run_folder, tmp_path / "copy")
    (folder / "describe.json").unlink()
    os.mkfifo(folder / "describe.json")
    code, _, err = cli("report", folder)
    assert code == EXIT_USAGE and one_line_naming(err, "FIFO")


@pytest.mark.slow(reason="the first test here pays for a whole `irsim run` (run_folder, about 5 s)")
def test_a_good_run_folder_still_reports(run_folder, tmp_path, cli):
    folder = copy_of(run_folder, tmp_path / "copy")
    code, _, err = cli("report", folder)
    assert code == 0 and (folder / "report.html").read_text().startswith("<!DOCTYPE html>"), err


# --- sweep: --resume over a corrupt scenario file, --scheduler, the local cluster -------------------

@pytest.mark.parametrize("address, words", [
    ("tls://127.0.0.1:9", "TLS settings"), ("foo://host:1", "not a network scheduler"),
    ("tcp://127.0.0.1", "not an address"), ("tcp://127.0.0.1:99999", "nothing answers"),
    ("tcp://127.0.0.1:9", "nothing answers"), ("inproc://x", "not an address")])
def test_a_scheduler_that_cannot_be_reached_is_one_line(tmp_path, cli, address, words):
    path = write_sweep(tmp_path, {"target_per_minute": [3000]})
    code, _, err = cli("sweep", path, "--scheduler", address, "--out", tmp_path / "out")
    assert code == EXIT_USAGE and one_line_naming(err, "--scheduler", words), err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_resume_runs_a_corrupt_scenario_file_again(tmp_path, cli):
    path = write_sweep(tmp_path, {"target_per_minute": [3000, 6000], "replications": [2]})
    out = tmp_path / "out"
    assert cli("sweep", path, "--out", out, "--workers", "1", "--quiet")[0] == 0
    first = (out / "results.csv").read_text()
    files = sorted((out / "scenarios").glob("*.json"))
    files[0].write_text('[{"scenario": "')  # cut short
    files[1].write_text("[]")  # not its results
    code, _, err = cli("sweep", path, "--out", out, "--workers", "1", "--quiet", "--resume")
    assert code == 0 and "Traceback" not in err, err
    assert (out / "results.csv").read_text() == first


def listening(process: psutil.Process) -> list:
    return [c.laddr for p in (process, *process.children(recursive=True))
            for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]


@pytest.mark.slow
def test_the_local_cluster_listens_on_loopback_only_with_tls_and_no_dashboard():
    from irsim.planning.cluster import connect, local_cluster

    before = set(listening(psutil.Process()))
    client, cluster = local_cluster(1)
    try:
        opened = set(listening(psutil.Process())) - before
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
        assert opened and all(address.ip == "127.0.0.1" for address in opened)
        assert all(address.port != 8787 for address in opened)
        assert client.submit(sum, [1, 2], pure=False).result() == 3
        with pytest.raises(Exception, match="TLS settings"):
            connect(cluster.scheduler_address)  # without the cluster's certificate: refused
    finally:
        client.close()
        cluster.close()
