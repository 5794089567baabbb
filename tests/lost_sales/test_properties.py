"""Property tests of ``LostSalesEnv`` and the batched simulator (Hypothesis).

Every property is checked period by period against the documented timing of events:
the order q_t is placed (arriving at once when L = 0); demand D_t is served from stock;
holding is charged on stock left after demand and shortage on lost units (or on the
backlog); then the order placed at the start of period t-L+1 arrives (L >= 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.lost_sales.rollout import Replications
from envs.replenishment.demand import DemandConfig
from envs.replenishment.lost_sales import LostSalesConfig, LostSalesEnv
from envs.replenishment.lost_sales.env import DEMAND_BLOCK
from envs.replenishment.lost_sales.simulator import BatchSimulator, initial_state, order_from_action

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- strategies -----------------------------------------------------------------------------
def _normalised(weights: list[int]) -> tuple[float, ...]:
    total = sum(weights)
    return tuple(w / total for w in weights)


poisson = st.builds(DemandConfig, distribution=st.just("poisson"), mean=st.floats(0.5, 20.0))
negative_binomial = st.floats(0.5, 15.0).flatmap(
    lambda mean: st.builds(
        DemandConfig,
        distribution=st.just("negative_binomial"),
        mean=st.just(mean),
        variance=st.floats(1.05, 5.0).map(lambda ratio: mean * ratio),
    )
)
pmf = st.builds(
    DemandConfig,
    distribution=st.just("pmf"),
    pmf=st.lists(st.integers(0, 10), min_size=1, max_size=10)
    .filter(lambda w: sum(w) > 0)
    .map(_normalised),
)
series = st.builds(
    DemandConfig,
    distribution=st.just("series"),
    series=st.lists(st.integers(0, 15), min_size=1, max_size=12).map(tuple),
)
DEMANDS = {"poisson": poisson, "negative_binomial": negative_binomial, "pmf": pmf, "series": series}
demands = st.one_of(*DEMANDS.values())
costs = st.floats(0.0, 20.0, allow_subnormal=False)
# A tiny h with K > 0 makes the default q_max (which adds an EOQ batch) exceed its limit.
holding_costs = st.just(0.0) | st.floats(0.01, 20.0)

configs = st.builds(
    LostSalesConfig,
    lead_time=st.integers(0, 4),
    holding_cost=holding_costs,
    penalty=st.floats(0.1, 50.0),
    backorders=st.booleans(),
    fixed_order_cost=costs,
    unit_cost=costs,
    demand=demands,
    q_max=st.none() | st.integers(1, 30),
    action_type=st.sampled_from(["discrete", "continuous"]),
    initial_state=st.sampled_from(["mean", "zero", "random"]),
)


def actions_for(config: LostSalesConfig, periods: int):
    """A strategy for ``periods`` actions in the config's action space."""
    if config.action_type == "discrete":
        one = st.integers(0, config.q_max)
    else:
        one = st.floats(-1.0, 1.0, width=32).map(lambda a: np.array([a], dtype=np.float32))
    return st.lists(one, min_size=periods, max_size=periods)


@st.composite
def episodes(draw, max_periods: int = 40):
    """(config, seed, actions) for one short episode."""
    config = draw(configs)
    periods = draw(st.integers(1, max_periods))
    return config, draw(st.integers(0, 2**32 - 1)), draw(actions_for(config, periods))


def rollout(config: LostSalesConfig, seed: int, actions):
    """Run the env; return the initial obs and, per step, (obs_before, action, obs, reward, info)."""
    env = LostSalesEnv(config=config)
    obs, _ = env.reset(seed=seed)
    first, steps = obs, []
    for action in actions:
        nxt, reward, terminated, truncated, info = env.step(action)
        assert not terminated and not truncated
        steps.append((obs, action, nxt, reward, info))
        obs = nxt
    return first, steps


def arrivals(lead_time: int, obs_before: np.ndarray, q: int) -> tuple[int, int]:
    """Units arriving (before demand, after demand) in a period, by the documented timing."""
    if lead_time == 0:
        return q, 0
    if lead_time == 1:
        return 0, q
    return 0, int(obs_before[1])


