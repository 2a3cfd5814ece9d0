"""Shared builders for the test-suite: small profiles, batch-means statistics, and the command
line run in-process."""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from irsim.cli.app import main
from irsim.durable.store import JobStore

WHOLLY_SLOW = re.compile(r"^pytestmark = pytest\.mark\.slow$", re.MULTILINE)
AWS_SETTINGS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@pytest.fixture(autouse=True)
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test sees no AWS configuration of the machine it runs on: no region, profile or
    credentials from the environment or ~/.aws, so a developer's settings change no answer
    (the AWS-shaped commands read them, as the AWS CLI does) and nothing can reach AWS."""
    for name in AWS_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))


#: What keeps every test and every process it starts off the network: no instance-metadata
#: lookups for credentials or region (the SageMaker SDK builds a session when imported), and
#: loopback never sent through a proxy a machine may set for its package registries.
OFFLINE_ENVIRONMENT = {"AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost,::1",
                       "no_proxy": "127.0.0.1,localhost,::1"}


def pytest_configure(config: pytest.Config) -> None:
    """Before collection imports anything (the SDK's import already asks for credentials)."""
    os.environ.update(OFFLINE_ENVIRONMENT)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m "not slow"`` or ``-m "not slow and not stats"`` (``make test-fast``), a test
    module marked slow as a whole (``pytestmark = pytest.mark.slow``) is not even imported:
    importing the SageMaker SDK alone takes seconds. Any other selection collects everything."""
    if (" ".join(config.option.markexpr.split()) not in ("not slow", "not slow and not stats")
            or collection_path.suffix != ".py"):
        return None
    if collection_path.name.startswith("test_") and WHOLLY_SLOW.search(collection_path.read_text()):
        return True
    return None


STATS_TIMEOUT_S = 1800  # a statistical measurement runs minutes; half an hour means it is hung


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The statistical measurements run for minutes each: their hang bound is longer than the
    suite's 300 s (pyproject.toml), unless a test names its own."""
    for item in items:
        if item.get_closest_marker("stats") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(STATS_TIMEOUT_S))


def make_profile(family: str = "exponential", mean_ms: float = 20.0, cv: float | None = None,
                 workers: int = 4, overhead: dict | None = None, instance_type: str = "ml.test.large") -> dict:
    """A one-instance profile document."""
    service: dict = {"family": family, "mean_ms": mean_ms}
    if cv is not None:
        service["cv"] = cv
    document = {"model": "test", "instances": {instance_type: {"workers": workers, "service_time": service}}}
    if overhead is not None:
        document["overhead_ms"] = overhead
    return document


def batch_mean_and_se(values: np.ndarray, batches: int = 30) -> tuple[float, float]:
    """Mean and its standard error by the method of batch means (for correlated output)."""
    chunks = np.array_split(np.asarray(values, dtype=float), batches)
    means = np.array([c.mean() for c in chunks])
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(batches))


@pytest.fixture
def profile_factory():
    return make_profile


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """``cli(*argv)`` runs ``irsim *argv`` in this process and returns (exit code, stdout, stderr).
    Arguments may be paths or numbers. A usage error argparse rejects (it raises SystemExit)
    gives the exit code the console script would, as a command's own error does."""

    def run(*argv: object) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def home(tmp_path):
    """A fresh job store; any worker still running at the end of the test is killed."""
    yield tmp_path
    for record in JobStore(tmp_path).all():
        if record.worker_pid and record.worker_pid != os.getpid() and \
                record.status in ("PENDING", "IN_PROGRESS", "STOPPING"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.worker_pid, signal.SIGKILL)
