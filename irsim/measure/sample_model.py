"""The bundled sample model: a small multilayer perceptron in numpy, its weights drawn once
from a seeded Generator (every start serves the same model), whose cost per request is
tunable: the rows a payload carries times ``hidden`` x ``hidden`` x ``layers`` multiply-adds,
plus ``io_ms`` of waiting (a feature-store read, time.sleep) that leaves the core free.

Payloads are CSV rows of ``FEATURES`` numbers (or JSON: a list of rows, or {"instances": rows}),
as the SageMaker containers of scikit-learn and XGBoost take them."""

from __future__ import annotations

import io
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

FEATURES = 16
SEED = 20260101
MAX_ROWS = 10_000


@dataclass(frozen=True)
class SampleModelConfig:
    """How costly each request is: ``hidden`` units in each of ``layers`` layers, and
    ``io_ms`` of waiting per request."""

    hidden: int = 256
    layers: int = 4
    io_ms: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.hidden <= 4096:
            raise ValueError(f"hidden must be 1 to 4096 units, got {self.hidden!r}")
        if not 1 <= self.layers <= 64:
            raise ValueError(f"layers must be 1 to 64, got {self.layers!r}")
        if not (math.isfinite(self.io_ms) and 0 <= self.io_ms <= 10_000):
            raise ValueError(f"io_ms must be 0 to 10000 ms, got {self.io_ms!r}")

    def environment(self) -> dict[str, str]:
        """The variables a server process reads the configuration from."""
        return {"IRSIM_SAMPLE_HIDDEN": str(self.hidden), "IRSIM_SAMPLE_LAYERS": str(self.layers),
                "IRSIM_SAMPLE_IO_MS": repr(self.io_ms)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SampleModelConfig:
        default = cls()
        return cls(hidden=int(environ.get("IRSIM_SAMPLE_HIDDEN", default.hidden)),
                   layers=int(environ.get("IRSIM_SAMPLE_LAYERS", default.layers)),
                   io_ms=float(environ.get("IRSIM_SAMPLE_IO_MS", default.io_ms)))


class SampleModel:
    """The served model: tanh layers with seeded weights and a linear read-out."""

    def __init__(self, config: SampleModelConfig) -> None:
        rng = np.random.default_rng(SEED)
        widths = [FEATURES] + [config.hidden] * config.layers
        self.weights = [rng.normal(scale=1.0 / math.sqrt(n), size=(n, m)) for n, m in itertools.pairwise(widths)]
        self.readout = rng.normal(scale=1.0 / math.sqrt(config.hidden), size=config.hidden)
        self.config = config

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """One prediction per row."""
        values = rows
        for weights in self.weights:
            values = np.tanh(values @ weights)
        return values @ self.readout


def parse_rows(body: bytes, content_type: str) -> np.ndarray:
    """The rows of a payload (CSV, or JSON when the content type says so); ValueError naming
    what is wrong otherwise."""
    if not body.strip():
        raise ValueError("the payload is empty")
    if "json" in content_type.lower():
        document = json.loads(body)
        rows = document.get("instances") if isinstance(document, dict) else document
        array = np.asarray(rows, dtype=float)
    else:
        array = np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != FEATURES:
        raise ValueError(f"each row must hold {FEATURES} numbers, got shape {array.shape}")
    if array.shape[0] > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} rows per request, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise ValueError("every feature must be a finite number")
    return array


def sample_bodies(seed: int, count: int = 256) -> tuple[bytes, ...]:
    """CSV payloads of lognormally many rows (median 30, at most 400), drawn from a seeded
    Generator: requests differ in size, so the service time varies as a real model's does."""
    rng = np.random.default_rng(seed)
    sizes = np.clip(np.round(rng.lognormal(math.log(30.0), 0.8, count)), 1, 400).astype(int)
    return tuple("\n".join(",".join(f"{v:.4f}" for v in row) for row in rng.normal(size=(k, FEATURES))).encode()
                 for k in sizes)
