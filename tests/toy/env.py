"""The toy operation of ``docs/adding_a_task.md``: the repeated newsvendor.

One simulator (:func:`period_cost`, plain NumPy) under two thin faces: a Gymnasium env
(:class:`NewsvendorEnv`) and a PettingZoo ParallelEnv of independent newsvendors
(:class:`NewsvendorParallelEnv`), so that the generic parameter-sharing path is exercised too.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.core.config import ConfigError
from tests.toy.config import NewsvendorConfig


def period_cost(order, demand, holding: float, penalty: float):
    """Newsvendor cost of one period (elementwise): ``h (q - d)^+ + p (d - q)^+``."""
    return holding * np.maximum(order - demand, 0) + penalty * np.maximum(demand - order, 0)


class NewsvendorEnv(gym.Env):
    """The repeated newsvendor.

    ## Description
    Each period the agent orders ``q`` units, which arrive at once; Poisson(``mean``) demand
    is served; unsold units are scrapped. Reward: minus ``h (q - d)^+ + p (d - q)^+``.

    ## Spaces
    Action ``Discrete(q_max + 1)`` (the order); observation ``Box(0, 1e6, (1,))``: the
    previous period's demand (uninformative: demand is i.i.d.).

    ## Episode end
    Truncated after ``episode_length`` periods.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: NewsvendorConfig | None = None, render_mode=None, **kwargs):
        """``config``, or its fields as keyword arguments (``tests.toy.config.NewsvendorConfig``)."""
        self.config = config if config is not None else NewsvendorConfig.from_kwargs(kwargs)
        c = self.config
        self.mean, self.h, self.p, self.q_max, self.length = c.mean, c.holding_cost, c.penalty, c.q_max, c.episode_length
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.q_max + 1)
        self.observation_space = spaces.Box(0.0, 1e6, shape=(1,), dtype=np.float32)
        self._t = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"reset: no options are accepted, got {sorted(options)}")
        self._t, self._last = 0, self.mean
        return np.array([self._last], dtype=np.float32), {}

    def step(self, action):
        if self._t is None:
            raise RuntimeError("step() before reset(); call reset() first")
        if not self.action_space.contains(action):
            raise ValueError(f"action: expected an integer in [0, {self.q_max}], got {action!r}")
        demand = int(self.np_random.poisson(self.mean))
        cost = float(period_cost(int(action), demand, self.h, self.p))
        self._t += 1
        self._last = demand
        info = {"cost": cost, "demand": demand, "sales": min(int(action), demand)}
        return np.array([demand], dtype=np.float32), -cost, False, self._t >= self.length, info


class NewsvendorParallelEnv(ParallelEnv):
    """``n_agents`` independent newsvendors (the same parameters, their own demand)."""

    metadata = {"name": "newsvendor_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, n_agents: int = 3, render_mode=None, **kwargs):
        if n_agents < 1:
            raise ConfigError(f"env.n_agents: expected an integer >= 1, got {n_agents}")
        self.single = NewsvendorEnv(**kwargs)
        self.render_mode = render_mode
        self.possible_agents = [f"vendor_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self._rng = np.random.default_rng()

    @functools.cache  # noqa: B019 - one space object per agent, as PettingZoo recommends
    def observation_space(self, agent):
        return self.single.observation_space

    @functools.cache  # noqa: B019
    def action_space(self, agent):
        return self.single.action_space

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents, self._t = list(self.possible_agents), 0
        obs = np.full((len(self.agents), 1), self.single.mean, dtype=np.float32)
        return dict(zip(self.agents, obs, strict=True)), {a: {} for a in self.agents}

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("step() after the episode ended; call reset() first")
        unknown = set(actions) - set(self.agents)
        if unknown or len(actions) != len(self.agents):
            raise ValueError(f"actions: expected one per agent of {self.agents}, got keys {sorted(actions)}")
        q = np.array([actions[a] for a in self.agents])
        demand = self._rng.poisson(self.single.mean, size=len(self.agents))
        cost = period_cost(q, demand, self.single.h, self.single.p)
        self._t += 1
        done = self._t >= self.single.length
        agents = self.agents
        obs = {a: np.array([d], dtype=np.float32) for a, d in zip(agents, demand, strict=True)}
        rewards = {a: -float(c) for a, c in zip(agents, cost, strict=True)}
        infos = {a: {"cost": float(c), "demand": int(d)} for a, c, d in zip(agents, cost, demand, strict=True)}
        if done:
            self.agents = []
        return obs, rewards, dict.fromkeys(agents, False), dict.fromkeys(agents, done), infos
