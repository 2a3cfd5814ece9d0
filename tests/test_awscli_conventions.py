"""The AWS CLI v2's conventions on irsim's AWS-shaped commands (issue 16, item 5): --query,
--output json|text|table|yaml, --region and --profile as the CLI reads them, --cli-input-json
and --cli-input-yaml, --generate-cli-skeleton, help from botocore's model, exit codes 252, 253,
254, 255 in one line; and the real-AWS commands under their new name, `irsim real-aws`.

Jobs are imported into a fresh store (no worker runs); real-AWS calls go through botocore's
Stubber on a real boto3 client, never the network."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.stub import Stubber

from irsim.boto3mode import transport
from irsim.boto3mode.importer import describe_document, import_job
from irsim.cli import awscli
from irsim.cli.app import build_parser
from irsim.cli.awsoutput import render_table
from irsim.cli.awsshapes import plain_text
from irsim.durable.client import OfflineSageMakerClient
from irsim.durable.store import JobStore
from irsim.service.awsmodel import operation

ROLE = "arn:aws:iam::111122223333:role/SageMakerInferenceRecommenderRole"
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DONE = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
ISO_CREATED, ISO_DONE = "2026-03-01T12:00:00+00:00", "2026-03-01T13:00:00+00:00"
RECOMMENDED = (("ml.c5.large", 0.119, 1.2e-05, 4.0), ("ml.m5.xlarge", 0.23, 2.9e-05, 7.5))


def describe(name: str) -> dict:
    """A finished job's Describe response (two recommendations), as the service returns it."""
    recommendations = [{
        "RecommendationId": f"{name}-{i}",
        "Metrics": {"CostPerHour": hour, "CostPerInference": inference, "MaxInvocations": 2000,
                    "ModelLatency": 12000},
        "EndpointConfiguration": {"EndpointName": f"{name}-ep-{i}", "VariantName": "AllTraffic",
                                  "InstanceType": instance, "InitialInstanceCount": 1},
        "ModelConfiguration": {},
    } for i, (instance, hour, inference, _) in enumerate(RECOMMENDED)]
    return {"JobName": name, "JobType": "Advanced", "JobDescription": "a test job",
            "JobArn": f"arn:aws:sagemaker:us-east-1:111122223333:inference-recommendations-job/{name}",
            "RoleArn": ROLE, "Status": "COMPLETED", "CreationTime": CREATED, "CompletionTime": DONE,
            "LastModifiedTime": DONE, "InputConfig": {"ModelPackageVersionArn":
                                                     "arn:aws:sagemaker:us-east-1:111122223333:model-package/m/1"},
            "InferenceRecommendations": recommendations}


@pytest.fixture
def store(home, monkeypatch):
    """A store holding two finished jobs, job-a and job-b; no AWS configuration of the user's."""
    for variable in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_DEFAULT_OUTPUT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    jobs = JobStore(home)
    for name in ("job-a", "job-b"):
        import_job(jobs, describe_document(describe(name), "test"), {"Steps": []}, "test")
    return home


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err and "usage:" not in err, err
    return lines[0]


# --- help from botocore's model -------------------------------------------------------------------

def subparser(name: str) -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


@pytest.mark.slow(reason="every operation of botocore's model walked (0.4 s measured)")
@pytest.mark.parametrize("command", awscli.AWS_COMMANDS, ids=lambda c: c.name)
def test_every_option_has_help_and_the_members_help_is_the_models_documentation(command):
    parser = subparser(command.name)
    shape = operation(command.operation).input_shape
    by_flag = {option: action for action in parser._actions for option in action.option_strings}
    for action in parser._actions:
        assert action.help, f"{command.name} {action.option_strings} has no help"
    paging = command.paging or {}
    for member_name, member in shape.members.items():
        action = by_flag["--" + "-".join(w.lower() for w in _words(member_name))]
        if member_name in (paging.get("input_token"), paging.get("limit_key")):
            assert action.help == argparse.SUPPRESS  # hidden behind --starting-token/--max-items, as the CLI's
            continue
        text = plain_text(member.documentation)
        assert text and text.replace("%", "%%") in action.help and "<" not in action.help
        assert ("required" in action.help) == (member_name in shape.required_members)


