"""Read AWS Price List data for SageMaker real-time hosting into catalogue prices.

Two inputs carry the same product records:

* the **bulk offer file** (``.../offers/v1.0/aws/AmazonSageMaker/current/index.json`` or a
  region file), read by :func:`read_offer_file`;
* the pages of ``boto3.client("pricing").get_products(ServiceCode="AmazonSageMaker", ...)``,
  read by :func:`read_get_products_pages` and fetched with a caller's client by
  :func:`fetch_get_products_pages`.

Both give ``{(instance_type, region): Price}`` with confidence ``"confirmed"``, which
:func:`refresh_catalogue` lays over a :class:`~pricing.catalogue.Catalogue`.

Which records count as a hosting instance price
===============================================
Attribute names were checked against public third-party code that reads these files (not
against an AWS specification). SageMaker ``"ML Instance"`` products carry ``component``
(e.g. ``"Hosting"``, ``"Training"``, ``"studio-jupyterlab"``), ``platoinstancetype`` (the
same role, e.g. ``"Hosting"``, ``"Studio-Notebook"``), ``instanceName`` (``"ml.c5.xlarge"``),
``instanceType`` (seen both plain and with a suffix such as ``"ml.g7e.2xlarge-hosting"``, and
as ``"NA"``), ``usagetype`` (``"USE1-Host:ml.c5.xlarge"``; training is ``"...-Train:ml..."``),
``operation`` (``"RunInstance"`` for every component, so it is not used to select),
``regionCode``, ``location`` and ``locationType``. The readers therefore accept either
spelling:

* component: ``component``, else ``platoinstancetype``; it must equal ``"Hosting"``
  (case-insensitive);
* no attribute among component, platoinstancetype, usagetype, operation and productFamily
  may mention "studio" or "notebook";
* ``usagetype``, when present, must be a ``Host:`` usage type (``USE1-Host:...``);
* instance name: the ``ml.<family>.<size>`` prefix of ``instanceName``, else of
  ``instanceType``, else the name after the colon of ``usagetype``; a product without one
  (endpoint storage, data transfer, values like ``"NA"``) is not an instance and is skipped;
* region: ``regionCode``, else ``location`` mapped through a table of common regions; a
  ``locationType`` other than ``"AWS Region"`` (Outposts, Local Zones) is skipped;
* price: an on-demand dimension in hours (``"Hrs"``) with a positive ``USD`` price; zero-priced
  (free tier) products and other units (GB-Mo, GB-second, requests) are skipped.

Malformed input raises :class:`~pricing.catalogue.PricingError` whose field is the path to the
bad part (e.g. ``products.<sku>.attributes``). Two hosting records that give different prices
for the same instance type and region also raise, rather than one being picked silently.
Input with no hosting prices gives an empty dict; the caller decides what that means.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias

from pricing.catalogue import Price, PricingError

OFFER_CODE = "AmazonSageMaker"
FORMAT_VERSION = "aws_v1"
CONFIDENCE = "confirmed"
HOSTING = "hosting"

PathOrDocument: TypeAlias = str | os.PathLike | Mapping[str, Any]
Prices = dict[tuple[str, str], Price]

_HOURLY_UNITS = frozenset({"hrs", "hr", "hour", "hours"})
_EXCLUDED_WORDS = ("studio", "notebook")
_EXCLUSION_ATTRIBUTES = ("component", "platoinstancetype", "usagetype", "operation")
_INSTANCE_PREFIX = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+", re.IGNORECASE)
_HOST_USAGE = re.compile(r"(?:^|-)Host:", re.IGNORECASE)

# Price List ``location`` names of common regions, for records without ``regionCode``.
_LOCATION_TO_REGION: Mapping[str, str] = MappingProxyType({
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Canada (Central)": "ca-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "EU (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3",
    "EU (Frankfurt)": "eu-central-1",
    "EU (Stockholm)": "eu-north-1",
    "EU (Milan)": "eu-south-1",
    "Europe (Ireland)": "eu-west-1",
    "Europe (London)": "eu-west-2",
    "Europe (Paris)": "eu-west-3",
    "Europe (Frankfurt)": "eu-central-1",
    "Europe (Stockholm)": "eu-north-1",
    "Europe (Milan)": "eu-south-1",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3",
    "Asia Pacific (Hong Kong)": "ap-east-1",
    "Middle East (Bahrain)": "me-south-1",
    "Africa (Cape Town)": "af-south-1",
    "AWS GovCloud (US-West)": "us-gov-west-1",
    "AWS GovCloud (US-East)": "us-gov-east-1",
})


@dataclass(frozen=True)
class _Record:
    """One product record with the on-demand terms that belong to it, and where it was found."""

    sku: str
    attributes: Mapping[str, Any]
    product_family: str
    on_demand: Mapping[str, Any] | None  # {offer term code: term}; None if it has none
    attributes_path: str
    terms_path: str
    source: str


# Public API

def read_offer_file(path_or_dict: PathOrDocument, region: str | None = None) -> Prices:
    """Hosting prices from an AWS Price List bulk offer file for ``AmazonSageMaker``.

    ``path_or_dict`` is a path to the JSON file (the whole-service ``index.json`` or a region
    file) or the already-parsed document. If ``region`` is given (e.g. ``"us-east-1"``) only
    prices for that region are kept. The source of each price names the file's
    ``publicationDate`` and the SKU. See the module docstring for the selection rules; the
    attribute names are read tolerantly because they were not checked against an AWS spec.
    """
    document = _load(path_or_dict, "offer file")
    _require_mapping(document, "<offer file>")
    _check_code(document, "offerCode", "<offer file>.offerCode")
    products = _required_mapping(document, "products", "products")
    terms = _required_mapping(document, "terms", "terms")
    on_demand = _required_mapping(terms, "OnDemand", "terms.OnDemand")
    published = _text(document.get("publicationDate")) or "(no publicationDate)"

    def records() -> Iterator[_Record]:
        for sku, product in products.items():
            path = f"products.{sku}"
            _require_mapping(product, path)
            sku_terms = on_demand.get(sku)
            if sku_terms is not None:
                _require_mapping(sku_terms, f"terms.OnDemand.{sku}")
            yield _Record(
                sku=str(sku),
                attributes=_required_mapping(product, "attributes", f"{path}.attributes"),
                product_family=_text(product.get("productFamily")),
                on_demand=sku_terms,
                attributes_path=f"{path}.attributes",
                terms_path=f"terms.OnDemand.{sku}",
                source=f"AWS Price List offer file {published}, SKU {sku}",
            )

    return _collect(records(), region)


def read_get_products_pages(pages: Any, region: str | None = None) -> Prices:
    """Hosting prices from the pages of ``pricing.get_products(ServiceCode="AmazonSageMaker")``.

    ``pages`` is one page (``{"FormatVersion": "aws_v1", "PriceList": [json string, ...]}``),
    a list of pages (as :func:`fetch_get_products_pages` returns), or a path to a JSON file
    holding either. PriceList items may be JSON strings (as the API returns them) or
    already-decoded objects. Selection rules and ``region`` as in :func:`read_offer_file`.
    """
    if isinstance(pages, (str, os.PathLike)):
        pages = _load(pages, "get_products file")
    if isinstance(pages, Mapping):
        pages = [pages]
    if not isinstance(pages, Sequence) or isinstance(pages, (str, bytes)):
        raise PricingError("pages", f"expected a get_products page, a list of pages or a path, "
                                    f"got {type(pages).__name__}")

    def records() -> Iterator[_Record]:
        for i, page in enumerate(pages):
            page_path = f"pages[{i}]"
            _require_mapping(page, page_path)
            version = page.get("FormatVersion")
            if version is not None and version != FORMAT_VERSION:
                raise PricingError(f"{page_path}.FormatVersion",
                                   f"expected {FORMAT_VERSION!r}, got {version!r}")
            price_list = page.get("PriceList")
            if not isinstance(price_list, list):
                raise PricingError(f"{page_path}.PriceList",
                                   f"expected a list of JSON strings, got {type(price_list).__name__}")
            for j, item in enumerate(price_list):
                yield _get_products_record(item, f"{page_path}.PriceList[{j}]")

    return _collect(records(), region)


# Selection

def _collect(records: Iterable[_Record], region: str | None) -> Prices:
    """Hosting prices of ``records`` (in ``region`` if given); conflicting prices raise."""
    if region is not None and not isinstance(region, str):
        raise PricingError("region", f"expected a region code such as 'us-east-1', got {region!r}")
    found: Prices = {}
    for record in records:
        price = _hosting_price(record)
        if price is None or (region is not None and price.region != region):
            continue
        key = (price.instance_type, price.region)
        previous = found.get(key)
        if previous is None:
            found[key] = price
        elif previous.per_hour != price.per_hour:
            raise PricingError(record.terms_path, f"conflicting hosting prices for {key[0]} in {key[1]}: "
                                                  f"{previous.per_hour} ({previous.source}) and "
                                                  f"{price.per_hour} ({price.source})")
    return found


def _hosting_price(record: _Record) -> Price | None:
    """The record's hourly hosting price, or None if it is not a priced hosting instance."""
    attributes = record.attributes
    path = record.attributes_path
    if not _is_hosting(attributes, record.product_family, path):
        return None
    instance_type = _instance_name(attributes, path)
    if instance_type is None:
        return None
    location_type = _attribute(attributes, "locationType", path)
    if location_type and location_type.lower() != "aws region":
        return None
    if record.on_demand is None:
        return None
    per_hour = _hourly_usd(record.on_demand, record.terms_path)
    if per_hour is None:
        return None
    return Price(instance_type, _region(attributes, path), per_hour, record.source, CONFIDENCE)


