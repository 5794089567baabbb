"""The Scenario dataclass, its clock and its one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from envs.core.config import ConfigError
from envs.core.scenario import KINDS, Scenario, ScenarioBatch
from tests.conftest import one_line_error


def test_defaults_are_none_and_inactive():
    sc = Scenario()
    assert sc.kind == "none" and not sc.active and sc.max_extra_lead_time == 0
    assert Scenario.from_value(None) == sc and Scenario.from_value({"kind": "none"}) == sc


@pytest.mark.parametrize(("kwargs", "field", "accepted"), [
    ({"kind": "flood"}, "env.scenario.kind", "none, demand_surge"),
    ({"kind": "demand_surge", "duration": 0, "size": 1.0}, "env.scenario.duration", "[1,"),
    ({"kind": "demand_surge", "duration": 5, "size": -2.0}, "env.scenario.size", "[-1, 100]"),
    ({"kind": "supplier_disruption", "duration": 5, "size": 1.5}, "env.scenario.size", "[0, 1]"),
    ({"kind": "capacity_cut", "duration": 5, "size": "big"}, "env.scenario.size", "[0, 1]"),
    ({"kind": "lead_time_shock", "duration": 5, "size": 1.5}, "env.scenario.size", "integer in [1, 365]"),
    ({"kind": "lead_time_shock", "duration": 5, "size": 0}, "env.scenario.size", "integer in [1, 365]"),
    ({"start": -1}, "env.scenario.start", "integer in [0,"),
    ({"random_onset": 1.5}, "env.scenario.random_onset", "integer"),
])
def test_bad_fields_are_one_line_errors_naming_the_field(kwargs, field, accepted):
    message = one_line_error(ConfigError, Scenario, **kwargs)
    assert message.startswith(field) and accepted in message, message


def test_unknown_key_is_refused():
    message = one_line_error(ConfigError, Scenario.from_value, {"kind": "none", "strength": 1})
    assert message.startswith("env.scenario.strength") and "random_onset" in message


def test_every_kind_builds():
    for kind in KINDS[1:]:
        size = 2 if kind == "lead_time_shock" else 0.5
        sc = Scenario(kind=kind, start=3, duration=4, size=size)
        assert sc.active and kind in sc.describe()


def test_clock_queries_and_vectorised_queries_agree():
    rng = np.random.default_rng(0)
    surge = Scenario("demand_surge", start=5, duration=3, size=0.5).clock(rng)
    t = np.arange(12)
    factor = surge.demand_factor(t)
    assert list(factor) == [1.0] * 5 + [1.5] * 3 + [1.0] * 4
    assert [surge.demand_factor(int(x)) for x in t] == list(factor)
    assert np.all(surge.supply_fraction(t) == 1) and np.all(surge.extra_lead_time(t) == 0)
    shock = Scenario("lead_time_shock", start=2, duration=2, size=3).clock(np.random.default_rng(0))
    assert list(shock.extra_lead_time(np.arange(5))) == [0, 0, 3, 3, 0]
    cut = Scenario("capacity_cut", start=0, duration=1, size=0.25).clock(np.random.default_rng(0))
    assert cut.capacity_factor(0) == 0.75 and cut.capacity_factor(1) == 1.0
    assert cut.accept(0, 100, 10) == 7 and cut.accept(1, 100, 10) == 100
    out = cut.accept(0, np.array([1, 50]), np.array([4, 40]))
    assert list(out) == [1, 30]


def test_clock_derives_its_stream_without_drawing_from_the_generator():
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    clock = Scenario("supplier_disruption", start=0, duration=50, size=0.5, random_onset=30).clock(a)
    clock.accept(3, 9)
    assert np.array_equal(a.random(10), b.random(10))
    again = Scenario("supplier_disruption", start=0, duration=50, size=0.5, random_onset=30).clock(
        np.random.default_rng(7))
    assert again.start == clock.start and again.accept(3, 9) == clock.accept(3, 9)


def test_random_onset_is_uniform_on_its_range_and_fixed_per_seed():
    sc = Scenario("demand_surge", start=10, duration=5, size=1.0, random_onset=4)
    onsets = [sc.clock(np.random.default_rng(s)).start for s in range(400)]
    assert set(onsets) == {10, 11, 12, 13, 14}
    assert [sc.clock(np.random.default_rng(s)).start for s in range(20)] == onsets[:20]


def test_scale_demand_multiplies_the_mean_and_keeps_zeros():
    sc = Scenario("demand_surge", start=0, duration=1, size=0.3)
    draws = np.array([sc.clock(np.random.default_rng(s)).scale_demand(0, 10) for s in range(4000)])
    assert set(draws) <= {13}  # 10 * 1.3 is a whole number
    d = np.arange(7)
    scaled = np.array([sc.clock(np.random.default_rng(s)).scale_demand(0, d) for s in range(4000)])
    assert np.all(scaled[:, 0] == 0)
    assert np.allclose(scaled.mean(axis=0), 1.3 * d, atol=0.03)


def test_supply_fraction_one_delivers_nothing_and_fractions_are_unbiased():
    full = Scenario("supplier_disruption", start=0, duration=1, size=1.0)
    assert full.clock(np.random.default_rng(0)).accept(0, np.array([5, 100])).tolist() == [0, 0]
    half = Scenario("supplier_disruption", start=0, duration=1, size=0.5)
    got = np.array([half.clock(np.random.default_rng(s)).accept(0, 3) for s in range(4000)])
    assert set(got) <= {1, 2} and abs(got.mean() - 1.5) < 0.05


def test_batch_tiles_and_accepts_row_by_row():
    sc = Scenario("supplier_disruption", start=1, duration=1, size=0.5)
    batch = ScenarioBatch([sc.clock(np.random.default_rng(s)) for s in range(3)])
    assert len(batch.tile(2)) == 6
    assert np.array_equal(batch.accept(0, np.array([4, 4, 4])), [4, 4, 4])
    assert np.all(batch.accept(1, np.array([4, 4, 4])) == 2)
    assert list(batch.supply_fraction(1)) == [0.5] * 3