def _words(member_name: str) -> list[str]:
    """JobName -> [Job, Name] (botocore's xform_name, rewritten here to check it independently)."""
    words, word = [], ""
    for char in member_name:
        if char.isupper() and word and not word[-1].isupper():
            words.append(word)
            word = ""
        word += char
    return [*words, word]


def test_help_prints_the_models_documentation(cli):
    code, out, _ = cli("describe-inference-recommendations-job", "--help")
    assert code == 0 and "Provides the results of the Inference Recommender job" in out
    assert "The name of the job" in out and "<p>" not in out and "--irsim-profile PROFILE" not in out
    code, out, _ = cli("create-inference-recommendations-job", "--help")
    assert code == 0 and "--irsim-profile" in out and "irsim's service profile" in out
    assert "Use a specific profile from your AWS credential file" in out


# --- exit codes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["describe-inference-recommendations-job", "--job-name", "job-a", "--bogus"],
    ["describe-inference-recommendations-job", "--job-name", "job-a", "stray"],
    ["describe-inference-recommendations-job", "--job-name"],
    ["describe-inference-recommendations-job", "--job-nam", "job-a"],  # never abbreviated
    ["describe-inference-recommendations-job", "--job-name", "job-a", "--output", "csv"],
    ["describe-inference-recommendations-job", "--job-name", "job-a", "--query", "InferenceRecommendations[0"],
    ["describe-inference-recommendations-job", "--cli-input-json", "{}", "--cli-input-yaml", "{}"],
    ["describe-inference-recommendations-job", "--cli-input-json", "{not json"],
    ["describe-inference-recommendations-job", "--cli-input-yaml", "[1, 2]"],
    ["describe-inference-recommendations-job", "--generate-cli-skeleton", "xml"],
    ["describe-inference-recommendations-job"],  # botocore: Missing required parameter JobName
    ["list-inference-recommendations-jobs", "--max-items", "ten"],
    ["create-inference-recommendations-job", "--seed", "-1"],
], ids=lambda argv: " ".join(argv[1:]) or "no JobName")
def test_usage_errors_exit_252_in_one_line_without_the_usage(store, cli, argv):
    code, out, err = cli(*argv, "--home", store)
    assert code == 252 and out == ""
    one_line(err)


def test_service_errors_exit_254_as_the_aws_cli_words_them(store, cli):
    code, out, err = cli("describe-inference-recommendations-job", "--job-name", "nobody", "--home", store)
    assert code == 254 and out == ""
    assert one_line(err).startswith("An error occurred (ResourceNotFound) when calling the "
                                    "DescribeInferenceRecommendationsJob operation: ")


def test_any_other_failure_exits_255_and_debug_shows_the_traceback(store, cli, monkeypatch):
    def broken(self, **kwargs):
        raise RuntimeError("the disk caught fire")
    monkeypatch.setattr(OfflineSageMakerClient, "describe_inference_recommendations_job", broken)
    code, _, err = cli("describe-inference-recommendations-job", "--job-name", "job-a", "--home", store)
    assert code == 255 and one_line(err) == "the disk caught fire"
    code, _, err = cli("describe-inference-recommendations-job", "--job-name", "job-a", "--home", store, "--debug")
    assert code == 255 and "Traceback" in err and "RuntimeError: the disk caught fire" in err


# --- --output and --query -------------------------------------------------------------------------

def answer(cli, store, *argv) -> str:
    code, out, err = cli(*argv, "--home", store)
    assert code == 0, err
    return out


