"""Heuristic policies (definitions, properties) and their CRN tuning."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agents.lost_sales.tuning as heur
from agents.harness import ci95
from agents.lost_sales.heuristics import (
    HEURISTICS,
    SS,
    BaseStock,
    CappedBaseStock,
    ConstantOrder,
    Myopic,
    RandomPolicy,
)
from agents.lost_sales.policies import orders_to_actions
from agents.lost_sales.rollout import Replications, rollout
from agents.lost_sales.tuning import tune, tune_all
from agents.seeds import EVAL_SEED_BASE, TUNE_SEED_BASE
from envs.replenishment.demand.distributions import DemandConfig
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import order_from_action

CFG = LostSalesConfig()  # Poisson(5), h=1, p=9, L=2, lost sales
OBS = np.array([[3, 4], [10, 12], [0, 0], [6, 4]], dtype=np.float32)  # IP 7, 22, 0, 10
FAST = {"n_reps": 256}  # tuning options for tests that only need a rough answer


# -- definitions on hand-made observations -------------------------------------------------


def test_base_stock_orders():
    assert BaseStock(CFG, 19).orders(OBS).tolist() == [12, 0, 19, 9]


def test_capped_base_stock_orders():
    assert CappedBaseStock(CFG, 19, 6).orders(OBS).tolist() == [6, 0, 6, 6]
    assert CappedBaseStock(CFG, 12, 6).orders(OBS).tolist() == [5, 0, 6, 2]


def test_constant_order_orders():
    assert ConstantOrder(CFG, 4).orders(OBS).tolist() == [4, 4, 4, 4]


def test_s_S_orders_with_le_convention():
    # IP = 10 equals s: an order is placed (IP <= s).
    assert SS(CFG, 10, 19).orders(OBS).tolist() == [12, 0, 19, 9]
    assert SS(CFG, 9, 19).orders(OBS).tolist() == [12, 0, 19, 0]
    with pytest.raises(ValueError):
        SS(CFG, 5, 5)


def test_per_row_parameters():
    policy = CappedBaseStock(CFG, np.array([19, 19, 5, 12]), np.array([6, 2, 3, 1]))
    assert policy.orders(OBS).tolist() == [6, 0, 3, 1]
    assert policy.params() == {"level": [19, 19, 5, 12], "cap": [6, 2, 3, 1]}
    assert BaseStock(CFG, np.int64(7)).params() == {"level": 7}


def test_predict_single_and_batch():
    policy = BaseStock(CFG, 19)
    action, state = policy.predict(OBS)
    assert state is None and action.tolist() == [12, 0, 19, 9]
    single, _ = policy.predict(OBS[0])
    assert int(single) == 12
    # predict clips to q_max (= 20 here) although the definition asks for more.
    assert BaseStock(CFG, 30).predict(OBS[2])[0] == CFG.q_max


@pytest.mark.parametrize(
    "policy",
    [
        BaseStock(LostSalesConfig(action_type="continuous"), 19),
        CappedBaseStock(LostSalesConfig(action_type="continuous"), 19, 6),
        ConstantOrder(LostSalesConfig(action_type="continuous"), 4),
        SS(LostSalesConfig(action_type="continuous"), 10, 19),
        Myopic(LostSalesConfig(action_type="continuous")),
    ],
    ids=lambda p: p.name,
)
def test_continuous_action_roundtrip(policy):
    cfg = policy.config
    expected = np.clip(policy.orders(OBS), 0, cfg.q_max)
    action, _ = policy.predict(OBS)
    assert action.shape == (len(OBS), 1) and action.dtype == np.float32
    assert np.all(np.abs(action) <= 1.0)
    assert order_from_action(action[:, 0], cfg).tolist() == expected.tolist()
    single, _ = policy.predict(OBS[0])
    assert int(order_from_action(single[0], cfg)) == expected[0]
    assert np.array_equal(order_from_action(orders_to_actions(expected, cfg)[:, 0], cfg), expected)


# -- myopic ---------------------------------------------------------------------------------


def test_myopic_hand_computed():
    # L = 1, demand 0/1/2 w.p. .2/.5/.3, x = 1: Y = (1 - D)^+ is 1 w.p. .2, else 0, and
    # W = D' - Y has P(W <= 0) = .30, P(W <= 1) = .76, P(W <= 2) = 1.
    demand = DemandConfig(distribution="pmf", pmf=(0.2, 0.5, 0.3))
    base = {"lead_time": 1, "demand": demand, "q_max": 5}
    assert Myopic(LostSalesConfig(penalty=4, **base)).order_for_state((1,)) == 2  # ratio .8
    assert Myopic(LostSalesConfig(penalty=3, **base)).order_for_state((1,)) == 1  # ratio .75
    # A lost sale also saves the unit cost: with c = 1 the ratio is (5 - 1) / (5 - 1 + 1) = .8
    # (and with p = 4, c = 1 it is .75).
    assert Myopic(LostSalesConfig(penalty=5, unit_cost=1, **base)).order_for_state((1,)) == 2
    assert Myopic(LostSalesConfig(penalty=4, unit_cost=1, **base)).order_for_state((1,)) == 1
    # Backorders, ratio .75: Y = 1 - D is 1/0/-1 w.p. .2/.5/.3; P(W <= 1) = .61, P(W <= 2) = .91.
    cfg = LostSalesConfig(penalty=3, unit_cost=1, backorders=True, **base)
    assert Myopic(cfg).order_for_state((1,)) == 2
    assert Myopic(cfg).order_for_state((3,)) == 0


def _brute_force_myopic(cfg: LostSalesConfig, state: tuple[int, ...]) -> int:
    """Enumerate demand paths: Y pathwise from the env's timing, then argmin over q."""
    pmf = cfg.demand.pmf_array()
    pmf = pmf[: np.searchsorted(np.cumsum(pmf), 1 - 1e-9) + 1]  # trim for speed
    pmf = pmf / pmf.sum()
    lead = cfg.lead_time
    p_eff = cfg.penalty - (0 if cfg.backorders else cfg.unit_cost)  # a lost sale saves c
    q = np.arange(cfg.q_max + 1)
    cost = np.zeros(len(q))
    for path in itertools.product(range(len(pmf)), repeat=lead + 1):
        prob = np.prod(pmf[list(path)])
        y = state[0]
        for k in range(lead):
            y = y - path[k] if cfg.backorders else max(y - path[k], 0)
            if k < lead - 1:
                y += state[1 + k]
        d = path[lead]
        stock = y + q
        cost += prob * (
            cfg.holding_cost * np.maximum(stock - d, 0) + p_eff * np.maximum(d - stock, 0)
        )
    return int(np.argmin(cost + 1e-9 * q))  # smallest minimiser


