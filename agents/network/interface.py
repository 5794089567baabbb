"""How a model trained on the network acts in ``Network-v0`` (``Task.model_interface``).

* **Shared** (one policy for every node, trained on ``network_v0``): the model reads one
  row per node, the PettingZoo observation (the node's N x F features, SKU-major, then its
  one-hot id, depth and leaf flag), and answers that node's N actions. The central
  observation (M x N x F) is cut into M such rows; the M answers form the central action.
* **Centralised**: the model acts on the central observation and answers all M x N actions.

Either way the model answers in its *trained* action space (``action_type``, declared by
``env_overrides``), so the rollout plays it in ``Network-v0`` with that field on the same
network and demand streams as every other policy. The network must have the trained nodes
(names, in order) and number of SKUs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.rl.adapter import DirectInterface
from envs.core.config import ConfigError
from envs.network.spaces import BASE_FEATURES
from envs.network.topology import Network


class NetworkInterface(DirectInterface):
    """Model rows and env actions on ``network`` (module docstring)."""

    def __init__(self, network: Network, shared: bool, action_type: str):
        self.network, self.shared, self.action_type = network, bool(shared), action_type
        self.m, self.n = network.m, network.n
        self.f = len(BASE_FEATURES) + network.config.pipeline_slots
        self.env_overrides = {"action_type": action_type}
        leaf = np.zeros(self.m)
        leaf[network.leaves] = 1.0
        self.node_part = np.concatenate([np.eye(self.m), network.depth[:, None].astype(np.float64), leaf[:, None]],
                                        axis=1).astype(np.float32)

    def essentials(self) -> dict[str, Any]:
        return {"shared": self.shared, "nodes": list(self.network.names), "n_skus": self.n,
                "pipeline_slots": self.network.config.pipeline_slots, "action_type": self.action_type}

    def model_obs(self, obs: np.ndarray) -> np.ndarray:
        flat = np.asarray(obs, dtype=np.float32).reshape(-1, self.m * self.n * self.f)
        if not self.shared:
            return flat
        b = len(flat)
        rows = flat.reshape(b, self.m, self.n * self.f)
        tail = np.broadcast_to(self.node_part[None], (b, *self.node_part.shape))
        return np.concatenate([rows, tail], axis=2).reshape(b * self.m, -1)

    def env_action(self, action: np.ndarray, obs: np.ndarray) -> np.ndarray:
        a = np.asarray(action).reshape(-1, self.m * self.n)
        if self.action_type == "continuous":
            return np.clip(a, -1.0, 1.0).astype(np.float32)
        return a.astype(np.int64)

    def input_meaning(self) -> str:
        if self.shared:
            return (f"one row per node: its {self.n} x {self.f} features (SKU-major), its one-hot id ({self.m}), depth "
                    "and leaf flag, as network_v0's per-agent observation")
        return "the central observation of Network-v0 (node, SKU, feature), flattened"

    def params(self) -> dict[str, Any]:
        return {"shared_over_nodes": self.m} if self.shared else {"centralised": True}

    def near_boundary(self, action: np.ndarray, tol: float) -> np.ndarray:
        """Continuous actions are rounded up inside the env: exact cost parity is not required."""
        return np.full(len(np.asarray(action).reshape(len(action), -1)), self.action_type == "continuous")


def interface_for(network: Network, essentials: dict[str, Any]) -> NetworkInterface:
    """The interface of a trained model's ``essentials`` (its run or exported card) on ``network``."""
    try:
        shared = bool(essentials["shared"])
        nodes = [str(n) for n in essentials["nodes"]]
        n_skus = int(essentials["n_skus"])
        slots = int(essentials["pipeline_slots"])
        action_type = str(essentials["action_type"])
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"policy: incomplete essentials for Network-v0 ({type(err).__name__}: {err})") from None
    if nodes != list(network.names) or n_skus != network.n:
        raise ConfigError(f"policy: trained on nodes {nodes} with {n_skus} SKUs, but the env has nodes "
                          f"{list(network.names)} with {network.n} SKUs")
    if slots != network.config.pipeline_slots:
        raise ConfigError(f"policy: trained with env.pipeline_slots={slots}, but the env has "
                          f"env.pipeline_slots={network.config.pipeline_slots}")
    if action_type not in ("discrete", "level", "continuous"):
        raise ConfigError(f"policy: expected action_type discrete, level or continuous, got {action_type!r}")
    return NetworkInterface(network, shared, action_type)