def test_describe_in_every_output_format(store, cli):
    argv = ("describe-inference-recommendations-job", "--job-name", "job-a")
    document = json.loads(answer(cli, store, *argv))
    assert document["CreationTime"] == ISO_CREATED and "ResponseMetadata" not in document
    assert len(document["InferenceRecommendations"]) == 2
    assert answer(cli, store, *argv).startswith('{\n    "JobName": "job-a",\n')  # indented by four
    assert yaml.safe_load(answer(cli, store, *argv, "--output", "yaml")) == document
    text = answer(cli, store, *argv, "--output", "text").splitlines()
    # The top-level scalars in key order, then one line per nested structure under its upper-cased key.
    assert text[0] == "\t".join([ISO_DONE, ISO_CREATED, document["JobArn"], "a test job", "job-a", "Advanced",
                                 ISO_DONE, ROLE, "COMPLETED"])
    assert "INPUTCONFIG\tarn:aws:sagemaker:us-east-1:111122223333:model-package/m/1" in text
    assert "ENDPOINTCONFIGURATION\tjob-a-ep-0\t1\tml.c5.large\tAllTraffic" in text
    assert "METRICS\t0.119\t1.2e-05\t2000\t12000" in text
    table = answer(cli, store, *argv, "--output", "table").splitlines()
    assert set(table[0]) == {"-"} and "DescribeInferenceRecommendationsJob" in table[1]
    assert len({len(line) for line in table}) == 1  # every line as wide as the table
    assert any("InferenceRecommendations" in line and line.startswith("||") for line in table)
    assert any(line.startswith("|||") and "ml.c5.large" in line for line in table)  # nested twice
    assert answer(cli, store, *argv, "--output", "off") == ""


def test_a_query_then_the_format(store, cli):
    argv = ("describe-inference-recommendations-job", "--job-name", "job-a", "--query")
    rows = "InferenceRecommendations[].[EndpointConfiguration.InstanceType, Metrics.CostPerHour]"
    assert answer(cli, store, *argv, rows, "--output", "text") == "ml.c5.large\t0.119\nml.m5.xlarge\t0.23\n"
    assert json.loads(answer(cli, store, *argv, rows)) == [["ml.c5.large", 0.119], ["ml.m5.xlarge", 0.23]]
    cheapest = "min_by(InferenceRecommendations, &Metrics.CostPerHour).EndpointConfiguration.InstanceType"
    assert answer(cli, store, *argv, cheapest, "--output", "text") == "ml.c5.large\n"
    assert answer(cli, store, *argv, "length(InferenceRecommendations)") == "2\n"
    assert answer(cli, store, *argv, "Status", "--output", "yaml") == "COMPLETED\n...\n"


def test_list_in_every_output_format_and_its_pages(store, cli):
    argv = ("list-inference-recommendations-jobs", "--sort-by", "Name", "--sort-order", "Ascending")
    document = json.loads(answer(cli, store, *argv))
    names = [job["JobName"] for job in document["InferenceRecommendationsJobs"]]
    assert names == ["job-a", "job-b"]
    assert yaml.safe_load(answer(cli, store, *argv, "--output", "yaml")) == document
    text = answer(cli, store, *argv, "--output", "text").splitlines()
    first = document["InferenceRecommendationsJobs"][0]
    assert text[0] == "INFERENCERECOMMENDATIONSJOBS\t" + "\t".join(str(first[key]) for key in sorted(first))
    assert len(text) == 2
    table = answer(cli, store, *argv, "--output", "table").splitlines()
    assert "ListInferenceRecommendationsJobs" in table[1] and sum("job-" in line for line in table) == 2
    assert answer(cli, store, *argv, "--query", "InferenceRecommendationsJobs[].JobName", "--output", "text") \
        == "job-a\tjob-b\n"
    # --max-items: one item and a NextToken to go on from; with --starting-token, the rest.
    page = json.loads(answer(cli, store, *argv, "--max-items", "1"))
    assert [job["JobName"] for job in page["InferenceRecommendationsJobs"]] == ["job-a"] and page["NextToken"]
    rest = json.loads(answer(cli, store, *argv, "--starting-token", page["NextToken"]))
    assert [job["JobName"] for job in rest["InferenceRecommendationsJobs"]] == ["job-b"]
    text = answer(cli, store, *argv, "--max-items", "1", "--output", "text").splitlines()
    assert text[-1] == f"NEXTTOKEN\t{page['NextToken']}"


