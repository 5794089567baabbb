"""``fulfillgym/LostSales-v0`` as a Gymnasium env (one behaviour per test): Gymnasium's and
SB3's env checkers pass, ``gymnasium.make`` passes its keyword arguments and truncates the
episode, the observation layout; a bad config or action is a one-line error naming it;
rendering (``rgb_array``, ``ansi``). The timing of events and demand: ``test_env.py``."""

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
from envs.replenishment.lost_sales import LostSalesEnv
from tests.lost_sales.test_env import ENV_ID, run, series_env

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
