"""Classical policies of the multi-echelon network, acting on ``Network-v0``'s observation.

Every policy reads the (M, N, F) feature tensor (``envs.network.spaces``), recovers the
positions in units (feature x mu, rounded: exact for positions below 2^24 mu) and answers
in ``action_type="order"`` (units per node and SKU, capped at the env's ``q_max``):

* :class:`InstallationBaseStock`: node k orders up to S_k on its *installation* position
  (net stock + in transit + owed by its parent);
* :class:`EchelonBaseStock`: node k orders up to S_k on its *echelon* position (its whole
  subtree's stock and in-transit units plus what its parent owes it): Clark and Scarf's
  policy, optimal for serial systems with backorders;
* :class:`InstallationSs`: node k orders up to S_k when its installation position is at
  or below s_k;
* :class:`RandomOrders`: uniform orders in [0, 2 mu], a floor for any learner.

Levels come from per-depth safety factors (tuned by ``agents.network.tuning``): for a node at
depth d with cover n periods of mean demand mu per period,
``S = ceil(mu n + z_d sqrt(mu n))`` (a normal approximation of the demand over the cover).
The cover is the lead time plus one review period for installation policies, and the
echelon lead time (the node's lead time plus the mean-demand-weighted cover of its
children; a leaf's is L + 1) for echelon policies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import SimulatorPolicy
from envs.network.topology import Network

FEATURE_STOCK, FEATURE_TRANSIT, FEATURE_OWED, FEATURE_ECHELON = 0, 1, 2, 3


def installation_cover(net: Network) -> np.ndarray:
    """(M,) periods of demand an installation base stock covers: lead time + 1."""
    return (net.lead_time() + 1).astype(np.float64)


def echelon_cover(net: Network) -> np.ndarray:
    """(M, N) periods of demand an echelon base stock covers: L_k plus the demand-weighted
    echelon cover of k's children (a leaf: L + 1). Serial chain: L_1 + ... + L_k + 1."""
    lead = net.lead_time().astype(np.float64)
    cover = np.zeros((net.m, net.n))
    for k in reversed(range(net.m)):
        kids = net.children[k]
        if kids.size == 0:
            cover[k] = lead[k] + 1.0
        else:
            w = net.mean[kids]
            total = w.sum(axis=0)
            below = np.where(total > 0, (w * cover[kids]).sum(axis=0) / np.maximum(total, 1e-300),
                             cover[kids].mean(axis=0))
            cover[k] = lead[k] + below
    return cover


def levels_from_safety(net: Network, cover: np.ndarray, safety) -> np.ndarray:
    """int64 (M, N): ``ceil(mu n + z_d sqrt(mu n))`` with ``safety[d]`` for depth d, >= 0."""
    z = np.asarray(safety, dtype=np.float64)[net.depth][:, None]
    cover = np.broadcast_to(np.asarray(cover, dtype=np.float64).reshape(net.m, -1), (net.m, net.n))
    lead_demand = net.mean * cover
    return np.maximum(np.ceil(lead_demand + z * np.sqrt(lead_demand) - 1e-9), 0).astype(np.int64)


