"""The bundled sample server: the sample model behind gunicorn (sync workers: each answers
one request at a time, the rest wait in the listen queue, as a SageMaker container's model
server does), answering the hosting container contract on port 8080 by default:
``GET /ping`` is 200 once the model is loaded, ``POST /invocations`` returns one prediction per
row (CSV), on loopback unless --host says otherwise. Start it in one command::

    irsim sample-server --workers 2            # or: python -m irsim.measure.sample_server

It replaces the calling process with gunicorn (same PID, so ``irsim measure --pid`` finds it),
pinned to ``--cpus`` (default: every core but the last, left to the load generator)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from irsim.argtypes import integer, number
from irsim.measure.sample_model import SampleModel, SampleModelConfig, parse_rows

DEFAULT_PORT = 8080
WSGI_APP = "irsim.measure.sample_server:create_app()"


def create_app() -> Callable[..., Iterable[bytes]]:
    """The WSGI application gunicorn loads in each worker: the model is built once, here."""
    model = SampleModel(SampleModelConfig.from_environment(os.environ))
    io_s = model.config.io_ms / 1000.0

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/ping" and method == "GET":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        if path == "/invocations" and method == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            try:
                rows = parse_rows(body, environ.get("CONTENT_TYPE", "text/csv"))
            except ValueError as exc:
                message = f"cannot read the payload: {exc}".encode()
                start_response("400 Bad Request", [("Content-Type", "text/plain"),
                                                   ("Content-Length", str(len(message)))])
                return [message]
            if io_s:
                time.sleep(io_s)
            out = "\n".join(f"{p:.6f}" for p in model.predict(rows)).encode()
            start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", str(len(out)))])
            return [out]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]

    return application


@dataclass(frozen=True)
class ServerOptions:
    """How to start the sample server."""

    workers: int = 1
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    cpus: tuple[int, ...] | None = None  # None: every core but the last (all on a one-core machine)
    model: SampleModelConfig = field(default_factory=SampleModelConfig)


def default_cpus() -> tuple[int, ...]:
    """Every core this process may use but the last, which is left to the load generator."""
    allowed = sorted(os.sched_getaffinity(0))
    return tuple(allowed[:-1]) if len(allowed) > 1 else tuple(allowed)


def gunicorn_command(options: ServerOptions) -> list[str]:
    """The command line that serves the sample model."""
    return [sys.executable, "-m", "gunicorn", "--workers", str(options.workers), "--worker-class", "sync",
            "--bind", f"{options.host}:{options.port}", "--backlog", "2048", "--timeout", "120",
            "--log-level", "warning", WSGI_APP]


def serve(options: ServerOptions) -> None:
    """Pin this process, then become gunicorn (never returns)."""
    cpus = options.cpus if options.cpus is not None else default_cpus()
    os.sched_setaffinity(0, cpus)
    environment = {**os.environ, **options.model.environment(), "OMP_NUM_THREADS": "1",
                   "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    print(f"sample server: {options.workers} gunicorn worker(s) on {options.host}:{options.port}, cores "
          f"{','.join(map(str, cpus))}, PID {os.getpid()}; model {options.model.layers} x {options.model.hidden} "
          f"units + {options.model.io_ms:g} ms wait per request", file=sys.stderr, flush=True)
    command = gunicorn_command(options)
    os.execve(command[0], command, environment)


def cpu_list(text: str) -> tuple[int, ...]:
    """``0`` or ``0,1`` or ``0-3``: the cores to pin to (each one this process may use)."""
    cores: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cores.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be core numbers such as 0 or 0,1 or 0-3, got {text!r}") from None
    allowed = os.sched_getaffinity(0)
    if not cores or not cores <= allowed:
        raise argparse.ArgumentTypeError(f"must name cores this process may use ({sorted(allowed)}), got {text!r}")
    return tuple(sorted(cores))


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `irsim sample-server` and `python -m irsim.measure.sample_server`."""
    parser.add_argument("--workers", type=integer(1, 64), default=1, help="gunicorn sync workers (default 1)")
    parser.add_argument("--port", type=integer(1, 65535), default=DEFAULT_PORT, help="port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; a container listens on 0.0.0.0)")
    parser.add_argument("--cpus", type=cpu_list, default=None, metavar="LIST",
                        help="cores to pin the server to, e.g. 0 or 0-2 (default: all but the last)")
    parser.add_argument("--hidden", type=integer(1, 4096), default=SampleModelConfig.hidden,
                        help=f"units per layer: CPU cost per row (default {SampleModelConfig.hidden})")
    parser.add_argument("--layers", type=integer(1, 64), default=SampleModelConfig.layers,
                        help=f"layers (default {SampleModelConfig.layers})")
    parser.add_argument("--io-ms", type=number(0.0, "a number of ms", 10_000.0), default=SampleModelConfig.io_ms,
                        help=f"wait per request, ms, as on a feature-store read (default {SampleModelConfig.io_ms:g})")


def options_from(args: argparse.Namespace) -> ServerOptions:
    return ServerOptions(workers=args.workers, port=args.port, host=args.host, cpus=args.cpus,
                         model=SampleModelConfig(hidden=args.hidden, layers=args.layers, io_ms=args.io_ms))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m irsim.measure.sample_server", description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    serve(options_from(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
