"""The options of irsim's own commands that compute (simulate, run, recommend, sweep, calibrate,
autoscale, report, completion). Each names its handler as ``"module:function"``, imported by
irsim/cli/app.py only once the arguments parse: help and usage errors never load numpy."""

from __future__ import annotations

import argparse

from irsim.argtypes import integer, number, precision
from irsim.cli.options import (
    DEFAULT_PRECISION,
    DEFAULT_STARTUP_S,
    MAX_REPLICATIONS,
    MAX_REQUESTS_PER_S,
    MAX_SCENARIOS,
    MAX_USERS,
    ROUTING_POLICIES,
    add_output_options,
    add_seed,
    add_seed_and_region,
    add_service_profile,
    home_options,
)

#: What the config file and the environment may set for a command that simulates offline.
OFFLINE = ("service_profile", "seed", "region")
QUIET_HELP = "no live progress on stderr (there is none when stderr is not a terminal)"


def add_simulate_command(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("simulate", help="simulate one endpoint under constant users or Poisson arrivals",
                              description="Simulate K instances of one type from a service profile.")
    add_service_profile(sim)
    sim.add_argument("--instance-type", required=True, help="e.g. ml.c5.large (must be in the profile)")
    sim.add_argument("--instances", type=integer(1), default=1, help="instance count K (default 1)")
    load = sim.add_mutually_exclusive_group()
    load.add_argument("--users", type=integer(1, MAX_USERS), help="closed-loop users (invoke, wait, invoke again)")
    load.add_argument("--rate", type=number(), help="open Poisson arrivals, requests per second")
    sim.add_argument("--duration", type=number(), default=600.0, help="simulated seconds (default 600)")
    sim.add_argument("--think-time", type=number(), default=0.0, help="mean think time in seconds (default 0)")
    sim.add_argument("--routing", choices=ROUTING_POLICIES, default="random", help="default: random")
    add_seed(sim)
    sim.add_argument("--max-requests-per-s", type=number(1), default=MAX_REQUESTS_PER_S, metavar="N",
                     help=f"refuse a run that would simulate more requests per simulated second "
                          f"(default {MAX_REQUESTS_PER_S:,.0f})")
    sim.add_argument("--json", action="store_true", help="print JSON instead of the summary")
    sim.add_argument("--per-minute", metavar="CSV", help="write the per-minute series to this CSV file")
    sim.add_argument("--plot", metavar="PNG", help="write a per-minute chart to this PNG file")
    sim.set_defaults(handler="irsim.cli.simulate:cmd_simulate", config_keys=("service_profile", "seed"))


def add_precision_option(parser: argparse.ArgumentParser, who: str) -> None:
    """--precision: when a count's interval still holds the threshold, the share of it within which
    ``who`` stops sampling and calls it too close (a finer precision buys more replications)."""
    parser.add_argument("--precision", type=precision, default=DEFAULT_PRECISION, metavar="SHARE",
                        help=f"{who} stops sampling a count whose interval holds the threshold once it is within "
                             f"+-SHARE (too close to call; default {DEFAULT_PRECISION:g}); a finer precision buys "
                             "more replications")


def add_run_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run a CreateInferenceRecommendationsJob request offline",
                              description="Simulate an Inference Recommender job (Advanced or Default) and print "
                                          "its recommendations ranked by CostPerHour.")
    run.add_argument("job", metavar="JOB.json",
                     help="the request, as boto3 or `aws sagemaker ... --cli-input-json` takes it")
    add_service_profile(run)
    add_seed_and_region(run, "pricing region and JobArn region")
    run.add_argument("--out", metavar="DIR",
                     help="write describe.json, steps.json, irsim.json, metrics.csv, report.png")
    run.add_argument("--price-list", metavar="FILE",
                     help="refresh prices from an AWS Price List offer file or saved get-products pages")
    run.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    run.add_argument("--max-requests-per-s", type=number(1), default=MAX_REQUESTS_PER_S, metavar="N",
                     help="refuse a benchmark that would simulate more requests per simulated second "
                          f"(default {MAX_REQUESTS_PER_S:,.0f})")
    add_precision_option(run, "the production check")
    run.add_argument("--replications", type=integer(1, MAX_REPLICATIONS), default=1, metavar="R",
                     help="run R independent seeded replications: means and 95%% intervals, every "
                          f"replication's production check at --precision (default 1, at most {MAX_REPLICATIONS})")
    add_output_options(run, "the DescribeInferenceRecommendationsJob response", wide=True)
    run.set_defaults(handler="irsim.cli.run:cmd_run", config_keys=OFFLINE)


