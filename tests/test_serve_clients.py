"""``irsim serve`` as its own process, answering clients no one here wrote: the AWS CLI (v1, in
its own virtual environment), the AWS SDK for JavaScript v3 (from the npm registry, run with
node), eight boto3 clients at once; then SIGTERM stops it and a running job still ends in its
worker. Each test skips with its reason when its client cannot be installed."""

import json
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from serveclients import NODE_DIR, aws_cli, client_environment, node_sdk, serve_process, tiny_request, wait_for

import irsim

pytestmark = pytest.mark.slow
ACTIVE = ("PENDING", "IN_PROGRESS", "STOPPING")


def boto3_client(url: str):
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


def long_request(name: str) -> dict:
    """Ten benchmarks one at a time (a STAIRS pattern of 20 minutes each): still running when stopped."""
    request = tiny_request(name)
    request["InputConfig"]["TrafficPattern"] = {
        "TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 1200, "NumberOfSteps": 10, "UsersPerStep": 3}}
    request["InputConfig"]["JobDurationInSeconds"] = 15000
    request["InputConfig"]["ResourceLimit"] = {"MaxNumberOfTests": 10, "MaxParallelOfTests": 1}
    request["InputConfig"]["EndpointConfigurations"] = [
        {"InstanceType": "ml.c5.2xlarge", "EnvironmentParameterRanges": {"CategoricalParameterRanges": [
            {"Name": "A", "Value": ["1", "2"]}, {"Name": "B", "Value": ["1", "2", "3"]},
            {"Name": "C", "Value": ["1", "2"]}]}}]
    request["StoppingConditions"] = {"ModelLatencyThresholds": [{"Percentile": "P99", "ValueInMilliseconds": 5000}],
                                     "FlatInvocations": "Continue"}
    return request


@pytest.fixture(scope="module")
def aws():
    executable, reason = aws_cli()
    if executable is None:
        pytest.skip(reason)
    return executable


def run_aws(aws: str, url: str, *arguments: str, **variables: str) -> subprocess.CompletedProcess:
    environment = client_environment(**variables)
    return subprocess.run([aws, *( ["--endpoint-url", url] if url else []), "--output", "json", "sagemaker",
                           *arguments], capture_output=True, text=True, env=environment, timeout=120)


def test_the_aws_cli_creates_describes_and_lists_jobs(aws, tmp_path):
    request_file = tmp_path / "job.json"
    request_file.write_text(json.dumps(tiny_request("cli-job")))
    with serve_process("--home", str(tmp_path / "home")) as (_, url):
        created = run_aws(aws, url, "create-inference-recommendations-job", "--cli-input-json",
                          f"file://{request_file}")
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["JobArn"].endswith("/cli-job")
        # The service-specific endpoint variable, no --endpoint-url: the three lines of docs/serve.md.
        listed = run_aws(aws, "", "list-inference-recommendations-jobs", AWS_ENDPOINT_URL_SAGEMAKER=url)
        assert listed.returncode == 0, listed.stderr
        assert [job["JobName"] for job in json.loads(listed.stdout)["InferenceRecommendationsJobs"]] == ["cli-job"]
        done = wait_for(lambda: (d := json.loads(run_aws(aws, url, "describe-inference-recommendations-job",
                                                         "--job-name", "cli-job").stdout))["Status"] not in ACTIVE
                        and d)
        assert done["Status"] == "COMPLETED" and done["InferenceRecommendations"]
        missing = run_aws(aws, url, "describe-inference-recommendations-job", "--job-name", "absent")
        assert missing.returncode in (254, 255)  # an error the service answered: v2 exits 254, v1 255
        assert "(ResourceNotFound)" in missing.stderr and "absent does not exist" in missing.stderr
        unknown = run_aws(aws, url, "list-training-jobs")
        assert unknown.returncode in (254, 255) and "UnknownOperationException" in unknown.stderr


JS_JOURNEY = textwrap.dedent("""
    const sm = require("@aws-sdk/client-sagemaker");
    const client = new sm.SageMakerClient({});  // region, credentials and endpoint from the environment
    const request = JSON.parse(process.argv[1]);
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    async function finished(name) {
      for (let i = 0; i < 600; i++) {
        const job = await client.send(new sm.DescribeInferenceRecommendationsJobCommand({JobName: name}));
        if (!["PENDING", "IN_PROGRESS", "STOPPING"].includes(job.Status)) return job;
        await sleep(200);
      }
      throw new Error("job " + name + " did not end");
    }
    (async () => {
      const out = {};
      out.arn = (await client.send(new sm.CreateInferenceRecommendationsJobCommand(request.tiny))).JobArn;
      const done = await finished(request.tiny.JobName);
      out.status = done.Status;
      out.creationIsDate = done.CreationTime instanceof Date;
      const recommendation = done.InferenceRecommendations[0];
      const scaling = await client.send(new sm.GetScalingConfigurationRecommendationCommand({
        InferenceRecommendationsJobName: request.tiny.JobName, RecommendationId: recommendation.RecommendationId}));
      out.scalingJob = scaling.InferenceRecommendationsJobName;
      out.scalingMetric = Object.keys(scaling.Metric || {}).length > 0;
      await client.send(new sm.CreateInferenceRecommendationsJobCommand(request.long));
      await client.send(new sm.StopInferenceRecommendationsJobCommand({JobName: request.long.JobName}));
      out.stopped = (await finished(request.long.JobName)).Status;
      const listed = await client.send(new sm.ListInferenceRecommendationsJobsCommand({SortBy: "Name",
                                                                                      SortOrder: "Ascending"}));
      out.listed = listed.InferenceRecommendationsJobs.map((job) => job.JobName);
      try {
        await client.send(new sm.DescribeInferenceRecommendationsJobCommand({JobName: "absent"}));
      } catch (error) {
        out.error = {name: error.name, status: error.$metadata.httpStatusCode, requestId: error.$metadata.requestId};
      }
      console.log(JSON.stringify(out));
    })().catch((error) => { console.error(error); process.exit(1); });
""")


def test_the_javascript_sdk_runs_the_job_calls_and_reads_the_scaling_recommendation(tmp_path):
    node, reason = node_sdk()
    if node is None:
        pytest.skip(reason)
    request = {"tiny": tiny_request("js-job"), "long": long_request("js-long")}
    with serve_process("--home", str(tmp_path / "home")) as (_, url):
        ran = subprocess.run([node, "-e", JS_JOURNEY, json.dumps(request)], cwd=NODE_DIR, capture_output=True,
                             text=True, timeout=300, env=client_environment(AWS_ENDPOINT_URL_SAGEMAKER=url))
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["arn"].endswith("/js-job") and out["status"] == "COMPLETED" and out["creationIsDate"]
    assert out["scalingJob"] == "js-job" and out["scalingMetric"]
    assert out["stopped"] == "STOPPED"
    assert out["listed"] == ["js-job", "js-long"]
    assert out["error"]["name"] == "ResourceNotFound" and out["error"]["status"] == 400 and out["error"]["requestId"]


def test_eight_clients_create_and_poll_jobs_at_once_on_one_store(tmp_path):
    with serve_process("--home", str(tmp_path / "home")) as (_, url):
        def journey(index: int) -> str:
            client = boto3_client(url)
            name = f"parallel-{index}"
            client.create_inference_recommendations_job(**tiny_request(name))
            return wait_for(lambda: (s := client.describe_inference_recommendations_job(JobName=name)["Status"])
                            not in ACTIVE and s, timeout_s=300)

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(journey, range(8)))
        assert statuses == ["COMPLETED"] * 8
        listed = boto3_client(url).list_inference_recommendations_jobs()["InferenceRecommendationsJobs"]
        assert sorted(job["JobName"] for job in listed) == [f"parallel-{i}" for i in range(8)]


