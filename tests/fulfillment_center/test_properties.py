"""Property tests of the fulfilment-centre simulator (Hypothesis).

Invariants, period by period, for random configs and random orders:

* units are conserved per SKU: on-hand(t+1) = on-hand(t) + received - sales (lost sales)
  or on-hand(t) + received - demand (backorders), and every ordered unit is, at any
  time, either in the pipeline, received, or refused for lack of space;
* the capacity is never exceeded after the acceptance rule;
* costs add up: the reward is minus the sum of the components, and the per-SKU costs
  (with the overflow split) sum to the total cost.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

configs = st.fixed_dictionaries({
    "n_skus": st.integers(1, 25),
    "catalogue": st.sampled_from(["synthetic", "uniform"]),
    "catalogue_seed": st.integers(0, 5),
    "lead_time": st.none() | st.integers(1, 5),
    "lead_time_jitter": st.integers(0, 2),
    "backorders": st.booleans(),
    "capacity_days": st.none() | st.floats(0.3, 6.0),
    "overflow": st.sampled_from(["discard", "return"]),
    "purchase_cost": st.booleans(),
    "revenue": st.booleans(),
    "fixed_order_cost": st.floats(0.0, 10.0),
    "initial_state": st.sampled_from(["mean", "zero"]),
    "demand": st.fixed_dictionaries({
        "distribution": st.sampled_from(["poisson", "negative_binomial"]),
        "promo_probability": st.sampled_from([0.0, 0.05]),
        "yearly_amplitude": st.sampled_from([0.0, 0.4]),
    }),
})


@SETTINGS
@given(kwargs=configs, seed=st.integers(0, 2**31), order_seed=st.integers(0, 2**31))
def test_units_conserved_capacity_respected_costs_add_up(kwargs, seed, order_seed):
    env = FulfillmentCenterEnv(action_type="order", episode_length=60, **kwargs)
    sim, problem = env.sim, env.problem
    rng = np.random.default_rng(order_seed)
    env.reset(seed=seed)
    if problem.limited:
        assert problem.volume @ np.maximum(sim.on_hand, 0) <= problem.capacity * (1 + 1e-12)
    ordered = np.zeros(problem.n, dtype=np.int64)
    arrived = np.zeros(problem.n, dtype=np.int64)  # received + refused
    pipeline0 = sim.pipe_total.copy()
    for _ in range(60):
        before = sim.on_hand.copy()
        q = rng.integers(0, problem.q_max + 1)
        _, reward, _, _, info = env.step(q)
        last = sim.last
        rejected = np.zeros(problem.n, dtype=np.int64) if last.rejected is None else last.rejected
        out = last.demand if problem.config.backorders else last.filled
        assert np.array_equal(sim.on_hand, before + last.received - out)
        assert np.all(last.filled <= np.maximum(before, 0))
        assert np.all(last.received >= 0) and np.all(rejected >= 0)
        ordered += q
        arrived += last.received + rejected
        assert np.array_equal(pipeline0 + ordered, sim.pipe_total + arrived)
        assert np.array_equal(sim.pipe_total, sim.pipe.sum(axis=0))
        if problem.limited:
            assert problem.volume @ np.maximum(sim.on_hand, 0) <= problem.capacity * (1 + 1e-12)
        else:
            assert rejected.sum() == 0
        parts = (info["holding_cost"] + info["shortage_cost"] + info["ordering_cost"]
                 + info["overflow_cost"] - info["revenue"])
        assert np.isclose(-reward, parts, rtol=1e-12, atol=1e-9)
        assert np.isclose(sim.sku_costs().sum(), info["cost"], rtol=1e-9, atol=1e-6)
        assert 0.0 <= info["fill_rate"] <= 1.0


@SETTINGS
@given(kwargs=configs, seed=st.integers(0, 2**31))
def test_demand_does_not_depend_on_the_orders(kwargs, seed):
    """Common random numbers: two policies see the same demand stream for one seed."""
    demands = []
    for order_seed in (0, 1):
        env = FulfillmentCenterEnv(action_type="order", episode_length=40, **kwargs)
        rng = np.random.default_rng(order_seed)
        env.reset(seed=seed)
        seen = []
        for _ in range(40):
            env.step(rng.integers(0, env.problem.q_max + 1))
            seen.append(env.sim.last.demand.copy())
        demands.append(np.stack(seen))
    assert np.array_equal(demands[0], demands[1])
