"""Bad inputs to ``LostSales-v0`` fail in one line: config values beyond the documented
limits, actions of the wrong kind, reset options, stepping before reset. Large demand scales."""

from __future__ import annotations

import time

import gymnasium
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.core.config import ConfigError
from envs.replenishment.demand.distributions import MAX_DEMAND, DemandConfig
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.env import LostSalesEnv
from tests.conftest import one_line_error

ENV_ID = "fulfillgym/LostSales-v0"


# -- config limits --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        (dict(penalty=1e300), "env.penalty", "[0.0, 1000000000.0]"),
        (dict(holding_cost=2e9), "env.holding_cost", "1000000000.0"),
        (dict(fixed_order_cost=float("inf")), "env.fixed_order_cost", "finite"),
        (dict(unit_cost=1e10), "env.unit_cost", "1000000000.0"),
        (dict(demand={"mean": 1e18}), "env.demand.mean", "(0.0, 100000.0]"),
        (dict(demand={"mean": float("nan")}), "env.demand.mean", "finite"),
        (dict(demand={"distribution": "pmf", "pmf": [0.5, float("nan"), 0.5]}), "env.demand.pmf", "pmf[1] = nan"),
        (dict(demand={"distribution": "pmf", "pmf": [1.5, -0.5]}), "env.demand.pmf", "pmf[0] = 1.5"),
        (dict(demand={"distribution": "pmf", "pmf": [0.5, -0.5, 1.0]}), "env.demand.pmf", "pmf[1] = -0.5"),
        (dict(demand={"distribution": "pmf", "pmf": ["a"]}), "env.demand.pmf", "pmf[0] = 'a'"),
        (dict(demand={"distribution": "pmf", "pmf": [True]}), "env.demand.pmf", "pmf[0] = True"),
        (dict(demand={"distribution": "pmf", "pmf": [0.0] * (MAX_DEMAND + 2)}), "env.demand.pmf", "entries"),
        (dict(demand={"distribution": "series", "series": [1e18]}), "env.demand.series", "[0, 200000]"),
        (dict(demand={"distribution": "series", "series": "123"}), "env.demand.series", "series[0] = '1'"),
        (dict(demand={"distribution": "series", "series": ["x"]}), "env.demand.series", "series[0] = 'x'"),
        (dict(demand={"distribution": "negative_binomial", "mean": 1, "variance": 1e300}),
         "env.demand.variance", "40000000000.0"),
        (dict(demand={"distribution": "negative_binomial", "mean": 1e4, "variance": 1e9}),
         "env.demand.variance", "P(demand > 200000)"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_values_beyond_the_documented_limits_are_one_line_config_errors(kwargs, field, fragment):
    for build in (LostSalesConfig.from_kwargs, lambda kw: gymnasium.make(ENV_ID, **kw)):
        message = one_line_error(ConfigError, build, kwargs)
        assert message.startswith(f"{field}: ") and fragment in message, message


def test_the_pmf_message_names_the_bad_entry_not_the_sum():
    message = one_line_error(ConfigError, DemandConfig, "pmf", pmf=(1.5, -0.5))
    assert "pmf[0] = 1.5" in message and "got sum" not in message


def test_the_limits_themselves_are_accepted():
    assert LostSalesConfig(penalty=1e9, holding_cost=1e9).penalty == 1e9
    assert LostSalesConfig(q_max=10, demand={"mean": 1e5}).demand.mean == 1e5
    assert DemandConfig("series", series=(0, MAX_DEMAND)).mean == MAX_DEMAND / 2


# -- large demand: closed-form quantiles -----------------------------------------------------
@pytest.mark.parametrize("demand", [{"mean": 1e4}, {"distribution": "negative_binomial", "mean": 1e4,
                                                    "variance": 3e4}], ids=["poisson", "negative_binomial"])
def test_a_mean_of_ten_thousand_builds_in_milliseconds_and_steps(demand):
    start = time.perf_counter()
    config = LostSalesConfig(lead_time=8, demand=demand)
    assert time.perf_counter() - start < 0.1  # 0.3 s before: 9-fold convolution of 10,000-entry pmfs
    assert 9e4 < config.q_max < 9.2e4  # about the 9-period 0.9-quantile
    env = gymnasium.make(ENV_ID, demand=demand)
    env.reset(seed=0)
    for _ in range(10):
        env.step(env.action_space.sample())


def test_a_default_q_max_above_the_limit_is_refused_at_once_even_with_a_long_lead_time():
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^env\.q_max: the default for this config exceeds 100000"):
        LostSalesConfig(lead_time=52, demand={"mean": 1e4})
    assert time.perf_counter() - start < 0.5  # 11 s before (53-fold convolution)


def old_sum_quantile(demand: DemandConfig, periods: int, q: float) -> int:
    """The previous rule: repeated convolution of the truncated one-period pmf."""
    one = out = demand.pmf_array()
    for _ in range(periods - 1):
        out = np.convolve(out, one)
    return int(np.searchsorted(np.cumsum(out), q - 1e-12))


@pytest.mark.parametrize("demand", [DemandConfig(mean=m) for m in (0.3, 5, 37.5)]
                         + [DemandConfig("negative_binomial", mean=m, variance=f * m)
                            for m in (0.5, 5, 20) for f in (1.5, 4)], ids=repr)
def test_closed_form_quantiles_agree_with_the_convolution(demand):
    for periods in (1, 2, 3, 7):
        for q in (0.0, 0.01, 0.1, 0.5, 0.9, 0.95, 0.999, 0.9999):
            assert demand.sum_quantile(periods, q) == old_sum_quantile(demand, periods, q), (periods, q)


def test_poisson_quantiles_are_scipy_stats_numbers_without_importing_it():
    """``sum_quantile`` and ``pmf_array`` of Poisson demand call scipy.special as
    scipy.stats.poisson does: the same ppf, isf, cdf and pmf bits, so the same quantiles."""
    from scipy import stats

    from envs.replenishment.demand.distributions import _discrete_quantile, _Poisson

    for mu in (1e-4, 0.3, 5.0, 37.5, 812.25, 3.3e5):
        ours, theirs = _Poisson(mu), stats.poisson(mu)
        for target in (1e-9, 0.1, 0.5, 0.9, 0.95, 0.999, 1 - 2e-12):
            for name, arg in (("ppf", target), ("isf", target), ("cdf", int(theirs.ppf(target)))):
                assert float(getattr(ours, name)(arg)).hex() == float(getattr(theirs, name)(arg)).hex(), (mu, name)
            assert _discrete_quantile(ours, target) == _discrete_quantile(theirs, target)
        support = np.arange(int(theirs.isf(1e-12)) + 2)
        assert ours.pmf(support).tobytes() == theirs.pmf(support).tobytes(), mu


def test_large_sum_pmf_uses_the_fft_and_agrees_with_direct_convolution():
    demand = DemandConfig(mean=5000.0)
    one = demand.pmf_array()
    direct = np.convolve(np.convolve(one, one), one)
    fast = demand.sum_pmf(3)  # above the direct-convolution budget
    assert len(one) * len(fast) > 50_000_000
    assert fast.shape == direct.shape and np.abs(fast - direct).max() < 1e-12
    assert fast.min() >= 0.0 and abs(fast.sum() - 1.0) < 1e-12
    assert demand.sum_quantile(3, 0.9) == int(np.searchsorted(np.cumsum(direct), 0.9 - 1e-12))


# -- actions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["1", True, np.True_, np.array([True]), ["1"], np.array([0.5], dtype=object),
                                    np.array(["0.5"])], ids=repr)
