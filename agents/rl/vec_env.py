"""Training VecEnvs: a task's single-agent envs, or its agent batch for parameter sharing,
with VecNormalize.

* ``shared=False``: ``n_envs`` copies of the task's training env (``Task.training_env_fn``),
  each in SB3's ``Monitor``, in a ``DummyVecEnv``; ``total_timesteps`` counts env steps.
* ``shared=True``: the task's agent batch (``Task.shared_batch``: every agent of ``n_envs``
  copies of its multi-agent env is one sub-env, ``envs.core.batch``) behind
  :class:`AgentBatchVecEnv`, so one SB3 policy acts for every agent and
  ``total_timesteps`` counts agent-steps.

VecNormalize normalises observations and rewards as ``cfg.normalize`` says; on resume its
statistics come from the checkpoint (SB3's own pickle: resuming trusts the run directory).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from agents.rl import checkpoints
from envs.core.config import ConfigError


class AgentBatchVecEnv(VecEnv):
    """An SB3 ``VecEnv`` over an agent batch (the ``envs.core.batch`` protocol), no copies.

    A batch with ``action_masks()`` (masked agents) serves MaskablePPO:
    ``env_method("action_masks")`` returns one mask row per sub-env."""

    def __init__(self, batch):
        self.batch = batch
        self.render_mode = None
        super().__init__(batch.num_envs, batch.observation_space, batch.action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seeds = [s for s in self._seeds if s is not None]
        obs = self.batch.reset(seed=int(seeds[0]) if seeds else None)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        return self.batch.step(self._actions)

    def close(self) -> None:
        self.batch.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.batch, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.batch, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self.batch, method_name)(*method_args, **method_kwargs)
        if method_name == "action_masks":  # one row per sub-env (sb3_contrib stacks the list)
            return [result[i] for i in self._indices(indices)]
        return [result] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


def base_venv(task, n_envs: int, seed: int, shared: bool, maskable: bool = False) -> VecEnv:
    """The task's training VecEnv before normalisation (module docstring)."""
    if shared:
        batch = task.shared_batch(n_envs, seed)
        if batch is None:
            raise ConfigError(f"shared: env={task.name} has no multi-agent (PettingZoo) face; set shared=false")
        venv = AgentBatchVecEnv(batch)
        venv.seed(seed)
        return venv
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.monitor import Monitor

    make = task.training_env_fn(maskable)
    return make_vec_env(lambda: Monitor(make()), n_envs=n_envs, seed=seed)


def normalized(venv: VecEnv, normalize, gamma: float, checkpoint=None) -> VecEnv:
    """``venv`` in VecNormalize as ``normalize`` (obs, reward, clip_obs, clip_reward) says, with
    the statistics of ``checkpoint`` when resuming."""
    from stable_baselines3.common.vec_env import VecNormalize

    if checkpoint is not None and checkpoint.vecnormalize is not None:
        return checkpoints.load_vecnormalize(checkpoint, venv)
    if normalize.obs or normalize.reward:
        return VecNormalize(venv, norm_obs=bool(normalize.obs), norm_reward=bool(normalize.reward),
                            clip_obs=float(normalize.clip_obs), clip_reward=float(normalize.clip_reward), gamma=gamma)
    return venv
