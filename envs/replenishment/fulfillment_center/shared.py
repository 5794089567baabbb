"""The fulfilment centre as an agent batch: every SKU of several copies is one sub-env.

The fast agent batch (``envs.core.batch``) behind parameter-sharing training: one policy
controls every SKU. Sub-env ``c * N + i`` is SKU i of copy c; its observation is the
PettingZoo env's per-agent observation (``parallel_env.agent_observations``) and its reward
the SKU's reward (``parallel_env.SkuRewards``, one per copy: the capacity price of
``reward="priced"`` is each copy's own, as it is each PettingZoo env's), so the two faces
agree (a test checks it). It drives the simulator directly, without per-agent dicts, which is what makes it
several times faster than a generic conversion of the PettingZoo env (measured in
``docs/benchmarks/fulfillment_center_speed.md``). ``agents.rl.vec_env`` makes it an SB3 VecEnv.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.core.config import check_choice
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.features import GLOBAL_FEATURES
from envs.replenishment.fulfillment_center.parallel_env import (
    OBS_BOUND,
    REWARD_MODES,
    SkuRewards,
    agent_observations,
)
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator


class FulfillmentAgentBatch:
    """``n_copies`` fulfilment centres of ``problem``, one sub-env per (copy, SKU).

    Episodes of all copies have the same length (``episode_length``) and restart
    together; at an episode end every sub-env reports ``done`` with its
    ``terminal_observation``, ``TimeLimit.truncated=True`` and an ``episode`` record
    (the SKU's return and length, as SB3's Monitor writes). ``infos[c * N]`` of the
    first SKU of each copy also carries the copy's period KPIs (``cost``, ``demand``,
    ``sales``, ``overflow_units``) and, at episode end, ``episode_kpis``: fill rate and
    cost per period by popularity class (A/B/C), and with ``reward="priced"`` the copy's
    capacity price.
    """

    render_mode = None

    def __init__(self, problem: Problem, n_copies: int = 1, seed: int = 0, reward: str = "individual"):
        check_choice("env.training.reward", reward, REWARD_MODES)
        if problem.config.action_type == "order":
            raise ValueError("FulfillmentAgentBatch needs action_type discrete, continuous or level")
        self.problem, self.n_copies, self.reward_mode = problem, n_copies, reward
        self.sims = [FulfillmentSimulator(problem) for _ in range(n_copies)]
        # one reward state per copy (the capacity price of reward="priced"), as in the PettingZoo env
        self.rewarders = [SkuRewards(reward) for _ in range(n_copies)]
        self.n = problem.n
        obs_dim = self.sims[0].n_features + len(GLOBAL_FEATURES)
        obs_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(obs_dim,), dtype=np.float32)
        if problem.config.action_choices is not None:
            act_space = spaces.Discrete(len(problem.config.action_choices))
        else:
            act_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.num_envs, self.observation_space, self.action_space = n_copies * self.n, obs_space, act_space
        self._base_seed = seed
        self._episode = 0
        classes = problem.catalogue.popularity_class()
        self._class_masks = {c: classes == c for c in ("A", "B", "C") if np.any(classes == c)}
        self._start = time.perf_counter()

    # -- the agent-batch protocol (envs.core.batch) -------------------------------------
    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self._base_seed = int(seed)
            self._episode = 0
            for rewarder in self.rewarders:  # a seeded reset starts the capacity prices afresh
                rewarder.reset()
        return self._reset_all()

    def _reset_all(self) -> np.ndarray:
        for c, sim in enumerate(self.sims):
            # copy c of episode k: a seed no other (copy, episode) uses
            seq = np.random.SeedSequence([self._base_seed, self._episode, c])
            sim.reset(np.random.default_rng(seq))
        self._episode += 1
        self._returns = np.zeros((self.n_copies, self.n))
        self._sums = np.zeros((self.n_copies, 4, self.n))  # demand, sales, cost, periods
        return self._observations()

    def step(self, actions: np.ndarray):
        n = self.n
        actions = np.asarray(actions).reshape(self.n_copies, n, -1)
        rewards = np.empty((self.n_copies, n), dtype=np.float32)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for c, sim in enumerate(self.sims):
            a = actions[c, :, 0]
            if self.problem.config.action_type == "continuous":
                a = np.clip(a, -1.0, 1.0)
            totals = sim.step(sim.orders_from_actions(a))
            r = self.rewarders[c](sim)
            rewards[c] = r
            self._returns[c] += r
            sums = self._sums[c]
            sums[0] += sim.last.demand
            sums[1] += sim.last.filled
            sums[2] += sim.sku_costs()
            sums[3] += 1
            infos[c * n] = {k: totals[k] for k in ("cost", "demand", "sales", "overflow_units")}
        done = self.sims[0].t >= self.problem.config.episode_length
        obs = self._observations()
        dones = np.full(self.num_envs, done)
        if done:
            elapsed = time.perf_counter() - self._start
            length = self.sims[0].t
            for c in range(self.n_copies):
                infos[c * n]["episode_kpis"] = self._class_kpis(c)
                if self.rewarders[c].price is not None:  # reward="priced": lambda at the episode's end
                    infos[c * n]["episode_kpis"]["capacity_price"] = self.rewarders[c].price.value
                for i in range(n):
                    k = c * n + i
                    infos[k]["terminal_observation"] = obs[k]
                    infos[k]["TimeLimit.truncated"] = True
                    infos[k]["episode"] = {"r": float(self._returns[c, i]), "l": length, "t": round(elapsed, 6)}
            obs = self._reset_all()
        return obs, rewards.reshape(-1), dones, infos

    def close(self) -> None:
        pass

    # -- helpers -------------------------------------------------------------------------
    def _observations(self) -> np.ndarray:
        return np.concatenate([agent_observations(sim) for sim in self.sims], axis=0)

    def _class_kpis(self, c: int) -> dict[str, float]:
        demand, sales, cost, periods = self._sums[c]
        out = {}
        for name, mask in self._class_masks.items():
            d = demand[mask].sum()
            out[f"fill_rate_{name}"] = float(sales[mask].sum() / d) if d else 1.0
            out[f"cost_per_period_{name}"] = float(cost[mask].sum() / periods[0])
        return out
