"""The slotting demand stream: determinism (common random numbers), valid orders (distinct,
sorted, active SKUs), lazy drift (the public state follows the returned tours only), line
counts and SKU frequencies against the exact sequential without-replacement law, the seasonal
shares, the picker capacity and its left-over order, and the drift rates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.slotting.config import SlottingConfig
from envs.slotting.demand import BLOCK_TOURS, Demand, Tour

configs = st.builds(
    SlottingConfig,
    n_skus=st.integers(1, 40),
    popularity=st.sampled_from(("zipf", "uniform")),
    zipf_exponent=st.sampled_from((0.0, 1.0, 4.0)),
    season_amplitude=st.sampled_from((0.0, 0.5, 0.95)),
    season_period=st.sampled_from((7.0, 50.0)),
    launch_rate=st.sampled_from((0.0, 0.3, 2.0)),
    retire_rate=st.sampled_from((0.0, 0.3, 2.0)),
    lines_per_order=st.sampled_from((1.0, 2.5, 8.0)),
    batch_size=st.integers(1, 6),
    picker_capacity=st.sampled_from((None, 1, 3, 10)),
)
N_TOURS = BLOCK_TOURS + 60  # crosses a block boundary


def demand(seed: int = 0, **kwargs) -> Demand:
    return Demand(SlottingConfig(**kwargs), np.random.default_rng(seed))


def same_tour(a: Tour, b: Tour) -> bool:
    return (a.index, a.retired, a.launched, len(a.orders)) == (b.index, b.retired, b.launched, len(b.orders)) \
        and all(np.array_equal(x, y) for x, y in zip(a.orders, b.orders, strict=True))


def expected_shares(d: Demand, t: int) -> np.ndarray:
    c = d.config
    w = d.base * (1.0 + c.season_amplitude * np.sin(2.0 * np.pi * t / c.season_period + d.phase))
    w = np.where(d.active, w, 0.0)
    return w / w.sum()


@settings(max_examples=40, deadline=None)
@given(configs, st.integers(0, 2**32))
def test_same_seed_gives_the_same_stream_whatever_is_queried_in_between(config, seed):
    a = Demand(config, np.random.default_rng(seed))
    b = Demand(config, np.random.default_rng(seed))
    for t in range(N_TOURS):
        if t % 7 == 0:  # queries consume nothing
            b.shares(), b.weights(t + 3), b.shares(t), b.active.sum(), b.n_ids  # noqa: B018
        assert same_tour(a.next_tour(), b.next_tour())
    assert a.t == b.t == N_TOURS and a.n_ids == b.n_ids
    assert np.array_equal(a.active, b.active) and np.array_equal(a.shares(), b.shares())


def test_different_seeds_give_different_streams():
    a, b = demand(1, n_skus=50), demand(2, n_skus=50)
    assert not all(same_tour(a.next_tour(), b.next_tour()) for _ in range(20))


@settings(max_examples=60, deadline=None)
@given(configs, st.integers(0, 2**32))
def test_orders_are_distinct_sorted_active_skus_and_drift_is_applied_lazily(config, seed):
    d = Demand(config, np.random.default_rng(seed))
    c = config
    active = np.ones(c.n_skus, dtype=bool)  # rebuilt from the returned tours only
    ever_retired: set[int] = set()
    for t in range(N_TOURS):
        assert d.t == t and d.n_ids == len(active) == len(d.base) == len(d.phase)
        assert np.array_equal(d.active, active)
        assert np.allclose(d.shares(), expected_shares(d, t))
        tour = d.next_tour()
        assert tour.index == t and 1 <= len(tour.orders) <= c.batch_size
        assert tour.lines == sum(len(o) for o in tour.orders)
        if c.picker_capacity is None:
            assert len(tour.orders) == c.batch_size and tour.lines <= c.batch_size * active.sum()
        for order in tour.orders:
            assert order.dtype == np.int64 and order.ndim == 1 and len(order) >= 1
            assert np.all(np.diff(order) > 0)  # sorted, distinct
            assert np.all(active[order])  # active at this tour (never a retired SKU)
            assert not ever_retired.intersection(order.tolist())
            assert len(order) <= active.sum()
        # the drift after tour t: retired SKUs were active, launched SKUs get the next ids
        assert len(set(tour.retired)) == len(tour.retired) and np.all(active[tour.retired])
        assert len(tour.retired) <= active.sum() - 1
        active[tour.retired] = False
        ever_retired.update(tour.retired)
        assert tour.launched == list(range(len(active), len(active) + len(tour.launched)))
        active = np.concatenate([active, np.ones(len(tour.launched), dtype=bool)])
    assert np.array_equal(d.active, active) and active.any()


@settings(max_examples=40, deadline=None)
@given(configs.filter(lambda c: c.picker_capacity is not None), st.integers(0, 2**32))
def test_picker_capacity_and_the_left_over_order(config, seed):
    """A tour's lines stay within the capacity unless its first order alone exceeds it; the
    order left over (at most one) opens the next tour, without the lines retired meanwhile;
    a tour stops short of batch_size orders only because of the capacity."""
    c = config
    d = Demand(c, np.random.default_rng(seed))
    for _ in range(N_TOURS):
        waiting = [o.copy() for o in d.backlog]
        tour = d.next_tour()
        assert tour.lines <= c.picker_capacity or len(tour.orders) == 1
        assert len(tour.orders) <= c.batch_size and len(d.backlog) <= 1
        if waiting:  # left over from the previous tour: taken first, exactly once
            assert np.array_equal(tour.orders[0], waiting[0])
            assert all(o is not tour.orders[0] for o in d.backlog)
        for order in d.backlog:  # lines of retired SKUs are dropped
            assert len(order) >= 1 and np.all(d.active[order]) and np.all(np.diff(order) > 0)
        if len(tour.orders) < c.batch_size and not tour.retired:
            assert len(d.backlog) == 1 and tour.lines + len(d.backlog[0]) > c.picker_capacity
        if d.backlog:
            assert len(tour.orders) < c.batch_size


def test_without_capacity_no_order_is_left_over():
    d = demand(3, n_skus=30, batch_size=4, lines_per_order=6.0)
    for _ in range(300):
        assert len(d.next_tour().orders) == 4 and d.backlog == []


def test_mean_lines_per_order_matches_the_config():
    d = demand(5, n_skus=5000, lines_per_order=3.0, batch_size=5, launch_rate=0.0, retire_rate=0.0)
    counts = np.array([len(o) for _ in range(2000) for o in d.next_tour().orders])
    # 1 + Poisson(2): mean 3, variance 2 (the cap at 5000 SKUs never binds in practice)
    assert abs(counts.mean() - 3.0) < 4.5 * np.sqrt(2.0 / len(counts))
    assert abs(counts.var() - 2.0) < 0.15


def test_lines_are_capped_by_the_active_skus():
    """Tiny, very skewed catalogue: every order takes all SKUs (the exact draw of a line whose
    share is ~1e-6 of the rest is needed, rejection alone would not find it)."""
    d = demand(0, n_skus=4, zipf_exponent=10.0, lines_per_order=50.0, launch_rate=0.0, retire_rate=0.0)
    for _ in range(50):
        assert all(np.array_equal(o, np.arange(4)) for o in d.next_tour().orders)


def inclusion(p: np.ndarray) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
    """Exact laws of a 2-line order drawn sequentially without replacement: P(i in order) and
    P(order == {i, j})."""
    pi = p + np.array([sum(p[j] * p[i] / (1.0 - p[j]) for j in range(len(p)) if j != i) for i in range(len(p))])
    pair = {(i, j): p[i] * p[j] / (1.0 - p[i]) + p[j] * p[i] / (1.0 - p[j])
            for i, j in itertools.combinations(range(len(p)), 2)}
    return pi, pair


@pytest.mark.parametrize(("n_skus", "exponent"), [(8, 1.2), (3, 4.0), (12, 0.0)])
def test_sku_frequencies_match_sequential_sampling_without_replacement(n_skus, exponent):
    """No season, no drift: the SKUs of 2-line orders follow the exact law (z-tests per SKU
    and per pair). (3, 4.0) is so skewed that most second lines go to the exact draw."""
    d = demand(11, n_skus=n_skus, zipf_exponent=exponent, season_amplitude=0.0, launch_rate=0.0,
               retire_rate=0.0, lines_per_order=2.0, batch_size=20)
    p = d.shares()
    pi, pair = inclusion(p)
    orders = [o for _ in range(3000) for o in d.next_tour().orders]
    one = np.array([o[0] for o in orders if len(o) == 1])
    two = np.array([o for o in orders if len(o) == 2])
    assert len(two) > 15_000 and len(one) > 15_000

    def z(hits: np.ndarray | int, n: int, q: np.ndarray | float) -> np.ndarray:
        return (hits - n * q) / np.sqrt(n * q * (1.0 - q))

    assert np.abs(z(np.bincount(one, minlength=n_skus), len(one), p)).max() < 4.5
    assert np.abs(z(np.bincount(two.ravel(), minlength=n_skus), len(two), pi)).max() < 4.5
    seen = {key: 0 for key in pair}
    for i, j in two.tolist():
        seen[(i, j)] += 1
    for key, q in pair.items():
        assert abs(z(seen[key], len(two), q)) < 4.5, key
    assert sum(seen.values()) == len(two)  # every pair is (lower, higher)


@settings(max_examples=30, deadline=None)
@given(configs, st.integers(0, 2**32), st.integers(0, 2000))
def test_shares_follow_the_seasonal_formula(config, seed, t):
    d = Demand(config, np.random.default_rng(seed))
    for _ in range(30):
        d.next_tour()
    c = config
    for when in (None, t):
        s = d.shares(when)
        assert s.shape == (d.n_ids,) and np.all(s[~d.active] == 0.0) and np.all(s[d.active] > 0.0)
        assert s.sum() == pytest.approx(1.0)
        assert np.allclose(s, expected_shares(d, d.t if when is None else when))
    ranks = np.arange(1, c.n_skus + 1)
    if c.popularity == "zipf":
        assert np.allclose(d.base[:c.n_skus], ranks ** -c.zipf_exponent)
        assert np.all(np.isin(d.base[c.n_skus:], ranks ** -c.zipf_exponent))
    else:
        assert np.all(d.base == 1.0)
    assert np.all((d.phase >= 0.0) & (d.phase < 2.0 * np.pi))


def test_drift_rates_are_poisson_means():
    d = demand(7, n_skus=100, retire_rate=0.2, launch_rate=0.3, lines_per_order=1.0, batch_size=1)
    n = 6000
    tours = [d.next_tour() for _ in range(n)]
    retired = np.array([len(tr.retired) for tr in tours])
    launched = np.array([len(tr.launched) for tr in tours])
    assert abs(retired.sum() - 0.2 * n) < 4.5 * np.sqrt(0.2 * n)  # the cap never binds here
    assert abs(launched.sum() - 0.3 * n) < 4.5 * np.sqrt(0.3 * n)
    assert abs(retired.var() - 0.2) < 0.03 and abs(launched.var() - 0.3) < 0.04
    assert d.n_ids == 100 + launched.sum() and d.active.sum() == 100 + launched.sum() - retired.sum()


def test_retirements_are_uniform_among_the_active_skus():
    """Retirement ignores popularity: the most and least popular halves retire alike."""
    n = 0
    low = 0
    for seed in range(40):
        d = demand(seed, n_skus=40, zipf_exponent=2.0, retire_rate=1.0, launch_rate=0.0, batch_size=1)
        first = d.next_tour().retired  # all 40 active: a uniform draw among 0..39
        n += len(first)
        low += sum(s < 20 for s in first)
    assert n > 20 and abs(low - n / 2) < 4.5 * np.sqrt(n / 4)


def test_one_sku_always_stays():
    d = demand(2, n_skus=3, retire_rate=5.0, launch_rate=0.0, lines_per_order=4.0)
    for _ in range(40):
        d.next_tour()
        assert d.active.sum() >= 1
    assert d.active.sum() == 1
    last = int(np.flatnonzero(d.active)[0])
    assert all(np.array_equal(o, [last]) for o in d.next_tour().orders)


def test_large_catalogue_stream_is_valid():
    """Many SKUs (short blocks of tours): the stream stays valid and deterministic."""
    a = demand(4, n_skus=20_000, launch_rate=0.5, retire_rate=0.5)
    b = demand(4, n_skus=20_000, launch_rate=0.5, retire_rate=0.5)
    for _ in range(40):
        ta, tb = a.next_tour(), b.next_tour()
        assert same_tour(ta, tb)
        assert all(np.all(np.diff(o) > 0) and np.all(a.active[o] | np.isin(o, ta.retired)) for o in ta.orders)
