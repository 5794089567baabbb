"""Independent NumPy restatement of OR-Gym's ``InvManagement-v1`` dynamics.

Written from the specification in ``docs/network_orgym.md`` (not copied from OR-Gym), as
ground truth for ``env=network_orgym``. It is checked row by row against a fixture that
was recorded from OR-Gym 0.5.0 itself (``tests/network/data/orgym_invmanagement_v1.csv``,
see ``tests/network/test_orgym_reference.py``).

Stage indexing (OR-Gym's): stage 0 is the retailer, stages 1 and 2 hold stock, stage 3 is
the raw-material source with unlimited supply and no stock. Column ``i`` of every
3-column array is the link ``stage i+1 -> stage i`` (orders placed by stage ``i``);
4-column arrays are indexed by stage 0..3.

Not part of the pytest collection (no ``test_`` prefix); pure NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Default parameters of InvManagement-v1 (or_gym 0.5.0). ``backlog=False`` is what makes
#: it v1 (lost sales); v0 is the same with ``backlog=True``.
ORGYM_V1_PARAMS: dict[str, Any] = {
    "periods": 30,
    "I0": (100.0, 100.0, 200.0),
    "p": 2.0,
    "r": (1.5, 1.0, 0.75, 0.5),
    "k": (0.10, 0.075, 0.05, 0.025),
    "h": (0.15, 0.10, 0.05),
    "c": (100.0, 90.0, 80.0),
    "L": (3, 5, 10),
    "alpha": 0.97,
    "backlog": False,
}


def _params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(ORGYM_V1_PARAMS)
    if params:
        unknown = set(params) - set(out)
        if unknown:
            raise KeyError(f"unknown parameter(s): {sorted(unknown)}")
        out.update(params)
    return out


def orgym_reference_episode(
    demands: np.ndarray,
    actions: np.ndarray,
    params: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Replay one episode of InvManagement-v1 for given demands and raw actions.

    Args:
        demands: shape ``(T,)``, customer demand realised at the retailer in each period.
        actions: shape ``(T, 3)``, the raw actions handed to ``env.step`` (order requests
            of stages 0, 1, 2 to their suppliers). They are floored at 0 and truncated
            toward zero to integers, exactly as OR-Gym does; no clipping to the action
            space happens before that.
        params: overrides of :data:`ORGYM_V1_PARAMS`.

    Returns:
        Per-period arrays (``T`` rows):

        - ``profit`` ``(T,)``: the step reward, already discounted by ``alpha**t``.
        - ``profit_undiscounted`` ``(T,)``.
        - ``requested`` ``(T, 3)``: integer request (plus carried backlog if backlog).
        - ``shipped`` ``(T, 3)``: request after capacity / upstream-stock clipping; also
          OR-Gym's ``R`` and ``S[:, 1:]``. Leaves the supplier this period.
        - ``arrivals`` ``(T, 3)``: shipments received this period (placed ``L`` ago).
        - ``inventory`` ``(T, 3)``: on hand at the end of the period (OR-Gym ``I[t+1]``).
        - ``pipeline`` ``(T, 3)``: in transit at the end of the period (``T[t+1]``).
        - ``sales`` ``(T, 4)``: units sold by each stage (stage 0 to customers, stage
          ``j>=1`` to stage ``j-1``) = OR-Gym ``S``.
        - ``unfulfilled`` ``(T, 4)``: unmet customer demand (stage 0) and unmet
          replenishment requests (stage ``j>=1``), the quantity penalised with ``k``.
        - ``lost`` ``(T, 4)`` and ``backlog`` ``(T, 4)``: ``unfulfilled`` routed to one of
          them depending on ``backlog`` (OR-Gym ``LS`` / ``B``).
        - ``observation`` ``(T, 3 * (max(L) + 1))``: the observation returned after each
          step (on-hand stock, then the last ``max(L)`` integer requests, oldest first,
          zero-padded at the front).
    """
    prm = _params(params)
    d = np.asarray(demands, dtype=float).reshape(-1)
    a = np.asarray(actions, dtype=float)
    n_per = d.shape[0]

    inv = np.asarray(prm["I0"], dtype=float).copy()
    m = inv.shape[0]  # stages that hold stock (= number of order links)
    price = np.concatenate([[float(prm["p"])], np.asarray(prm["r"], dtype=float)[:-1]])
    cost = np.asarray(prm["r"], dtype=float)
    pen = np.asarray(prm["k"], dtype=float)
    hold = np.asarray(prm["h"], dtype=float)
    cap = np.asarray(prm["c"], dtype=float)
    lead = np.asarray(prm["L"], dtype=int)
    alpha = float(prm["alpha"])
    backlog_mode = bool(prm["backlog"])
    if a.shape != (n_per, m):
        raise ValueError(f"actions must have shape ({n_per}, {m}), got {a.shape}")
    lt_max = int(lead.max())

    pipe = np.zeros(m)
    carried = np.zeros(m + 1)  # unfulfilled amounts carried over (backlog mode only)
    out = {
        "profit": np.zeros(n_per),
        "profit_undiscounted": np.zeros(n_per),
        "requested": np.zeros((n_per, m)),
        "shipped": np.zeros((n_per, m)),
        "arrivals": np.zeros((n_per, m)),
        "inventory": np.zeros((n_per, m)),
        "pipeline": np.zeros((n_per, m)),
        "sales": np.zeros((n_per, m + 1)),
        "unfulfilled": np.zeros((n_per, m + 1)),
        "lost": np.zeros((n_per, m + 1)),
        "backlog": np.zeros((n_per, m + 1)),
        "observation": np.zeros((n_per, m * (lt_max + 1))),
    }
    raw_requests = np.zeros((n_per, m))

    for t in range(n_per):
        # 1. orders: integer, non-negative requests (+ carried unmet requests if backlog)
        raw = np.trunc(np.maximum(a[t], 0.0))
        raw_requests[t] = raw
        req = raw + carried[1:]
        # 2. each supplier ships min(request, its capacity, its on-hand stock at the start
        #    of the period); the top supplier (raw material) has unlimited stock.
        upstream = np.append(inv[1:], np.inf)
        ship = np.minimum(np.minimum(req, cap), upstream)
        out["requested"][t] = req
        out["shipped"][t] = ship
        # 3. receipts: what was shipped L[i] periods ago (this period's if L[i] == 0)
        arr = np.zeros(m)
        for i in range(m):
            if t - lead[i] >= 0:
                arr[i] = out["shipped"][t - lead[i], i]
        inv = inv + arr
        # 4. customer demand at the retailer (plus carried backlog if backlog)
        dem = d[t] + carried[0]
        sold0 = min(inv[0], dem)
        sales = np.concatenate([[sold0], ship])
        # 5. stock and pipeline bookkeeping
        inv = inv - sales[:-1]
        pipe = pipe - arr + ship
        unmet = np.concatenate([[dem], req]) - sales
        carried = unmet.copy() if backlog_mode else np.zeros(m + 1)
        # 6. profit: each stage's sales revenue minus its purchases (the top stage pays
        #    r[-1] per unit it ships), penalties on all unmet quantities, holding on
        #    end-of-period on-hand stock only (top stage holds nothing).
        purchases = np.concatenate([ship, [ship[-1]]])
        revenue = float(np.sum(price * sales))
        procurement = float(np.sum(cost * purchases))
        penalty = float(np.sum(pen * unmet))
        holding = float(np.sum(hold * inv))
        raw_profit = revenue - procurement - penalty - holding
        out["profit_undiscounted"][t] = raw_profit
        out["profit"][t] = alpha**t * raw_profit
        out["arrivals"][t] = arr
        out["inventory"][t] = inv
        out["pipeline"][t] = pipe
        out["sales"][t] = sales
        out["unfulfilled"][t] = unmet
        if backlog_mode:
            out["backlog"][t] = unmet
        else:
            out["lost"][t] = unmet
        # 7. observation after the step
        obs = np.zeros(m * (lt_max + 1))
        obs[:m] = inv
        hist = raw_requests[max(0, t + 1 - lt_max) : t + 1].reshape(-1)
        if hist.size:
            obs[obs.size - hist.size :] += hist
        out["observation"][t] = obs
    return out


def net_profit_identity(out: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None):
    """System view of the same per-period profit (undiscounted).

    Internal transfer prices cancel, so the total equals retail revenue ``p * sales_0``
    minus the raw-material cost ``r[-1] * shipped_top`` minus penalties and holding.
    Returned for documentation/tests; it equals ``out["profit_undiscounted"]``.
    """
    prm = _params(params)
    pen = np.asarray(prm["k"], dtype=float)
    hold = np.asarray(prm["h"], dtype=float)
    return (
        float(prm["p"]) * out["sales"][:, 0]
        - float(prm["r"][-1]) * out["shipped"][:, -1]
        - out["unfulfilled"] @ pen
        - out["inventory"] @ hold
    )
