"""irsim's pytest plugin (the ``pytest11`` entry point ``irsim``): the ``sagemaker_offline``
fixture, a ``mock_sagemaker`` active for one test with its jobs under the test's tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from irsim.wire.mock import mock_sagemaker


@pytest.fixture
def sagemaker_offline(tmp_path: Path) -> Iterator[mock_sagemaker]:
    """Every SageMaker and SageMaker Runtime client the test creates is answered offline (the
    demo profile, seed 0, us-east-1); the fixture's value is the active mock (``.client`` is the
    offline client that answers, e.g. ``.client.wait_for_job(name)``)."""
    with mock_sagemaker(home=tmp_path / "irsim-home") as active:
        yield active
