"""Specification tests for ``fulfillgym/LostSales-v0`` (one behaviour per test).

The timing tests use ``series`` demand, so every number below is computed by hand from
the documented timing of events (``envs.replenishment.lost_sales.env``):

1. order q_t placed (cost K * [q_t > 0] + c * q_t); with L = 0 it arrives at once;
2. demand D_t served from on-hand stock;
3. holding h on stock left after demand, shortage p on lost units / on the backlog;
4. the order placed at the start of period t-L+1 arrives (L >= 1).

Then the demand distributions the env samples. The Gymnasium API, input validation and
rendering: ``test_env_api.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import envs  # noqa: F401  (registers fulfillgym/LostSales-v0)
from envs.replenishment.demand import DemandConfig
from envs.replenishment.lost_sales import LostSalesConfig, LostSalesEnv

ENV_ID = "fulfillgym/LostSales-v0"


def series_env(series, **kwargs) -> LostSalesEnv:
    """An env with deterministic demand ``series`` (cycled), zero initial stock, q_max 50."""
    kwargs.setdefault("initial_state", "zero")
    kwargs.setdefault("q_max", 50)  # the derived cap would be tiny for a constant series
    demand = DemandConfig(distribution="series", series=tuple(series))
    env = LostSalesEnv(demand=demand, **kwargs)
    env.reset(seed=0)
    return env


def run(env: LostSalesEnv, orders):
    """Step ``env`` with the given orders; return the observations and infos after each."""
    observations, infos = [], []
    for q in orders:
        obs, reward, terminated, truncated, info = env.step(q)
        assert reward == -info["cost"]
        assert not terminated and not truncated
        observations.append(obs.tolist())
        infos.append(info)
    return observations, infos


# -- timing of events -----------------------------------------------------------------------
def test_lead_time_0_order_arrives_before_demand():
    env = series_env([4], lead_time=0)
    observations, infos = run(env, [4, 6])
    assert [i["sales"] for i in infos] == [4, 4]
    assert [i["lost"] for i in infos] == [0, 0]
    assert observations == [[0.0], [2.0]]
    assert infos[1]["holding_cost"] == 2.0  # h = 1 on the 2 units left after demand


def test_lead_time_1_order_arrives_at_end_of_period_and_serves_the_next():
    env = series_env([4, 3], lead_time=1)
    observations, infos = run(env, [4, 0])
    # Period 0: nothing on hand, all 4 demanded units lost; the order then arrives.
    assert (infos[0]["sales"], infos[0]["lost"]) == (0, 4)
    assert observations[0] == [4.0]
    # Period 1: the 4 units serve demand 3.
    assert (infos[1]["sales"], infos[1]["lost"]) == (3, 0)
    assert observations[1] == [1.0]


def test_lead_time_2_order_waits_one_period_in_the_pipeline():
    env = series_env([0], lead_time=2)
    observations, _ = run(env, [7, 0, 0])
    assert observations == [[0.0, 7.0], [7.0, 0.0], [7.0, 0.0]]


def test_lead_time_2_order_first_serves_demand_two_periods_later():
    env = series_env([1], lead_time=2)
    _, infos = run(env, [5, 0, 0, 0])
    assert [i["sales"] for i in infos] == [0, 0, 1, 1]


def test_lead_time_3_pipeline_shifts_oldest_first():
    env = series_env([0], lead_time=3)
    observations, _ = run(env, [5, 6, 0, 0])
    assert observations == [
        [0.0, 0.0, 5.0],
        [0.0, 5.0, 6.0],
        [5.0, 6.0, 0.0],
        [11.0, 0.0, 0.0],
    ]


def test_holding_is_charged_on_stock_after_demand_before_the_arrival():
    env = series_env([0, 4], lead_time=1, holding_cost=2.0)
    observations, infos = run(env, [10, 10])
    assert infos[0]["holding_cost"] == 0.0  # the 10 units arrive after period 0's charge
    assert infos[1]["holding_cost"] == 2.0 * 6  # 10 - 4 left; the new 10 arrive afterwards
    assert observations[1] == [16.0]


def test_lost_sales_are_lost_and_charged_once():
    env = series_env([4, 4, 4], lead_time=1, penalty=9.0)
    observations, infos = run(env, [0, 10, 0])
    assert [i["lost"] for i in infos] == [4, 4, 0]
    assert [i["sales"] for i in infos] == [0, 0, 4]
    assert [i["shortage_cost"] for i in infos] == [36.0, 36.0, 0.0]
    assert [o[0] for o in observations] == [0.0, 10.0, 6.0]


def test_backorders_are_charged_every_period_and_filled_when_stock_arrives():
    env = series_env([4, 4, 4], lead_time=1, penalty=9.0, backorders=True)
    observations, infos = run(env, [0, 10, 0])
    # Backlog after demand: 4, then 8 (charged again), then 2 after the 10 units filled 8.
    assert [i["lost"] for i in infos] == [4, 8, 2]
    assert [i["shortage_cost"] for i in infos] == [36.0, 72.0, 18.0]
    assert [i["sales"] for i in infos] == [0, 0, 2]
    assert [o[0] for o in observations] == [-4.0, 2.0, -2.0]


def test_backorders_with_lead_time_0_fill_backlog_from_the_new_order():
    env = series_env([3], lead_time=0, backorders=True)
    observations, infos = run(env, [0, 5])
    assert observations == [[-3.0], [-1.0]]
    assert [i["lost"] for i in infos] == [3, 1]


def test_fixed_order_cost_is_charged_only_when_ordering():
    env = series_env([0], lead_time=2, fixed_order_cost=50.0)
    _, infos = run(env, [0, 1, 7, 0])
    assert [i["ordering_cost"] for i in infos] == [0.0, 50.0, 50.0, 0.0]


def test_unit_cost_is_charged_per_unit_when_ordering():
    env = series_env([0], lead_time=2, unit_cost=2.5, fixed_order_cost=10.0)
    _, infos = run(env, [0, 1, 4])
    assert [i["ordering_cost"] for i in infos] == [0.0, 12.5, 20.0]


def test_reward_is_minus_the_sum_of_the_cost_components():
    env = series_env(
        [6], lead_time=0, holding_cost=1.5, penalty=4.0, fixed_order_cost=3.0, unit_cost=0.5
    )
    _, reward, _, _, info = env.step(4)  # 4 units, demand 6: 2 lost
    assert info["holding_cost"] == 0.0
    assert info["shortage_cost"] == 8.0
    assert info["ordering_cost"] == 3.0 + 2.0
    assert reward == -13.0 == -info["cost"]
    _, reward, _, _, info = env.step(9)  # 9 units, demand 6: 3 left
    assert reward == -(1.5 * 3 + 0.0 + 3.0 + 4.5)


# -- demand distributions -------------------------------------------------------------------
def env_demand(demand: DemandConfig, periods: int, seed: int = 12345) -> np.ndarray:
    env = LostSalesEnv(demand=demand, lead_time=0)
    env.reset(seed=seed)
    return np.array([env.step(0)[4]["demand"] for _ in range(periods)])


@pytest.mark.parametrize(
    "demand",
    [
        DemandConfig("poisson", mean=5.0),
        DemandConfig("poisson", mean=17.5),
        DemandConfig("negative_binomial", mean=5.0, variance=15.0),
        DemandConfig("negative_binomial", mean=2.0, variance=2.5),
    ],
    ids=["poisson-5", "poisson-17.5", "nbinom-5-15", "nbinom-2-2.5"],
)
def test_sampled_demand_mean_and_variance_match_the_config(demand):
    draws = env_demand(demand, 40_000)
    variance = demand.mean if demand.distribution == "poisson" else demand.variance
    # Standard errors are ~1% of the mean and ~2% of the variance; allow about 5 of them.
    assert draws.mean() == pytest.approx(demand.mean, rel=0.03)
    assert draws.var() == pytest.approx(variance, rel=0.1)
    assert draws.min() >= 0 and draws.dtype.kind == "i"


@pytest.mark.parametrize(
    "demand",
    [
        DemandConfig("poisson", mean=5.0),
        DemandConfig("negative_binomial", mean=5.0, variance=15.0),
        DemandConfig("pmf", pmf=(0.1, 0.6, 0.3)),
    ],
    ids=["poisson", "nbinom", "pmf"],
)
def test_pmf_array_agrees_with_the_config_moments(demand):
    pmf = demand.pmf_array()
    support = np.arange(len(pmf))
    mean = float(pmf @ support)
    assert pmf.sum() == pytest.approx(1.0)
    assert mean == pytest.approx(demand.mean, rel=1e-9)
    if demand.variance is not None:
        assert float(pmf @ (support - mean) ** 2) == pytest.approx(demand.variance, rel=1e-6)


def test_pmf_demand_is_sampled_with_the_given_frequencies():
    pmf = (0.2, 0.5, 0.0, 0.3)
    draws = env_demand(DemandConfig("pmf", pmf=pmf), 40_000)
    freq = np.bincount(draws, minlength=len(pmf)) / len(draws)
    assert len(freq) == len(pmf)  # never above the support
    assert freq[2] == 0.0  # a zero-probability value never occurs
    np.testing.assert_allclose(freq, pmf, atol=0.015)


def test_pmf_demand_with_zero_probability_of_zero_never_draws_zero():
    draws = env_demand(DemandConfig("pmf", pmf=(0.0, 1.0)), 1000)
    assert set(draws.tolist()) == {1}


def test_series_demand_cycles_from_its_start():
    env = series_env([1, 2, 3], lead_time=0)
    _, infos = run(env, [0] * 7)
    assert [i["demand"] for i in infos] == [1, 2, 3, 1, 2, 3, 1]


def test_series_demand_cycles_across_demand_blocks():
    from envs.replenishment.lost_sales.env import DEMAND_BLOCK

    series = [1, 2, 3, 4, 5, 6, 7]  # the block length is not a multiple of 7
    draws = env_demand(DemandConfig("series", series=tuple(series)), DEMAND_BLOCK + 20)
    assert draws.tolist() == [series[t % len(series)] for t in range(DEMAND_BLOCK + 20)]


def test_series_demand_restarts_on_every_reset():
    env = series_env([1, 2, 3], lead_time=0)
    run(env, [0, 0])
    env.reset()
    _, infos = run(env, [0, 0, 0])
    assert [i["demand"] for i in infos] == [1, 2, 3]


def test_series_demand_mean_is_its_average():
    assert DemandConfig("series", series=(1, 2, 6)).mean == 3.0


def test_config_objects_can_be_passed_directly():
    config = LostSalesConfig(lead_time=3, demand=DemandConfig("poisson", mean=8.0))
    env = LostSalesEnv(config=config)
    assert env.config is config
    assert env.observation_space.shape == (3,)