def test_the_table_layout_of_a_small_document():
    """Worked by hand from the AWS CLI's table rules: each section as wide as the widest (here
    Metrics: 14+4 and 4+4 columns, 2 borders, 1 level of '|' each side = 30), the title centred,
    columns widened in proportion to fill their section (11 and 13 -> 14 and 16), cells padded
    by two, a structure of one scalar shown as a key and value row."""
    document = {"JobName": "a", "Status": "COMPLETED", "Metrics": {"MaxInvocations": 2000}}
    assert render_table(document, "Op", terminal_width=200) == "\n".join([
        "------------------------------",
        "|             Op             |",
        "+------------+---------------+",
        "|   JobName  |    Status     |",
        "+------------+---------------+",
        "|  a         |  COMPLETED    |",
        "+------------+---------------+",
        "||          Metrics         ||",
        "|+-----------------+--------+|",
        "||  MaxInvocations |  2000  ||",
        "|+-----------------+--------+|",
    ]) + "\n"


# --- --region and --profile -----------------------------------------------------------------------

def regions_asked(monkeypatch) -> list:
    asked: list = []
    real = awscli.make_offline_client

    def spy(**kwargs):
        asked.append(kwargs["region"])
        return real(**kwargs)
    monkeypatch.setattr(awscli, "make_offline_client", spy)
    return asked


def test_region_and_output_come_as_the_aws_cli_reads_them(store, cli, monkeypatch):
    (store / "aws-config").write_text("[profile test]\nregion = eu-west-1\noutput = yaml\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(store / "aws-config"))
    asked = regions_asked(monkeypatch)
    argv = ("describe-inference-recommendations-job", "--job-name", "job-a", "--query", "JobName")
    assert answer(cli, store, *argv) == '"job-a"\n'                         # nothing configured: json
    assert answer(cli, store, *argv, "--profile", "test") == "job-a\n...\n"  # the profile's output: yaml
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    answer(cli, store, *argv, "--profile", "test")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "text")
    assert answer(cli, store, *argv, "--profile", "test") == "job-a\n"
    answer(cli, store, *argv, "--region", "us-west-2")
    assert asked == ["us-east-1", "eu-west-1", "eu-central-1", "ap-south-1", "us-west-2"]


def test_an_unknown_named_profile_exits_253_and_points_to_irsim_profile(store, cli):
    code, _, err = cli("describe-inference-recommendations-job", "--job-name", "job-a", "--profile", "nobody",
                       "--home", store)
    assert code == 253 and "The config profile (nobody) could not be found" in one_line(err)
    code, _, err = cli("create-inference-recommendations-job", "--job-name", "x", "--profile", "demo", "--home", store)
    assert code == 253 and "give irsim's service profile with --irsim-profile demo" in one_line(err)


def test_connection_options_are_accepted_and_said_to_have_no_effect(store, cli):
    code, out, err = cli("describe-inference-recommendations-job", "--job-name", "job-a", "--endpoint-url",
                         "http://localhost:1", "--no-verify-ssl", "--no-cli-pager", "--home", store)
    assert code == 0 and json.loads(out)["JobName"] == "job-a"
    assert "--endpoint-url has no effect" in err and "--no-verify-ssl has no effect" in err


# --- skeletons and input files --------------------------------------------------------------------

def same_shape(document, shape: Shape, stack: tuple = ()) -> bool:
    """``document`` has exactly the members of ``shape``, all the way down (a structure met again
    inside itself is {})."""
    if isinstance(shape, StructureShape):
        if shape.name in stack:
            return document == {}
        return isinstance(document, dict) and set(document) == set(shape.members) and all(
            same_shape(document[name], member, (*stack, shape.name)) for name, member in shape.members.items())
    if isinstance(shape, ListShape):
        return isinstance(document, list) and len(document) == 1 and same_shape(document[0], shape.member, stack)
    if isinstance(shape, MapShape):
        return isinstance(document, dict) and len(document) == 1 and same_shape(
            next(iter(document.values())), shape.value, stack)
    return not isinstance(document, (dict, list))


