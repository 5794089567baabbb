"""Bad inputs to ``FulfillmentCenter-v0`` and PettingZoo ``fulfillment_center_v0`` fail in one
line: replay windows outside the history, stepping before reset or after the end, reset
options, unknown agents, actions of the wrong kind, config values beyond the limits."""

from __future__ import annotations

import re

import gymnasium
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs import fulfillment_center_v0
from envs.core.config import ConfigError
from envs.replenishment.demand.catalogue import Catalogue, generate_history, write_demand_csv
from envs.replenishment.demand.processes import DemandModelConfig, DemandProcess
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv
from tests.conftest import one_line_error

FC_ID = "fulfillgym/FulfillmentCenter-v0"
ENDED = r"^step\(\) called after the episode ended \(truncated after {} periods\); call reset\(\) first$"
NOT_RESET = r"^step\(\) called before reset\(\); call reset\(\) first$"


def matches(pattern: str, text: str) -> bool:
    return re.match(pattern, text) is not None


@pytest.fixture(scope="module")
def csv40(tmp_path_factory) -> str:
    """A 40-day history of 4 SKUs."""
    path = tmp_path_factory.mktemp("history") / "h40.csv"
    write_demand_csv(generate_history(4, 40, np.random.default_rng(0)), path)
    return str(path)


# -- replay windows ---------------------------------------------------------------------------
@pytest.mark.parametrize("start_day", [21, 30, 39, 40, 1000, -1, -10, -19, -41, -1000])
def test_a_fixed_window_outside_the_history_is_a_config_error_at_construction(csv40, start_day):
    message = one_line_error(ConfigError, FulfillmentCenterEnv, demand_csv=csv40, n_skus=3, episode_length=20,
                             start_day=start_day, episode_start="fixed")
    assert message == (f"env.start_day: expected an integer in [0, 20] or [-40, -20] (an episode of 20 days "
                       f"inside the 40-day demand history), got {start_day}")


@pytest.mark.parametrize("start_day", [0, 20, -20, -40])
def test_fixed_windows_at_the_edges_of_the_history_replay_to_the_end(csv40, start_day):
    env = FulfillmentCenterEnv(demand_csv=csv40, n_skus=3, episode_length=20, start_day=start_day)
    env.reset(seed=0)
    flags = [env.step(np.zeros(3, dtype=np.int64))[3] for _ in range(20)]
    assert flags == [False] * 19 + [True]
    with pytest.raises(RuntimeError, match=ENDED.format(20)):
        env.step(np.zeros(3, dtype=np.int64))


def test_the_pettingzoo_env_checks_the_window_too(csv40):
    with pytest.raises(ConfigError, match=r"^env\.start_day: "):
        fulfillment_center_v0.parallel_env(demand_csv=csv40, n_skus=3, episode_length=20, start_day=30)


def test_the_bare_simulator_refuses_to_step_past_the_end_of_the_history(csv40):
    env = FulfillmentCenterEnv(demand_csv=csv40, n_skus=3, episode_length=20, start_day=20)
    sim = env.sim
    sim.reset(np.random.default_rng(0))
    for _ in range(20):
        sim.step(np.zeros(3, dtype=np.int64))
    message = one_line_error(RuntimeError, sim.step, np.zeros(3, dtype=np.int64))
    assert "last day of the demand history (day 39)" in message


# -- episode protocol ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(), dict(demand={"weekly": [1, 2, 3, 4, 5, 6, 7]}),
                                    dict(action_type="continuous")], ids=str)
def test_gymnasium_and_pettingzoo_refuse_steps_after_the_end_with_the_same_message(kwargs):
    env = FulfillmentCenterEnv(n_skus=3, episode_length=4, **kwargs)
    env.reset(seed=0)
    for _ in range(4):
        truncated = env.step(env.action_space.sample())[3]
    assert truncated
    gym_message = one_line_error(RuntimeError, env.step, env.action_space.sample())
    par = fulfillment_center_v0.parallel_env(n_skus=3, episode_length=4, **kwargs)
    par.reset(seed=0)
    for _ in range(4):
        par.step({a: par.action_space(a).sample() for a in par.agents})
    pz_message = one_line_error(RuntimeError, par.step, {a: par.action_space(a).sample()
                                                         for a in par.possible_agents})
    assert gym_message == pz_message and matches(ENDED.format(4), gym_message)
    env.reset(seed=1)  # and a reset starts a new episode
    env.step(env.action_space.sample())


