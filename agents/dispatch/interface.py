"""How a trained SB3 model acts in the dispatch task (``Task.model_interface``).

* ``shared=false``: the model acts on the Gymnasium env's flat observation and answers the
  ``MultiBinary(K)`` dispatch bits itself (:class:`DispatchBits`).
* ``shared=true``: one policy (MaskablePPO, or PPO / A2C) for every courier of ``courier_dispatch_v0``
  (:class:`CourierRows`). The task's courier rollout hands it *joint rows*: one row per
  courier, its observation followed by its action mask (``agents.dispatch.couriers``); the
  model sees the observation (which ends with a copy of the mask, so the exported graph can
  apply the mask to the logits from its one input).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import PolicyKind
from agents.rl.adapter import DirectInterface


class DispatchBits(DirectInterface):
    """The model reads the flat observation and outputs the dispatch bits."""

    masked = False
    shared = False

    def essentials(self) -> dict[str, Any]:
        return {"shared": False}

    def model_obs(self, obs):
        return np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)

    def env_action(self, action, obs):
        return np.asarray(action).reshape(len(obs), -1).astype(np.int8)

    def params(self) -> dict[str, Any]:
        return {"shared": False}


class CourierRows(DispatchBits):
    """Joint courier rows (observation | mask of ``n_actions``) -> one action per courier."""

    shared = True
    kind = PolicyKind.MULTI_AGENT  # played in courier_dispatch_v0

    def __init__(self, obs_dim: int, n_actions: int, masked: bool = True):
        """``masked``: the model is a MaskablePPO one (masks applied to its logits); an
        unmasked model (PPO) acts as it was trained, masked picks being waits in the env."""
        self.obs_dim, self.n_actions, self.masked = int(obs_dim), int(n_actions), bool(masked)

    def essentials(self) -> dict[str, Any]:
        return {"shared": True, "obs_dim": self.obs_dim, "n_actions": self.n_actions, "masked": self.masked}

    def model_obs(self, obs):
        return np.asarray(obs, dtype=np.float32)[:, : self.obs_dim]

    def action_masks(self, obs):
        if not self.masked:
            return None
        return np.asarray(obs)[:, self.obs_dim: self.obs_dim + self.n_actions] > 0.5

    def graph_masks(self, torch, x):
        """In the exported graph: the courier observation ends with its own action mask."""
        return x[:, self.obs_dim - self.n_actions: self.obs_dim] > 0.5

    def env_action(self, action, obs):
        return np.asarray(action).reshape(-1).astype(np.int64)

    def params(self) -> dict[str, Any]:
        return {"shared": True}