@pytest.mark.parametrize(
    "lead, backorders, state",
    [(0, False, (3,)), (0, True, (-2,)), (1, False, (2,)), (1, True, (4,)), (2, False, (1, 6)),
     (2, True, (-1, 5)), (3, False, (2, 3, 1))],
)  # fmt: skip
def test_myopic_matches_brute_force(lead, backorders, state):
    demand = DemandConfig(mean=2.0)
    cfg = LostSalesConfig(lead_time=lead, backorders=backorders, demand=demand, unit_cost=0.5)
    assert Myopic(cfg).order_for_state(state) == _brute_force_myopic(cfg, state)


def test_myopic_lead_time_zero_is_newsvendor_base_stock():
    cfg = LostSalesConfig(lead_time=0)
    level = cfg.newsvendor_level()
    obs = np.arange(0, 15, dtype=np.float32)[:, None]
    assert Myopic(cfg).orders(obs).tolist() == BaseStock(cfg, level).orders(obs).tolist()


def test_myopic_with_backorders_is_newsvendor_base_stock():
    cfg = LostSalesConfig(backorders=True, lead_time=3, q_max=60)
    level = cfg.newsvendor_level()
    rng = np.random.default_rng(0)
    obs = np.column_stack([rng.integers(-10, 20, 200), rng.integers(0, 12, (200, 2))])
    assert Myopic(cfg).orders(obs).tolist() == BaseStock(cfg, level).orders(obs).tolist()