def test_step_before_the_first_reset_is_one_clear_runtime_error():
    env = FulfillmentCenterEnv(n_skus=3)
    with pytest.raises(RuntimeError, match=NOT_RESET):
        env.step(np.zeros(3, dtype=np.int64))
    par = fulfillment_center_v0.parallel_env(n_skus=3)
    with pytest.raises(RuntimeError, match=NOT_RESET):
        par.step({a: 0 for a in par.possible_agents})
    with pytest.raises(RuntimeError, match=NOT_RESET):
        env.sim.step(np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("options", [{"start_day": 3}, {"seed": 1}, [1]], ids=repr)
def test_gymnasium_reset_refuses_options(options):
    env = FulfillmentCenterEnv(n_skus=3)
    message = one_line_error(ValueError, env.reset, seed=0, options=options)
    assert message.startswith("reset(options=...): ")
    if isinstance(options, dict):
        assert f"unknown option {next(iter(options))!r}" in message
    with pytest.raises(ValueError, match=r"^reset\(options=\.\.\.\)"):
        gymnasium.make(FC_ID, n_skus=3).reset(options=options)


def test_reset_accepts_no_options_or_an_empty_dict():
    env = FulfillmentCenterEnv(n_skus=3)
    obs = [env.reset(seed=2, options=o)[0] for o in (None, {})]
    assert np.array_equal(*obs)
    par = fulfillment_center_v0.parallel_env(n_skus=3)
    obs = [par.reset(seed=2, options=o)[0]["sku_1"] for o in (None, {})]
    assert np.array_equal(*obs)


def test_pettingzoo_reset_names_unknown_options_in_a_warning():
    par = fulfillment_center_v0.parallel_env(n_skus=3)
    with pytest.warns(UserWarning, match=r"^reset\(options=\.\.\.\): unknown option 'start_day'; "
                                         r"fulfillment_center_v0 accepts no reset options \(None or \{\}\); ignored$"):
        par.reset(seed=0, options={"start_day": 3})


# -- PettingZoo action dicts --------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{"sku_3": 0}, {"sku_0x": 0}, {"SKU00001": 0}, {0: 0}], ids=repr)
def test_unknown_agent_keys_are_refused_by_name(extra):
    par = fulfillment_center_v0.parallel_env(n_skus=3)
    par.reset(seed=0)
    actions = {a: 0 for a in par.agents} | extra
    message = one_line_error(ValueError, par.step, actions)
    key = next(iter(extra))
    assert message == f"actions: unknown agent {key!r}; the agents are sku_0..sku_2"


def test_missing_agents_are_still_refused():
    par = fulfillment_center_v0.parallel_env(n_skus=3)
    par.reset(seed=0)
    message = one_line_error(ValueError, par.step, {"sku_0": 0})
    assert message == "actions: missing for 'sku_1' and 1 other agent(s); every live agent must act"


@pytest.mark.parametrize("value", ["1", True, np.array([True]), np.array(["0.5"]), np.array([0.5], dtype=object)],
                         ids=repr)
def test_pettingzoo_continuous_actions_refuse_strings_bools_and_objects(value):
    par = fulfillment_center_v0.parallel_env(n_skus=3, action_type="continuous")
    par.reset(seed=0)
    message = one_line_error(ValueError, par.step, {a: value for a in par.agents})
    assert message.startswith("actions['sku_0']: expected floats in [-1, 1], shape (1,), got ")


@pytest.mark.parametrize("value", ["1", True, np.bool_(True), 1.0], ids=repr)
def test_pettingzoo_discrete_actions_refuse_strings_bools_and_floats(value):
    par = fulfillment_center_v0.parallel_env(n_skus=3)
    par.reset(seed=0)
    with pytest.raises(ValueError, match=r"^actions\['sku_0'\]: expected an integer in \[0, 8\] \(Discrete\(9\)\), got "):
        par.step({a: value for a in par.agents})


# -- Gymnasium actions --------------------------------------------------------------------------
@pytest.mark.parametrize("action_type", ["discrete", "continuous", "level", "order"])
@pytest.mark.parametrize("action", [np.ones(3, dtype=bool), np.array(["1", "1", "1"]),
                                    np.array([1, 1, 1], dtype=object), [True, False, True]],
                         ids=["bool", "str", "object", "bool-list"])
def test_actions_of_the_wrong_kind_are_one_line_value_errors(action_type, action):
    env = FulfillmentCenterEnv(n_skus=3, action_type=action_type)
    env.reset(seed=0)
    message = one_line_error(ValueError, env.step, action)
    assert message.startswith("action: expected ") and "got dtype" in message


def test_a_long_action_space_is_described_in_one_line():
    env = FulfillmentCenterEnv(n_skus=300, action_type="order")
    env.reset(seed=0)
    message = one_line_error(ValueError, env.step, np.full(300, -1))
    assert "MultiDiscrete with" in message


# -- config limits ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(penalty=1e300), "env.penalty"),
        (dict(holding_cost=2e9), "env.holding_cost"),
        (dict(overflow_cost=1e300), "env.overflow_cost"),
        (dict(fixed_order_cost=1e10), "env.fixed_order_cost"),
        (dict(unit_cost=float("inf")), "env.unit_cost"),
        (dict(holding_rate=1e300), "env.holding_rate"),
        (dict(penalty_margin=1e4), "env.penalty_margin"),
        (dict(catalogue="uniform", mean_demand=1e18), "env.mean_demand"),
        (dict(capacity=1e-300), "env.capacity"),
        (dict(capacity=float("nan")), "env.capacity"),
        (dict(capacity_days=1e300), "env.capacity_days"),
        (dict(capacity_days=1e-12), "env.capacity_days"),
        (dict(max_multiple=1e300, action_type="continuous"), "env.max_multiple"),
        (dict(order_multiples=(0, 1e300)), "env.order_multiples"),
        (dict(level_multiples=(0, 1, 2000), action_type="level"), "env.level_multiples"),
        (dict(start_day=10**18), "env.start_day"),
        (dict(demand={"dispersion": 1e300, "distribution": "negative_binomial"}), "env.demand.dispersion"),
        (dict(demand={"weekly": [1e308, 1e308, 0, 0, 0, 0, 0]}), "env.demand.weekly"),
        (dict(demand={"trend": 1e300}), "env.demand"),
        (dict(demand={"trend": 10.0}, start_day=10_000), "env.demand"),
        (dict(demand={"trend": -0.999999}, start_day=-100_000), "env.demand"),
        (dict(demand={"promo_uplift": 1e300, "promo_probability": 0.5}), "env.demand"),
        (dict(catalogue="uniform", mean_demand=1e9, demand={"yearly_amplitude": 0.5}), "env.demand"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_values_beyond_the_documented_limits_are_one_line_config_errors(kwargs, field):
    for build in (lambda kw: FulfillmentCenterEnv(n_skus=3, **kw), lambda kw: gymnasium.make(FC_ID, n_skus=3, **kw)):
        message = one_line_error(ConfigError, build, kwargs)
        assert message.startswith(f"{field}: "), message


def test_the_limits_themselves_are_accepted():
    env = FulfillmentCenterEnv(n_skus=3, catalogue="uniform", mean_demand=1e9, penalty=1e9, holding_cost=1e9,
                               order_multiples=(0, 1000), capacity_days=None)
    env.reset(seed=0)
    _, reward, *_ = env.step(np.full(3, 1))
    assert np.isfinite(reward)


def test_the_demand_process_checks_the_rates_it_draws_from():
    catalogue = Catalogue.uniform(2, mean_demand=1e8)
    process = DemandProcess(DemandModelConfig(trend=1.0), catalogue)
    process.reset(np.random.default_rng(0), 3 * 365)  # x 8: below the limit
    assert process.next_block(5).shape == (5, 2)
    process.reset(np.random.default_rng(0), 4 * 365)  # x 16: above it
    message = one_line_error(ConfigError, process.next_block, 5)
    assert matches(r"env\.demand: the expected demand of SKU 'SKU00001' reaches 1\.6\de\+09 on day 146\d; at most "
                    r"1e\+09 per SKU and day", message), message
