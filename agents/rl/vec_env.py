"""Training VecEnvs: a task's single-agent envs (one by one, or batched), or its agent batch for
parameter sharing, with VecNormalize.

* ``shared=False``: ``n_envs`` copies of the task's training env; ``total_timesteps`` counts env
  steps. ``vec_env`` (``configs/train.yaml``) says how they are stepped:

  - ``dummy``: ``n_envs`` Gymnasium envs (``Task.training_env_fn``), each in SB3's ``Monitor``,
    in a ``DummyVecEnv`` (a Python loop over the copies);
  - ``batched``: the task's training batch (``Task.training_batch``: every copy advanced by one
    call of the task's batched NumPy simulator, ``envs.core.batch`` contract) behind
    :class:`BatchVecEnv`; a ConfigError if the task has none;
  - ``auto``: ``batched`` where the task has a training batch, else ``dummy``.

* ``shared=True``: the task's agent batch (``Task.shared_batch``: every agent of ``n_envs``
  copies of its multi-agent env is one sub-env, ``envs.core.batch``) behind
  :class:`BatchVecEnv`, so one SB3 policy acts for every agent and
  ``total_timesteps`` counts agent-steps (``vec_env`` does not apply).

VecNormalize normalises observations and rewards as ``cfg.normalize`` says; on resume its
state comes from the checkpoint's ``vecnormalize.json`` (plain numbers, ``agents.rl.checkpoints``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from agents.rl import checkpoints
from envs.core.config import ConfigError

VEC_ENVS = ("auto", "batched", "dummy")
"""Accepted values of ``vec_env`` (module docstring)."""


class BatchVecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a batch (the ``envs.core.batch`` protocol: an agent batch, or a
    task's training batch of single-agent envs), no copies.

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


AgentBatchVecEnv = BatchVecEnv  # its first name (parameter sharing only)


def base_venv(task, n_envs: int, seed: int, shared: bool, maskable: bool = False, vec_env: str = "dummy") -> VecEnv:
    """The task's training VecEnv before normalisation (module docstring; ``vec_env``: one of
    :data:`VEC_ENVS`, ``dummy`` by default as before the switch existed)."""
    if shared:
        batch = task.shared_batch(n_envs, seed)
        if batch is None:
            raise ConfigError(f"shared: env={task.name} has no multi-agent (PettingZoo) face; set shared=false")
        return _seeded(BatchVecEnv(batch), seed)
    batch = training_batch(task, n_envs, seed, maskable, vec_env)
    if batch is not None:
        return _seeded(BatchVecEnv(batch), seed)
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.monitor import Monitor

    make = task.training_env_fn(maskable)
    return make_vec_env(lambda: Monitor(make()), n_envs=n_envs, seed=seed)


def training_batch(task, n_envs: int, seed: int, maskable: bool, vec_env: str):
    """The task's training batch that ``vec_env`` asks for (None: the ``DummyVecEnv``); a one-line
    ConfigError for ``batched`` on a task without one."""
    batch = task.training_batch(n_envs, seed, maskable) if vec_env != "dummy" else None
    if batch is None and vec_env == "batched":
        raise ConfigError(f"vec_env: env={task.name} has no batched training env; use vec_env=auto or dummy")
    return batch


def _seeded(venv: VecEnv, seed: int) -> VecEnv:
    venv.seed(seed)
    return venv


def normalized(venv: VecEnv, normalize, gamma: float, checkpoint=None) -> VecEnv:
    """``venv`` in VecNormalize as ``normalize`` (obs, reward, clip_obs, clip_reward) says, with
    the statistics of ``checkpoint`` when resuming."""
    from stable_baselines3.common.vec_env import VecNormalize

    if checkpoint is not None and checkpoint.normalisation is not None:
        return checkpoints.restore_normalisation(venv, checkpoint.normalisation)
    if normalize.obs or normalize.reward:
        return VecNormalize(venv, norm_obs=bool(normalize.obs), norm_reward=bool(normalize.reward),
                            clip_obs=float(normalize.clip_obs), clip_reward=float(normalize.clip_reward), gamma=gamma)
    return venv
