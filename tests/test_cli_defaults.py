"""No dead ends and what users of such tools expect: a config file and the environment for the
defaults (flags > environment > file), --service-profile with --profile its deprecated name,
--output/--query on the native commands, the console at 100 columns, completion scripts for
bash and zsh, `irsim delete` and `create --job-name`, and ResourceInUse saying what to do."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from irsim.cli.config import apply_defaults
from irsim.cli.jobparsers import add_create_command
from irsim.cli.usage import OneLineErrors

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO = Path(__file__).resolve().parent.parent / "simulator" / "profiles" / "xgboost-demo.json"


def small_job(name: str = "small-one") -> dict:
    """A short Advanced job (two 60-second phases on one type) that the demo profile answers in seconds."""
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["JobName"] = name
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.large"}]
    request["InputConfig"]["TrafficPattern"] = {"TrafficType": "PHASES", "Phases": [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]}
    return request


def parsed(argv: list[str]) -> argparse.Namespace:
    parser = OneLineErrors(prog="irsim")
    add_create_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["create", *argv])


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A config file named by IRSIM_CONFIG, no IRSIM_* variable set."""
    for name in ("IRSIM_SERVICE_PROFILE", "IRSIM_REGION", "IRSIM_SEED", "IRSIM_HOME"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    monkeypatch.setenv("IRSIM_CONFIG", str(path))
    return path


def test_precedence_is_flags_then_environment_then_file_then_irsims_default(config, monkeypatch):
    config.write_text('service_profile = "profiles/mine.json"\nregion = "eu-west-1"\nseed = 7\nhome = "jobs"\n')
    args = parsed(["job.json"])
    sources = apply_defaults(args, "create").sources
    assert (args.region, args.seed) == ("eu-west-1", 7) and sources["seed"] == "config file"
    assert args.service_profile == str(config.parent / "profiles/mine.json")  # from the file's folder
    assert args.home == str(config.parent / "jobs")
    monkeypatch.setenv("IRSIM_REGION", "ap-south-1")
    monkeypatch.setenv("IRSIM_SEED", "9")
    args = parsed(["job.json"])
    apply_defaults(args, "create")
    assert (args.region, args.seed) == ("ap-south-1", 9)
    args = parsed(["job.json", "--region", "us-west-2", "--seed", "3"])
    assert apply_defaults(args, "create").explicit >= {"region", "seed"}
    assert (args.region, args.seed) == ("us-west-2", 3)
    config.unlink()
    monkeypatch.delenv("IRSIM_CONFIG")
    monkeypatch.delenv("IRSIM_REGION")
    monkeypatch.delenv("IRSIM_SEED")
    monkeypatch.setenv("HOME", str(config.parent))  # no ~/.irsim/config.toml there
    args = parsed(["job.json"])
    apply_defaults(args, "create")
    assert (args.region, args.seed, args.service_profile) == ("us-east-1", 0, "demo")


@pytest.mark.parametrize("text, said", [
    ("region = 3\n", "region must be a str"), ("colour = 'red'\n", "unknown key 'colour'"),
    ("seed = -1\n", "seed must be an integer from 0"), ("seed = \n", "config file")])
def test_a_bad_config_file_is_one_line_naming_it(text, said, config, cli):
    config.write_text(text)
    code, out, err = cli("run", EXAMPLES / "stairs-job.json", "--quiet")
    assert code == 2 and out == "" and said in err and str(config) in err and len(err.splitlines()) == 1


def test_the_config_file_reaches_a_run(config, cli, tmp_path):
    config.write_text(f'service_profile = "{tmp_path / "nope.json"}"\n')
    code, _, err = cli("run", EXAMPLES / "stairs-job.json", "--quiet")
    assert code == 2 and "--service-profile" in err and "nope.json" in err  # the file's profile was read


def test_profile_is_the_deprecated_name_of_service_profile(cli, tmp_path):
    code, _, err = cli("simulate", "--instance-type", "ml.c5.large", "--users", "1", "--duration", "60",
                       "--profile", DEMO)
    assert code == 0 and "warning: --profile is deprecated here: use --service-profile" in err
    code, _, err = cli("run", EXAMPLES / "stairs-job.json", "--profile", "prod")
    assert code == 2 and "'prod' is neither a service profile file nor 'demo'" in err
    assert "irsim describe-inference-recommendations-job --profile prod" in err
    code, _, err = cli("simulate", "--instance-type", "ml.c5.large", "--users", "1", "--duration", "60",
                       "--service-profile", "demo", "--profile", "demo")
    assert code == 2 and "not both" in err


@pytest.mark.slow
def test_output_and_query_on_native_commands_and_the_console_fits_100_columns(cli, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(small_job()))
    code, out, _ = cli("run", job, "--quiet", "--query", "InferenceRecommendations[0].EndpointConfiguration")
    assert code == 0 and json.loads(out)["InstanceType"] == "ml.c5.large"
    code, out, _ = cli("run", job, "--quiet", "--output", "yaml")
    assert code == 0 and yaml.safe_load(out)["JobName"] == "small-one"
    code, out, _ = cli("run", job, "--quiet", "--output", "text", "--query", "Status")
    assert code == 0 and out.strip() == "COMPLETED"
    code, out, _ = cli("run", job, "--quiet")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100 and "$/M inf" in out
    assert "e-0" not in out
    code, out, _ = cli("run", job, "--quiet", "--wide")
    assert code == 0 and "CPU %: CloudWatch's CPUUtilization, 100% per vCPU" in out
    code, _, err = cli("run", job, "--quiet", "--query", "[[[")
    assert code == 2 and err.startswith("irsim run: error: --query:")


@pytest.mark.slow(reason="shtab builds both completion scripts (1.0 s measured)")
def test_completion_scripts_for_bash_and_zsh(cli, tmp_path):
    code, out, _ = cli("completion", "bash")
    assert code == 0 and "complete " in out and "--service-profile" in out
    assert "describe-inference-recommendations-job" in out
    if shutil.which("bash"):
        script = tmp_path / "irsim.bash"
        script.write_text(out)
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0  # the script parses
    code, out, _ = cli("completion", "zsh")
    assert code == 0 and out.startswith("#compdef irsim") and "--service-profile" in out


@pytest.mark.slow
def test_delete_job_name_and_what_resource_in_use_says(cli, home, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(small_job("twice")))
    assert cli("create", job, "--home", home)[0] == 0
    code, _, err = cli("create", job, "--home", home)
    assert code == 2 and "already exists" in err and "--job-name" in err and "irsim delete twice" in err
    code, out, _ = cli("create", job, "--home", home, "--job-name", "twice-again")
    assert code == 0 and "twice-again" in out
    code, _, err = cli("create-inference-recommendations-job", "--cli-input-json", f"file://{job}", "--home", home)
    assert code == 254 and "ResourceInUse" in err and "irsim delete NAME" in err
    running = cli("describe", "twice-again", "--home", home, "--query", "Status")[1].strip().strip('"')
    if running in ("PENDING", "IN_PROGRESS"):
        code, _, err = cli("delete", "twice-again", "--home", home)
        assert code == 2 and "--force" in err
    assert cli("delete", "twice-again", "--home", home, "--force")[0] == 0
    assert cli("wait", "twice", "--home", home, "--timeout", "120")[0] == 0
    code, out, _ = cli("delete", "twice", "--home", home)
    assert code == 0 and out.startswith("deleted twice (COMPLETED)")
    code, _, err = cli("delete", "twice", "--home", home)
    assert code == 2 and "no job named twice" in err
    assert cli("create", job, "--home", home)[0] == 0  # the name is free again
    code, out, _ = cli("list", "--home", home, "--output", "json", "--query", "InferenceRecommendationsJobs[].JobName")
    assert code == 0 and json.loads(out) == ["twice"]