class NetworkPolicy(SimulatorPolicy):
    """Base of the network heuristics: the observation -> positions -> orders plumbing. A
    simulator policy (``agents.base``): the rollout plays its :meth:`orders` on the simulator."""

    name = "network_policy"
    env_overrides = {"action_type": "order"}

    def __init__(self, network: Network):
        self.net = network
        self.m, self.n = network.m, network.n
        self.n_features = 8 + network.config.pipeline_slots
        self.mu = np.maximum(network.mean, 0.01)
        self.q_max = network.q_max

    def positions(self, obs: np.ndarray, feature: int | None) -> np.ndarray:
        """(B, M, N) int64 positions in units (``feature`` None: installation position)."""
        x = np.asarray(obs, dtype=np.float64).reshape(-1, self.m, self.n, self.n_features)
        if feature is None:
            value = x[..., FEATURE_STOCK] + x[..., FEATURE_TRANSIT] + x[..., FEATURE_OWED]
        else:
            value = x[..., feature]
        return np.rint(value * self.mu).astype(np.int64)

    def order_quantities(self, obs: np.ndarray) -> np.ndarray:
        echelon = self.positions(obs, FEATURE_ECHELON) if self.feature_needed else None
        return self.decide(self.positions(obs, None), echelon)

    def orders(self, sim) -> np.ndarray:
        """Orders (M, N) for the state of ``sim`` (an ``envs.network.simulator.NetworkSimulator``,
        possibly with copies): what :meth:`predict` answers on its observation, read from the
        simulator's positions instead."""
        echelon = sim.echelon_position() if self.feature_needed else None
        return np.clip(self.decide(sim.installation_position(), echelon), 0, self.q_max)

    def decide(self, installation: np.ndarray, echelon: np.ndarray) -> np.ndarray:
        """Orders (..., M, N) from the installation and echelon positions (..., M, N) in units."""
        raise NotImplementedError  # pragma: no cover - abstract

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation)
        single = obs.ndim == 1
        q = np.clip(self.order_quantities(obs[None] if single else obs), 0, self.q_max)
        q = q.reshape(q.shape[0], -1)
        return (q[0] if single else q), state

    def params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        from agents.base import describe_params

        return f"{self.name}({describe_params(self)})"

    arrays: tuple[str, ...] = ()
    """The per node-SKU arrays that define the policy (stacked by :func:`stacked`)."""
    feature_needed = False
    """Whether :meth:`decide` reads the echelon position."""


def stacked(policies: list[NetworkPolicy]) -> NetworkPolicy:
    """K policies of one class as one policy of K N columns (copy c of SKU i in column
    c N + i), for a simulator with ``copies=K``: its :meth:`NetworkPolicy.decide` gives every
    candidate's orders in one call."""
    import copy

    out = copy.copy(policies[0])
    for name in out.arrays:
        setattr(out, name, np.concatenate([getattr(p, name) for p in policies], axis=1))
    out.q_max = np.tile(policies[0].q_max, (1, len(policies)))
    return out


class _LevelPolicy(NetworkPolicy):
    arrays = ("levels",)

    def __init__(self, network: Network, levels: np.ndarray, safety: tuple[float, ...] = ()):
        super().__init__(network)
        self.levels = np.asarray(levels, dtype=np.int64).reshape(self.m, self.n)
        self.safety = tuple(float(s) for s in safety)

    def decide(self, installation, echelon):
        return np.maximum(self.levels - (echelon if self.feature_needed else installation), 0)

    def params(self) -> dict[str, Any]:
        out = {f"z{d}": z for d, z in enumerate(self.safety)}
        if self.n == 1:
            out.update({f"S_{name}": int(s) for name, s in zip(self.net.names, self.levels[:, 0], strict=True)})
        return out


class InstallationBaseStock(_LevelPolicy):
    """Order up to S_k on the installation position (module docstring)."""

    name = "base_stock"


class EchelonBaseStock(_LevelPolicy):
    """Order up to S_k on the echelon position (module docstring)."""

    name = "echelon_base_stock"
    feature_needed = True


class InstallationSs(NetworkPolicy):
    """(s, S) on the installation position: order up to S when the position is <= s."""

    name = "s_S"
    arrays = ("s", "S")

    def __init__(self, network: Network, reorder: np.ndarray, order_up_to: np.ndarray,
                 safety: tuple[float, ...] = (), m: float = 0.0):
        super().__init__(network)
        self.s = np.asarray(reorder, dtype=np.int64).reshape(self.m, self.n)
        self.S = np.maximum(np.asarray(order_up_to, dtype=np.int64).reshape(self.m, self.n), self.s)
        self.safety, self.m_mult = tuple(float(s) for s in safety), float(m)

    def decide(self, installation, echelon):
        return np.where(installation <= self.s, self.S - installation, 0)

    def params(self) -> dict[str, Any]:
        return {**{f"z{d}": z for d, z in enumerate(self.safety)}, "m": self.m_mult}


class RandomOrders(NetworkPolicy):
    """Orders uniform on [0, 2 mu] per node-SKU, from its own seeded generator."""

    name = "random"

    def __init__(self, network: Network, seed: int = 0):
        super().__init__(network)
        self.rng = np.random.default_rng(seed)

    def decide(self, installation, echelon):
        return np.floor(self.rng.random(np.shape(installation)) * (2 * self.mu + 1)).astype(np.int64)