def test_sigterm_stops_the_server_and_a_running_job_ends_in_its_worker(tmp_path):
    home = tmp_path / "home"
    with serve_process("--home", str(home), "--port", "0") as (process, url):
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        boto3_client(url).create_inference_recommendations_job(**tiny_request("outlives"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "stopped" in process.stderr.read()  # type: ignore[union-attr]
    done = irsim.client(home=home).wait_for_job("outlives", timeout_s=300)
    assert done["Status"] == "COMPLETED"


def test_bad_options_are_one_line_and_exit_2(tmp_path):
    for arguments, expected in ((["--port", "70000"], "--port: must be an integer from 0 to 65535"),
                                (["--invoke-body", str(tmp_path / "absent")], "--invoke-body: cannot read")):
        ran = subprocess.run([sys.executable, "-m", "irsim", "serve", "--home", str(tmp_path), *arguments],
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 2 and expected in ran.stderr
        assert len(ran.stderr.strip().splitlines()) == 1 and ran.stdout == ""


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with serve_process("--home", str(tmp_path / "a")) as (_, url):
        port = url.rsplit(":", 1)[1]
        ran = subprocess.run([sys.executable, "-m", "irsim", "serve", "--home", str(tmp_path / "b"), "--port", port],
                             capture_output=True, text=True, timeout=120)
    assert ran.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in ran.stderr and ran.stdout == ""