def test_myopic_caches_per_state():
    policy = Myopic(CFG)
    obs = np.tile(OBS, (50, 1))
    first = policy.orders(obs)
    assert len(policy._cache) == len(OBS)
    assert np.array_equal(policy.orders(obs), first)
    assert first.tolist()[:4] == [policy.order_for_state(tuple(map(int, r))) for r in OBS]


def test_myopic_cache_is_safe_under_hash_collisions():
    policy = Myopic(CFG)
    policy._mult[:] = 1  # the row hash becomes the inventory position: many collisions
    rng = np.random.default_rng(1)
    for _ in range(3):
        obs = rng.integers(0, 15, (300, 2))
        expected = [policy.order_for_state(tuple(r)) for r in obs.tolist()]
        assert policy.orders(obs).tolist() == expected


# -- properties -----------------------------------------------------------------------------

states = st.lists(st.integers(0, 30), min_size=2, max_size=2).map(lambda v: np.array([v]))


@settings(deadline=None)
@given(states, st.integers(0, 40))
def test_base_stock_never_exceeds_level(obs, level):
    ip = obs.sum()
    q = BaseStock(CFG, level).orders(obs)[0]
    assert q >= 0 and ip + q == max(level, ip)


@settings(deadline=None)
@given(states, st.integers(0, 40), st.integers(1, 20))
def test_capped_never_orders_above_cap(obs, level, cap):
    q = CappedBaseStock(CFG, level, cap).orders(obs)[0]
    assert 0 <= q <= cap
    assert q == min(BaseStock(CFG, level).orders(obs)[0], cap)


@settings(deadline=None)
@given(states, st.integers(0, 30), st.integers(1, 15))
def test_s_S_orders_only_at_or_below_s_and_up_to_S(obs, s, gap):
    S = s + gap
    ip = obs.sum()
    q = SS(CFG, s, S).orders(obs)[0]
    if ip <= s:
        assert q > 0 and ip + q == S
    else:
        assert q == 0


myopic_configs = {
    (lead, p, bo): LostSalesConfig(lead_time=lead, penalty=p, backorders=bo)
    for lead in (0, 1, 2, 3)
    for p in (4.0, 19.0)
    for bo in (False, True)
}
MYOPIC = {key: Myopic(cfg) for key, cfg in myopic_configs.items()}


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(MYOPIC)),
    st.lists(st.integers(0, 25), min_size=3, max_size=3),
    st.integers(0, 2),
)
def test_myopic_order_in_range_and_decreasing(key, values, component):
    policy = MYOPIC[key]
    dim = policy.config.obs_dim
    state = np.array([values[:dim]])
    if key[2]:
        state[0, 0] -= 10  # allow a backlog
    q = policy.orders(state)[0]
    assert 0 <= q <= policy.config.q_max
    # More stock anywhere (on hand or in the pipeline) never raises the order, and one
    # more unit lowers it by at most one.
    bumped = state.copy()
    bumped[0, component % dim] += 1
    assert 0 <= q - policy.orders(bumped)[0] <= 1


# -- random ---------------------------------------------------------------------------------


def test_random_policy_reproducible_by_seed():
    a, b, c = RandomPolicy(CFG, seed=3), RandomPolicy(CFG, seed=3), RandomPolicy(CFG, seed=4)
    obs = np.tile(OBS, (25, 1))
    qa = [a.orders(obs) for _ in range(3)]
    qb = [b.orders(obs) for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(qa, qb, strict=True))
    assert not np.array_equal(qa[0], c.orders(obs))
    allq = np.concatenate(qa)
    assert allq.min() == 0 and allq.max() == CFG.q_max
    assert a.params() == {"seed": 3}


# -- tuning ---------------------------------------------------------------------------------


def test_registry():
    assert set(HEURISTICS) == {
        "base_stock", "capped_base_stock", "constant_order", "s_S", "myopic", "random"
    }  # fmt: skip
    for name, (cls, tunable) in HEURISTICS.items():
        assert cls.name == name
        assert tunable == (name not in ("myopic", "random"))
    with pytest.raises(ValueError, match="no parameters"):
        tune("myopic", CFG)
    with pytest.raises(ValueError, match="unknown"):
        tune("nope", CFG)