def _is_hosting(attributes: Mapping[str, Any], product_family: str, path: str) -> bool:
    component = _attribute(attributes, "component", path) or _attribute(attributes, "platoinstancetype", path)
    if component.lower() != HOSTING:
        return False
    labels = [_attribute(attributes, name, path) for name in _EXCLUSION_ATTRIBUTES] + [product_family]
    if any(word in label.lower() for label in labels for word in _EXCLUDED_WORDS):
        return False
    usage = _attribute(attributes, "usagetype", path)
    return not usage or _HOST_USAGE.search(usage) is not None


def _instance_name(attributes: Mapping[str, Any], path: str) -> str | None:
    """``ml.<family>.<size>`` from instanceName, instanceType or usagetype, else None."""
    for name in ("instanceName", "instanceType"):
        match = _INSTANCE_PREFIX.match(_attribute(attributes, name, path))
        if match is not None:
            return match.group(0).lower()
    usage = _attribute(attributes, "usagetype", path)
    match = re.search(r":(" + _INSTANCE_PREFIX.pattern + ")", usage, re.IGNORECASE)
    return match.group(1).lower() if match else None


def _region(attributes: Mapping[str, Any], path: str) -> str:
    code = _attribute(attributes, "regionCode", path)
    if code:
        return code
    location = _attribute(attributes, "location", path)
    try:
        return _LOCATION_TO_REGION[location]
    except KeyError:
        raise PricingError(f"{path}.location", f"no regionCode and location {location!r} is not a known "
                                               "region name") from None


