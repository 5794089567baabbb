"""Stable-Baselines3 (and sb3-contrib) agents built from config, and their policy adapter.

``ALGORITHMS`` lists every supported algorithm with the action spaces it accepts, so a
mismatch (``dqn`` on a continuous-action env) fails before any training with one line.
:class:`SB3Policy` makes a trained model speak the policy protocol on *raw* env
observations: it applies the saved VecNormalize statistics and the action
parameterisation, and returns actions of the base env, so the benchmark evaluates it
exactly like the heuristics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import orders_to_actions
from envs.core.config import ConfigError
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import order_from_action
from envs.replenishment.lost_sales.wrappers import levels_from_action, order_up_to


@dataclass(frozen=True)
class Algorithm:
    module: str
    cls: str
    action_types: tuple[str, ...]
    off_policy: bool = False
    recurrent: bool = False
    maskable: bool = False

    def load_class(self):
        import importlib

        return getattr(importlib.import_module(self.module), self.cls)


ALGORITHMS = {
    "ppo": Algorithm("stable_baselines3", "PPO", ("discrete", "continuous")),
    "a2c": Algorithm("stable_baselines3", "A2C", ("discrete", "continuous")),
    "dqn": Algorithm("stable_baselines3", "DQN", ("discrete",), off_policy=True),
    "sac": Algorithm("stable_baselines3", "SAC", ("continuous",), off_policy=True),
    "td3": Algorithm("stable_baselines3", "TD3", ("continuous",), off_policy=True),
    "maskable_ppo": Algorithm("sb3_contrib", "MaskablePPO", ("discrete",), maskable=True),
    "recurrent_ppo": Algorithm("sb3_contrib", "RecurrentPPO", ("discrete", "continuous"), recurrent=True),
}


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise ConfigError(f"agent.name: unknown algorithm {name!r}; accepted: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def check_compatible(name: str, action_type: str) -> None:
    """Fail early, in one line, when an algorithm cannot act in the env's action space."""
    algo = algorithm(name)
    if action_type not in algo.action_types:
        need = " or ".join(algo.action_types)
        raise ConfigError(
            f"agent={name} needs env.action_type={need}, but env.action_type={action_type}"
            f" (use agent=ppo, a2c or recurrent_ppo for either)"
        )


def normalize_obs(obs: np.ndarray, obs_rms, clip_obs: float = 10.0, epsilon: float = 1e-8) -> np.ndarray:
    """Raw observations as the model saw them in training: VecNormalize's standardisation
    with its saved statistics ``obs_rms`` (none: unchanged) and clipping; float32."""
    if obs_rms is None:
        return obs.astype(np.float32)
    z = (obs - obs_rms.mean) / np.sqrt(obs_rms.var + epsilon)
    return np.clip(z, -clip_obs, clip_obs).astype(np.float32)


class SB3Policy:
    """A trained SB3 model as a policy on raw ``LostSales-v0`` observations.

    Args:
        model: the SB3 model.
        config: the base env's config.
        parameterisation: ``order`` or ``order_up_to`` (see ``envs.replenishment.lost_sales.wrappers``).
        level_max, level_min: the range of order-up-to levels (``order_up_to`` only).
        obs_rms: VecNormalize observation statistics (``RunningMeanStd``) or None.
        clip_obs, epsilon: VecNormalize's clipping and epsilon.
        masked: the model is a MaskablePPO trained with ``OrderMask`` (masks are recomputed).
    """

    def __init__(self, model, config: LostSalesConfig, parameterisation: str = "order", level_max: int = 0,
                 obs_rms=None, clip_obs: float = 10.0, epsilon: float = 1e-8, name: str = "rl",
                 masked: bool = False, level_min: int = 0):
        self.model, self.config, self.name, self.masked = model, config, name, masked
        self.parameterisation, self.level_max, self.level_min = parameterisation, level_max, level_min
        self.obs_rms, self.clip_obs, self.epsilon = obs_rms, clip_obs, epsilon

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        return normalize_obs(obs, self.obs_rms, self.clip_obs, self.epsilon)

    def model_action(self, obs: np.ndarray, state=None, episode_start=None, deterministic=True):
        """The model's own action (in the training env's action space) for raw obs (batch)."""
        extra = {"action_masks": self.action_masks(obs)} if self.masked else {}
        return self.model.predict(self.normalize(obs), state=state, episode_start=episode_start,
                                  deterministic=deterministic, **extra)

    def action_masks(self, obs: np.ndarray) -> np.ndarray:
        """The masks of ``envs.replenishment.lost_sales.wrappers.OrderMask`` for a batch of raw obs."""
        room = self.level_max - np.rint(obs.sum(axis=1)).astype(np.int64)
        return np.arange(self.config.q_max + 1)[None, :] <= np.maximum(room, 0)[:, None]

    def orders(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Order quantities implied by model actions for a batch of raw observations."""
        continuous = self.config.action_type == "continuous"
        flat = np.asarray(action).reshape(len(obs), -1)[:, 0]
        if self.parameterisation == "order_up_to":
            levels = levels_from_action(flat, self.level_max, continuous, self.level_min)
            return order_up_to(levels, obs, self.config.q_max)
        return order_from_action(flat, self.config)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float64)
        single = obs.ndim == 1
        batch = obs.reshape(-1, self.config.obs_dim)
        if single and episode_start is not None:
            episode_start = np.reshape(episode_start, (1,))
        action, state = self.model_action(batch, state, episode_start, deterministic)
        out = orders_to_actions(self.orders(batch, action), self.config)
        return (out[0] if single else out), state

    def params(self) -> dict[str, Any]:
        out = {"parameterisation": self.parameterisation}
        if self.parameterisation == "order_up_to":
            out["levels"] = f"{self.level_min}..{self.level_max}"
        return out
