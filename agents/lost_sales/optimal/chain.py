"""States, transitions and demand helpers shared by the solver and the policy evaluation.

Timing (identical to ``envs.replenishment.dynamics``): the state at the start of a period
is ``(x, p_1, ..., p_{L-1})``, on-hand stock and the pipeline oldest first. The order ``q``
is placed (cost ``K [q > 0] + c q``; with ``L = 0`` it arrives at once), demand ``D`` is
served from the stock ``z`` (``z = x``, or ``x + q`` when ``L = 0``), ``h`` is charged per
unit left and ``p`` per unit short, then the order placed ``L - 1`` periods ago arrives::

    L >= 2:  ((z - D)^+ + p_1, p_2, ..., p_{L-1}, q)
    L == 1:  (z - D)^+ + q
    L == 0:  (z - D)^+,  z = x + q

Demand
    The DP uses ``config.demand.pmf_array()`` (tail below 1e-12 dropped). A ``series``
    demand is treated as i.i.d. draws from its empirical pmf; the solution is then
    marked ``exact=False`` (the env replays the series deterministically).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from envs.replenishment.lost_sales.config import LostSalesConfig

# Largest state key for which index lookups use a dense inverse table (int32 entries).
DENSE_LOOKUP_LIMIT = 50_000_000


# -- demand helpers -------------------------------------------------------------------------
def _demand_pmf(config: LostSalesConfig) -> np.ndarray:
    return np.asarray(config.demand.pmf_array(), dtype=np.float64)


def _expected_left(pmf: np.ndarray, z: np.ndarray) -> np.ndarray:
    """E[(z - D)^+] for integer z (any sign), D ~ pmf on 0..len(pmf)-1."""
    z = np.asarray(z, dtype=np.int64)
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    # E[(z - D)^+] = sum_{k < z} P(D <= k); beyond the support it is z - mean.
    table = np.concatenate([[0.0], np.cumsum(np.cumsum(pmf))])
    inside = np.clip(z, 0, len(table) - 1)
    return np.where(z <= 0, 0.0, np.where(z < len(table), table[inside], z - mean))


def newsvendor_cost(pmf: np.ndarray, z: np.ndarray, h: float, p: float) -> np.ndarray:
    """``h E[(z - D)^+] + p E[(D - z)^+]``: the expected holding/shortage cost of stock z."""
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    left = _expected_left(pmf, z)
    return h * left + p * (left + mean - np.asarray(z, dtype=np.float64))


def _eoq(config: LostSalesConfig) -> int:
    """EOQ-sized margin sqrt(2 K mean / h) (or a few periods of demand when h = 0)."""
    mean = config.demand.mean
    if config.holding_cost > 0:
        return max(
            1, math.ceil(math.sqrt(2 * config.fixed_order_cost * mean / config.holding_cost))
        )
    return max(1, math.ceil(4 * mean))


# -- state spaces ---------------------------------------------------------------------------
def _enumerate_states(dim: int, bound: int) -> np.ndarray:
    """All non-negative integer vectors of length ``dim`` with sum <= bound, lexicographic."""
    states = np.zeros((1, 0), dtype=np.int64)
    room = np.array([bound], dtype=np.int64)
    for _ in range(dim):
        counts = room + 1
        parent = np.repeat(np.arange(len(states)), counts)
        value = _ranges(counts)
        states = np.column_stack([states[parent], value])
        room = room[parent] - value
    return states


def _ranges(counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(n)`` for each n in ``counts``."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _encode(vectors: np.ndarray, base: int) -> np.ndarray:
    """Mixed-radix key of each row (first column most significant): sorted rows, sorted keys."""
    vectors = np.asarray(vectors, dtype=np.int64)
    keys = np.zeros(len(vectors), dtype=np.int64)
    for col in range(vectors.shape[1]):
        keys = keys * base + vectors[:, col]
    return keys


@dataclass
class _Step:
    """What happens to a batch of (state, order) rows: demand is served from ``stock``,
    ``arrival`` joins the leftover, ``tail`` is the rest of the next state."""

    stock: np.ndarray  # (n,)
    arrival: np.ndarray  # (n,)
    tail: np.ndarray  # (n, dim - 1)


def _step(states: np.ndarray, q: np.ndarray, lead_time: int) -> _Step:
    x = states[:, 0]
    if lead_time == 0:
        return _Step(x + q, np.zeros_like(x), states[:, 1:])
    if lead_time == 1:
        return _Step(x, q, states[:, 1:])
    return _Step(x, states[:, 1], np.column_stack([states[:, 2:], q]))


def _successors(
    step: _Step, pmf: np.ndarray, stock_cap: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Next on-hand stock of each row and its probability, grouped by row (CSR layout).

    Row i has the outcomes ``d = 0, 1, ..., min(stock_i, d_max)`` of ``min(D, stock)``:
    probability ``P(D = d)`` for ``d < stock`` and the lumped tail ``P(D >= stock)`` for
    ``d = stock`` (everything is sold). Zero-probability outcomes are dropped. Returns
    ``(indptr, next_on_hand, prob)``; the rest of the next state is ``step.tail[row]``.
    ``stock_cap`` (policy evaluation only) clamps the next on-hand stock.
    """
    dmax = len(pmf) - 1
    counts = np.minimum(step.stock, dmax) + 1
    indptr = np.concatenate([[0], np.cumsum(counts)])
    d = _ranges(counts)
    prob = pmf[d]
    lumped = step.stock <= dmax  # the last outcome of these rows is "everything sold"
    tail_prob = np.cumsum(pmf[::-1])[::-1]  # P(D >= k)
    prob[indptr[1:][lumped] - 1] = tail_prob[step.stock[lumped]]
    on_hand = np.repeat(step.stock + step.arrival, counts) - d
    if stock_cap is not None:
        on_hand = np.minimum(on_hand, stock_cap)
    keep = prob > 0
    if not keep.all():
        kept = np.concatenate([[0], np.cumsum(keep)])
        indptr, on_hand, prob = kept[indptr], on_hand[keep], prob[keep]
    return indptr, on_hand, prob


def _next_states(step: _Step, on_hand: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Full next-state vectors for the outcomes returned by :func:`_successors`."""
    return np.column_stack([on_hand, np.repeat(step.tail, np.diff(indptr), axis=0)])


def _transition_matrix(
    step: _Step, pmf: np.ndarray, table: np.ndarray, base: int, stock_cap: int | None = None
) -> sparse.csr_matrix:
    """Sparse (rows x states) transition matrix; ``table`` holds the sorted state keys."""
    indptr, on_hand, prob = _successors(step, pmf, stock_cap)
    width = step.tail.shape[1]
    keys = on_hand * base**width + np.repeat(_encode(step.tail, base), np.diff(indptr))
    cols = _lookup(table, keys)
    if cols.min(initial=0) < 0:
        raise RuntimeError("a transition left the state space (solver bug)")
    shape = (len(step.stock), len(table))
    return sparse.csr_matrix((prob, cols.astype(np.int32), indptr), shape=shape)


def _lookup(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in the sorted ``table`` (-1 if absent): a dense inverse table
    when the key range is small (much faster than a binary search), else searchsorted."""
    if len(table) and table[-1] < DENSE_LOOKUP_LIMIT and keys.min(initial=0) >= 0:
        inverse = np.full(int(max(table[-1], keys.max(initial=0))) + 1, -1, dtype=np.int32)
        inverse[table] = np.arange(len(table), dtype=np.int32)
        return inverse[keys]
    pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return np.where(table[pos] == keys, pos, -1).astype(np.int32)
