"""Specification tests for ``fulfillgym/LostSales-v0`` (one behaviour per test).

The timing tests use ``series`` demand, so every number below is computed by hand from
the documented timing of events (``envs.replenishment.lost_sales.env``):

1. order q_t placed (cost K * [q_t > 0] + c * q_t); with L = 0 it arrives at once;
2. demand D_t served from on-hand stock;
3. holding h on stock left after demand, shortage p on lost units / on the backlog;
4. the order placed at the start of period t-L+1 arrives (L >= 1).
"""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers fulfillgym/LostSales-v0)
from envs.core.config import ConfigError
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


# -- API conformance ----------------------------------------------------------------------
CHECKER_CASES = [
    pytest.param(dict(backorders=backorders, lead_time=lead, action_type=action), id=case_id)
    for backorders, mode in ((False, "lost_sales"), (True, "backorders"))
    for lead in (0, 1, 4)
    for action in ("discrete", "continuous")
    for case_id in [f"{mode}-L{lead}-{action}"]
]


@pytest.mark.parametrize("kwargs", CHECKER_CASES)
def test_gymnasium_env_checker_passes_without_warnings(kwargs):
    # Made through gymnasium.make so that the checker can also build every declared
    # render mode from the spec; checked on the unwrapped env as Gymnasium recommends.
    env = gymnasium.make(ENV_ID, render_mode="rgb_array", **kwargs).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(env, skip_render_check=False)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("kwargs", CHECKER_CASES)
def test_sb3_env_checker_passes_without_warnings(kwargs):
    env = gymnasium.make(ENV_ID, **kwargs).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    assert [str(w.message) for w in caught] == []


def test_make_passes_kwargs_to_the_config():
    env = gymnasium.make(ENV_ID, lead_time=4, penalty=19, backorders=True, action_type="continuous")
    config = env.unwrapped.config
    assert (config.lead_time, config.penalty, config.backorders) == (4, 19.0, True)
    assert config.action_type == "continuous"
    assert env.observation_space.shape == (4,)
    assert env.observation_space.low[0] < 0  # backlog is observable
    assert env.action_space == spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4,)


def test_make_accepts_a_demand_mapping():
    env = gymnasium.make(
        ENV_ID, demand={"distribution": "negative_binomial", "mean": 4, "variance": 9}
    )
    assert env.unwrapped.config.demand == DemandConfig("negative_binomial", mean=4.0, variance=9.0)


def test_episode_is_truncated_after_1000_steps_by_default():
    env = gymnasium.make(ENV_ID)
    env.reset(seed=0)
    for _ in range(999):
        _, _, terminated, truncated, _ = env.step(3)
        assert not terminated and not truncated
    _, _, terminated, truncated, _ = env.step(3)
    assert truncated and not terminated


def test_max_episode_steps_can_be_overridden_in_make():
    env = gymnasium.make(ENV_ID, max_episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(5)]
    assert flags == [False, False, False, False, True]


def test_observation_is_on_hand_then_pipeline_and_sums_to_inventory_position():
    env = LostSalesEnv(lead_time=3, initial_state="mean")
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32
    assert obs.tolist() == [5.0, 5.0, 5.0]  # round(mean demand) everywhere
    assert info["inventory_position"] == 15
    obs, _, _, _, info = env.step(2)
    assert obs.sum() == info["inventory_position"] == info["on_hand"] + 5 + 2


