"""``LostSales-v0`` training envs as one batch: many copies stepped by one ``BatchSimulator``.

:class:`LostSalesBatch` is the agent batch (``envs.core.batch`` contract, one sub-env per copy)
of the lost-sales *training* env: ``gymnasium.make("fulfillgym/LostSales-v0",
max_episode_steps=episode_steps)`` with the agent's action parameterisation (the
``OrderUpTo`` wrapper, the raw order, or the raw order with ``OrderMask``'s masks). Every copy
advances in one call of :meth:`BatchSimulator.step` (``simulator.advance``, the
one implementation of a period, which the Gymnasium env's step also runs) instead of one Python env per copy, which is what makes
wide vectorised PPO cheap (``docs/benchmarks/ppo_throughput.md``); ``agents.rl.vec_env`` makes it
an SB3 ``VecEnv``.

Equivalence: episode k of copy c is the Gymnasium env reset with
``seed=envs.core.batch.episode_seed(seed, k, c)`` (initial state, scenario clock and demand
drawn from that generator in the env's order, demand in the env's blocks), so with the same
actions it has the same observations, rewards and costs (a test checks it step by step). Copies
never share a stream, and the batch is reproducible from its seed.

Episodes never terminate; all copies are truncated together after ``episode_steps`` periods and
restart at once. ``infos[i]`` carries the period's ``cost``, ``demand`` and ``sales`` (the keys
``agents.rl.callbacks.TrainingKPIs`` reads; the env's other KPI keys are left out: building them
for every copy would cost more than the dynamics), and at an episode's end
``terminal_observation``, ``TimeLimit.truncated=True`` and an ``episode`` record ``{r, l, t}``
as SB3's ``Monitor`` writes it. Stress scenarios (``config.scenario``) are supported as the env
applies them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from envs.core.batch import episode_seed
from envs.core.config import check_choice
from envs.core.scenario import ScenarioBatch
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.env import DEMAND_BLOCK, LostSalesEnv
from envs.replenishment.lost_sales.simulator import BatchSimulator, initial_state, order_from_action
from envs.replenishment.lost_sales.wrappers import (
    PARAMETERISATIONS,
    OrderUpTo,
    level_max_default,
    levels_from_action,
    order_masks,
    order_up_to,
)


class LostSalesBatch:
    """``n_envs`` lost-sales training envs of ``config``, stepped together (module docstring).

    ``parameterisation``: ``order_up_to`` (action a: order-up-to level ``level_min + a``, as
    ``OrderUpTo``) or ``order`` (the env's own action); ``masked`` (``order`` only): offer
    ``action_masks()``, ``OrderMask``'s masks, for MaskablePPO. ``level_max`` None: Morton's bound.
    """

    render_mode = None

    def __init__(self, config: LostSalesConfig, n_envs: int, episode_steps: int, seed: int = 0,
                 parameterisation: str = "order_up_to", level_min: int = 0, level_max: int | None = None,
                 masked: bool = False):
        check_choice("env.training.parameterisation", parameterisation, PARAMETERISATIONS)
        if masked and parameterisation != "order":
            raise ValueError("masked: OrderMask's masks are over raw orders; use parameterisation='order'")
        self.config, self.num_envs, self.episode_steps = config, int(n_envs), int(episode_steps)
        env = LostSalesEnv(config=config)  # the spaces are the env's (and OrderUpTo's) own
        self.observation_space = env.observation_space
        self.up_to = parameterisation == "order_up_to"
        if self.up_to:
            wrapper = OrderUpTo(env, level_max, level_min)
            self.level_min, self.level_max = wrapper.level_min, wrapper.level_max
            self.action_space = wrapper.action_space
        else:
            self.level_min, self.level_max = 0, int(level_max) if level_max else level_max_default(config)
            self.action_space = env.action_space
        self.continuous = config.action_type == "continuous"
        self._high = 1.0 if self.continuous else self.action_space.n - 1
        if masked:  # only a masked batch has the method (sb3_contrib checks with hasattr)
            self.action_masks = self._action_masks
        self.scenario = config.scenario if config.scenario.active else None
        self._seed, self._episode = int(seed), 0
        self._start = time.perf_counter()
        self._start_episode()

    # -- the agent-batch protocol (envs.core.batch) -------------------------------------
    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self._seed, self._episode = int(seed), 0
        return self._start_episode()

    def step(self, actions: np.ndarray):
        orders = self.orders(actions)
        demand = self._next_demand()
        out = self.sim.step(orders, demand)
        cost = out["cost"]
        self._returns -= cost
        self._t += 1
        self.obs = self.sim.observation()
        infos: list[dict[str, Any]] = [{"cost": c, "demand": d, "sales": s} for c, d, s in
                                       zip(cost.tolist(), demand.tolist(), out["filled"].tolist(), strict=True)]
        done = self._t >= self.episode_steps
        obs = self.obs
        if done:
            elapsed = round(time.perf_counter() - self._start, 6)
            for i, info in enumerate(infos):
                info["terminal_observation"] = obs[i]
                info["TimeLimit.truncated"] = True
                info["episode"] = {"r": round(float(self._returns[i]), 6), "l": self._t, "t": elapsed}
            obs = self._start_episode()
        return obs, (-cost).astype(np.float32), np.full(self.num_envs, done), infos

    def close(self) -> None:
        pass

    # -- actions ---------------------------------------------------------------------------
    def orders(self, actions: np.ndarray) -> np.ndarray:
        """Order quantities (num_envs,) int64 of one action per copy in the current state; a
        one-line ValueError for actions outside the action space (as the env raises)."""
        a = np.asarray(actions)
        low = -1.0 if self.continuous else 0
        if a.size != self.num_envs or a.dtype.kind not in ("fiu" if self.continuous else "iu"):
            raise ValueError(f"actions: expected {self.num_envs} elements of {self.action_space}, got an array of "
                             f"shape {a.shape} and dtype {a.dtype}")
        a = a.reshape(self.num_envs)
        if not (np.all(a >= low) and np.all(a <= self._high)):  # NaN fails too
            bad = a[~((a >= low) & (a <= self._high))][0]
            raise ValueError(f"actions: expected elements of {self.action_space}, got {bad!r}")
        if self.up_to:
            levels = levels_from_action(a, self.level_max, self.continuous, self.level_min)
            return order_up_to(levels, self.obs, self.config.q_max)
        return order_from_action(a, self.config)

    def _action_masks(self) -> np.ndarray:
        """``OrderMask``'s masks of the current observations, (num_envs, q_max + 1) bool."""
        return order_masks(self.obs, self.level_max, self.config.q_max)

    # -- episodes and demand -----------------------------------------------------------------
    def _start_episode(self) -> np.ndarray:
        """Every copy starts episode ``self._episode`` as the env does at ``reset(seed=...)``."""
        cfg, n = self.config, self.num_envs
        self._rngs = [np.random.default_rng(episode_seed(self._seed, self._episode, c)) for c in range(n)]
        starts = [initial_state(cfg, rng) for rng in self._rngs]
        clocks = [self.scenario.clock(rng) for rng in self._rngs] if self.scenario is not None else None
        self.sim = BatchSimulator(cfg, np.array([s[0] for s in starts], dtype=np.int64),
                                  np.array([s[1] for s in starts], dtype=np.int64).reshape(n, -1),
                                  ScenarioBatch(clocks) if clocks is not None else None)
        self._episode += 1
        self._t = 0
        self._drawn = 0  # demand periods drawn per copy (the series position)
        self._demand = np.empty((n, 0), dtype=np.int64)
        self._column = 0
        self._returns = np.zeros(n)
        self.obs = self.sim.observation()
        return self.obs

    def _next_demand(self) -> np.ndarray:
        """This period's demand of every copy. The env draws blocks of ``DEMAND_BLOCK`` periods;
        a shorter first block (an episode shorter than a block) is a prefix of the env's block,
        since every demand sampler draws period by period."""
        if self._column >= self._demand.shape[1]:
            size = min(DEMAND_BLOCK, self.episode_steps - self._drawn)
            self._demand = np.stack([self.config.demand.sample(rng, size, start=self._drawn) for rng in self._rngs])
            self._drawn += size
            self._column = 0
        d = self._demand[:, self._column]
        self._column += 1
        if self.scenario is not None and self.scenario.kind == "demand_surge":
            stress, t = self.sim.stress, self.sim.t
            d = d.copy()
            for r in np.flatnonzero(stress.in_window(t)):
                d[r] = stress.clocks[r].scale_demand(t, int(d[r]))
        return d
