"""The instance catalogue: specs and on-demand hourly prices with their provenance.

Reads the CSV tables shipped in ``pricing/data`` (a copy of the project's reference data).
A price that is not ``confirmed`` is reported as such; a missing price is an error, never 0.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_REGION = "us-east-1"


class PricingError(LookupError):
    """An instance type or price the catalogue does not have, or a malformed price list;
    ``field`` names the parameter or the path to the bad part, as InputError does."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __reduce__(self) -> tuple[type[PricingError], tuple[str, str]]:
        # Rebuilt from (field, message), so the error survives a process pool's pickling.
        return type(self), (self.field, self.message)


@dataclass(frozen=True)
class Price:
    """An hourly on-demand price (USD) with where it comes from and how sure it is."""

    instance_type: str
    region: str
    per_hour: float
    source: str
    confidence: str  # confirmed | third_party | derived

    @property
    def confirmed(self) -> bool:
        return self.confidence == "confirmed"


@dataclass(frozen=True)
class InstanceSpec:
    """Hardware of one SageMaker hosting instance type."""

    instance_type: str
    vcpu: int
    memory_gib: float
    gpu_count: int
    gpu_model: str
    gpu_memory_gib: float
    accelerator: str
    arch: str

    @property
    def memory_mb(self) -> float:
        return self.memory_gib * 1024.0

    @property
    def family(self) -> str:
        """``ml.c5.xlarge`` -> ``c5``."""
        return self.instance_type.split(".")[1]


@dataclass(frozen=True)
class Catalogue:
    """Specs by instance type and prices by (instance type, region)."""

    specs: Mapping[str, InstanceSpec]
    prices: Mapping[tuple[str, str], Price]

    def spec(self, instance_type: str) -> InstanceSpec:
        try:
            return self.specs[instance_type]
        except KeyError:
            raise PricingError("instance_type", f"{instance_type!r} is not in the instance catalogue "
                               f"({len(self.specs)} types, e.g. ml.c5.xlarge)") from None

    def vcpu_of(self, instance_type: str) -> int | None:
        """The vCPUs of an instance type, None for one the catalogue lacks (how calibration's
        scaling rules and CPU per core read it)."""
        spec = self.specs.get(instance_type)
        return spec.vcpu if spec else None

    def price(self, instance_type: str, region: str = DEFAULT_REGION) -> Price:
        self.spec(instance_type)
        try:
            return self.prices[(instance_type, region)]
        except KeyError:
            regions = sorted(r for (t, r) in self.prices if t == instance_type)
            known = f"known for: {', '.join(regions)}" if regions else "no region has a price for it"
            raise PricingError("region", f"no hourly price for {instance_type} in {region} ({known}); "
                               "refresh prices from an AWS Price List file") from None


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The bundled catalogue (read once; immutable)."""
    specs: dict[str, InstanceSpec] = {}
    prices: dict[tuple[str, str], Price] = {}
    for row in _read_csv("sagemaker_instances.csv"):
        name = row["instance_type"]
        specs[name] = InstanceSpec(name, int(row["vcpu"]), float(row["memory_gib"]), int(row["gpu_count"] or 0),
                                   row["gpu_model"], float(row["gpu_memory_gib"] or 0), row["accelerator"], row["arch"])
        if row["price_us_east_1"]:
            prices[(name, DEFAULT_REGION)] = Price(name, DEFAULT_REGION, float(row["price_us_east_1"]),
                                                   row["price_source"], row["price_confidence"])
    for row in _read_csv("sagemaker_prices_other_regions.csv"):
        key = (row["instance_type"], row["region"])
        prices[key] = Price(key[0], key[1], float(row["price_per_hour"]), row["price_source"], row["price_confidence"])
    return Catalogue(MappingProxyType(specs), MappingProxyType(prices))


def instance_spec(instance_type: str) -> InstanceSpec:
    """Specs of ``instance_type`` from the bundled catalogue."""
    return default_catalogue().spec(instance_type)


def hourly_price(instance_type: str, region: str = DEFAULT_REGION) -> Price:
    """On-demand hourly price of ``instance_type`` in ``region`` with its provenance."""
    return default_catalogue().price(instance_type, region)