def test_initial_observation_is_in_the_space_when_q_max_is_below_mean_demand():
    env = LostSalesEnv(lead_time=3, q_max=2, initial_state="mean")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


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


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param(dict(lead_time=-1), "env.lead_time", id="negative-lead-time"),
        pytest.param(dict(lead_time=1.5), "env.lead_time", id="fractional-lead-time"),
        pytest.param(dict(penalty="9"), "env.penalty", id="string-penalty"),
        pytest.param(dict(holding_cost=-1.0), "env.holding_cost", id="negative-holding-cost"),
        pytest.param(dict(backorders="yes"), "env.backorders", id="string-backorders"),
        pytest.param(dict(lead_tme=2), "env.lead_tme", id="unknown-kwarg"),
        pytest.param(
            dict(demand={"distribution": "negative_binomial", "mean": 5, "variance": 5}),
            "env.demand.variance",
            id="nbinom-variance-equal-to-mean",
        ),
        pytest.param(
            dict(demand={"distribution": "negative_binomial", "mean": 5, "variance": 3}),
            "env.demand.variance",
            id="nbinom-variance-below-mean",
        ),
        pytest.param(
            dict(demand={"distribution": "pmf", "pmf": [0.5, 0.4]}),
            "env.demand.pmf",
            id="pmf-not-summing-to-1",
        ),
        pytest.param(
            dict(demand={"distribution": "gamma"}),
            "env.demand.distribution",
            id="unknown-distribution",
        ),
        pytest.param(dict(demand={"mean": 5, "sd": 2}), "env.demand.sd", id="unknown-demand-key"),
        pytest.param(dict(action_type="multi_discrete"), "env.action_type", id="bad-action-type"),
        pytest.param(dict(initial_state="full"), "env.initial_state", id="bad-initial-state"),
        pytest.param(dict(q_max=0), "env.q_max", id="zero-q-max"),
        pytest.param(dict(q_max=100_001), "env.q_max", id="q-max-above-limit"),
        pytest.param(
            dict(holding_cost=1e-300, fixed_order_cost=1.0),
            "env.q_max",
            id="default-q-max-above-limit",
        ),
    ],
)
def test_bad_config_raises_one_line_config_error_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError) as excinfo:
        LostSalesEnv(**kwargs)
    message = str(excinfo.value)
    assert message.startswith(f"{field}:")
    assert "\n" not in message


def test_bad_config_through_make_raises_config_error():
    with pytest.raises(ConfigError, match=r"^env\.lead_time:"):
        gymnasium.make(ENV_ID, lead_time=-1)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_unknown_render_mode_raises_value_error():
    with pytest.raises(ValueError, match="render_mode"):
        LostSalesEnv(render_mode="human")


@pytest.mark.parametrize(
    "action",
    [-1, "q_max+1", 2.5, True, np.float64(3.0)],
    ids=["negative", "above-q-max", "fraction", "bool", "float-type"],
)
def test_out_of_range_discrete_action_raises_value_error(action):
    env = LostSalesEnv()
    env.reset(seed=0)
    if action == "q_max+1":
        action = env.config.q_max + 1
    with pytest.raises(ValueError, match="action"):
        env.step(action)


@pytest.mark.parametrize(
    "action",
    [
        np.array([1.5], dtype=np.float32),
        np.array([-1.01]),
        np.array([np.nan]),
        np.array([np.inf]),
        np.zeros(2, dtype=np.float32),
        np.zeros(0, dtype=np.float32),
    ],
    ids=["above-1", "below-minus-1", "nan", "inf", "shape-2", "shape-0"],
)
def test_out_of_range_continuous_action_raises_value_error(action):
    env = LostSalesEnv(action_type="continuous")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_discrete_action_accepts_python_and_numpy_integers():
    env = series_env([0], lead_time=0)
    q_max = env.config.q_max
    for action, expected in [(0, 0), (np.int64(3), 3), (np.array(2), 2), (q_max, q_max)]:
        assert env.step(action)[4]["order"] == expected


def test_continuous_action_maps_minus_1_to_0_and_1_to_q_max():
    env = series_env([0], lead_time=0, action_type="continuous", q_max=20)
    orders = [env.step(np.array([a], dtype=np.float32))[4]["order"] for a in (-1.0, 0.0, 1.0)]
    assert orders == [0, 10, 20]


# -- rendering ------------------------------------------------------------------------------
def test_render_rgb_array_returns_an_rgb_image():
    env = LostSalesEnv(render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(5):
        env.step(4)
    image = env.render()
    assert image.ndim == 3 and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0
    assert image.dtype == np.uint8


def test_render_rgb_array_before_the_first_step_returns_an_image_without_warnings():
    env = LostSalesEnv(render_mode="rgb_array")
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = env.render()
    assert image.shape[2] == 3 and image.dtype == np.uint8


def test_render_ansi_returns_a_table_of_recent_periods():
    env = series_env([3], render_mode="ansi", lead_time=0)
    run(env, [5, 0])
    text = env.render()
    assert isinstance(text, str)
    lines = text.splitlines()
    assert lines[0].split() == ["order", "demand", "sales", "lost", "on_hand", "pipeline"]
    assert [line.split() for line in lines[1:]] == [
        ["5", "3", "3", "0", "2", "0"],
        ["0", "3", "2", "1", "0", "0"],
    ]


def test_render_without_render_mode_returns_none():
    env = LostSalesEnv()
    env.reset(seed=0)
    assert env.render() is None


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