# -- conservation of units ------------------------------------------------------------------
@FAST
@given(episodes())
def test_units_are_conserved_every_period(episode):
    config, seed, actions = episode
    _, steps = rollout(config, seed, actions)
    for obs_before, _, obs, _, info in steps:
        on_hand, q, demand = int(obs_before[0]), info["order"], info["demand"]
        before, after = arrivals(config.lead_time, obs_before, q)
        sales, lost = info["sales"], info["lost"]
        stock = on_hand + before
        assert obs[0] == info["on_hand"]
        assert 0 <= sales <= demand
        assert sales == min(max(stock, 0), demand)
        # Stock only leaves by sales: on_hand' = on_hand + arrivals - sales (lost sales), and
        # net' = net + arrivals - demand with backorders (unmet demand stays as backlog).
        if config.backorders:
            assert info["on_hand"] == on_hand + before + after - demand
            assert lost == max(demand - stock, 0)  # backlog after demand
        else:
            assert on_hand >= 0 and info["on_hand"] >= 0
            assert info["on_hand"] == on_hand + before + after - sales
            assert sales + lost == demand
            assert lost == 0 or stock == sales  # nothing is lost while stock remains


@FAST
@given(episodes())
def test_inventory_position_moves_by_order_minus_demand(episode):
    config, seed, actions = episode
    _, steps = rollout(config, seed, actions)
    for obs_before, _, obs, _, info in steps:
        position = int(obs_before.sum())
        assert info["inventory_position"] == int(obs.sum())
        removed = info["demand"] if config.backorders else info["sales"]
        assert info["inventory_position"] == position + info["order"] - removed


@FAST
@given(episodes())
def test_observations_stay_in_the_observation_space(episode):
    config, seed, actions = episode
    env = LostSalesEnv(config=config)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    for action in actions:
        obs = env.step(action)[0]
        assert env.observation_space.contains(obs)
        assert np.all(obs[1:] >= 0)


# -- costs ------------------------------------------------------------------------------------
@FAST
@given(episodes())
def test_costs_add_up_and_each_follows_its_formula(episode):
    config, seed, actions = episode
    h, p, K, c = config.holding_cost, config.penalty, config.fixed_order_cost, config.unit_cost
    _, steps = rollout(config, seed, actions)
    for obs_before, action, _, reward, info in steps:
        q = info["order"]
        if config.action_type == "discrete":
            assert q == action
        else:
            assert q == int(np.rint((float(action[0]) + 1.0) * 0.5 * config.q_max))
        assert 0 <= q <= config.q_max
        before, _ = arrivals(config.lead_time, obs_before, q)
        left = max(int(obs_before[0]) + before - info["demand"], 0)
        assert info["holding_cost"] == h * left
        assert info["shortage_cost"] == p * info["lost"]
        assert info["ordering_cost"] == (K if q > 0 else 0.0) + c * q
        total = info["holding_cost"] + info["shortage_cost"] + info["ordering_cost"]
        assert info["cost"] == total
        assert isinstance(reward, float)
        assert reward == -total


# -- pipeline ---------------------------------------------------------------------------------
@FAST
@given(episodes())
def test_pipeline_holds_the_last_orders_oldest_first(episode):
    config, seed, actions = episode
    lead = config.lead_time
    first, steps = rollout(config, seed, actions)
    # The initial pipeline slots are orders placed at times -(L-1) .. -1; placed[s + L - 1]
    # is then the order placed at the start of period s.
    placed = [int(x) for x in first[1:]] if lead >= 2 else []
    for t, (obs_before, _, obs, _, info) in enumerate(steps):
        placed.append(info["order"])
        if lead >= 2:
            assert int(obs[lead - 1]) == info["order"]  # newest slot: this period's order
            assert [int(x) for x in obs[1:]] == placed[t + 1 : t + lead]
            # The order arriving after demand in period t was placed at t - L + 1.
            assert int(obs_before[1]) == placed[t]
        else:
            assert obs.shape == (1,)


