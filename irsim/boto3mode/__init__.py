"""boto3 mode: the offline shortlist handed to the real service, and real jobs brought back."""

from irsim.boto3mode.importer import import_job, parse_timestamps
from irsim.boto3mode.shortlist import ShortlistError, shortlist_request
from irsim.boto3mode.transport import WaitTimeout, fetch_steps, make_client, wait_for_real_job

__all__ = ["ShortlistError", "WaitTimeout", "fetch_steps", "import_job", "make_client", "parse_timestamps",
           "shortlist_request", "wait_for_real_job"]
