"""Where requests go: SageMaker Runtime's InvokeEndpoint path, and which hosts are loopback
(the only ones ``irsim serve`` binds without a warning and the mock lets a request reach)."""

from __future__ import annotations

import ipaddress
import re

#: SageMaker Runtime's InvokeEndpoint (rest-json): POST /endpoints/NAME/invocations.
INVOCATIONS = re.compile(r"^/endpoints/([^/]+)/invocations$")
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
