"""Action parameterisations for learning agents on ``LostSales-v0``.

Learning the raw order quantity is hard: a policy that orders a constant amount is a
poor local optimum, and the useful signal (how far the inventory position is below a
target) must be rediscovered from the state. The classical heuristics are written in
terms of an *order-up-to level* instead. :class:`OrderUpTo` lets an agent choose that
level; the order is ``clip(level - inventory_position, 0, q_max)``. A constant action is
then exactly a base-stock policy, and the agent learns state-dependent deviations from
it (the optimal lost-sales policy is such a state-dependent order-up-to rule).

Levels run from ``level_min`` (default 0) to ``level_max``, by default Morton's bound
(the (L+1)-period newsvendor quantile): an optimal lost-sales policy with K = 0 never
raises the inventory position above it, so the default range excludes no optimal
action. A narrower range around the tuned base-stock level (``level_min = S* - w``,
``level_max = S* + w``; ``levels_around_base_stock=w`` in the training config) makes the
agent learn a *residual* on base-stock: a uniform initial policy is already a noisy
base-stock policy, and learning only has to find the state-dependent corrections.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.replenishment.lost_sales.config import LostSalesConfig

PARAMETERISATIONS = ("order", "order_up_to")


def level_max_default(config: LostSalesConfig) -> int:
    return max(config.newsvendor_level(), 1)


def levels_from_action(action: np.ndarray, level_max: int, continuous: bool, level_min: int = 0) -> np.ndarray:
    """Target levels from (batched) actions: ``level_min`` + Discrete index, or Box(-1, 1)
    rescaled to ``[level_min, level_max]``."""
    a = np.asarray(action, dtype=np.float64)
    if continuous:
        a = np.rint((np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (level_max - level_min))
    return (level_min + a).astype(np.int64)


def order_up_to(levels: np.ndarray, obs: np.ndarray, q_max: int) -> np.ndarray:
    """Order quantities that raise the inventory position (row sum of ``obs``) to ``levels``."""
    position = np.rint(np.asarray(obs, dtype=np.float64).reshape(len(levels), -1).sum(axis=1))
    return np.clip(levels - position, 0, q_max).astype(np.int64)


def order_masks(obs: np.ndarray, level_max: int, q_max: int) -> np.ndarray:
    """(rows, q_max + 1) bool: the orders that keep the inventory position (row sum of ``obs``)
    at most ``level_max`` (order 0 is always allowed); ``OrderMask``'s masks, batched."""
    rows = np.asarray(obs, dtype=np.float64)
    position = np.rint(rows.reshape(len(rows), -1).sum(axis=1)).astype(np.int64)
    return np.arange(q_max + 1)[None, :] <= np.maximum(level_max - position, 0)[:, None]


class OrderUpTo(gym.Wrapper):
    """The agent picks the order-up-to level instead of the order quantity.

    Action space: ``Discrete(level_max - level_min + 1)`` (level = ``level_min`` + action)
    if the wrapped env is discrete, else ``Box(-1, 1, (1,))`` mapped to
    ``level_min + round((a + 1) / 2 * (level_max - level_min))``. Observations, rewards and
    ``info`` pass through unchanged.
    """

    def __init__(self, env: gym.Env, level_max: int | None = None, level_min: int = 0):
        super().__init__(env)
        self.config: LostSalesConfig = env.unwrapped.config
        self.level_max = int(level_max) if level_max else level_max_default(self.config)
        self.level_min = int(level_min)
        if not 0 <= self.level_min < self.level_max:
            raise ValueError(f"level_min: expected 0 <= level_min < level_max ({self.level_max}), got {level_min}")
        self.continuous = self.config.action_type == "continuous"
        if self.continuous:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        else:
            self.action_space = spaces.Discrete(self.level_max - self.level_min + 1)
        self._obs = None

    def reset(self, **kwargs):
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action):
        if not self.action_space.contains(np.asarray(action, dtype=self.action_space.dtype).reshape(self.action_space.shape)):
            raise ValueError(f"action: expected an element of {self.action_space}, got {action!r}")
        q = self.order(action, self._obs)
        self._obs, reward, terminated, truncated, info = self.env.step(self._base_action(q))
        return self._obs, reward, terminated, truncated, info

    def order(self, action, obs) -> int:
        levels = levels_from_action(np.reshape(action, (1,)), self.level_max, self.continuous, self.level_min)
        return int(order_up_to(levels, obs, self.config.q_max)[0])

    def _base_action(self, q: int):
        if not self.continuous:
            return q
        return np.array([2.0 * q / self.config.q_max - 1.0], dtype=np.float32)

    def action_masks(self) -> np.ndarray:
        """All levels are allowed (every level maps to a feasible order)."""
        return np.ones(self.action_space.n, dtype=bool)


class OrderMask(gym.Wrapper):
    """Raw-order action space with an action mask for MaskablePPO: orders that would raise
    the inventory position above Morton's bound are masked (never optimal when K = 0)."""

    def __init__(self, env: gym.Env, level_max: int | None = None):
        super().__init__(env)
        self.config: LostSalesConfig = env.unwrapped.config
        self.level_max = int(level_max) if level_max else level_max_default(self.config)
        self._obs = None

    def reset(self, **kwargs):
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action):
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        return self._obs, reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        return order_masks(np.reshape(self._obs, (1, -1)), self.level_max, self.config.q_max)[0]