@FAST
@given(
    lead=st.integers(0, 4),
    placed_at=st.integers(0, 6),
    q=st.integers(1, 9),
    backorders=st.booleans(),
)
def test_an_order_arrives_and_first_serves_demand_as_documented(lead, placed_at, q, backorders):
    # Unit demand every period, no stock and a single order q placed at the start of
    # period placed_at. It first serves demand in period placed_at + L (for every L,
    # including 0) and is in the on-hand observation from the end of period
    # placed_at + L - 1 (from period placed_at itself when L = 0: it arrives before demand).
    config = LostSalesConfig(
        lead_time=lead,
        backorders=backorders,
        demand=DemandConfig("series", series=(1,)),
        initial_state="zero",
        q_max=10,
    )
    env = LostSalesEnv(config=config)
    env.reset(seed=0)
    periods = placed_at + lead + 12
    sales, on_hand = [], []
    for t in range(periods):
        _, _, _, _, info = env.step(q if t == placed_at else 0)
        sales.append(info["sales"])
        on_hand.append(info["on_hand"])
    first_served = placed_at + lead
    on_hand_from = placed_at + max(lead - 1, 0)
    received = [q if t >= on_hand_from else 0 for t in range(periods)]
    if backorders:
        assert on_hand == [received[t] - (t + 1) for t in range(periods)]
        assert sum(sales) == 0 or sales.index(1) == first_served
    else:
        assert sales == [1 if first_served <= t < first_served + q else 0 for t in range(periods)]
        consumed = [max(t - first_served + 1, 0) for t in range(periods)]
        assert on_hand == [max(received[t] - consumed[t], 0) for t in range(periods)]


# -- seeding ----------------------------------------------------------------------------------
@FAST
@given(episodes())
def test_same_seed_gives_an_identical_trajectory(episode):
    config, seed, actions = episode
    first_a, steps_a = rollout(config, seed, actions)
    first_b, steps_b = rollout(config, seed, actions)
    assert first_a.tolist() == first_b.tolist()
    for step_a, step_b in zip(steps_a, steps_b, strict=True):
        (_, _, obs_a, rew_a, info_a), (_, _, obs_b, rew_b, info_b) = step_a, step_b
        assert obs_a.tolist() == obs_b.tolist()
        assert rew_a == rew_b
        assert info_a == info_b


@FAST
@given(
    demand=st.one_of(poisson, negative_binomial),
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2, unique=True),
)
def test_different_seeds_give_different_demand(demand, seeds):
    config = LostSalesConfig(demand=demand, lead_time=0)
    streams = []
    for seed in seeds:
        env = LostSalesEnv(config=config)
        env.reset(seed=seed)
        streams.append([env.step(0)[4]["demand"] for _ in range(200)])
    assert streams[0] != streams[1]


@FAST
@given(config=configs, seed=st.integers(0, 2**32 - 1))
def test_reset_with_a_seed_restores_the_start_of_the_episode(config, seed):
    env = LostSalesEnv(config=config)
    obs_a, _ = env.reset(seed=seed)
    demand_a = [env.step(0)[4]["demand"] for _ in range(10)]
    obs_b, _ = env.reset(seed=seed)
    demand_b = [env.step(0)[4]["demand"] for _ in range(10)]
    assert obs_a.tolist() == obs_b.tolist()
    assert demand_a == demand_b


