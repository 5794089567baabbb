"""Agent batches: every agent of several copies of a multi-agent env as one vector of sub-envs.

Parameter-sharing training (one policy acting for every agent) needs the agents of a
multi-agent env as the sub-environments of one vectorised env. An *agent batch* is that,
in plain NumPy and with the same contract as stable-baselines3's ``VecEnv`` (which
``agents.rl.vec_env`` wraps around it without copying):

* ``num_envs``: copies x agents; ``observation_space`` / ``action_space``: one agent's;
* ``reset(seed=None) -> obs`` of shape ``(num_envs, *obs_shape)``; a seed restarts the
  stream of episode seeds;
* ``step(actions) -> (obs, rewards, dones, infos)``: ``actions`` has one row per sub-env;
  ``rewards`` float32 and ``dones`` bool of shape ``(num_envs,)``, ``infos`` a list of dicts.
  When an episode ends, every sub-env of that copy reports ``done`` with its
  ``terminal_observation``, ``TimeLimit.truncated`` (True unless the env terminated) and
  an ``episode`` record (``r``: the agent's return, ``l``: its length), and ``obs`` already
  holds the next episode's first observation (automatic reset).

Masked agents: when the agents' observations are dicts ``{"observation", "action_mask"}``
(PettingZoo's convention), the sub-env rows are the ``observation`` parts
(``observation_space`` is that subspace) and the batch offers ``action_masks()``: the masks of
the current observations, ``(num_envs, n_actions)`` bool (what sb3_contrib's MaskablePPO
asks for, one row per sub-env, through ``agents.rl.vec_env.BatchVecEnv``).

Episode k of copy c is seeded with ``SeedSequence([seed, k, c])``, so no two (copy, episode)
pairs share a stream and the batch is reproducible from its seed.

:class:`ParallelEnvBatch` is the generic batch over any PettingZoo ``ParallelEnv`` whose
agents are fixed and finish together; an operation may provide a faster one that drives
its simulator directly (``envs.replenishment.fulfillment_center.shared``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.core.config import ConfigError


def episode_seed(seed: int, episode: int, copy: int) -> int:
    """The seed of ``episode`` of ``copy`` in a batch seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, episode, copy]).generate_state(1)[0])


class ParallelEnvBatch:
    """``n_copies`` PettingZoo ParallelEnvs from ``make``, one sub-env per (copy, agent)."""

    render_mode = None

    def __init__(self, make: Callable[[], Any], n_copies: int, seed: int = 0):
        self.envs = [make() for _ in range(n_copies)]
        first = self.envs[0]
        self.agents = list(first.possible_agents)
        self.n_agents, self.n_copies = len(self.agents), n_copies
        self.num_envs = n_copies * self.n_agents
        space = first.observation_space(self.agents[0])
        self.action_space = first.action_space(self.agents[0])
        if any(first.observation_space(a) != space or first.action_space(a) != self.action_space
               for a in self.agents):
            raise ConfigError("shared: the agents of this env do not share one observation and action space")
        self.masked = isinstance(space, spaces.Dict) and set(space.spaces) == {"observation", "action_mask"}
        self.observation_space = space["observation"] if self.masked else space
        if self.masked:  # only a masked batch has the method (MaskablePPO checks with hasattr)
            self.action_masks = self._action_masks
            self._masks = np.ones((n_copies, self.n_agents, int(np.prod(space["action_mask"].shape))), dtype=bool)
        self._seed = int(seed)
        self._episodes = np.zeros(n_copies, dtype=np.int64)  # episodes started, per copy
        self._returns = np.zeros((n_copies, self.n_agents))
        self._lengths = np.zeros(n_copies, dtype=np.int64)
        self._start = time.perf_counter()

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self._seed = int(seed)
            self._episodes[:] = 0
        return np.concatenate([self._reset_copy(c) for c in range(self.n_copies)])

    def _reset_copy(self, c: int) -> np.ndarray:
        obs, _ = self.envs[c].reset(seed=episode_seed(self._seed, int(self._episodes[c]), c))
        self._episodes[c] += 1
        self._returns[c] = 0.0
        self._lengths[c] = 0
        return self._rows(c, obs)

    def _rows(self, c: int, obs: dict[str, Any]) -> np.ndarray:
        """Copy ``c``'s observation rows in agent order (the ``observation`` parts, keeping
        the masks, when masked)."""
        if not self.masked:
            return np.stack([obs[a] for a in self.agents])
        self._masks[c] = np.stack([np.reshape(obs[a]["action_mask"], -1) for a in self.agents]).astype(bool)
        return np.stack([obs[a]["observation"] for a in self.agents])

    def _action_masks(self) -> np.ndarray:
        """The masks of the current observations, (num_envs, n_actions) bool."""
        return self._masks.reshape(self.num_envs, -1).copy()

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions).reshape(self.n_copies, self.n_agents, *np.shape(actions)[1:])
        obs_rows, rewards, dones, infos = [], [], [], []
        for c, env in enumerate(self.envs):
            obs, rew, term, trunc, info = env.step({a: actions[c, i] for i, a in enumerate(self.agents)})
            r = np.array([rew[a] for a in self.agents], dtype=np.float32)
            self._returns[c] += r
            self._lengths[c] += 1
            done = not env.agents
            rows = self._rows(c, obs)
            copy_infos = [dict(info.get(a, {})) for a in self.agents]
            if done:
                for i, a in enumerate(self.agents):
                    copy_infos[i].update(terminal_observation=rows[i], **{"TimeLimit.truncated": not term[a]},
                                         episode={"r": float(self._returns[c, i]), "l": int(self._lengths[c]),
                                                  "t": round(time.perf_counter() - self._start, 6)})
                rows = self._reset_copy(c)
            obs_rows.append(rows)
            rewards.append(r)
            dones.append(np.full(self.n_agents, done))
            infos.extend(copy_infos)
        return np.concatenate(obs_rows), np.concatenate(rewards), np.concatenate(dones), infos

    def close(self) -> None:
        for env in self.envs:
            env.close()