def add_recommend_command(commands: argparse._SubParsersAction) -> None:
    rec = commands.add_parser("recommend", help="the cheapest endpoint that meets MaxInvocations within the SLO",
                              description="Choose instance type and count at minimum CostPerHour, proven by "
                                          "simulating the whole endpoint at the target rate.")
    rec.add_argument("job", metavar="JOB.json")
    add_service_profile(rec)
    rec.add_argument("--candidates", choices=("job", "all"), default="job",
                     help="the job's EndpointConfigurations (default) or every profiled and priced type")
    rec.add_argument("--target-rate", type=number(1), default=None, metavar="PER_MIN",
                     help="invocations per minute (default: StoppingConditions.MaxInvocations)")
    rec.add_argument("--slo", default=None, metavar="P95=100",
                     help="percentile and milliseconds (default: the request's ModelLatencyThresholds)")
    rec.add_argument("--min-instances", type=integer(1), default=1, help="availability floor (default 1)")
    rec.add_argument("--max-instances", type=integer(1), default=None, help="per-type quota")
    rec.add_argument("--budget", type=number(0), default=None, metavar="USD_PER_HOUR", help="cost ceiling")
    rec.add_argument("--allow-mixed", action="store_true", help="allow several production variants of different types")
    rec.add_argument("--serverless", action="store_true",
                     help="also weigh serverless endpoints (every memory size, MaxConcurrency by Erlang B)")
    rec.add_argument("--importance", default=None, metavar="cost=highest,latency=moderate",
                     help="Studio's importance levels for cost, latency, throughput (orders the alternatives)")
    rec.add_argument("--routing", choices=ROUTING_POLICIES, default="random", help="default: random")
    rec.add_argument("--traffic", default="open", metavar="open|closed:N", help="Poisson (default) or N users")
    rec.add_argument("--replications", type=integer(2), default=3, help="seeded replications per decision (default 3)")
    add_precision_option(rec, "the search")
    add_seed_and_region(rec)
    rec.add_argument("--plot", metavar="PNG", help="cost against the percentile reached, SLO drawn")
    rec.add_argument("--out", metavar="DIR", help="write recommendation.json and recommendation.png (for irsim report)")
    rec.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    add_output_options(rec, "the recommendation document", wide=True)
    rec.set_defaults(handler="irsim.cli.recommend:cmd_recommend", config_keys=OFFLINE)