# -- scalar env == batched simulator ------------------------------------------------------------
def check_env_matches_batch(config: LostSalesConfig, seeds: list[int], periods: int, targets):
    """Run the env for each seed with an order-up-to rule (targets[t] - position, or a raw
    action), then replay the recorded actions through Replications + BatchSimulator."""
    replications = Replications.from_seeds(config, seeds, periods)
    env_obs, env_info, env_actions = [], [], []
    for seed in seeds:
        env = LostSalesEnv(config=config)
        obs, _ = env.reset(seed=seed)
        rows, infos, acts = [obs], [], []
        for t in range(periods):
            q = int(np.clip(targets[t] - obs.sum(), 0, config.q_max))
            if config.action_type == "discrete":
                action = q
            else:
                action = np.array([2.0 * q / config.q_max - 1.0], dtype=np.float32)
            obs, reward, _, _, info = env.step(action)
            assert reward == -info["cost"]
            rows.append(obs)
            infos.append(info)
            acts.append(action)
        env_obs.append(np.array(rows))
        env_info.append(infos)
        env_actions.append(acts)

    sim = BatchSimulator(config, replications.on_hand, replications.pipeline)
    np.testing.assert_array_equal(sim.observation(), np.array([o[0] for o in env_obs]))
    for t in range(periods):
        if config.action_type == "discrete":
            batch_actions = np.array([acts[t] for acts in env_actions])
        else:
            batch_actions = np.array([acts[t][0] for acts in env_actions])
        out = sim.step(order_from_action(batch_actions, config), replications.demand[:, t])
        obs = sim.observation()
        for r in range(len(seeds)):
            info = env_info[r][t]
            assert info["demand"] == replications.demand[r, t], (r, t)
            assert obs[r].tolist() == env_obs[r][t + 1].tolist(), (r, t)
            for key in ("cost", "holding_cost", "shortage_cost", "ordering_cost"):
                assert out[key][r] == info[key], (key, r, t)
            assert out["order"][r] == info["order"]
            assert out["filled"][r] == info["sales"]
            assert out["short"][r] == info["lost"]
            assert sim.inventory_position[r] == info["inventory_position"]


@FAST
@given(
    config=configs,
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3),
    targets=st.lists(st.integers(0, 60), min_size=50, max_size=50),
)
def test_env_and_batch_simulator_agree_on_short_horizons(config, seeds, targets):
    check_env_matches_batch(config, seeds, len(targets), targets)


@pytest.mark.parametrize("distribution", list(DEMANDS))
@SLOW
@given(data=st.data())
def test_env_and_batch_simulator_agree_beyond_a_demand_block(distribution, data):
    # A horizon across the env's block boundary checks that drawing demand in blocks of
    # DEMAND_BLOCK gives the same stream as one draw of the whole horizon.
    config = data.draw(
        st.builds(
            LostSalesConfig,
            lead_time=st.integers(0, 4),
            backorders=st.booleans(),
            demand=DEMANDS[distribution],
            fixed_order_cost=costs,
            unit_cost=costs,
            action_type=st.sampled_from(["discrete", "continuous"]),
            initial_state=st.sampled_from(["mean", "random"]),
        )
    )
    seeds = data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=2))
    target_seed = data.draw(st.integers(0, 2**32 - 1))
    periods = DEMAND_BLOCK + 150
    base = config.newsvendor_level()
    targets = np.random.default_rng(target_seed).integers(0, 2 * base + 2, size=periods)
    check_env_matches_batch(config, seeds, periods, targets)


@pytest.mark.parametrize("distribution", list(DEMANDS))
@SLOW
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_env_demand_stream_equals_one_draw_of_the_whole_horizon(distribution, data, seed):
    demand = data.draw(DEMANDS[distribution])
    config = LostSalesConfig(demand=demand, lead_time=0, initial_state="random")
    periods = 2 * DEMAND_BLOCK + 7
    env = LostSalesEnv(config=config)
    env.reset(seed=seed)
    stream = [env.step(0)[4]["demand"] for _ in range(periods)]
    rng = np.random.default_rng(seed)
    initial_state(config, rng)
    assert stream == demand.sample(rng, periods).tolist()


@FAST
@given(config=configs, seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4))
def test_replications_initial_state_matches_env_reset(config, seeds):
    replications = Replications.from_seeds(config, seeds, 1)
    sim = BatchSimulator(config, replications.on_hand, replications.pipeline)
    for r, seed in enumerate(seeds):
        obs, info = LostSalesEnv(config=config).reset(seed=seed)
        assert sim.observation()[r].tolist() == obs.tolist()
        assert info["inventory_position"] == sim.inventory_position[r]
