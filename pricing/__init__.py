"""Instance catalogue and prices (hourly on-demand, serverless), with their sources."""

from pricing.catalogue import (Catalogue, InstanceSpec, Price, PricingError, default_catalogue, hourly_price,
                               instance_spec)
from pricing.pricelist import (fetch_get_products_pages, read_get_products_pages, read_offer_file,
                               refresh_catalogue)

__all__ = ["Catalogue", "InstanceSpec", "Price", "PricingError", "default_catalogue", "hourly_price",
           "instance_spec", "fetch_get_products_pages", "read_get_products_pages", "read_offer_file",
           "refresh_catalogue"]
from pricing.serverless import ServerlessRate, billed_ms, serverless_cost_per_inference, serverless_rate  # noqa: E402

__all__ += ["ServerlessRate", "billed_ms", "serverless_cost_per_inference", "serverless_rate"]
