"""Observations and actions of the network's faces (``Network-v0`` and ``network_v0``).

Both faces read the same per node-SKU feature tensor and turn actions into orders the same
way, so a policy trained on one node's view (``network_v0``, shared) and the central view
see identical numbers.

Features of node k and SKU i (F = 8 + P, P = ``pipeline_slots``), stock and flows in units
of mu_ki, the mean demand per period through node k (its leaves' demand):

| column | meaning                                                                  |
|--------|--------------------------------------------------------------------------|
| 0      | net stock / mu (< 0: customer backlog at a leaf with backorders)         |
| 1      | units in transit to the node / mu                                        |
| 2      | units its parent owes it (internal backorders) / mu                      |
| 3      | echelon inventory position / mu                                          |
| 4      | the parent's on-hand stock / the parent's mu (0 for a root)              |
| 5      | last period's demand on the node / mu (leaves: customers; else: children's new orders) |
| 6      | lead time / 10                                                           |
| 7      | log10 mu                                                                 |
| 8..    | units arriving at the start of periods t+1, ..., t+P / mu                |

Actions per node-SKU, by ``action_type``: ``discrete`` (a in 0..K-1: order
``ceil(order_multiples[a] * mu)``), ``level`` (order up to ``ceil(level_multiples[a] * mu *
(L + 1))`` on the installation inventory position, nothing if above), ``continuous`` (a in
[-1, 1]: order ``ceil((a + 1) / 2 * max_multiple * mu)``), ``order`` (a in 0..q_max: the units).
Orders are rounded up so that a positive multiple orders at least one unit.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.network.simulator import NetworkSimulator

OBS_BOUND = 1.0e9
BASE_FEATURES = ("stock", "in_transit", "owed", "echelon_position", "parent_stock", "last_demand",
                 "lead_time", "log_mean")
ROUND_TOL = 1e-9


class NetworkFaces:
    """The feature tensor and action conversion of one simulator."""

    def __init__(self, sim: NetworkSimulator):
        self.sim = sim
        net, cfg = sim.net, sim.cfg
        self.m, self.n = net.m, net.n
        self.slots = cfg.pipeline_slots
        self.n_features = len(BASE_FEATURES) + self.slots
        self.mu = np.maximum(net.mean, 0.01)
        self.inv_mu = (1.0 / self.mu).astype(np.float64)
        parent = net.parent
        self.parent_inv = np.where(parent[:, None] >= 0, self.inv_mu[np.maximum(parent, 0)], 0.0)
        self.static = np.stack([np.broadcast_to((net.lead_time() / 10.0)[:, None], (self.m, self.n)),
                                np.log10(self.mu)], axis=-1).astype(np.float32)
        self.lead1 = (net.lead_time() + 1)[:, None].astype(np.float64)
        self.action_type = cfg.action_type
        if cfg.action_type == "discrete":
            self.choices = np.asarray(cfg.order_multiples, dtype=np.float64)
        elif cfg.action_type == "level":
            self.choices = np.asarray(cfg.level_multiples, dtype=np.float64)
        else:
            self.choices = None
        self.q_max = net.q_max
        self.max_multiple = cfg.max_multiple

    # -- spaces ----------------------------------------------------------------------------
    def node_action_space(self) -> spaces.Space:
        """One node's action: one entry per SKU, the same space for every node (``order``: per
        SKU, the largest ``q_max`` over the nodes, so that every node can order its own range)."""
        return self._space(self.n, self.q_max.max(axis=0) if self.action_type == "order" else None)

    def central_action_space(self) -> spaces.Space:
        """Every node-SKU, node-major (index k * N + i)."""
        return self._space(self.m * self.n, self.q_max.ravel() if self.action_type == "order" else None)

    def _space(self, size: int, q_max) -> spaces.Space:
        if self.choices is not None:
            return spaces.MultiDiscrete(np.full(size, len(self.choices), dtype=np.int64))
        if self.action_type == "continuous":
            return spaces.Box(-1.0, 1.0, shape=(size,), dtype=np.float32)
        return spaces.MultiDiscrete(np.broadcast_to(q_max, (size,)) + 1)

    # -- observations ------------------------------------------------------------------------
    def features(self) -> np.ndarray:
        """float32 (M, N, F): the table in the module docstring."""
        sim = self.sim
        out = np.empty((self.m, self.n, self.n_features), dtype=np.float32)
        inv = self.inv_mu
        out[..., 0] = sim.stock * inv
        out[..., 1] = sim.in_transit * inv
        out[..., 2] = sim.owed * inv
        out[..., 3] = sim.echelon_position() * inv
        parent = sim.net.parent
        out[..., 4] = np.maximum(sim.stock[np.maximum(parent, 0)], 0) * self.parent_inv
        out[..., 5] = self.last_demand() * inv
        out[..., 6:8] = self.static
        out[..., 8:] = np.moveaxis(sim.pipeline_slots(self.slots), 0, -1) * inv[..., None]
        return out

    def last_demand(self) -> np.ndarray:
        """(M, N): last period's customer demand at leaves and children's new orders (without what is owed) elsewhere."""
        sim, out = self.sim, np.zeros((self.m, self.n))
        last = sim.last
        if last is None:
            return self.mu
        out[sim.leaves] = last["demand"]
        for u in sim.interior:
            out[u] = last["orders"][sim.net.children[u]].sum(axis=0)
        return out

    # -- actions ---------------------------------------------------------------------------
    def orders(self, a: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Orders in units for actions ``a`` of nodes ``rows`` (default: all; shape (len, N))."""
        rows = np.arange(self.m) if rows is None else rows
        mu = self.mu[rows]
        if self.action_type == "order":
            return a.astype(np.int64)
        if self.action_type == "continuous":
            mult = (a.astype(np.float64) + 1.0) * 0.5 * self.max_multiple
            return np.ceil(mult * mu - ROUND_TOL).astype(np.int64)
        mult = self.choices[a]
        if self.action_type == "discrete":
            return np.ceil(mult * mu - ROUND_TOL).astype(np.int64)
        target = np.ceil(mult * mu * self.lead1[rows] - ROUND_TOL).astype(np.int64)
        return np.maximum(target - self.sim.installation_position()[rows], 0)
