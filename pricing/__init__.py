"""Instance catalogue and prices (hourly on-demand, serverless), with their sources."""

from pricing.catalogue import (
    Catalogue,
    InstanceSpec,
    Price,
    PricingError,
    default_catalogue,
    hourly_price,
    instance_spec,
)
from pricing.pricelist import read_get_products_pages, read_offer_file
from pricing.refresh import catalogue_from_price_list, fetch_get_products_pages, refresh_catalogue
from pricing.serverless import ServerlessRate, billed_ms, serverless_cost_per_inference, serverless_rate

__all__ = ["Catalogue", "InstanceSpec", "Price", "PricingError", "ServerlessRate", "billed_ms",
           "catalogue_from_price_list", "default_catalogue", "fetch_get_products_pages", "hourly_price",
           "instance_spec", "read_get_products_pages", "read_offer_file", "refresh_catalogue",
           "serverless_cost_per_inference", "serverless_rate"]
