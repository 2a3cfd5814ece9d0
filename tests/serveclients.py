"""What the tests of ``irsim serve`` and the mock share: a tiny job, a server in this process,
``irsim serve`` as a real process, and the real clients no one here wrote (the AWS CLI in its own
virtual environment, the AWS SDK for JavaScript v3 from the npm registry), installed under
.cache/ when absent. ``python tests/serveclients.py`` installs both (CI runs it first)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from test_client import wait_until

import irsim
from irsim.wire.dispatch import SageMakerWire
from irsim.wire.runtime import RuntimeOptions, RuntimeStandIn
from irsim.wire.server import RunningServer, ServeOptions, WireApp, start_server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CACHE = ROOT / ".cache"
AWSCLI_VENV = CACHE / "awscli"
NODE_DIR = CACHE / "node"
JS_PACKAGE = "@aws-sdk/client-sagemaker@3"
INSTALL_TIMEOUT_S = 600
#: Placeholder credentials and region for a real client: signed requests the server does not check.
CLIENT_ENV = {"AWS_ACCESS_KEY_ID": "irsim-test", "AWS_SECRET_ACCESS_KEY": "irsim-test",
              "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def tiny_request(name: str) -> dict:
    """One benchmark of one 120-second phase of one user: the job ends in seconds."""
    request = json.loads((EXAMPLES / "seed-advanced-job.json").read_text())
    request["JobName"] = name
    request["InputConfig"]["TrafficPattern"]["Phases"] = [
        {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]
    request["InputConfig"]["EndpointConfigurations"] = [{"InstanceType": "ml.c5.xlarge"}]
    return request


@contextmanager
def served(home: Path, runtime: RuntimeOptions | None = None, max_body_bytes: int = 6 * 1024 * 1024,
           ) -> Iterator[RunningServer]:
    """The server of ``irsim serve`` on a free loopback port, in this process (a thread)."""
    client = irsim.client(home=home)
    app = WireApp(SageMakerWire(client), RuntimeStandIn(client, runtime), max_body_bytes)
    server = start_server(app, ServeOptions(max_body_bytes=max_body_bytes))
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serve_process(*arguments: str, timeout_s: float = 120.0) -> Iterator[tuple[subprocess.Popen, str]]:
    """``irsim serve ARGUMENTS`` as its own process; yields it and the URL of its first line."""
    process = subprocess.Popen([sys.executable, "-m", "irsim", "serve", *arguments], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        url = _first_line(process, timeout_s)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _first_line(process: subprocess.Popen, timeout_s: float) -> str:
    """The first line of the process's stdout, or an AssertionError with its stderr."""
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    if not found or not found[0].strip():
        process.kill()
        raise AssertionError(f"irsim serve printed no URL: {process.communicate()[1]}")
    return found[0].strip()


def wait_for(predicate, timeout_s: float = 120.0, poll_s: float = 0.2):
    """test_client's wait_until, with the longer default a job over the wire needs."""
    return wait_until(predicate, timeout_s=timeout_s, poll_s=poll_s)


# --- the real clients ------------------------------------------------------------------------

@contextmanager
def installing() -> Iterator[None]:
    """One installer at a time under .cache/ (pytest-xdist runs tests in several processes)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def aws_cli() -> tuple[str | None, str]:
    """The AWS CLI (v1, from PyPI) in its own virtual environment under .cache/ (it pins its own
    botocore, which must not replace the project's), installed when absent; or None and why."""
    with installing():
        return _aws_cli()


def _aws_cli() -> tuple[str | None, str]:
    executable = AWSCLI_VENV / "bin" / "aws"
    if executable.exists():
        return str(executable), ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True, capture_output=True,
                       timeout=INSTALL_TIMEOUT_S)
        subprocess.run([str(AWSCLI_VENV / "bin" / "pip"), "install", "-q", "awscli"], check=True,
                       capture_output=True, timeout=INSTALL_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(AWSCLI_VENV, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        return None, f"the AWS CLI could not be installed from PyPI into {AWSCLI_VENV}: {exc} {detail[-300:]!r}"
    return str(executable), ""


def node_sdk() -> tuple[str | None, str]:
    """node with @aws-sdk/client-sagemaker installed under .cache/node (from the npm registry
    when absent); or None and why."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "node and npm are not installed (apt-get install nodejs npm), so the JavaScript SDK cannot run"
    with installing():
        return _node_sdk(node, npm)


def _node_sdk(node: str, npm: str) -> tuple[str | None, str]:
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-sagemaker").exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--silent",
                            JS_PACKAGE], check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            return None, f"npm could not install {JS_PACKAGE} into {NODE_DIR}: {exc} {detail[-300:]!r}"
    return node, ""


def client_environment(**extra: str) -> dict[str, str]:
    """This process's environment with placeholder credentials, no AWS configuration files."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {**environment, **CLIENT_ENV, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **extra}


if __name__ == "__main__":  # CI: install the real clients once, before the suite
    for name, (found, reason) in {"AWS CLI": aws_cli(), "JavaScript SDK": node_sdk()}.items():
        print(f"{name}: {found or 'not available: ' + reason}")