def _hourly_usd(on_demand: Mapping[str, Any], path: str) -> float | None:
    """The single positive USD hourly price among the on-demand terms, or None."""
    prices: set[float] = set()
    for code, term in on_demand.items():
        term_path = f"{path}.{code}"
        _require_mapping(term, term_path)
        dimensions = _required_mapping(term, "priceDimensions", f"{term_path}.priceDimensions")
        for rate, dimension in dimensions.items():
            dim_path = f"{term_path}.priceDimensions.{rate}"
            _require_mapping(dimension, dim_path)
            unit = dimension.get("unit")
            if not isinstance(unit, str):
                raise PricingError(f"{dim_path}.unit", f"expected a unit such as 'Hrs', got {unit!r}")
            if unit.strip().lower() not in _HOURLY_UNITS:
                continue
            per_unit = _required_mapping(dimension, "pricePerUnit", f"{dim_path}.pricePerUnit")
            if "USD" not in per_unit:
                continue
            usd = _usd(per_unit["USD"], f"{dim_path}.pricePerUnit.USD")
            if usd > 0:
                prices.add(usd)
    if len(prices) > 1:
        raise PricingError(path, f"several hourly USD prices for one product: {sorted(prices)}")
    return prices.pop() if prices else None


def _get_products_record(item: Any, path: str) -> _Record:
    if isinstance(item, (str, bytes)):
        try:
            item = json.loads(item)
        except json.JSONDecodeError as error:
            raise PricingError(path, f"not valid JSON ({error})") from None
    _require_mapping(item, path)
    _check_code(item, "serviceCode", f"{path}.serviceCode")
    product = _required_mapping(item, "product", f"{path}.product")
    sku = product.get("sku")
    if not isinstance(sku, str) or not sku:
        raise PricingError(f"{path}.product.sku", f"expected a SKU string, got {sku!r}")
    terms = _required_mapping(item, "terms", f"{path}.terms")
    on_demand = terms.get("OnDemand")
    if on_demand is not None:
        _require_mapping(on_demand, f"{path}.terms.OnDemand")
    published = _text(item.get("publicationDate")) or "(no publicationDate)"
    return _Record(
        sku=sku,
        attributes=_required_mapping(product, "attributes", f"{path}.product.attributes"),
        product_family=_text(product.get("productFamily")),
        on_demand=on_demand,
        attributes_path=f"{path}.product.attributes",
        terms_path=f"{path}.terms.OnDemand",
        source=f"AWS Price List API get_products {published}, SKU {sku}",
    )


