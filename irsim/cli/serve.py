"""``irsim serve``: the offline SageMaker (and SageMaker Runtime's InvokeEndpoint) on an HTTP
port, for every AWS tool: the AWS CLI, any AWS SDK, Terraform, with ``--endpoint-url`` or
``AWS_ENDPOINT_URL_SAGEMAKER``. The URL is the first line printed; SIGINT or SIGTERM stops it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from irsim.argtypes import integer, seed
from irsim.durable.client import client as offline_client
from irsim.errors import UserError
from irsim.exitcodes import EXIT_OK
from irsim.wire.addresses import is_loopback
from irsim.wire.dispatch import SageMakerWire
from irsim.wire.runtime import LATENCY_MODES, RuntimeOptions, RuntimeStandIn
from irsim.wire.server import (
    DEFAULT_MAX_BODY_BYTES,
    ServeOptions,
    WireApp,
    reap_finished_children,
    start_server,
)

#: How often the serving loop collects ended workers and checks for a stop.
TICK_S = 0.5


def add_serve_command(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "serve", parents=[common], help="serve the offline SageMaker API over HTTP for any AWS tool",
        description="Serve SageMaker's API (awsJson1.1) offline: the Inference Recommender calls, "
                    "GetScalingConfigurationRecommendation, models, packages, endpoint configurations, endpoints, "
                    "tags, and SageMaker Runtime's InvokeEndpoint. Point a tool at it with --endpoint-url or "
                    "AWS_ENDPOINT_URL_SAGEMAKER. Request signatures are not checked. The first line printed is "
                    "the URL; SIGINT or SIGTERM stops the server (running jobs go on in their workers).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; another address prints a warning)")
    parser.add_argument("--port", type=integer(0, 65535), default=0, help="port (default 0: a free one)")
    parser.add_argument("--profile", default=None, help="profile JSON path, or 'demo' (default)")
    parser.add_argument("--seed", type=seed, default=None, help="random seed of the jobs (default 0, as irsim run)")
    parser.add_argument("--region", default="us-east-1", help="pricing and ARN region (default us-east-1)")
    parser.add_argument("--max-body-bytes", type=integer(1024), default=DEFAULT_MAX_BODY_BYTES,
                        help=f"largest request body accepted (default {DEFAULT_MAX_BODY_BYTES}: InvokeEndpoint's "
                             "6 MB payload limit); larger ones get a 413")
    parser.add_argument("--invoke-latency", choices=LATENCY_MODES, default="none",
                        help="InvokeEndpoint answers at once (none, the default) or after the latency simulated "
                             "at the endpoint's instance type and count (simulated)")
    parser.add_argument("--invoke-body", type=Path, default=None,
                        help="file whose bytes InvokeEndpoint answers with (default: a small JSON naming the "
                             "endpoint and variant)")
    parser.add_argument("--invoke-content-type", default="application/json",
                        help="Content-Type of --invoke-body's answer (default application/json)")
    parser.set_defaults(handler=cmd_serve)


def _runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    body = None
    if args.invoke_body is not None:
        try:
            body = args.invoke_body.read_bytes()
        except OSError as exc:
            raise UserError(f"--invoke-body: cannot read {args.invoke_body}: {exc.strerror or exc}") from None
    return RuntimeOptions(body=body, content_type=args.invoke_content_type, latency=args.invoke_latency,
                          seed=args.seed or 0)


def cmd_serve(args: argparse.Namespace) -> int:
    options = _runtime_options(args)
    client = offline_client(home=args.home, profile=args.profile, seed=args.seed, region=args.region)
    app = WireApp(SageMakerWire(client), RuntimeStandIn(client, options), args.max_body_bytes)
    try:
        server = start_server(app, ServeOptions(host=args.host, port=args.port, max_body_bytes=args.max_body_bytes))
    except OSError as exc:
        raise UserError(f"--host/--port: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(server.url, flush=True)
    if not is_loopback(args.host):
        print(f"irsim serve: warning: listening on {args.host}, not loopback: anyone who can reach it can create "
              "jobs and read this store (signatures are not checked)", file=sys.stderr, flush=True)
    print(f"irsim serve: store {client.store.home}; export AWS_ENDPOINT_URL_SAGEMAKER={server.url} "
          f"(and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME for InvokeEndpoint); Ctrl-C stops", file=sys.stderr, flush=True)
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(TICK_S):
            reap_finished_children()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        finished = server.stop()
    state = "" if finished else " (requests still in flight were cut)"
    print(f"irsim serve: stopped{state}; running jobs go on in their workers", file=sys.stderr, flush=True)
    return EXIT_OK
