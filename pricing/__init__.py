"""Instance catalogue and prices (hourly on-demand, serverless), with their sources."""

from pricing.catalogue import (Catalogue, InstanceSpec, Price, PricingError, default_catalogue, hourly_price,
                               instance_spec)

__all__ = ["Catalogue", "InstanceSpec", "Price", "PricingError", "default_catalogue", "hourly_price",
           "instance_spec"]
