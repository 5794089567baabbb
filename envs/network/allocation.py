"""How a network node shares what it has: stock among its children's requests, and storage among arrivals.

:func:`allocate` rations an interior node's stock over its children's requests (step 4 of the
simulator's timing; ``proportional``, ``priority`` or ``balanced``, the ``allocation`` setting);
:func:`fit_space` accepts the arrivals that fit a node's storage capacity, pro rata (steps 1-2).
Both are rules of :class:`envs.network.simulator.NetworkSimulator`, vectorised over SKUs.
"""

from __future__ import annotations

import numpy as np


def allocate(available: np.ndarray, request: np.ndarray, rule: str, position: np.ndarray | None = None,
             scale: np.ndarray | None = None) -> np.ndarray:
    """Units shipped to each child (C, N) out of ``available`` (N,) for ``request`` (C, N).

    ``proportional``: floor(request * available / total), leftovers one by one to the largest
    remainders (first child on ties); ``priority``: children in order; ``balanced``:
    water-filling on ``(position + x) / scale`` (the children's inventory positions after the
    shipment relative to their mean demand), then the same rounding. Where the stock covers
    every request, every request is shipped."""
    total = request.sum(axis=0)
    short = available < total
    if not short.any():
        return request.copy()
    out = request.copy()
    cols = np.flatnonzero(short)
    a, r = available[cols].astype(np.float64), request[:, cols].astype(np.float64)
    if rule == "priority":
        before = np.cumsum(r, axis=0) - r
        x = np.clip(a[None, :] - before, 0.0, r)
        out[:, cols] = x.astype(np.int64)
        return out
    if rule == "proportional":
        exact = r * (a / r.sum(axis=0))[None, :]
    else:  # balanced: find lam with sum_c clip(lam * s_c - p_c, 0, r_c) = a, by bisection
        p, s = position[:, cols].astype(np.float64), scale[:, cols]
        lo = np.min(p / s, axis=0)
        hi = np.max((p + r) / s, axis=0)
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            filled = np.clip(mid[None, :] * s - p, 0.0, r).sum(axis=0)
            low = filled < a
            lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
        exact = np.clip(hi[None, :] * s - p, 0.0, r)
        exact *= np.where(exact.sum(axis=0) > 0, a / np.maximum(exact.sum(axis=0), 1e-300), 0.0)[None, :]
    x = np.minimum(np.floor(exact + 1e-9), r)
    left = a - x.sum(axis=0)
    frac = np.where(x < r, exact - x, -1.0)
    for _ in range(r.shape[0]):  # at most C leftover units per SKU
        give = left > 0.5
        if not give.any():
            break
        best = np.argmax(frac, axis=0)
        idx = np.flatnonzero(give)
        x[best[idx], idx] += 1
        frac[best[idx], idx] = -1.0
        left[idx] -= 1
    out[:, cols] = x.astype(np.int64)
    return out


def fit_space(stock: np.ndarray, incoming: np.ndarray, capacity: np.ndarray, limited: np.ndarray,
              cap_factor: float, unit_volume: np.ndarray, copies: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Units (M, N) of ``incoming`` that fit the storage of the ``limited`` nodes, and the units
    refused (M, N). At a node whose on-hand volume would exceed ``capacity x cap_factor``,
    the units that need space (backlog is filled first) are cut pro rata, rounded down; each
    of the ``copies`` column blocks of N / copies SKUs (``unit_volume`` each) has its own
    storage. Shared by arrivals (step 1) and transshipments that arrive at once (step 2)."""
    accepted = incoming.copy()
    refused = np.zeros_like(incoming)
    b = len(unit_volume)
    for k in limited:
        before = np.maximum(stock[k], 0).reshape(copies, b)
        need = np.maximum(stock[k] + incoming[k], 0).reshape(copies, b) - before  # units that need space
        vol = need @ unit_volume
        free = np.maximum(capacity[k] * cap_factor - before @ unit_volume, 0.0)
        over = vol > free
        if over.any():
            cut = np.zeros((copies, b), dtype=np.int64)
            cut[over] = need[over] - np.floor(need[over] * (free[over] / vol[over])[:, None]).astype(np.int64)
            accepted[k] -= cut.ravel()
            refused[k] = cut.ravel()
    return accepted, refused