@pytest.mark.parametrize("command", awscli.AWS_COMMANDS, ids=lambda c: c.name)
def test_the_skeletons_are_the_models_input_and_output_shapes(cli, command):
    model = operation(command.operation)
    code, out, _ = cli(command.name, "--generate-cli-skeleton")
    assert code == 0 and same_shape(json.loads(out), model.input_shape)
    code, out, _ = cli(command.name, "--generate-cli-skeleton", "output")
    assert code == 0 and (same_shape(json.loads(out), model.output_shape) if model.output_shape else out == "{}\n")
    code, yaml_out, _ = cli(command.name, "--generate-cli-skeleton", "yaml-input")
    assert code == 0 and yaml.safe_load(yaml_out) == json.loads(cli(command.name, "--generate-cli-skeleton")[1])
    for name in operation(command.operation).input_shape.required_members:
        assert any(line.lstrip().startswith(f"{name}:") and "[REQUIRED]" in line for line in yaml_out.splitlines())


def test_cli_input_yaml_round_trip(store, cli, monkeypatch, tmp_path):
    monkeypatch.setattr(OfflineSageMakerClient, "_start_worker", lambda self, name: None)  # stays PENDING
    request = json.loads((Path(__file__).resolve().parent.parent / "examples" / "seed-advanced-job.json").read_text())
    request["JobName"] = "from-yaml"
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(request))
    code, out, err = cli("create-inference-recommendations-job", "--cli-input-yaml", f"file://{tmp_path / 'job.yaml'}",
                         "--home", store)
    assert code == 0, err
    assert json.loads(out)["JobArn"].endswith("/from-yaml")
    stored = json.loads(answer(cli, store, "describe-inference-recommendations-job", "--job-name", "from-yaml"))
    assert stored["InputConfig"] == request["InputConfig"] and stored["RoleArn"] == request["RoleArn"]
    # A skeleton filled in and read back; an option on the command line overrides the file.
    skeleton = yaml.safe_load(cli("describe-inference-recommendations-job", "--generate-cli-skeleton",
                                  "yaml-input")[1])
    (tmp_path / "describe.yaml").write_text(yaml.safe_dump({**skeleton, "JobName": "job-b"}))
    read = ("describe-inference-recommendations-job", "--cli-input-yaml", f"file://{tmp_path / 'describe.yaml'}")
    assert answer(cli, store, *read, "--query", "JobName", "--output", "text") == "job-b\n"
    assert answer(cli, store, *read, "--job-name", "job-a", "--query", "JobName", "--output", "text") == "job-a\n"


# --- the commands that reach the real service -----------------------------------------------------

@pytest.fixture
def real_client(monkeypatch):
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    monkeypatch.setattr(transport, "make_client", lambda region: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.mark.slow(reason="every operation of botocore's model walked (0.3 s measured)")
def test_real_aws_commands_are_reachable_under_their_new_name(real_client, cli):
    real = describe("real-job")
    real_client.add_response("describe_inference_recommendations_job", real, {"JobName": "real-job"})
    real_client.add_response("describe_inference_recommendations_job", real, {"JobName": "real-job"})
    real_client.add_response("stop_inference_recommendations_job", {}, {"JobName": "real-job"})
    code, out, err = cli("real-aws", "describe", "real-job", "--json")
    assert code == 0 and json.loads(out)["JobName"] == "real-job" and "deprecated" not in err
    code, out, _ = cli("real-aws", "wait", "real-job")
    assert code == 0 and out.strip() == "real-job: COMPLETED"
    code, out, _ = cli("real-aws", "stop", "real-job")
    assert code == 0 and out.strip() == "stop requested: real-job"


@pytest.mark.slow(reason="every operation of botocore's model walked (1.0 s measured)")
def test_the_old_name_still_works_and_warns(real_client, cli):
    real_client.add_response("stop_inference_recommendations_job", {}, {"JobName": "real-job"})
    code, out, err = cli("aws", "stop", "real-job")
    assert code == 0 and out.strip() == "stop requested: real-job"
    assert "`irsim aws stop` is deprecated, use `irsim real-aws stop`" in one_line(err)
    code, out, _ = cli("--help")
    assert "real-aws" in out and "REAL SageMaker service" in out and "\n    aws " not in out
