"""Where a sweep's scenarios run: a local Dask cluster no one else can reach, or a scheduler the
user names.

The local cluster listens on the loopback interface only, with no dashboard and no HTTP routes
(Dask's scheduler starts its HTTP server on 8787 even when ``dashboard_address`` is None: it is
bound to a random loopback port here and serves nothing), and speaks TLS with mutual
authentication under a certificate made in memory for this cluster alone
(``distributed.Security.temporary``): another local user cannot submit tasks to it, which would
run as this user. A scheduler the user names is theirs to secure; reaching it fails in one
InputError, whatever the address (tls:// without certificates, an unknown protocol, nobody there).
"""

from __future__ import annotations

import socket
from typing import Any

import dask

from simulator import InputError

LOOPBACK = "127.0.0.1"
#: Dask's configuration for the local cluster: no HTTP routes on the scheduler or the workers.
NO_HTTP_ROUTES: dict[str, list[str]] = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
CONNECT_TIMEOUT = "10s"
PROBE_TIMEOUT_S = 5.0


def local_cluster(workers: int) -> tuple[Any, Any]:
    """A client of a new local cluster of ``workers`` single-threaded processes, and the cluster."""
    from distributed import Client, LocalCluster, Security

    security = Security.temporary()  # a self-signed certificate every member must present
    with dask.config.set(NO_HTTP_ROUTES):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK,
                               protocol="tls://", security=security, dashboard_address=None,
                               scheduler_kwargs={"dashboard": False, "dashboard_address": f"{LOOPBACK}:0"})
        return Client(cluster, security=security), cluster


def _refused(address: str, detail: str) -> InputError:
    return InputError("scheduler", f"cannot reach the Dask scheduler at {address!r}: {detail}")


def check_scheduler(address: str) -> None:
    """``address`` must be tcp:// or tls:// with a host and a port, tls:// needs Dask's TLS
    settings, and something must answer there: else an InputError, before any Client is made
    (a Client that fails half-made complains again when the interpreter exits)."""
    from distributed import Security
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=True)
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise _refused(address, f"not an address ({' '.join(str(exc).split())}); give tcp://HOST:PORT") from None
    if scheme not in ("tcp", "tls"):
        raise _refused(address, f"{scheme}:// is not a network scheduler; give tcp://HOST:PORT or tls://HOST:PORT")
    if scheme == "tls" and Security().get_connection_args("client").get("ssl_context") is None:
        raise _refused(address, "tls:// needs Dask's TLS settings (distributed.comm.tls.ca-file, .client.cert and "
                                ".client.key in Dask's configuration)")
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except (OSError, OverflowError, ValueError) as exc:  # OverflowError: a port over 65535
        raise _refused(address, f"nothing answers there ({getattr(exc, 'strerror', None) or exc})") from None


def connect(address: str) -> tuple[Any, None]:
    """A client of the scheduler at ``address``, checked first (``check_scheduler``); whatever
    keeps it from being reached is an InputError."""
    from distributed import Client

    check_scheduler(address)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT), None
    except Exception as exc:  # any reason the scheduler cannot be reached is the user's to fix
        raise _refused(address, " ".join(str(exc).split()) or type(exc).__name__) from None
