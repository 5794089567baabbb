"""Parameter sharing: one SB3 policy controls every SKU of the fulfilment centre.

:class:`SharedPolicyVecEnv` is an SB3 ``VecEnv`` in which every SKU of ``n_copies``
independent fulfilment centres is one sub-environment: ``num_envs = n_copies * N``, the
observation of sub-env ``c * N + i`` is SKU i's row of copy c (the PettingZoo env's
per-agent observation) and its reward the SKU's reward. SB3's on-policy algorithms then
train one shared policy on all SKUs at once. It drives the simulator directly (no
per-agent dicts), which is what makes it fast; the observation and reward functions are
the PettingZoo env's own (``envs.replenishment.fulfillment_center.parallel_env``), so the two agree.

SB3's ``num_timesteps`` counts sub-env steps, i.e. *SKU-periods* here.

:class:`SharedPolicy` applies a trained shared model to the centralised
``FulfillmentCenter-v0`` observation (all SKUs at once), so the benchmark evaluates it
exactly like the heuristics.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from agents.rl.algorithms import normalize_obs
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.parallel_env import (
    OBS_BOUND,
    agent_observations,
    agent_rewards,
)
from envs.replenishment.fulfillment_center.simulator import (
    GLOBAL_FEATURES,
    SKU_FEATURES,
    FulfillmentSimulator,
)


class SharedPolicyVecEnv(VecEnv):
    """``n_copies`` fulfilment centres of ``problem``, one sub-env per (copy, SKU).

    Episodes of all copies have the same length (``episode_length``) and restart
    together; at an episode end every sub-env reports ``done`` with its
    ``terminal_observation``, ``TimeLimit.truncated=True`` and an ``episode`` record
    (the SKU's return and length, as SB3's Monitor writes). ``infos[c * N]`` of the
    first SKU of each copy also carries the copy's period KPIs (``cost``, ``demand``,
    ``sales``, ``overflow_units``) and, at episode end, ``episode_kpis``: fill rate and
    cost per period by popularity class (A/B/C).
    """

    def __init__(self, problem: Problem, n_copies: int = 1, seed: int = 0, reward: str = "individual"):
        if problem.config.action_type == "order":
            raise ValueError("SharedPolicyVecEnv needs action_type discrete or continuous")
        self.problem, self.n_copies, self.reward_mode = problem, n_copies, reward
        self.sims = [FulfillmentSimulator(problem) for _ in range(n_copies)]
        self.n = problem.n
        obs_dim = self.sims[0].n_features + len(GLOBAL_FEATURES)
        obs_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(obs_dim,), dtype=np.float32)
        if problem.config.action_choices is not None:
            act_space = spaces.Discrete(len(problem.config.action_choices))
        else:
            act_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.render_mode = None
        super().__init__(n_copies * self.n, obs_space, act_space)
        self._base_seed = seed
        self._episode = 0
        self._actions: np.ndarray | None = None
        classes = problem.catalogue.popularity_class()
        self._class_masks = {c: classes == c for c in ("A", "B", "C") if np.any(classes == c)}
        self._start = time.perf_counter()

    # -- VecEnv API ----------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        seeds = [s for s in self._seeds if s is not None]
        if seeds:
            self._base_seed = int(seeds[0])
            self._episode = 0
        self._reset_seeds()
        self._reset_options()
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

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        n = self.n
        actions = self._actions.reshape(self.n_copies, n, -1)
        rewards = np.empty((self.n_copies, n), dtype=np.float32)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for c, sim in enumerate(self.sims):
            a = actions[c, :, 0]
            if self.problem.config.action_type == "continuous":
                a = np.clip(a, -1.0, 1.0)
            totals = sim.step(sim.orders_from_actions(a))
            r = agent_rewards(sim, self.reward_mode)
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
                for i in range(n):
                    k = c * n + i
                    infos[k]["terminal_observation"] = obs[k]
                    infos[k]["TimeLimit.truncated"] = True
                    infos[k]["episode"] = {"r": float(self._returns[c, i]), "l": length, "t": round(elapsed, 6)}
            obs = self._reset_all()
        return obs, rewards.reshape(-1), dones, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        return [getattr(self, method_name)(*method_args, **method_kwargs)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    # -- helpers -------------------------------------------------------------------------
    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

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


class SharedPolicy:
    """A shared per-SKU model as a policy on the centralised env's flat observation.

    The flat observation (F*N per-SKU features, feature-major, then G shared ones) is reshaped into the
    per-agent rows the model was trained on; the N per-SKU actions form the centralised
    action. VecNormalize statistics (``obs_rms``) are applied as in training.
    """

    def __init__(self, model, problem: Problem, obs_rms=None, clip_obs: float = 10.0,
                 epsilon: float = 1e-8, name: str = "ppo_shared"):
        self.model, self.problem, self.name = model, problem, name
        self.obs_rms, self.clip_obs, self.epsilon = obs_rms, clip_obs, epsilon
        self.n_features = len(SKU_FEATURES) + problem.config.pipeline_slots
        self.continuous = problem.config.action_type == "continuous"

    def agent_rows(self, observation: np.ndarray) -> np.ndarray:
        n, f, g = self.problem.n, self.n_features, len(GLOBAL_FEATURES)
        sku = observation[: n * f].reshape(f, n).T  # the flat obs is feature-major
        glob = np.broadcast_to(observation[n * f:], (n, g))
        return np.concatenate([sku, glob], axis=1)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float32)
        batch = obs.reshape(-1, obs.shape[-1])
        actions = []
        for row in batch:
            x = normalize_obs(self.agent_rows(row), self.obs_rms, self.clip_obs, self.epsilon)
            a, _ = self.model.predict(x, deterministic=deterministic)
            a = np.asarray(a).reshape(self.problem.n, -1)[:, 0]
            actions.append(np.clip(a, -1, 1).astype(np.float32) if self.continuous else a.astype(np.int64))
        out = np.stack(actions)
        return (out[0] if obs.ndim == 1 else out), None

    def params(self) -> dict[str, Any]:
        return {"shared_over_skus": self.problem.n}
