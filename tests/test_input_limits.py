"""Input readers never wait or grow without limit (issue 27, item 3): a FIFO, a device or a
folder given as an input file is refused before it is opened, a file over the size limit
before it is read, a YAML document by the size its aliases expand to, nested YAML by depth,
and a value echoed back in an error is cut to a few hundred characters everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import irsim
from irsim.cli.app import main
from irsim.cli.awsshapes import MAX_YAML_NODES, AwsCliUsageError, yaml_argument
from irsim.errors import MAX_MESSAGE_CHARS, shortened
from irsim.exitcodes import AWS_PARAMETER_ERROR, EXIT_USAGE
from simulator import InputError
from simulator.jsonfiles import MAX_INPUT_BYTES, read_input, read_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: Generous for a refusal that reads nothing; a reader that waits on a FIFO never returns.
NO_WAIT_S = 60


def run_cli(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``irsim argv`` in a subprocess that is killed if it waits (a FIFO read blocks forever)."""
    env = {**os.environ, "IRSIM_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "irsim.cli", *argv], capture_output=True, text=True,
                          timeout=NO_WAIT_S, env=env)


@pytest.mark.slow(reason="a subprocess that must not block on a FIFO / parse deep YAML (2.1 s measured)")
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_fifo_as_the_job_file_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "job.json"
    os.mkfifo(fifo)
    done = run_cli("run", str(fifo), home=tmp_path / "home")
    assert done.returncode == EXIT_USAGE
    assert done.stderr.strip().count("\n") == 0
    assert "FIFO" in done.stderr and "not a regular file" in done.stderr


@pytest.mark.parametrize("path, kind", [("/dev/zero", "character device"), ("/", "folder")])
def test_devices_and_folders_are_refused_by_every_json_reader(path, kind):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(InputError, match=kind):
        read_json(path, "job")


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:  # sparse: no disk is used, the size is what stat reports
        handle.truncate(MAX_INPUT_BYTES + 1)
    with pytest.raises(InputError, match="over the limit"):
        read_json(big, "job")
    small = tmp_path / "small.json"
    small.write_text('{"a": 1}')
    assert read_input(small, "job") == b'{"a": 1}'
    with pytest.raises(InputError, match="over the limit of 4 bytes"):
        read_input(small, "job", max_bytes=4)


def test_the_limits_hold_for_the_cloudwatch_and_curve_readers(tmp_path):
    from autoscaling.curves import load_curve
    from calibration.documents import load_json
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    with pytest.raises(InputError, match="character device"):
        load_curve("/dev/zero")
    with pytest.raises(InputError, match="character device"):
        load_json("/dev/zero", "CloudWatch export")


def alias_bomb(levels: int) -> str:
    """A YAML document of a few hundred bytes that stands for 9**levels strings."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_measured_not_expanded():
    document = alias_bomb(9)  # 9**9 = 387 million strings
    assert len(document) < 1_000
    with pytest.raises(AwsCliUsageError, match=r"expands to .* nodes") as refused:
        yaml_argument(document, "--cli-input-yaml")
    assert len(str(refused.value)) < 300


def test_yaml_aliases_under_the_limit_still_work():
    document = "base: &b {Key: k, Value: v}\nTags: [*b, *b]\n"
    assert yaml_argument(document, "--cli-input-yaml") == {"base": {"Key": "k", "Value": "v"},
                                                          "Tags": [{"Key": "k", "Value": "v"}] * 2}
    just_over = "x: &x [" + ",".join(["1"] * 99) + "]\ny: [" + ",".join(["*x"] * (MAX_YAML_NODES // 100 + 1)) + "]\n"
    with pytest.raises(AwsCliUsageError):
        yaml_argument(just_over, "--cli-input-yaml")


@pytest.mark.slow(reason="a subprocess that must not block on a FIFO / parse deep YAML (0.9 s measured)")
def test_deep_yaml_is_a_parameter_error_not_a_crash(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("JobName: " + "[" * 10_000 + "]" * 10_000 + "\n")
    code = main(["describe-inference-recommendations-job", "--cli-input-yaml", f"file://{deep}",
                 "--home", str(tmp_path / "home")])
    assert code == AWS_PARAMETER_ERROR
    assert "nested too deeply" in capsys.readouterr().err


def test_shortened_keeps_head_and_tail_and_says_what_it_cut():
    message = "JobName: " + "x" * 100_000 + " (allowed: 1 to 64 characters)"
    short = shortened(message)
    assert len(short) <= MAX_MESSAGE_CHARS + 60
    assert short.startswith("JobName: xxx") and short.endswith("(allowed: 1 to 64 characters)")
    assert "characters cut" in short
    assert shortened("short") == "short"


def test_a_huge_value_is_not_echoed_by_the_client_or_the_command_line(tmp_path, capsys):
    client = irsim.client(home=tmp_path / "home")
    with pytest.raises(ClientError) as refused:
        client.describe_inference_recommendations_job(JobName="j" + "x" * 100_000)
    assert len(refused.value.response["Error"]["Message"]) <= MAX_MESSAGE_CHARS + 60
    request = json.loads((EXAMPLES / "stairs-job.json").read_text())
    request["JobDescription"] = "d" * 100_000
    job = tmp_path / "job.json"
    job.write_text(json.dumps(request))
    code = main(["create", str(job), "--home", str(tmp_path / "home")])
    err = capsys.readouterr().err
    assert code != 0
    assert max(len(line) for line in err.splitlines()) <= MAX_MESSAGE_CHARS + 120


def strict_json(text: str) -> object:
    """JSON as a strict reader (jq, JavaScript) parses it: NaN and Infinity are errors."""
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_output_has_no_nan_even_when_nothing_completed(capsys):
    code = main(["simulate", "--instance-type", "ml.c5.xlarge", "--rate", "0.001", "--duration", "1", "--json"])
    assert code == 0
    document = strict_json(capsys.readouterr().out)
    assert document["completed"] == 0 and document["latency_ms"]["mean"] is None


def test_finite_turns_every_nan_and_infinity_into_null():
    import numpy as np

    from irsim.present.formats import dumps, finite
    document = {"a": float("nan"), "b": [np.float64("inf"), 1.5, np.float32(2.0)], "c": {"d": -float("inf")}}
    assert finite(document) == {"a": None, "b": [None, 1.5, 2.0], "c": {"d": None}}
    assert strict_json(dumps(document)) == {"a": None, "b": [None, 1.5, 2.0], "c": {"d": None}}
