"""Sweeps on Dask: the same results with 1 or 2 workers and with a separately started
scheduler, failures recorded without stopping the rest, --resume, bad sweep files."""

import json
from pathlib import Path

import pandas as pd
import pytest

from irsim.cli.app import main
from irsim.planning.sweep import load_sweep, run_sweep

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def write_sweep(tmp_path, axes, name="sweep.json"):
    base = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    path = tmp_path / name
    path.write_text(json.dumps({"base": base, "profile": "demo", "seed": 5, "axes": axes}))
    return path


AXES = {"instance_types": [["ml.c5.large", "ml.c5.xlarge"]], "target_per_minute": [3000, 12000],
        "slo": ["P95=20", "P95=100"], "replications": [2]}


def table_of(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path / "results.csv")
    return table.sort_values(["scenario", "endpoint"]).reset_index(drop=True)


@pytest.mark.slow
def test_results_do_not_depend_on_workers_or_on_the_scheduler(tmp_path):
    from dask.distributed import LocalCluster

    sweep = load_sweep(write_sweep(tmp_path, AXES))
    assert len(sweep.scenarios) == 4 and len({s["seed"] for s in sweep.scenarios}) == 4
    one = run_sweep(sweep, tmp_path / "one", workers=1)
    run_sweep(sweep, tmp_path / "two", workers=2)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        run_sweep(sweep, tmp_path / "remote", scheduler=cluster.scheduler_address)
    assert (one["status"] == "ok").all() and len(one) >= 4
    pd.testing.assert_frame_equal(table_of(tmp_path / "one"), table_of(tmp_path / "two"))
    pd.testing.assert_frame_equal(table_of(tmp_path / "one"), table_of(tmp_path / "remote"))
    assert pd.read_parquet(tmp_path / "one" / "results.parquet").shape == one.shape
    assert {"cost_vs_rate.png", "crossover.png"} <= {p.name for p in (tmp_path / "one").iterdir()}
    # Cheaper or equal when the threshold is looser, at the same rate.
    chosen = one[one["chosen"]].set_index(["target_per_minute", "slo_ms"])["cost_per_hour"]
    for rate in (3000, 12000):
        assert chosen[(rate, 100.0)] <= chosen[(rate, 20.0)]


@pytest.mark.slow
def test_a_failing_scenario_is_recorded_and_resume_skips_finished_ones(tmp_path, capsys):
    axes = {"instance_types": [["ml.c5.large"], ["ml.x9.large"]], "target_per_minute": [3000], "replications": [2]}
    path = write_sweep(tmp_path, axes)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 1
    table = pd.read_csv(out / "results.csv")
    statuses = dict(zip(table["instance_types"], table["status"], strict=True))
    assert statuses['["ml.c5.large"]'] == "ok" and statuses['["ml.x9.large"]'] == "error"
    assert "ml.x9.large" in table.loc[table["status"] == "error", "error"].iloc[0]
    capsys.readouterr()
    answers = {p: p.stat().st_mtime_ns for p in out.rglob("*.json")}
    assert len(answers) >= 2  # one answer file per scenario
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"]) == 1
    assert "(resuming)" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.json")} == answers  # both were done: nothing ran again
    assert len(pd.read_csv(out / "results.csv")) == len(table)


@pytest.mark.parametrize("document, words", [
    ({"axes": {"target_per_minute": [1]}}, '"base"'),
    ({"base": {}, "axes": {"colour": [1]}}, "is not an axis"),
    ({"base": {}, "axes": {"target_per_minute": []}}, "non-empty list"),
])
def test_bad_sweep_files_exit_2(tmp_path, capsys, document, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.slow
def test_an_unreachable_scheduler_exits_2_and_writes_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path, {"target_per_minute": [3000]})
    assert main(["sweep", str(path), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "out")]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
