"""The HTTP server of ``irsim serve``: SageMaker's awsJson1.1 (``POST /`` with ``X-Amz-Target``)
and SageMaker Runtime's InvokeEndpoint (``POST /endpoints/NAME/invocations``) on one port,
served by werkzeug's threaded WSGI server (a thread per connection; every thread shares one
offline client, whose store is SQLite in WAL mode with one writer at a time).

Signatures are not checked: any request, signed or not, is answered. Bodies over
``max_body_bytes`` get a 413 and the connection is closed. Shutdown stops accepting, lets the
requests in flight finish (up to ``grace_s``) and leaves running jobs to their detached workers.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from irsim.wire.addresses import INVOCATIONS
from irsim.wire.dispatch import SageMakerWire, WireAnswer, json_error, unknown_operation
from irsim.wire.runtime import MAX_PAYLOAD_BYTES, RuntimeStandIn

#: The default limit of a request body: SageMaker Runtime's InvokeEndpoint payload limit (no
#: control-plane request comes near it).
DEFAULT_MAX_BODY_BYTES = MAX_PAYLOAD_BYTES
#: A body over the limit is read and dropped up to this much, so the client reads the 413
#: rather than a reset connection; beyond it the connection is closed unread.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen and the server's limits."""

    host: str = "127.0.0.1"
    port: int = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    grace_s: float = 10.0


class WireApp:
    """The WSGI application: routes a request to the SageMaker dispatcher or the runtime
    stand-in, enforces the body limit, and counts the requests in flight."""

    def __init__(self, sagemaker: SageMakerWire, runtime: RuntimeStandIn, max_body_bytes: int) -> None:
        self.sagemaker, self.runtime, self.max_body_bytes = sagemaker, runtime, max_body_bytes
        self._in_flight = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._idle:
            self._in_flight += 1
        try:
            request = Request(environ)
            answer = self.route(request)  # werkzeug's server closes every connection after its response
            return Response(answer.body, status=answer.status, headers=dict(answer.headers))(environ, start_response)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is in flight; whether that happened within ``timeout_s``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)

    def route(self, request: Request) -> WireAnswer:
        """The answer to one request."""
        body = self._body(request)
        if body is None:
            return json_error("RequestEntityTooLargeException", f"The request body is over irsim serve's limit of "
                              f"{self.max_body_bytes} bytes.", 413)
        invocation = INVOCATIONS.match(request.path)
        if invocation is not None and request.method == "POST":
            return self.runtime.invoke(unquote(invocation.group(1)), body, dict(request.headers))
        if request.method != "POST" or request.path != "/":
            return unknown_operation(f"{request.method} {request.path} is no SageMaker operation: SageMaker takes "
                                     "POST / with X-Amz-Target, SageMaker Runtime POST "
                                     "/endpoints/NAME/invocations.")
        return self.sagemaker.answer_request(request.headers.get("X-Amz-Target"), request.headers.get("Content-Type"),
                                             body)

    def _body(self, request: Request) -> bytes | None:
        """The body, or None when it is over the limit (what was sent of it is drained)."""
        length = request.content_length
        stream = request.stream
        if length is not None and length > self.max_body_bytes:
            if length <= DRAIN_LIMIT_BYTES:
                _drain(stream)
            return None
        body = stream.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            _drain(stream)
            return None
        return body


def _drain(stream: Any) -> None:
    """Read and drop what is left of a body (up to DRAIN_LIMIT_BYTES)."""
    left = DRAIN_LIMIT_BYTES
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


class _Handler(WSGIRequestHandler):
    """werkzeug's request handler with its access log on irsim's logger (shown with -v)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info('%s "%s" %s', self.address_string(), self.requestline, code)


@dataclass
class RunningServer:
    """A server listening (its thread serving), and how to stop it."""

    httpd: BaseWSGIServer
    app: WireApp
    thread: threading.Thread
    options: ServeOptions

    @property
    def url(self) -> str:
        host = self.options.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.httpd.port}"

    def stop(self) -> bool:
        """Stop accepting, let the requests in flight finish (up to grace_s), close the socket.
        Whether every request in flight finished."""
        self.httpd.shutdown()
        finished = self.app.wait_idle(self.options.grace_s)
        self.httpd.server_close()
        self.thread.join(timeout=self.options.grace_s)
        return finished


def start_server(app: WireApp, options: ServeOptions) -> RunningServer:
    """Bind (port 0: a free port) and serve on a background thread. OSError if the address
    cannot be bound (bound here, not by werkzeug, which would print and exit instead)."""
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    listening = socket.create_server((options.host.strip("[]"), options.port), family=family, backlog=128)
    try:
        httpd = make_server(options.host, options.port, app, threaded=True, request_handler=_Handler,
                            fd=listening.fileno())
    finally:
        listening.close()  # werkzeug serves on its own duplicate of the descriptor
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                              name="irsim-serve", daemon=True)
    thread.start()
    return RunningServer(httpd=httpd, app=app, thread=thread, options=options)


def reap_finished_children() -> None:
    """Collect the exit status of worker processes that ended (no zombies pile up in a
    long-running server; a job's state is in the store, not in its worker's exit status)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

