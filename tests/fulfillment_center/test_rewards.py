"""The per-SKU training rewards against the tragedy of the commons (``parallel_env``):
``marginal`` (each SKU pays the overflow it causes at the margin) and ``priced`` (the
individual reward plus a capacity price adapted by dual ascent).

* the marginal refusals of the pro-rata rule (Hypothesis, exact volumes): for each SKU the
  total refusals minus the refusals without its receipt, computed by brute force; at least
  the SKU's own refusals, at most the total, so they sum to at least the total; the total
  when only one SKU receives; zero when everything fits;
* on the simulator: the same figure as stepping a copy of the simulator without the SKU's
  receipt, and the marginal reward is the individual one with the split overflow replaced;
* the priced reward is the individual reward minus lambda x the capacity charge, lambda
  follows the documented dual-ascent rule, starts at 0 and restarts at a seeded reset.
The PettingZoo env and the agent batch agree for every mode in ``test_training.py``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import fulfillment_center_v0
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.fulfillment_center.parallel_env import (
    PRICE_MAX,
    PRICE_STEP,
    PRICE_TARGET,
    agent_rewards,
    capacity_charges,
)
from envs.replenishment.fulfillment_center.receipts import marginal_refusals, pro_rata_refusals
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator

# volumes and free space that are exact in binary, so the brute force and the vectorised
# figure see the very same ratios
VOLUMES = st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 8.0])


@st.composite
def receipts(draw):
    n = draw(st.integers(1, 12))
    need = np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), dtype=np.int64)
    volume = np.array(draw(st.lists(VOLUMES, min_size=n, max_size=n)))
    free = draw(st.integers(-20, 400)) / 4.0
    return need, volume, free


def refused(need, volume, free) -> int:
    r = pro_rata_refusals(need, volume, free)
    return 0 if r is None else int(r.sum())


@settings(max_examples=200, deadline=None)
@given(case=receipts())
def test_marginal_refusals_are_the_total_minus_the_refusals_without_the_sku(case):
    need, volume, free = case
    marginal = marginal_refusals(need, volume, free)
    total = refused(need, volume, free)
    for i in range(len(need)):
        without = need.copy()
        without[i] = 0
        assert marginal[i] == total - refused(without, volume, free)
    own = pro_rata_refusals(need, volume, free)
    if own is None:
        assert not marginal.any()
        return
    assert np.all(marginal >= own) and np.all(own >= 0) and np.all(marginal <= total)
    assert marginal.sum() >= total
    if np.count_nonzero(need) == 1:
        assert marginal.sum() == total


def test_marginal_charges_can_exceed_the_true_overflow():
    # two receipts of 10 units into 10 units of room: each alone would fit
    need, volume = np.array([10, 10]), np.array([1.0, 1.0])
    assert refused(need, volume, 10.0) == 10
    assert marginal_refusals(need, volume, 10.0).tolist() == [10, 10]


@pytest.mark.parametrize("backorders", [False, True])
def test_marginal_overflow_of_the_simulator_is_a_counterfactual_step(backorders):
    problem = FulfillmentConfig(n_skus=12, capacity_days=0.7, action_type="discrete", backorders=backorders).build()
    sim = FulfillmentSimulator(problem)
    sim.reset(np.random.default_rng(3))
    rng = np.random.default_rng(0)
    overflowed = 0
    for _ in range(40):
        q = sim.orders_from_actions(rng.integers(0, len(problem.config.order_multiples), size=12))
        before = copy.deepcopy(sim)
        sim.step(q)
        marginal = sim.marginal_overflow_units()
        total = sim.last.rejected.sum() if sim.last.rejected is not None else 0
        overflowed += total > 0
        for i in range(12):
            alt = copy.deepcopy(before)  # the same period without SKU i's receipt
            alt.pipe[alt.head, i] = 0
            alt_q = q.copy()
            alt_q[i] = 0  # (an order with lead time 1 arrives in the period it is placed)
            alt.step(alt_q)
            alt_total = alt.last.rejected.sum() if alt.last.rejected is not None else 0
            assert marginal[i] == total - alt_total
    assert overflowed > 5


def test_marginal_reward_replaces_the_split_overflow_by_the_marginal_one():
    par = fulfillment_center_v0.parallel_env(n_skus=10, capacity_days=0.6, reward="marginal", action_type="discrete")
    par.reset(seed=1)
    sim, c_o = par.sim, par.config.overflow_cost
    rng = np.random.default_rng(1)
    seen = 0
    for _ in range(30):
        action = rng.integers(0, 9, size=10)
        _, rewards, _, _, _ = par.step(dict(zip(par.agents, action.tolist(), strict=True)))
        got = np.array([rewards[a] for a in par.possible_agents])
        last = sim.last
        if last.rejected is None:
            assert np.allclose(got, agent_rewards(sim, "individual"))
            continue
        seen += 1
        arrived = sim.problem.volume * (last.received + last.rejected)
        split = c_o * last.rejected.sum() * arrived / arrived.sum()
        own = -agent_rewards(sim, "individual") - split
        assert np.allclose(got, -(own + c_o * sim.marginal_overflow_units()))
        assert got.sum() <= agent_rewards(sim, "individual").sum() + 1e-9  # charges more than the truth
    assert seen > 3


def test_priced_reward_is_individual_minus_lambda_times_the_capacity_charge():
    par = fulfillment_center_v0.parallel_env(n_skus=10, capacity_days=0.6, reward="priced", action_type="discrete")
    par.reset(seed=2)
    price = par._rewards.price
    assert price.value == 0.0
    rng = np.random.default_rng(2)
    values = []
    for _ in range(40):
        lam = price.value
        action = rng.integers(0, 9, size=10)
        _, rewards, _, _, _ = par.step(dict(zip(par.agents, action.tolist(), strict=True)))
        got = np.array([rewards[a] for a in par.possible_agents])
        sim, last = par.sim, par.sim.last
        assert np.allclose(got, agent_rewards(sim, "individual") - lam * capacity_charges(sim))
        refused_units = 0 if last.rejected is None else int(last.rejected.sum())
        arrived = int(last.received.sum()) + refused_units
        rate = refused_units / arrived if arrived else 0.0
        assert price.value == pytest.approx(min(max(lam + PRICE_STEP * (rate - PRICE_TARGET), 0.0), PRICE_MAX))
        values.append(price.value)
    assert max(values) > 0.0  # the price was exercised
    # the charge is overflow_cost per arriving unit of the demand-weighted mean unit volume
    p = par.problem
    v_bar = float(p.volume @ p.mean_demand) / p.mean_demand.sum()
    arrived = par.sim.last.received + (0 if par.sim.last.rejected is None else par.sim.last.rejected)
    assert np.allclose(capacity_charges(par.sim), par.config.overflow_cost * p.volume / v_bar * arrived)
    # carried over an unseeded reset (the next training episode), restarted by a seeded one
    par.reset()
    assert price.value == values[-1]
    par.reset(seed=2)
    assert price.value == 0.0


def test_new_rewards_are_training_options_of_the_task():
    from agents.fulfillment_center.task import FulfillmentTraining

    for mode in ("marginal", "priced"):
        assert FulfillmentTraining(reward=mode).reward == mode


def test_a_period_without_receipts_above_a_cut_capacity_refuses_nothing():
    # a capacity cut can leave stock above the capacity; a period with no receipt then
    # refuses nothing (it divided 0 by 0 before)
    assert pro_rata_refusals(np.zeros(3, dtype=np.int64), np.ones(3), -5.0) is None
    from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

    env = FulfillmentCenterEnv(action_type="order", n_skus=5, lead_time=3, episode_length=40,
                               scenario={"kind": "capacity_cut", "start": 3, "duration": 20, "size": 0.9})
    env.reset(seed=0)
    for t in range(40):
        _, _, _, _, info = env.step(np.zeros(5, dtype=np.int64) if t % 2 else env.problem.q_max)
        assert info["overflow_units"] >= 0
