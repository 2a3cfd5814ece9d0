"""Serverless inference rates (compute per second by memory size, data processing per GB)
and the cost of one serverless inference."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache

from pricing.catalogue import DATA_DIR, DEFAULT_REGION, PricingError

KB_PER_GB = 1024 * 1024


@dataclass(frozen=True)
class ServerlessRate:
    """What one memory size costs in one region, with where the figure comes from."""

    region: str
    memory_mb: int
    compute_usd_per_second: float
    data_processing_usd_per_gb: float
    provisioned_usd_per_second: float | None  # no known figure: None, never 0
    source: str
    confidence: str

    @property
    def confirmed(self) -> bool:
        return self.confidence == "confirmed"


@lru_cache(maxsize=1)
def _rates() -> dict[tuple[str, int], ServerlessRate]:
    with open(DATA_DIR / "sagemaker_serverless_prices.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(row["region"], int(row["memory_mb"])): _rate_from_row(row) for row in rows}


def _rate_from_row(row: dict[str, str]) -> ServerlessRate:
    """One CSV row; an empty provisioned-concurrency cell is an unknown figure (None), not 0."""
    provisioned = row["provisioned_concurrency_usd_per_second"]
    return ServerlessRate(region=row["region"], memory_mb=int(row["memory_mb"]),
                          compute_usd_per_second=float(row["compute_usd_per_second"]),
                          data_processing_usd_per_gb=float(row["data_processing_usd_per_gb"]),
                          provisioned_usd_per_second=float(provisioned) if provisioned else None,
                          source=row["source"], confidence=row["confidence"])


def serverless_rate(memory_mb: int, region: str = DEFAULT_REGION) -> ServerlessRate:
    """The rate of ``memory_mb`` in ``region``; a missing one is an error, never 0."""
    try:
        return _rates()[(region, memory_mb)]
    except KeyError:
        sizes = sorted(m for (r, m) in _rates() if r == region)
        if sizes:  # the region is known: the memory size is what is missing
            raise PricingError("memory_mb", f"no serverless rate for {memory_mb} MB in {region} (known sizes: "
                                            f"{', '.join(map(str, sizes))} MB)") from None
        known = sorted({r for (r, _) in _rates()})
        raise PricingError("region", f"no serverless rate for {memory_mb} MB in {region} (known regions: "
                                     f"{', '.join(known)})") from None


def billed_ms(service_ms: float) -> int:
    """Serverless bills inference duration by the millisecond, rounded up."""
    return max(1, math.ceil(service_ms - 1e-9))


def serverless_cost_per_inference(mean_billed_ms: float, rate: ServerlessRate, payload_kb: float) -> float:
    """Compute (billed duration x the memory size's per-second rate) plus data processing
    (request and response payload, per GB)."""
    compute = mean_billed_ms / 1000.0 * rate.compute_usd_per_second
    return compute + payload_kb / KB_PER_GB * rate.data_processing_usd_per_gb
