"""Profile loading, validation messages, and the samplers' moments."""

import json
import math
import pickle

import numpy as np
import pytest
from conftest import make_profile
from scipy import special

from simulator import InputError, load_profile, parse_distribution
from simulator.distributions import lognormal_parameters, weibull_shape


def test_demo_profile_covers_the_required_instance_types():
    profile = load_profile("demo")
    required = {"ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5d.xlarge", "ml.m5.large", "ml.m5.xlarge",
                "ml.m5.2xlarge", "ml.r5.xlarge", "ml.g4dn.xlarge", "ml.inf1.xlarge"}
    assert required <= set(profile.instances)
    assert profile.overhead is not None


def test_profile_round_trips_through_json(tmp_path):
    profile = load_profile("demo")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile.to_dict()))
    assert load_profile(path) == profile


@pytest.mark.parametrize("family, cv", [("exponential", None), ("lognormal", 0.5), ("lognormal", 2.0),
                                        ("gamma", 0.3), ("gamma", 1.5), ("weibull", 0.4), ("weibull", 1.8)])
def test_samplers_have_the_requested_mean_and_cv(family, cv):
    spec = {"family": family, "mean_ms": 8.0, **({"cv": cv} if cv is not None else {})}
    dist = parse_distribution(spec, "service_time")
    n = 400_000
    x = dist.sample_s(np.random.default_rng(3), n) * 1000
    expected_cv = 1.0 if cv is None else cv
    # SE of the sample mean is sd / sqrt(n); 5 SE leaves a false-alarm rate below 1e-6.
    assert abs(x.mean() - 8.0) <= 5 * 8.0 * expected_cv / math.sqrt(n)
    assert x.std() / x.mean() == pytest.approx(expected_cv, rel=0.03 if expected_cv > 1 else 0.01)
    assert x.min() > 0


def test_deterministic_and_empirical():
    det = parse_distribution({"family": "deterministic", "mean_ms": 5}, "s")
    assert np.all(det.sample_s(np.random.default_rng(0), 10) == 0.005)
    emp = parse_distribution({"family": "empirical", "samples_ms": [1, 2, 3, 10]}, "s")
    draws = emp.sample_s(np.random.default_rng(0), 50_000) * 1000
    assert set(np.unique(draws)) == {1.0, 2.0, 3.0, 10.0}
    assert emp.mean_ms == 4.0


def test_parameter_maps_match_their_closed_forms():
    mu, sigma = lognormal_parameters(10.0, 0.5)
    assert math.exp(mu + sigma ** 2 / 2) == pytest.approx(10.0)
    k = weibull_shape(1.0)
    assert k == pytest.approx(1.0, abs=1e-9)  # the exponential is the Weibull with k = 1
    k = weibull_shape(0.5)
    assert math.sqrt(special.gamma(1 + 2 / k) / special.gamma(1 + 1 / k) ** 2 - 1) == pytest.approx(0.5)


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d["instances"]["ml.test.large"]["service_time"].update(family="pareto"),
     "instances.ml.test.large.service_time.family", "exponential, deterministic, lognormal"),
    (lambda d: d["instances"]["ml.test.large"]["service_time"].update(mean_ms=-1),
     "instances.ml.test.large.service_time.mean_ms", "> 0"),
    (lambda d: d["instances"]["ml.test.large"].update(
        service_time={"family": "deterministic", "mean_ms": 1, "cv": 0.2}),
     "instances.ml.test.large.service_time.cv", "not allowed"),
    (lambda d: d["instances"]["ml.test.large"].update(workers=0),
     "instances.ml.test.large.workers", "must be an integer >= 1 and <= 1024"),
    (lambda d: d["instances"]["ml.test.large"]["service_time"].update(cv=0),
     "instances.ml.test.large.service_time.cv", "> 0 and <= 10"),
    (lambda d: d["instances"]["ml.test.large"].pop("service_time"),
     "instances.ml.test.large.service_time", "required"),
    (lambda d: d.update(instances={}), "instances", "at least one"),
    (lambda d: d.update(model=""), "model", "non-empty"),
    (lambda d: d.update(overhead_ms={"family": "gamma", "mean_ms": 2}), "overhead_ms.cv", "> 0"),
    (lambda d: d["instances"].update({"c5.large": d["instances"]["ml.test.large"]}), "instances.c5.large", "ml."),
    (lambda d: d["instances"]["ml.test.large"].update(colour="red"), "instances.ml.test.large.colour", "unknown"),
    (lambda d: d["instances"]["ml.test.large"].update(service_time={"family": "empirical", "samples_ms": [1, -2]}),
     "instances.ml.test.large.service_time.samples_ms", "> 0"),
])
def test_bad_profiles_name_the_field_and_the_allowed_values(mutate, field, words):
    document = make_profile("lognormal", 10.0, 0.5)
    mutate(document)
    with pytest.raises(InputError) as info:
        load_profile(document)
    assert info.value.field == field
    assert words in str(info.value)


def test_unknown_instance_lists_what_the_profile_covers():
    with pytest.raises(InputError) as info:
        load_profile("demo").instance("ml.p9.huge")
    assert info.value.field == "instance_type" and "ml.c5.large" in str(info.value)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_profile(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "x",\n "instances": }')
    with pytest.raises(InputError, match="line 2 column"):
        load_profile(bad)


def test_input_errors_survive_pickling():
    """A bad input found in a worker process reaches the caller as the same InputError."""
    with pytest.raises(InputError) as info:
        load_profile("demo").instance("ml.p9.huge")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is InputError and (copy.field, copy.message) == (info.value.field, info.value.message)
