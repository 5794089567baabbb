"""The base class of single-SKU replenishment policies (``LostSales-v0``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import ObservationPolicy
from envs.replenishment.lost_sales.config import LostSalesConfig


class OrderPolicy(ObservationPolicy):
    """Base class for replenishment policies that compute an order quantity.

    Subclasses implement :meth:`orders` on a batch of observations ``(n, max(L, 1))``
    (on-hand, then the pipeline oldest first) and return integer orders ``(n,)``.
    Parameters may be scalars or arrays of shape ``(n,)`` (one per batch row), which
    is how tuning evaluates many candidates in one batched simulation.
    :meth:`predict` clips orders to ``[0, q_max]`` and converts them to env actions.
    """

    name = "policy"

    def __init__(self, config: LostSalesConfig):
        self.config = config

    def orders(self, obs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """Tuned parameters, for result tables and logs."""
        return {}

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float64)
        single = obs.ndim == 1
        batch = obs.reshape(-1, self.config.obs_dim)
        q = np.clip(np.rint(self.orders(batch)), 0, self.config.q_max).astype(np.int64)
        q = np.broadcast_to(q, (batch.shape[0],))
        action = orders_to_actions(q, self.config)
        return (action[0] if single else action), None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def orders_to_actions(q: np.ndarray, config: LostSalesConfig) -> np.ndarray:
    """Inverse of ``envs.replenishment.lost_sales.simulator.order_from_action`` (exact after rounding)."""
    if config.action_type == "discrete":
        return np.asarray(q, dtype=np.int64)
    a = 2.0 * np.asarray(q, dtype=np.float64) / config.q_max - 1.0
    return a.astype(np.float32)[:, None]
