"""The ``irsim simulate`` command: output, files, and bad input (exit 2, no traceback).

Commands run in-process through the ``cli`` fixture (conftest.py); one slow test starts the
installed console script to check that it is wired to the same entry point."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from irsim.cli.app import main
from simulator import simulate


def test_summary_mentions_the_headline_numbers(cli):
    code, out, err = cli("simulate", "--instance-type", "ml.c5.large", "--users", "4", "--duration", "120",
                         "--seed", "3")
    assert code == 0 and err == ""
    assert "ml.c5.large" in out and "invocations/min" in out and "p95" in out


def test_json_output_matches_the_api(cli):
    code, out, _ = cli("simulate", "--instance-type", "ml.m5.xlarge", "--instances", "2", "--rate", "300",
                       "--duration", "90", "--seed", "5", "--json", "--routing", "least_outstanding_requests")
    assert code == 0
    document = json.loads(out)
    expected = simulate("demo", "ml.m5.xlarge", instance_count=2, arrival_rate_per_s=300, duration_s=90,
                        seed=5, routing="least_outstanding_requests")
    assert document["completed"] == expected.completed
    assert document["latency_ms"]["p99"] == pytest.approx(expected.percentile_ms(99))
    assert len(document["per_minute"]) == 2 and document["per_minute"][0]["Invocations"] > 0


def test_writes_csv_and_png(tmp_path, cli):
    csv, png = tmp_path / "m.csv", tmp_path / "m.png"
    code, _, _ = cli("simulate", "--instance-type", "ml.c5.large", "--users", "2", "--duration", "120",
                     "--per-minute", csv, "--plot", png)
    assert code == 0
    assert csv.read_text().splitlines()[0].startswith("minute,start_s,seconds,Users,Invocations")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "m.png"]  # no temporary files left


@pytest.mark.parametrize("argv, words", [
    (["--instance-type", "ml.x9.large", "--users", "3"], "--instance-type: 'ml.x9.large' is not in profile"),
    (["--instance-type", "ml.c5.large"], "give exactly one of --users"),
    (["--instance-type", "ml.c5.large", "--users", "3", "--duration", "0"], "--duration: must be a number > 0"),
    (["--instance-type", "ml.c5.large", "--rate", "-5"], "--rate: must be"),
    (["--instance-type", "ml.c5.large", "--users", "3", "--think-time", "-1"], "--think-time: must be a number >= 0"),
    (["--instance-type", "ml.c5.large", "--users", "3", "--profile", "/nonexistent.json"], "profile: cannot read"),
])
def test_bad_input_exits_2_with_the_field_named(argv, words, cli, tmp_path):
    csv = tmp_path / "never.csv"
    code, _, err = cli("simulate", *argv, "--per-minute", csv)
    assert code == 2 and words in err and "Traceback" not in err
    assert not csv.exists()


def test_bad_profile_field_is_named(tmp_path, cli):
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"model": "m", "instances": {"ml.c5.large": {
        "workers": 2, "service_time": {"family": "deterministic", "mean_ms": 3, "cv": 0.2}}}}))
    code, _, err = cli("simulate", "--service-profile", profile, "--instance-type", "ml.c5.large", "--users", "2")
    assert code == 2 and "instances.ml.c5.large.service_time.cv: not allowed for family 'deterministic'" in err


@pytest.mark.parametrize("argv", [["simulate", "--instance-type", "ml.c5.large", "--users", "0"],
                                  ["simulate", "--instance-type", "ml.c5.large", "--users", "2", "--rate", "3"],
                                  ["simulate", "--instance-type", "ml.c5.large", "--users", "2", "--routing", "x"],
                                  ["nonsense"]])  # bare `irsim` prints help: tests/test_cli_conventions.py
def test_usage_errors_exit_2(argv, cli):
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("irsim") and "error:" in err and len(err.splitlines()) == 1  # no usage block
    assert "--help` shows the usage" in err


def test_usage_errors_are_argparse_exits(capsys):
    """What the ``cli`` fixture folds into an exit code: argparse raises SystemExit(2)."""
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--instance-type", "ml.c5.large", "--users", "2", "--routing", "x"])
    assert exited.value.code == 2
    assert "argument --routing: 'x' is not one of random, least_outstanding_requests" in capsys.readouterr().err


def test_help_exits_0(cli):
    code, out, err = cli("simulate", "--help")
    assert code == 0 and err == "" and "--instance-type" in out


@pytest.mark.slow
def test_the_installed_console_script_runs_main():
    script = Path(sys.executable).with_name("irsim")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}: install with `pip install -e .`")
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "usage: irsim" in helped.stdout
    refused = subprocess.run([script, "simulate", "--instance-type", "ml.c5.large", "--users", "0"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and "error:" in refused.stderr