def add_sweep_command(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="what-if scenarios (rates, SLOs, routing, service-time scale...) on Dask",
                                description="Expand a base request and axes into scenarios and run the optimizer "
                                            "on each, on a local Dask cluster or an existing scheduler.")
    sweep.add_argument("sweep", metavar="SWEEP.json")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (tcp://host:port)")
    sweep.add_argument("--workers", type=integer(1), default=None, help="local worker processes (default: cores)")
    sweep.add_argument("--out", default="sweep-output", metavar="DIR", help="results folder (default sweep-output)")
    sweep.add_argument("--resume", action="store_true", help="skip scenarios whose results are already in DIR")
    sweep.add_argument("--max-scenarios", type=integer(1), default=MAX_SCENARIOS, metavar="N",
                       help=f"refuse a sweep of more than N scenarios before starting (default {MAX_SCENARIOS})")
    sweep.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    add_output_options(sweep, "each scenario's answer (a list)")
    sweep.epilog = ("exit codes: 0 every scenario answered (an endpoint, or infeasible with its reason); "
                    "1 a scenario raised an error; 2 bad input")
    sweep.set_defaults(handler="irsim.cli.sweep:cmd_sweep")


def add_calibrate_command(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("calibrate", help="fit a profile entry to CloudWatch data, samples or past results",
                              description="Fit a service profile entry for one instance type and write it into a "
                                          "profile (merged into -o when it exists).")
    sub.add_argument("--instance-type", help="the instance type the data was measured on (required but with "
                                             "--from-measure)")
    sub.add_argument("--from-measure", metavar="DIR", help="the minutes `irsim measure` wrote in DIR")
    sub.add_argument("--as-instance-type", metavar="T", help="with --from-measure: the SageMaker type the measuring "
                                                             "machine stands for (default: the one measure recorded)")
    sub.add_argument("--instance-count", type=integer(1), default=1, help="instances behind the endpoint (default 1)")
    sub.add_argument("--cloudwatch", nargs="+", default=[], metavar="F",
                     help="aws cloudwatch get-metric-statistics / get-metric-data output (JSON)")
    sub.add_argument("--describe", nargs="+", default=[], metavar="F", help="DescribeInferenceRecommendationsJob JSON")
    sub.add_argument("--steps", nargs="+", default=[], metavar="F", help="ListInferenceRecommendationsJobSteps JSON")
    sub.add_argument("--samples", nargs="+", default=[], metavar="F", help="per-request latencies, ms (CSV or NDJSON)")
    sub.add_argument("--workers", type=integer(1), default=None,
                     help="workers to assume when the data cannot tell (default: the instance's vCPUs)")
    sub.add_argument("--model", default=None, help="model name of a new profile (default: calibrated-model)")
    sub.add_argument("-o", "--output-profile", dest="output_profile", required=True, metavar="PROFILE.json",
                     help="profile to write or merge into")
    sub.add_argument("--plot", metavar="PNG", help="write the fit as a chart")
    add_output_options(sub, "the fit's summary")
    sub.set_defaults(handler="irsim.cli.calibrate:cmd_calibrate")


def add_autoscale_command(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "autoscale", parents=[home_options()],
        help="the cheapest autoscaling policy for a job's recommendation under a traffic curve",
        description="Search MinCapacity, MaxCapacity, TargetValue and cooldowns of a target-tracking policy on "
                    "SageMakerVariantInvocationsPerInstance for the cheapest one whose SLO-violating minutes stay "
                    "within the budget, and compare it with static provisioning at the peak and with "
                    "GetScalingConfigurationRecommendation's policy on the same curve.")
    command.add_argument("job", metavar="JOB_DIR_OR_NAME", help="an `irsim run --out` folder, or a job in the store")
    command.add_argument("--traffic", required=True, metavar="FILE_OR_SPEC",
                         help="a CSV timestamp,invocations or CloudWatch Invocations export, or a synthetic curve "
                              "such as diurnal:peak=30000,trough=3000,days=7")
    command.add_argument("--slo", default="P95=100", metavar="PXX=MS", help="the latency SLO (default P95=100)")
    command.add_argument("--violation-budget", default="0.001",
                         metavar="SHARE", help="the share of minutes allowed to miss the SLO (default 0.001)")
    command.add_argument("--startup-s", default=str(DEFAULT_STARTUP_S), metavar="S",
                         help=f"seconds before a new instance takes traffic (default {DEFAULT_STARTUP_S:g})")
    command.add_argument("--recommendation-id", default=None,
                         help="the recommendation to scale (default: the instance type cheapest per inference)")
    command.add_argument("--engine-check", action="store_true",
                         help="also replay the recommended policy over the whole curve on the discrete-event "
                              "engine (one continuous run: as many requests as the curve holds) and judge each "
                              "minute meets, misses or too close to call")
    add_service_profile(command, "the stored job's; for a folder, the demo profile")
    command.add_argument("--out", metavar="DIR", help="write autoscale.json, autoscale.csv and autoscale.png")
    add_output_options(command, "the answer")
    command.set_defaults(handler="irsim.cli.autoscale:cmd_autoscale", config_keys=("home",))


def add_report_command(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="one HTML page for a run, recommend, sweep or autoscale folder, led by its answer")
    report.add_argument("folder", metavar="DIR", help="an --out folder of irsim run, recommend, sweep or autoscale")
    report.add_argument("-o", "--output", default=None, help="the page to write (default DIR/report.html)")
    report.set_defaults(handler="irsim.cli.report:cmd_report")


def add_completion_command(commands: argparse._SubParsersAction) -> None:
    completion = commands.add_parser(
        "completion", help="print a shell completion script (bash or zsh)",
        description="Print the completion script of every command and option for bash or zsh (made by shtab from "
                    "irsim's own parser).",
        epilog="bash: `irsim completion bash > ~/.local/share/bash-completion/completions/irsim`; "
               "zsh: `irsim completion zsh > ~/.zfunc/_irsim` with ~/.zfunc on $fpath before compinit")
    completion.add_argument("shell", choices=("bash", "zsh"))
    completion.set_defaults(handler="irsim.cli.completion:cmd_completion")
