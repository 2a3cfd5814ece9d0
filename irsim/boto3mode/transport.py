"""Talking to the real service: the one place a boto3 client is made, botocore's exceptions
mapped to a message and the AWS CLI's exit codes, and polling a real job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from irsim.durable.store import ACTIVE_STATUSES
from irsim.exitcodes import AWS_GENERAL_ERROR, AWS_SERVICE_ERROR, EXIT_USAGE

DEFAULT_POLL_S = 60.0


class AwsFailure(Exception):
    """A call to the real service failed: what to print and the exit code."""

    def __init__(self, cause: Exception, exit_code: int, hint: str = "") -> None:
        super().__init__(str(cause))
        self.cause, self.exit_code, self.hint = cause, exit_code, hint


class WaitTimeout(Exception):
    """The job was still running when the timeout ran out."""


def make_client(region: str | None) -> Any:
    """The real boto3 SageMaker client (region None: boto3's default chain)."""
    return boto3.client("sagemaker", region_name=region)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Around calls to the real service only: botocore's exceptions become AwsFailure.
    (A ClientError raised elsewhere is irsim's own validation: bad input, exit 2.)"""
    try:
        yield
    except ClientError as exc:
        raise AwsFailure(exc, AWS_SERVICE_ERROR) from None
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise AwsFailure(exc, EXIT_USAGE, " (configure credentials: `aws configure`, AWS_PROFILE, or "
                                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)") from None
    except NoRegionError as exc:
        raise AwsFailure(exc, EXIT_USAGE, " (pass --region or set AWS_DEFAULT_REGION)") from None
    except ParamValidationError as exc:
        raise AwsFailure(exc, EXIT_USAGE) from None
    except BotoCoreError as exc:
        raise AwsFailure(exc, AWS_GENERAL_ERROR) from None




def wait_for_real_job(client: Any, name: str, poll_s: float = DEFAULT_POLL_S, timeout_s: float | None = None, *,
                      sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None,
                      on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Describe ``name`` every ``poll_s`` seconds until it leaves PENDING/IN_PROGRESS/STOPPING;
    ``on_status`` hears each new status. Raises WaitTimeout after ``timeout_s``. ``sleep`` and
    ``clock`` default to ``time.sleep`` and ``time.monotonic``, looked up at call time."""
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    deadline = None if timeout_s is None else clock() + timeout_s
    last = None
    while True:
        response = client.describe_inference_recommendations_job(JobName=name)
        status = response["Status"]
        if on_status and status != last:
            on_status(status)
        last = status
        if status not in ACTIVE_STATUSES:
            return response
        if deadline is not None and clock() >= deadline:
            raise WaitTimeout(f"{name} is still {status} after {timeout_s:g} s")
        sleep(poll_s if deadline is None else max(0.0, min(poll_s, deadline - clock())))


def fetch_steps(client: Any, name: str) -> dict[str, Any]:
    """All pages of a real job's ListInferenceRecommendationsJobSteps, as one response."""
    steps = client.get_paginator("list_inference_recommendations_job_steps").paginate(JobName=name) \
        .build_full_result()
    return {"Steps": steps.get("Steps", [])}