def test_continuous_action_refuses_strings_bools_and_objects(action):
    env = LostSalesEnv(action_type="continuous")
    env.reset(seed=0)
    message = one_line_error(ValueError, env.step, action)
    assert message.startswith("action: expected floats in [-1, 1], shape (1,), got ")


def test_continuous_action_still_accepts_floats_and_integers():
    env = LostSalesEnv(action_type="continuous", q_max=20)
    env.reset(seed=0)
    for action, order in [(1.0, 20), (np.float32(-1.0), 0), (0, 10), ([0.0], 10), (np.array([1.0]), 20)]:
        assert env.step(action)[4]["order"] == order


@pytest.mark.parametrize("action", ["3", np.array([True]), np.array([3], dtype=object), np.array([3.0]),
                                    np.zeros(200)], ids=["str", "bool-array", "object-array", "float-array",
                                                         "long-array"])
def test_discrete_action_refuses_strings_bools_objects_and_floats(action):
    env = LostSalesEnv()
    env.reset(seed=0)
    message = one_line_error(ValueError, env.step, action)
    assert message.startswith("action: expected an integer in [0, ")


# -- episode protocol -------------------------------------------------------------------------
@pytest.mark.parametrize("lead_time", [0, 1, 2, 4])
def test_step_before_the_first_reset_is_one_clear_runtime_error(lead_time):
    env = LostSalesEnv(lead_time=lead_time)
    assert one_line_error(RuntimeError, env.step, 0) == "step() called before reset(); call reset() first"
    env.reset(seed=0)
    env.step(0)


@pytest.mark.parametrize("options", [{"start": 3}, {"initial_state": "zero"}, [1]], ids=repr)
def test_reset_options_other_than_none_or_empty_are_refused(options):
    env = LostSalesEnv()
    message = one_line_error(ValueError, env.reset, seed=0, options=options)
    assert message.startswith("reset(options=...): ")
    if isinstance(options, dict):
        assert repr(next(iter(options))) in message and "accepts no reset options" in message
    wrapped = gymnasium.make(ENV_ID)
    with pytest.raises(ValueError, match=r"^reset\(options=\.\.\.\)"):
        wrapped.reset(options=options)


def test_reset_accepts_no_options_or_an_empty_dict():
    env = LostSalesEnv()
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3, options={})
    same, _ = env.reset(seed=3, options=None)
    assert np.array_equal(first, again) and np.array_equal(first, same)
