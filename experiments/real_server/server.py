"""A small real model server that answers SageMaker's container contract on loopback:
``GET /ping`` (200 when the model is loaded) and ``POST /invocations`` (CSV rows of
features in, one prediction per row out, CSV).

The model is a scikit-learn random forest trained at start-up on a synthetic regression
problem drawn from a seeded numpy Generator, so every start serves the same model. Each
invocation also waits IRSIM_IO_MS (default 2 ms) on a simulated feature-store read
(time.sleep): a worker that is never idle then still leaves its core about a third of the
time, below the kernel's 95 % share for real-time processes (the generator runs the server
at real-time priority; hitting that share would stall it 50 ms every second). Run it under
gunicorn with one sync worker (one request at a time, FIFO through the listen queue), pinned
to one core: ``experiments/real_server/generate.py`` does that.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

FEATURES = 16
SEED = 20260101


def train() -> RandomForestRegressor:
    """The served model: 60 trees of depth 10 on 4,000 seeded rows."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(4000, FEATURES))
    y = x[:, 0] * 3.0 + np.sin(x[:, 1]) + x[:, 2] * x[:, 3] + rng.normal(scale=0.1, size=4000)
    model = RandomForestRegressor(n_estimators=int(os.environ.get("IRSIM_TREES", "60")), max_depth=10,
                                  random_state=SEED, n_jobs=1)
    return model.fit(x, y)


MODEL = train()
IO_S = float(os.environ.get("IRSIM_IO_MS", "2")) / 1000.0


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The WSGI entry point."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    if path == "/ping" and method == "GET":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]
    if path == "/invocations" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        rows = np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)
        time.sleep(IO_S)
        predictions = MODEL.predict(rows)
        out = "\n".join(f"{p:.6f}" for p in predictions).encode()
        start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", str(len(out)))])
        return [out]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
