"""The stable-baselines3 (and sb3-contrib) algorithms a training run can use.

``ALGORITHMS`` lists every supported algorithm with the action spaces it accepts, so a
mismatch (``dqn`` on a continuous-action env) fails before any training with one line.
``dcl`` (Deep Controlled Learning, ``agents.rl.dcl``) is this project's own SB3 algorithm; it
learns by rollouts on the task's batched simulator (``Task.dcl_problem``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from envs.core.config import ConfigError


@dataclass(frozen=True)
class Algorithm:
    name: str
    module: str
    cls: str
    action_types: tuple[str, ...]
    off_policy: bool = False
    recurrent: bool = False
    maskable: bool = False
    # Learns from the task's own simulator (``Task.dcl_problem``), not by stepping the VecEnv.
    needs_problem: bool = False

    def load_class(self):
        return getattr(importlib.import_module(self.module), self.cls)


ALGORITHMS = {a.name: a for a in (
    Algorithm("ppo", "stable_baselines3", "PPO", ("discrete", "continuous")),
    Algorithm("a2c", "stable_baselines3", "A2C", ("discrete", "continuous")),
    Algorithm("dqn", "stable_baselines3", "DQN", ("discrete",), off_policy=True),
    Algorithm("sac", "stable_baselines3", "SAC", ("continuous",), off_policy=True),
    Algorithm("td3", "stable_baselines3", "TD3", ("continuous",), off_policy=True),
    Algorithm("maskable_ppo", "sb3_contrib", "MaskablePPO", ("discrete",), maskable=True),
    Algorithm("recurrent_ppo", "sb3_contrib", "RecurrentPPO", ("discrete", "continuous"), recurrent=True),
    Algorithm("dcl", "agents.rl.dcl", "DCL", ("discrete",), needs_problem=True),
)}


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise ConfigError(f"agent.name: unknown algorithm {name!r}; accepted: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]
