"""`irsim measure` against real servers on loopback, with short minutes (--minute-seconds, the
testing aid): the bundled sample server (gunicorn) for the journey, and a small stdlib server
whose answers a test sets for the bad cases and to see what the generator sends. No wall time
is asserted: what is checked is what was sent, what was measured and what was written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

from calibration.cloudwatch import read_cloudwatch
from calibration.measured import read_measured
from irsim.cli.app import main
from irsim.measure.files import cloudwatch_documents
from simulator import load_profile

# Every test here runs a real server on loopback (the sample model, or a scripted one) and measures in
# real time: seconds each, so the whole module is left out of `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "measure-stairs-job.json"
MINUTE_S = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(**changes: object) -> dict:
    document = json.loads(EXAMPLE.read_text())
    document.update(changes)
    return document


def write_request(folder: Path, document: dict) -> Path:
    path = folder / "job.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(autouse=True)
def keep_affinity() -> Iterator[None]:
    """measure pins its own process (the generator): give the test process its cores back."""
    cores = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, cores)


@pytest.fixture(scope="module")
def sample_server() -> Iterator[tuple[str, int]]:
    """The bundled sample server, one worker on the first core, cheap enough for a loaded machine."""
    port = free_port()
    cores = sorted(os.sched_getaffinity(0))
    server = subprocess.Popen([sys.executable, "-m", "irsim.measure.sample_server", "--port", str(port), "--host",
                               "127.0.0.1", "--cpus", str(cores[0]), "--hidden", "32", "--layers", "2", "--io-ms",
                               "2"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as reply:
                if reply.status == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the sample server did not answer /ping")
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_irsim(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def measured(sample_server, tmp_path_factory) -> Path:
    """One measurement of the example's STAIRS (4 steps of 1 user) with --calibrate; its
    threshold loosened so that a machine loaded by other work still runs all four steps."""
    url, _ = sample_server
    folder = tmp_path_factory.mktemp("measured")
    loose = request(StoppingConditions={"ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 60000}],
                                        "FlatInvocations": "Continue"})
    cores = os.sched_getaffinity(0)
    try:
        code, out, err = run_irsim("measure", write_request(folder, loose), "--endpoint-url", url,
                                   "--minute-seconds", MINUTE_S,
                                   "--out", folder / "out", "--as-instance-type", "ml.c5.large", "--quiet",
                                   "--calibrate", folder / "profile.json")
    finally:
        os.sched_setaffinity(0, cores)
    assert code == 0, err
    assert "wrote" in out and "irsim calibrate: ml.c5.large" in out
    return folder


def test_a_stairs_test_writes_what_a_real_job_would(measured):
    out = measured / "out"
    assert sorted(p.name for p in out.iterdir()) == ["cloudwatch", "describe.json", "measure.json", "metrics.csv",
                                                     "steps.json"]
    frame = pd.read_csv(out / "metrics.csv")
    assert frame["minute"].tolist() == [1, 2, 3, 4] and frame["Users"].tolist() == [1, 2, 3, 4]
    assert (frame["Invocations"] > 20).all() and (frame["seconds"] == MINUTE_S).all()
    assert (frame["ModelLatency_p95"] >= frame["ModelLatency_p50"]).all()
    assert frame["CPUUtilization"].notna().all() and (frame["MemoryUtilization"] > 0).all()
    assert (frame["Invocation5XXErrors"] == 0).all() and (frame["Unanswered"] == 0).all()
    record = json.loads((out / "measure.json").read_text())
    assert record["minute_s"] == MINUTE_S and record["status"] == "COMPLETED"
    assert record["stop_reason"] == "TrafficPatternEnded" and record["machine"]["cores"] == os.cpu_count()
    assert record["generator"]["library"].startswith("aiohttp")


def test_the_answers_have_the_shapes_botocore_validates(measured):
    out = measured / "out"
    describe = json.loads((out / "describe.json").read_text())
    steps = json.loads((out / "steps.json").read_text())
    assert describe["Status"] == "COMPLETED"
    recommendation = describe["InferenceRecommendations"][0]
    assert recommendation["EndpointConfiguration"]["InstanceType"] == "ml.c5.large"
    assert recommendation["Metrics"]["CostPerHour"] > 0  # priced: the machine stands for ml.c5.large
    frame = pd.read_csv(out / "metrics.csv")
    best = json.loads((out / "measure.json").read_text())["best_minute"]
    per_60_s = round(frame.loc[frame["minute"] == best, "Invocations"].iloc[0] * 60 / MINUTE_S)
    assert steps["Steps"][0]["InferenceBenchmark"]["EndpointMetrics"]["MaxInvocations"] == per_60_s
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        for document in (describe, steps):
            for key in ("CreationTime", "CompletionTime", "LastModifiedTime"):
                document.pop(key, None)
        stub.add_response("describe_inference_recommendations_job", {
            **describe, "CreationTime": pd.Timestamp(0).to_pydatetime(),
            "LastModifiedTime": pd.Timestamp(0).to_pydatetime()}, {"JobName": describe["JobName"]})
        stub.add_response("list_inference_recommendations_job_steps", steps, {"JobName": describe["JobName"]})
        client.describe_inference_recommendations_job(JobName=describe["JobName"])
        client.list_inference_recommendations_job_steps(JobName=describe["JobName"])


def test_the_cloudwatch_export_is_what_calibration_reads(measured):
    """The exporter's documents, for minutes of 60 s, read back by the CloudWatch reader give
    the same numbers (the shortened minutes of a test carry their own Period)."""
    out = measured / "out"
    latency = json.loads((out / "cloudwatch" / "ModelLatency.json").read_text())
    assert latency["Period"] == MINUTE_S and latency["Datapoints"][0]["Unit"] == "Microseconds"
    frame = pd.read_csv(out / "metrics.csv")
    stretched = frame.assign(start_s=frame["start_s"] * 60 / MINUTE_S, seconds=60.0)
    documents = cloudwatch_documents(stretched, pd.Timestamp("2026-01-01T00:00:00Z").to_pydatetime(), 60.0)
    read, _ = read_cloudwatch(list(documents.values()))
    assert read["Invocations_Sum"].tolist() == frame["Invocations"].astype(float).tolist()
    assert read["ModelLatency_p95"].tolist() == pytest.approx(frame["ModelLatency_p95"].tolist(), abs=0.06)
    assert read["CPUUtilization_Average"].tolist() == pytest.approx(frame["CPUUtilization"].tolist(), abs=0.06)


def test_calibrate_gives_a_profile_that_irsim_run_takes(measured, tmp_path):
    profile = load_profile(measured / "profile.json")
    entry = profile.instances["ml.c5.large"]
    assert entry.calibrated and entry.workers >= 1
    assert entry.provenance["source"].startswith("measured locally on ")
    assert entry.provenance["stands_for"] == "ml.c5.large"
    code, out, err = run_irsim("calibrate", "--from-measure", measured / "out", "-o", tmp_path / "again.json")
    assert code == 0, err
    assert load_profile(tmp_path / "again.json").instances["ml.c5.large"].workers == entry.workers
    job = request(InputConfig={**request()["InputConfig"], "EndpointConfigurations": [
        {"InstanceType": "ml.c5.large"}, {"InstanceType": "ml.c5.xlarge"}]})
    code, out, err = run_irsim("run", write_request(tmp_path, job), "--profile", measured / "profile.json", "--json")
    assert code == 0, err
    assert len(json.loads(out)["InferenceRecommendations"]) == 2  # ml.c5.xlarge derived from the measured entry


def test_a_minute_the_generator_limited_is_left_out_of_calibration(measured, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "measure.json").write_text((measured / "out" / "measure.json").read_text())
    frame = pd.read_csv(measured / "out" / "metrics.csv")
    frame["GeneratorLimited"] = False  # whatever the loaded machine did to the real run
    frame.to_csv(folder / "metrics.csv", index=False)
    before = read_measured(folder)
    assert before.frame["Invocations_Sum"].iloc[0] == frame["Invocations"].iloc[0] * 60 / MINUTE_S
    frame.loc[0, "GeneratorLimited"] = True
    frame.to_csv(folder / "metrics.csv", index=False)
    after = read_measured(folder)
    assert len(after.frame) == len(before.frame) - 1
    assert after.left_out == ("minute 1: the load generator limited it", *before.left_out)


def test_the_simulators_stopping_rules_end_the_test(sample_server, tmp_path):
    """MaxInvocations (per 60 s, scaled to the short minute) ends the test after its first
    minute; the one-worker server, saturated from 2 users on, stops a long STAIRS by flat
    invocations; a threshold no minute meets fails the test, with the files written."""
    url, pid = sample_server
    job = request(StoppingConditions={"FlatInvocations": "Stop"})
    job["InputConfig"]["TrafficPattern"]["Stairs"] = {"DurationInSeconds": 480, "NumberOfSteps": 8, "UsersPerStep": 1}
    (tmp_path / "flat").mkdir()
    code, _, err = run_irsim("measure", write_request(tmp_path / "flat", job), "--endpoint-url", url,
                               "--minute-seconds", MINUTE_S, "--out", tmp_path / "flat" / "out", "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "flat" / "out" / "measure.json").read_text())["stop_reason"] == \
        "InvocationsFlattened"
    assert len(pd.read_csv(tmp_path / "flat" / "out" / "metrics.csv")) < 8
    stop_early = request(StoppingConditions={"MaxInvocations": 1})
    code, _, err = run_irsim("measure", write_request(tmp_path, stop_early), "--endpoint-url", url, "--pid", pid,
                               "--minute-seconds", MINUTE_S, "--out", tmp_path / "max", "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "max" / "measure.json").read_text())["stop_reason"] == "MaxInvocationsReached"
    assert len(pd.read_csv(tmp_path / "max" / "metrics.csv")) == 1
    too_strict = request(StoppingConditions={"ModelLatencyThresholds": [{"Percentile": "P99",
                                                                         "ValueInMilliseconds": 1}]})
    (tmp_path / "strict").mkdir()
    code, _out, err = run_irsim("measure", write_request(tmp_path / "strict", too_strict), "--endpoint-url", url,
                               "--minute-seconds", MINUTE_S, "--out", tmp_path / "strict" / "out", "--quiet")
    assert code == 1
    describe = json.loads((tmp_path / "strict" / "out" / "describe.json").read_text())
    assert describe["Status"] == "FAILED" and "threshold" in describe["FailureReason"]
    record = json.loads((tmp_path / "strict" / "out" / "measure.json").read_text())
    assert record["stop_reason"] == "LatencyThresholdExceeded"


# --- a server whose answers a test sets -----------------------------------------------------------

class Scripted(ThreadingHTTPServer):
    """Answers /ping with ``ping_status`` and /invocations with ``status``; keeps what it got."""

    daemon_threads = True
    ping_status = 200
    status = 200
    received: list[tuple[str, bytes]]

    def handle_error(self, request: object, client_address: object) -> None:
        """A connection the generator closed at the test's end is no error of the server's (and
        its traceback would land in the command's captured stderr)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Scripted

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(self.server.ping_status if self.path == "/ping" else 404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((self.headers.get("Content-Type", ""), body))
        self._answer(self.server.status, b"model failed" if self.server.status >= 400 else b"1.0")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted(("127.0.0.1", 0), Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server: Scripted) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def short(tmp_path: Path) -> Path:
    """Two one-minute steps (120 s of STAIRS, AWS's shortest), 1 user each."""
    job = request()
    job["InputConfig"]["TrafficPattern"]["Stairs"] = {"DurationInSeconds": 120, "NumberOfSteps": 2, "UsersPerStep": 1}
    return write_request(tmp_path, job)


def test_each_request_sends_the_next_file_of_a_tar_gz(scripted, tmp_path):
    archive = tmp_path / "payloads.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("b.json", b"[2]"), ("a.json", b"[1]"), ("c.json", b"[3]")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code, _out, err = run_irsim("measure", short(tmp_path), "--endpoint-url", url_of(scripted), "--payload", archive,
                               "--content-type", "application/json", "--minute-seconds", 1, "--out",
                               tmp_path / "out", "--quiet")
    assert code == 0, err
    bodies = [body for _, body in scripted.received]
    assert len(bodies) > 6 and bodies[:6] == [b"[1]", b"[2]", b"[3]", b"[1]", b"[2]", b"[3]"]
    assert {content_type for content_type, _ in scripted.received} == {"application/json"}


def test_the_generator_reports_its_own_load(scripted, tmp_path):
    code, out, err = run_irsim("measure", short(tmp_path), "--endpoint-url", url_of(scripted), "--minute-seconds", 1,
                               "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert (frame["GeneratorCPU"] > 0).all() and (frame["ClientCPU_us"] > 0).all()
    assert (frame["LoopLag_ms"] >= 0).all() and "load generator:" in out


@pytest.mark.parametrize("case", ["no answer", "ping not 200", "model errors", "unreadable payload",
                                  "bad tar.gz", "no such pid", "minute too short"])
def test_bad_cases_are_one_line_exit_2_and_nothing_written(case, scripted, tmp_path):
    job, out = short(tmp_path), tmp_path / "out"
    url = url_of(scripted)
    extra: list[object] = []
    if case == "no answer":
        url = f"http://127.0.0.1:{free_port()}"
    elif case == "ping not 200":
        scripted.ping_status = 503
    elif case == "model errors":
        scripted.status = 500
    elif case == "unreadable payload":
        extra = ["--payload", tmp_path / "missing.csv"]
    elif case == "bad tar.gz":
        (tmp_path / "bad.tar.gz").write_bytes(b"not a tar at all")
        extra = ["--payload", tmp_path / "bad.tar.gz"]
    elif case == "no such pid":
        extra = ["--pid", 2**22 + 12345]
    else:
        extra = ["--minute-seconds", 0.5]
    if "--minute-seconds" not in extra:
        extra += ["--minute-seconds", 1]
    code, _stdout, err = run_irsim("measure", job, "--endpoint-url", url, "--out", out, "--quiet", *extra)
    lines = [line for line in err.splitlines() if not line.startswith("irsim measure: ") or "error" in line]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("irsim measure: error: "), err
    assert not out.exists()
    if case == "model errors":
        assert "ModelError" in lines[0] and "500" in lines[0]
    if case == "ping not 200":
        assert "503" in lines[0] and "--endpoint-url" in lines[0]


@pytest.mark.slow
def test_ctrl_c_stops_the_test_and_keeps_the_minutes_measured(sample_server, tmp_path):
    """SIGINT, as Ctrl-C sends it, ends the test as StopInferenceRecommendationsJob ends a job:
    STOPPED, the minutes measured so far written (the cut minute as a partial one)."""
    url, _ = sample_server
    job = request()
    job["InputConfig"]["TrafficPattern"]["Stairs"] = {"DurationInSeconds": 1200, "NumberOfSteps": 20,
                                                      "UsersPerStep": 1}
    job["StoppingConditions"] = {"FlatInvocations": "Continue"}
    command = [str(Path(sys.executable).with_name("irsim")), "measure", str(write_request(tmp_path, job)),
               "--endpoint-url", url, "--minute-seconds", str(MINUTE_S), "--out", str(tmp_path / "out"), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:  # the last note comes just before the load starts
        if "pinned" in line:
            break
    time.sleep(3 * MINUTE_S + 0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "STOPPED (JobStopped)" in out
    describe = json.loads((tmp_path / "out" / "describe.json").read_text())
    steps = json.loads((tmp_path / "out" / "steps.json").read_text())
    assert describe["Status"] == "STOPPED" and steps["Steps"][0]["Status"] == "STOPPED"
    frame = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert len(frame) >= 3 and (frame["seconds"].iloc[:-1] == MINUTE_S).all()
    assert len(frame) < 20