def test_tuning_finds_newsvendor_level_with_backorders():
    cfg = LostSalesConfig(backorders=True)
    policy = tune("base_stock", cfg, **FAST)
    assert policy.level == cfg.newsvendor_level() == 20


def test_tuning_finds_best_lost_sales_base_stock_level():
    # Exact long-run costs (Markov chain of the base-stock policy, Poisson(5), h=1, p=9,
    # L=2): level 17: 6.632, 18: 6.3315, 19: 6.3163, 20: 6.5540, 21: 7.0048.
    policy = tune("base_stock", CFG)
    assert policy.level == 19
    assert abs(policy.tuning_cost - 6.3163) < 3 * policy.tuning_ci95 + 0.02
    assert policy.tuning["seed_base"] == TUNE_SEED_BASE


def test_tuning_uses_seeds_disjoint_from_evaluation(monkeypatch):
    seen = []
    original = Replications.from_seeds.__func__

    def recording(cls, config, seeds, periods):
        seen.extend(int(s) for s in seeds)
        return original(cls, config, seeds, periods)

    monkeypatch.setattr(heur.Replications, "from_seeds", classmethod(recording))
    tune("constant_order", CFG)
    assert seen and min(seen) >= TUNE_SEED_BASE
    # Evaluation uses EVAL_SEED_BASE + r for r < max_reps (4096 in the benchmark).
    assert not set(seen) & set(range(EVAL_SEED_BASE, EVAL_SEED_BASE + 100_000))


def test_tuning_is_deterministic():
    a = tune("base_stock", CFG, n_reps=64, periods=300)
    b = tune("base_stock", CFG, n_reps=64, periods=300)
    assert a.params() == b.params() and a.tuning_cost == b.tuning_cost


def test_tuned_capped_no_worse_than_base_stock():
    base = tune("base_stock", CFG)
    capped = tune("capped_base_stock", CFG)
    # Exact: capped (19, 6) costs 6.119 against 6.316 for base stock 19.
    assert (capped.level, capped.cap) == (19, 6)
    replications = Replications.from_seeds(CFG, EVAL_SEED_BASE + np.arange(200), 1100)
    cost_b = rollout(CFG, base, replications, 100).mean_cost
    cost_c = rollout(CFG, capped, replications, 100).mean_cost
    diff = cost_c - cost_b
    assert diff.mean() <= 2 * ci95(diff)
    assert cost_c.mean() < cost_b.mean()


def test_tuned_constant_order_is_stable():
    policy = tune("constant_order", CFG)
    assert policy.quantity == 4  # the largest integer below the mean demand 5


def test_tuned_s_S_uses_a_reorder_gap_with_fixed_cost():
    cfg = LostSalesConfig(backorders=True, fixed_order_cost=20)
    policy = tune("s_S", cfg, **FAST)
    assert policy.S - policy.s > 3  # EOQ sqrt(2 * 20 * 5) = 14
    assert policy.tuning_cost < tune("base_stock", cfg, **FAST).tuning_cost


def test_tune_all():
    cfg = LostSalesConfig(lead_time=1, penalty=4)
    policies = tune_all(cfg, n_reps=64, periods=300)
    assert list(policies) == list(HEURISTICS)
    for name, policy in policies.items():
        assert policy.name == name
        if HEURISTICS[name][1]:
            assert policy.tuning_cost is not None and policy.tuning_cost > 0
    assert list(tune_all(cfg, ["myopic"])) == ["myopic"]


def test_exact_average_cost_of_tuned_base_stock():
    optimal = pytest.importorskip("agents.lost_sales.optimal")
    if not hasattr(optimal, "exact_average_cost"):
        pytest.skip("agents.optimal.exact_average_cost not available")
    cfg = LostSalesConfig(lead_time=1, penalty=19)
    policy = tune("base_stock", cfg)

    def cost(level):
        return optimal.exact_average_cost(cfg, BaseStock(cfg, level).orders)

    assert cost(policy.level) <= min(cost(policy.level - 1), cost(policy.level + 1)) + 1e-9
    capped = tune("capped_base_stock", cfg)
    assert optimal.exact_average_cost(cfg, capped.orders) < cost(policy.level)