# Helpers

def _load(source: PathOrDocument, what: str) -> Any:
    """A parsed document: ``source`` itself if already parsed, else the JSON file it names."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    name = os.fspath(source)
    try:
        # A FIFO or a device would block or never end; pricing reads files of its own (it imports
        # nothing of the project), so it checks this here rather than through simulator.jsonfiles.
        if not stat.S_ISREG(os.stat(name).st_mode):
            raise PricingError(what, f"{name} is not a regular file")
        with open(name, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise PricingError(what, f"{name} is not valid JSON ({error})") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PricingError(what, f"cannot read {name}: {getattr(error, 'strerror', None) or error}") from None


def _require_mapping(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        raise PricingError(path, f"expected a JSON object, got {type(value).__name__}")


def _required_mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    if key not in parent:
        raise PricingError(path, "missing")
    value = parent[key]
    _require_mapping(value, path)
    return value


def _check_code(document: Mapping[str, Any], key: str, path: str) -> None:
    code = document.get(key)
    if code is not None and code != OFFER_CODE:
        raise PricingError(path, f"expected {OFFER_CODE!r}, got {code!r}")


def _attribute(attributes: Mapping[str, Any], name: str, path: str) -> str:
    """A string attribute (stripped), '' if absent; a non-string value raises."""
    value = attributes.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PricingError(f"{path}.{name}", f"expected a string, got {type(value).__name__}")
    return value.strip()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _usd(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PricingError(path, f"expected a decimal price string, got {value!r}")
    try:
        usd = float(value)
    except ValueError:
        raise PricingError(path, f"expected a decimal price string, got {value!r}") from None
    if not math.isfinite(usd) or usd < 0:
        raise PricingError(path, f"expected a finite non-negative price, got {value!r}")
    return usd


