"""A catalogue refreshed from AWS Price List data: the prices read by `pricelist` merged over
the bundled ones, and the `get_products` pages fetched with the caller's client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from pricing.catalogue import Catalogue, Price, PricingError
from pricing.pricelist import FORMAT_VERSION, OFFER_CODE, read_get_products_pages, read_offer_file


def refresh_catalogue(base: Catalogue, prices: Mapping[tuple[str, str], Price]) -> Catalogue:
    """A new catalogue: ``base``'s specs, and its prices updated and extended with ``prices``.

    ``base`` is not modified. A price for an instance type that is not in the specs is kept
    in the new catalogue's prices, but :meth:`Catalogue.price` still raises
    ``PricingError("instance_type")`` for that type because it has no spec (add the spec to
    ``pricing/data/sagemaker_instances.csv`` to use it).
    """
    merged: dict[tuple[str, str], Price] = dict(base.prices)
    for key, price in prices.items():
        if not isinstance(price, Price):
            raise PricingError(f"prices[{key!r}]", f"expected a Price, got {type(price).__name__}")
        if key != (price.instance_type, price.region):
            raise PricingError(f"prices[{key!r}]", f"key does not match the price's "
                                                   f"({price.instance_type!r}, {price.region!r})")
        merged[key] = price
    return Catalogue(MappingProxyType(dict(base.specs)), MappingProxyType(merged))


def catalogue_from_price_list(base: Catalogue, document: Any, source: str) -> Catalogue:
    """``base`` with its prices refreshed from a Price List document: a bulk offer file (it
    has ``products``) or saved ``aws pricing get-products`` pages (anything else).
    ``source`` names the document in errors."""
    if not isinstance(document, (Mapping, list)):  # parsed already: a string here is no path
        raise PricingError("price_list", f"{source} must hold an AWS Price List offer file or get-products pages "
                                         f"(a JSON object or list), not {type(document).__name__}")
    if isinstance(document, Mapping) and "products" in document:
        prices = read_offer_file(document)
    else:
        prices = read_get_products_pages(document)
    if not prices:
        raise PricingError("price_list", f"{source} holds no SageMaker hosting prices")
    return refresh_catalogue(base, prices)


def fetch_get_products_pages(client: Any, region: str | None = None,
                             instance_types: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """All ``get_products`` pages of SageMaker hosting products, using the caller's client.

    ``client`` is a ``boto3.client("pricing", region_name="us-east-1")`` (or any object with a
    ``get_paginator("get_products")``); this module never creates one and never reads
    credentials. Filters: ``component = Hosting``, plus ``regionCode = region`` if given. With
    ``instance_types``, one query per type adds ``instanceName = <type>`` (TERM_MATCH, whose
    semantics are documented; ANY_OF's value format is not, so it is not used). Returns the
    pages as boto3 gives them; read them with :func:`read_get_products_pages`.
    """
    base_filters = [_term_match("component", "Hosting")]
    if region is not None:
        base_filters.append(_term_match("regionCode", region))
    if instance_types is None:
        queries = [base_filters]
    else:
        names = list(dict.fromkeys(instance_types))
        queries = [[*base_filters, _term_match("instanceName", name)] for name in names]
    paginator = client.get_paginator("get_products")
    pages: list[dict[str, Any]] = []
    for filters in queries:
        pages.extend(paginator.paginate(ServiceCode=OFFER_CODE, Filters=filters,
                                        FormatVersion=FORMAT_VERSION))
    return pages


def _term_match(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


