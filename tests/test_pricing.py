"""Tests for the instance catalogue and the AWS Price List readers.

The fixtures in ``tests/data/pricing`` are small hand-made documents in the AWS Price List
format (attribute names as seen in public third-party snapshots; the SKUs are invented).
No test touches the network: the pricing client is a real boto3 client under a Stubber.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from pricing import (
    Catalogue,
    Price,
    PricingError,
    default_catalogue,
    fetch_get_products_pages,
    hourly_price,
    read_get_products_pages,
    read_offer_file,
    refresh_catalogue,
)
from pricing.catalogue import DATA_DIR

FIXTURES = Path(__file__).with_name("data") / "pricing"
OFFER_FILE = FIXTURES / "sagemaker_offer_excerpt.json"
PAGE_FILE = FIXTURES / "get_products_page.json"

C5_USE1 = "8KUZT6Y3ZJQXK2DS"
M5_USE1 = "3Q2WPY7TB5CN9FQX"
C5_EUW1 = "J5ZK8RXVW4A7HUEM"
TRAINING = "X2B9GMNQ6D3TWV7C"
STUDIO = "R7HC4KD2PZ8YQN5F"
FREE = "T9EF3MW6QA2XRJ8B"
STORAGE = "W4NV8CJ2YH6KD3TR"
CONFIDENCES = {"confirmed", "third_party", "derived"}


@pytest.fixture
def offer() -> dict:
    return json.loads(OFFER_FILE.read_text())


@pytest.fixture
def page() -> dict:
    return json.loads(PAGE_FILE.read_text())


def only(offer: dict, *skus: str) -> dict:
    """``offer`` reduced to the given products (and their terms)."""
    reduced = copy.deepcopy(offer)
    reduced["products"] = {s: p for s, p in reduced["products"].items() if s in skus}
    reduced["terms"]["OnDemand"] = {s: t for s, t in reduced["terms"]["OnDemand"].items() if s in skus}
    return reduced


def pricing_client():
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


# ----------------------------------------------------------------------------- bundled catalogue

def test_bundled_c5_xlarge_price_is_confirmed_from_the_developer_guide():
    price = hourly_price("ml.c5.xlarge")
    assert price.per_hour == 0.204
    assert price.region == "us-east-1"
    assert price.confidence == "confirmed" and price.confirmed
    assert "AWS SageMaker Developer Guide" in price.source


def test_third_party_price_is_not_confirmed():
    price = hourly_price("ml.t2.medium")
    assert price.confidence == "third_party"
    assert price.confirmed is False


def test_unknown_instance_type_raises_naming_instance_type():
    with pytest.raises(PricingError) as info:
        hourly_price("ml.nonexistent.xlarge")
    assert info.value.field == "instance_type"
    assert "instance_type" in str(info.value)


@pytest.mark.parametrize("instance_type", ["ml.c6g.large", "ml.m6g.xlarge", "ml.inf1.6xlarge"])
def test_type_without_price_raises_naming_region_and_never_returns_zero(instance_type):
    assert default_catalogue().spec(instance_type).instance_type == instance_type
    with pytest.raises(PricingError) as info:
        hourly_price(instance_type)
    assert info.value.field == "region"
    assert "no region has a price" in str(info.value)


def test_eu_west_1_price_of_m5_xlarge():
    price = hourly_price("ml.m5.xlarge", "eu-west-1")
    assert price.per_hour == 0.257
    assert price.confirmed


def test_catalogue_has_no_zero_prices():
    assert all(p.per_hour > 0 for p in default_catalogue().prices.values())


@pytest.mark.parametrize("name, price_column, source_column, confidence_column", [
    ("sagemaker_instances.csv", "price_us_east_1", "price_source", "price_confidence"),
    ("sagemaker_prices_other_regions.csv", "price_per_hour", "price_source", "price_confidence"),
    ("sagemaker_serverless_prices.csv", "compute_usd_per_second", "source", "confidence"),
])
def test_every_csv_row_keeps_its_source_and_confidence(name, price_column, source_column, confidence_column):
    with open(DATA_DIR / name, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert source_column in row and confidence_column in row
        assert row[source_column].strip(), f"{name}: row without a source: {row}"
        if row[price_column]:
            assert float(row[price_column]) > 0, row
            assert row[confidence_column] in CONFIDENCES, row
        else:
            assert row[confidence_column] == "", f"{name}: confidence without a price: {row}"


# ----------------------------------------------------------------------------- offer file

def test_offer_file_gives_hosting_prices_with_provenance():
    prices = read_offer_file(OFFER_FILE)
    assert set(prices) == {("ml.c5.xlarge", "us-east-1"), ("ml.m5.large", "us-east-1"),
                           ("ml.c5.xlarge", "eu-west-1")}
    c5 = prices[("ml.c5.xlarge", "us-east-1")]
    assert c5 == Price("ml.c5.xlarge", "us-east-1", 0.204,
                       f"AWS Price List offer file 2025-05-20T18:04:12Z, SKU {C5_USE1}", "confirmed")
    assert prices[("ml.m5.large", "us-east-1")].per_hour == 0.115
    assert prices[("ml.c5.xlarge", "eu-west-1")].per_hour == 0.23
    for price in prices.values():
        assert price.confirmed
    assert M5_USE1 in prices[("ml.m5.large", "us-east-1")].source
    assert C5_EUW1 in prices[("ml.c5.xlarge", "eu-west-1")].source


def test_offer_file_accepts_a_parsed_document_and_a_str_path(offer):
    assert read_offer_file(offer) == read_offer_file(str(OFFER_FILE)) == read_offer_file(OFFER_FILE)


@pytest.mark.parametrize("sku", [TRAINING, STUDIO, FREE, STORAGE])
def test_training_studio_zero_priced_and_storage_products_are_skipped(offer, sku):
    assert read_offer_file(only(offer, sku)) == {}


def test_training_record_does_not_replace_the_hosting_one(offer):
    prices = read_offer_file(only(offer, C5_USE1, TRAINING))
    assert list(prices) == [("ml.c5.xlarge", "us-east-1")]
    assert C5_USE1 in prices[("ml.c5.xlarge", "us-east-1")].source


def test_studio_is_excluded_even_when_labelled_hosting(offer):
    doc = only(offer, STUDIO)
    attributes = doc["products"][STUDIO]["attributes"]
    attributes["component"] = "Hosting"  # platoinstancetype and usagetype still say Studio
    assert read_offer_file(doc) == {}
    attributes["platoinstancetype"] = "Hosting"
    attributes["usagetype"] = "USE1-Host:ml.m5.large"
    attributes["operation"] = "RunNotebookInstance"
    assert read_offer_file(doc) == {}


@pytest.mark.parametrize("component", ["Notebook", "Studio-JupyterLab", "BatchTransform", "Processing",
                                       "AsyncInf", "Inference"])
def test_other_components_are_skipped(offer, component):
    doc = only(offer, C5_USE1)
    doc["products"][C5_USE1]["attributes"].update(component=component, platoinstancetype=component)
    assert read_offer_file(doc) == {}


@pytest.mark.parametrize("usage", ["USE1-Train:ml.c5.xlarge", "USE1-Tsform:ml.c5.xlarge",
                                   "USE1-AsyncInf:ml.c5.xlarge"])
def test_hosting_component_with_a_non_host_usagetype_is_skipped(offer, usage):
    doc = only(offer, C5_USE1)
    doc["products"][C5_USE1]["attributes"]["usagetype"] = usage
    assert read_offer_file(doc) == {}
    doc["products"][C5_USE1]["attributes"]["usagetype"] = "Host:ml.c5.xlarge"  # no region prefix
    assert list(read_offer_file(doc)) == [("ml.c5.xlarge", "us-east-1")]


def test_serverless_gb_second_dimension_is_skipped(offer):
    doc = only(offer, C5_USE1)
    (term,) = doc["terms"]["OnDemand"][C5_USE1].values()
    (dimension,) = term["priceDimensions"].values()
    dimension["unit"] = "GB-Second"
    assert read_offer_file(doc) == {}


def test_component_is_case_insensitive_and_platoinstancetype_is_a_fallback(offer):
    doc = only(offer, C5_USE1)
    attributes = doc["products"][C5_USE1]["attributes"]
    attributes["component"] = "HOSTING"
    assert read_offer_file(doc)[("ml.c5.xlarge", "us-east-1")].per_hour == 0.204
    del attributes["component"]
    assert read_offer_file(doc)[("ml.c5.xlarge", "us-east-1")].per_hour == 0.204


def test_instance_name_falls_back_to_instance_type_then_usagetype(offer):
    doc = only(offer, C5_USE1)
    attributes = doc["products"][C5_USE1]["attributes"]
    del attributes["instanceName"]  # instanceType is "ml.c5.xlarge-Hosting"
    assert list(read_offer_file(doc)) == [("ml.c5.xlarge", "us-east-1")]
    attributes["instanceType"] = "NA"
    assert list(read_offer_file(doc)) == [("ml.c5.xlarge", "us-east-1")]


def test_region_falls_back_to_location(offer):
    doc = only(offer, C5_EUW1)
    del doc["products"][C5_EUW1]["attributes"]["regionCode"]
    assert list(read_offer_file(doc)) == [("ml.c5.xlarge", "eu-west-1")]


def test_unknown_location_without_region_code_raises(offer):
    doc = only(offer, C5_EUW1)
    attributes = doc["products"][C5_EUW1]["attributes"]
    del attributes["regionCode"]
    attributes["location"] = "Somewhere (New)"
    with pytest.raises(PricingError, match=f"products.{C5_EUW1}.attributes.location"):
        read_offer_file(doc)


def test_outposts_location_type_is_skipped(offer):
    doc = only(offer, C5_USE1)
    doc["products"][C5_USE1]["attributes"]["locationType"] = "AWS Outposts"
    assert read_offer_file(doc) == {}


def test_region_filter(offer):
    assert set(read_offer_file(offer, region="eu-west-1")) == {("ml.c5.xlarge", "eu-west-1")}
    assert set(read_offer_file(offer, region="us-east-1")) == {("ml.c5.xlarge", "us-east-1"),
                                                                ("ml.m5.large", "us-east-1")}
    assert read_offer_file(offer, region="ap-south-1") == {}


def test_empty_offer_gives_empty_dict():
    assert read_offer_file({"offerCode": "AmazonSageMaker", "products": {}, "terms": {"OnDemand": {}}}) == {}


def test_product_without_on_demand_terms_is_skipped(offer):
    doc = only(offer, C5_USE1)
    doc["terms"]["OnDemand"] = {}
    assert read_offer_file(doc) == {}


def test_conflicting_prices_for_one_type_and_region_raise(offer):
    doc = only(offer, C5_USE1)
    twin = "ZZZZTWINSKU00001"
    doc["products"][twin] = copy.deepcopy(doc["products"][C5_USE1])
    doc["terms"]["OnDemand"][twin] = json.loads(json.dumps(doc["terms"]["OnDemand"][C5_USE1])
                                                .replace("0.2040000000", "0.3000000000"))
    with pytest.raises(PricingError, match=r"conflicting hosting prices for ml\.c5\.xlarge"):
        read_offer_file(doc)


def _break(document: dict, path: list, value) -> dict:
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return broken


def _dimension_path(sku: str) -> list:
    return ["terms", "OnDemand", sku, f"{sku}.JRTCKXETXF", "priceDimensions", f"{sku}.JRTCKXETXF.6YS6EN2CT7"]


@pytest.mark.parametrize("path, value, field", [
    (["products"], KeyError, "products"),
    (["products"], [], "products"),
    (["terms"], KeyError, "terms"),
    (["terms", "OnDemand"], KeyError, "terms.OnDemand"),
    (["offerCode"], "AmazonEC2", "<offer file>.offerCode"),
    (["products", C5_USE1], "oops", f"products.{C5_USE1}"),
    (["products", C5_USE1, "attributes"], KeyError, f"products.{C5_USE1}.attributes"),
    (["products", C5_USE1, "attributes"], ["component", "Hosting"], f"products.{C5_USE1}.attributes"),
    (["products", C5_USE1, "attributes", "component"], 7, f"products.{C5_USE1}.attributes.component"),
    (["terms", "OnDemand", C5_USE1], [], f"terms.OnDemand.{C5_USE1}"),
    (["terms", "OnDemand", C5_USE1, f"{C5_USE1}.JRTCKXETXF", "priceDimensions"], KeyError,
     f"terms.OnDemand.{C5_USE1}.{C5_USE1}.JRTCKXETXF.priceDimensions"),
    ([*_dimension_path(C5_USE1), "unit"], KeyError, f"{C5_USE1}.JRTCKXETXF.6YS6EN2CT7.unit"),
    ([*_dimension_path(C5_USE1), "pricePerUnit"], KeyError, f"{C5_USE1}.JRTCKXETXF.6YS6EN2CT7.pricePerUnit"),
    ([*_dimension_path(C5_USE1), "pricePerUnit"], {"USD": "cheap"}, "pricePerUnit.USD"),
    ([*_dimension_path(C5_USE1), "pricePerUnit"], {"USD": "-0.2"}, "pricePerUnit.USD"),
    ([*_dimension_path(C5_USE1), "pricePerUnit"], {"USD": None}, "pricePerUnit.USD"),
])
def test_malformed_offer_raises_pricing_error_with_path(offer, path, value, field):
    with pytest.raises(PricingError) as info:
        read_offer_file(_break(offer, path, value))
    assert field in info.value.field
    assert field in str(info.value)


def test_non_object_document_and_invalid_json_raise(tmp_path):
    with pytest.raises(PricingError, match="<offer file>"):
        read_offer_file([])  # type: ignore[arg-type]
    bad = tmp_path / "index.json"
    bad.write_text("{not json")
    with pytest.raises(PricingError, match="not valid JSON"):
        read_offer_file(bad)


# ----------------------------------------------------------------------------- get_products pages

def test_get_products_page_gives_hosting_prices(page):
    prices = read_get_products_pages(page)
    assert set(prices) == {("ml.g4dn.xlarge", "us-east-1"), ("ml.m5.xlarge", "eu-west-1")}
    g4dn = prices[("ml.g4dn.xlarge", "us-east-1")]
    assert g4dn.per_hour == 0.736 and g4dn.confidence == "confirmed"
    assert "SKU 6HDQ2N4WZXPC7M3K" in g4dn.source and "2025-05-20T18:04:12Z" in g4dn.source
    assert prices[("ml.m5.xlarge", "eu-west-1")].per_hour == 0.257


def test_get_products_accepts_a_page_a_list_and_a_path(page, tmp_path):
    expected = read_get_products_pages(page)
    assert read_get_products_pages([page]) == expected
    assert read_get_products_pages(PAGE_FILE) == expected
    listed = tmp_path / "pages.json"
    listed.write_text(json.dumps([page, {"FormatVersion": "aws_v1", "PriceList": []}]))
    assert read_get_products_pages(str(listed)) == expected


def test_get_products_accepts_decoded_items_and_filters_region(page):
    decoded = {"FormatVersion": "aws_v1", "PriceList": [json.loads(s) for s in page["PriceList"]]}
    assert read_get_products_pages(decoded) == read_get_products_pages(page)
    assert set(read_get_products_pages(page, region="eu-west-1")) == {("ml.m5.xlarge", "eu-west-1")}


def test_get_products_empty_pages_give_empty_dict():
    assert read_get_products_pages([]) == {}
    assert read_get_products_pages({"FormatVersion": "aws_v1", "PriceList": []}) == {}


def _item(page: dict, index: int = 0) -> dict:
    return json.loads(page["PriceList"][index])


@pytest.mark.parametrize("mutate, field", [
    (lambda p: p.pop("PriceList"), "pages[0].PriceList"),
    (lambda p: p.update(FormatVersion="aws_v2"), "pages[0].FormatVersion"),
    (lambda p: p["PriceList"].__setitem__(1, "{broken"), "pages[0].PriceList[1]"),
    (lambda p: p["PriceList"].__setitem__(1, 42), "pages[0].PriceList[1]"),
    (lambda p: p["PriceList"].__setitem__(0, json.dumps({**_item(p), "product": None})),
     "pages[0].PriceList[0].product"),
    (lambda p: p["PriceList"].__setitem__(0, json.dumps({**_item(p), "serviceCode": "AmazonEC2"})),
     "pages[0].PriceList[0].serviceCode"),
    (lambda p: p["PriceList"].__setitem__(0, json.dumps({**_item(p), "terms": "none"})),
     "pages[0].PriceList[0].terms"),
    (lambda p: p["PriceList"].__setitem__(2, json.dumps(
        {**_item(p, 2), "product": {k: v for k, v in _item(p, 2)["product"].items() if k != "sku"}})),
     "pages[0].PriceList[2].product.sku"),
    (lambda p: p["PriceList"].__setitem__(0, json.dumps(
        {**_item(p), "product": {**_item(p)["product"], "attributes": "x"}})),
     "pages[0].PriceList[0].product.attributes"),
])
def test_malformed_get_products_raises_pricing_error_with_path(page, mutate, field):
    broken = copy.deepcopy(page)
    mutate(broken)
    with pytest.raises(PricingError) as info:
        read_get_products_pages(broken)
    assert info.value.field == field
    assert field in str(info.value)


def test_get_products_rejects_a_non_page():
    with pytest.raises(PricingError, match="pages"):
        read_get_products_pages(3)


# ----------------------------------------------------------------------------- refresh

def test_refresh_overrides_the_bundled_price_and_leaves_the_others():
    base = default_catalogue()
    before = dict(base.prices)
    fresh = {("ml.c5.xlarge", "us-east-1"): Price("ml.c5.xlarge", "us-east-1", 0.21, "AWS Price List test",
                                                  "confirmed")}
    refreshed = refresh_catalogue(base, fresh)
    assert isinstance(refreshed, Catalogue) and refreshed is not base
    assert refreshed.price("ml.c5.xlarge").per_hour == 0.21
    assert refreshed.price("ml.c5.xlarge").source == "AWS Price List test"
    assert refreshed.price("ml.m5.xlarge", "eu-west-1") == base.price("ml.m5.xlarge", "eu-west-1")
    assert refreshed.price("ml.t2.medium") == base.price("ml.t2.medium")
    assert dict(refreshed.specs) == dict(base.specs)
    assert len(refreshed.prices) == len(base.prices)
    # pure: the base catalogue is unchanged
    assert dict(base.prices) == before
    assert hourly_price("ml.c5.xlarge").per_hour == 0.204


def test_refresh_from_offer_file_sets_confirmed_prices():
    refreshed = refresh_catalogue(default_catalogue(), read_offer_file(OFFER_FILE))
    c5 = refreshed.price("ml.c5.xlarge", "eu-west-1")
    assert c5.per_hour == 0.23 and c5.confirmed and C5_EUW1 in c5.source
    assert default_catalogue().price("ml.c5.xlarge", "eu-west-1").confidence == "derived"


def test_refresh_fills_a_missing_price_and_keeps_unknown_types():
    graviton = Price("ml.c6g.large", "us-east-1", 0.09, "AWS Price List test", "confirmed")
    unknown = Price("ml.zz9.large", "us-east-1", 1.0, "AWS Price List test", "confirmed")
    refreshed = refresh_catalogue(default_catalogue(), {("ml.c6g.large", "us-east-1"): graviton,
                                                        ("ml.zz9.large", "us-east-1"): unknown})
    assert refreshed.price("ml.c6g.large") == graviton
    assert refreshed.prices[("ml.zz9.large", "us-east-1")] == unknown
    with pytest.raises(PricingError) as info:
        refreshed.price("ml.zz9.large")
    assert info.value.field == "instance_type"


def test_refresh_rejects_mismatched_keys():
    price = Price("ml.c5.xlarge", "us-east-1", 0.21, "test", "confirmed")
    with pytest.raises(PricingError, match="does not match"):
        refresh_catalogue(default_catalogue(), {("ml.c5.xlarge", "eu-west-1"): price})


# ----------------------------------------------------------------------------- fetch (stubbed)

def _request(filters: list[dict], next_token: str | None = None) -> dict:
    params = {"ServiceCode": "AmazonSageMaker", "Filters": filters, "FormatVersion": "aws_v1"}
    if next_token is not None:
        params["NextToken"] = next_token
    return params


HOSTING_FILTER = {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"}
REGION_FILTER = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}


def test_fetch_follows_next_token_and_reads_back(page):
    client = pricing_client()
    first = {"FormatVersion": "aws_v1", "PriceList": page["PriceList"][:2], "NextToken": "page-2"}
    second = {"FormatVersion": "aws_v1", "PriceList": page["PriceList"][2:]}
    with Stubber(client) as stubber:
        stubber.add_response("get_products", first, _request([HOSTING_FILTER, REGION_FILTER]))
        stubber.add_response("get_products", second, _request([HOSTING_FILTER, REGION_FILTER], "page-2"))
        pages = fetch_get_products_pages(client, region="us-east-1")
        stubber.assert_no_pending_responses()
    assert len(pages) == 2
    assert pages[0]["NextToken"] == "page-2"
    assert read_get_products_pages(pages) == read_get_products_pages(page)
    assert set(read_get_products_pages(pages, region="us-east-1")) == {("ml.g4dn.xlarge", "us-east-1")}


def test_fetch_one_query_per_instance_type():
    client = pricing_client()
    empty = {"FormatVersion": "aws_v1", "PriceList": []}
    with Stubber(client) as stubber:
        for name in ("ml.c5.xlarge", "ml.g5.xlarge"):
            name_filter = {"Type": "TERM_MATCH", "Field": "instanceName", "Value": name}
            stubber.add_response("get_products", empty, _request([HOSTING_FILTER, name_filter]))
        pages = fetch_get_products_pages(client, instance_types=["ml.c5.xlarge", "ml.g5.xlarge", "ml.c5.xlarge"])
        stubber.assert_no_pending_responses()
    assert len(pages) == 2
    assert read_get_products_pages(pages) == {}


def test_fetch_with_no_filters_beyond_hosting():
    client = pricing_client()
    with Stubber(client) as stubber:
        stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []},
                             _request([HOSTING_FILTER]))
        assert len(fetch_get_products_pages(client)) == 1
        stubber.assert_no_pending_responses()


def test_vcpu_of_reads_the_catalogue_and_is_none_for_an_unknown_type():
    catalogue = default_catalogue()
    assert catalogue.vcpu_of("ml.c5.xlarge") == catalogue.spec("ml.c5.xlarge").vcpu == 4
    assert catalogue.vcpu_of("ml.x9.large") is None
