"""``env=network_orgym`` reproduces OR-Gym's InvManagement-v1 period by period.

The ground truth is ``orgym_reference`` (a restatement of OR-Gym 0.5.0's dynamics, itself
checked row by row against trajectories recorded from OR-Gym: ``test_orgym_reference.py``).
Our env is played with random orders (including orders above the capacities and above
the upstream stock, so clipping and the penalties on unfilled requests are exercised);
its realised demand and the same orders are replayed through the reference, and every
period's profit, stock, shipments and lost units must agree."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from agents.registry import build_task
from tests.network.orgym_reference import orgym_reference_episode
from tests.test_configs import composed


@pytest.fixture(scope="module")
def task():
    cfg = composed("benchmark", ["env=network_orgym"])
    return build_task(OmegaConf.to_container(cfg.env, resolve=True))


@pytest.mark.parametrize("seed", range(6))
def test_every_period_matches_the_reference(task, seed):
    env = task.make_env(action_type="order").unwrapped
    names = list(env.network.names)
    stage = [names.index(f"stage{i}") for i in range(3)]  # OR-Gym stage i -> our node position
    rng = np.random.default_rng(seed)
    high = 130 if seed % 2 else 60
    env.reset(seed=seed)
    actions, demand, profit, stock, shipped, lost = [], [], [], [], [], []
    for _ in range(task.config.episode_length):
        a = rng.integers(0, high, size=3)  # orders of stages 0, 1, 2
        orders = np.zeros((len(names), 1), dtype=np.int64)
        orders[stage, 0] = np.minimum(a, env.network.q_max[stage, 0])
        _, reward, _, truncated, info = env.step(orders.ravel())
        actions.append(orders[stage, 0])
        demand.append(int(env.sim.last["demand"].sum()))
        profit.append(reward)
        stock.append(env.sim.stock[stage, 0].copy())
        shipped.append(env.sim.last["shipped"][stage, 0].copy())
        lost.append(info["lost"])
    assert truncated
    ref = orgym_reference_episode(np.array(demand), np.array(actions, dtype=float))
    assert np.allclose(profit, ref["profit_undiscounted"], atol=1e-9)
    assert np.allclose(np.array(stock), ref["inventory"])
    assert np.allclose(np.array(shipped), ref["shipped"])
    assert np.allclose(lost, ref["unfulfilled"][:, 0])
    discounted = sum(0.97**t * p for t, p in enumerate(profit))
    assert discounted == pytest.approx(ref["profit"].sum())


def test_the_discounted_profit_kpi_is_orgyms_episode_reward(task):
    from agents.network.heuristics import RandomOrders

    out = task.rollout(RandomOrders(task.network, seed=3), [11, 12], None, 0)
    assert np.all(out["discounted_profit"] != out["episode_profit"])
    assert np.allclose(out["episode_profit"], out["profit"] * task.config.episode_length)
