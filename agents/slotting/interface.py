"""How a trained SB3 model acts in the slotting task (``Task.model_interface``).

The model reads the env's flat observation and answers the env's action (a slot, or a zone)
itself. The action mask is part of that observation, so the same interface serves the
Gymnasium env (``shared=false``) and the operators of ``slotting_v0`` (``shared=true``, one
row per operator), and the exported graph applies the mask from its one input:

* ``action_mode=slot`` with ``obs_map=grid``: the first channel of every slot of the map
  (legal for this load);
* ``action_mode=zone`` with ``obs_map=zones``: the first feature of every zone (the share of
  its slots legal for this load; > 0 means the zone has one).

A MaskablePPO model (``masked``) gets these masks; a model trained without masks (PPO, A2C)
acts as it was trained: its illegal choices go to the nearest legal slot
(``invalid_action=nearest``, the env override it plays with).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import PolicyKind
from agents.rl.adapter import DirectInterface
from envs.core.config import ConfigError
from envs.slotting.observation import LOAD_FEATURES, SLOT_CHANNELS, ZONE_FEATURES

MASKABLE = {("slot", "grid"): SLOT_CHANNELS, ("zone", "zones"): ZONE_FEATURES}


class SlotRows(DirectInterface):
    """Flat observation rows -> the env's discrete action (module docstring)."""

    def __init__(self, action_mode: str, obs_map: str, n_actions: int, obs_dim: int, masked: bool, shared: bool):
        self.action_mode, self.obs_map = action_mode, obs_map
        self.n_actions, self.obs_dim = int(n_actions), int(obs_dim)
        self.masked, self.shared = bool(masked), bool(shared)
        self.kind = PolicyKind.MULTI_AGENT if self.shared else PolicyKind.OBSERVATION  # shared: slotting_v0
        if self.masked and (action_mode, obs_map) not in MASKABLE:
            raise ConfigError(f"env.obs_map: masked models need the mask in the observation: use action_mode=slot with "
                              f"obs_map=grid or action_mode=zone with obs_map=zones (got {action_mode}, {obs_map})")
        self.stride = MASKABLE.get((action_mode, obs_map), 0)
        self.env_overrides: dict[str, Any] = {} if self.masked else {"invalid_action": "nearest"}

    def essentials(self) -> dict[str, Any]:
        return {"shared": self.shared, "masked": self.masked, "action_mode": self.action_mode,
                "obs_map": self.obs_map, "n_actions": self.n_actions, "obs_dim": self.obs_dim}

    def check(self, essentials) -> None:
        """A ConfigError if a model with ``essentials`` cannot act in this instance."""
        if not essentials:
            return
        mine = self.essentials()
        for key in ("action_mode", "obs_map", "n_actions", "obs_dim"):
            if essentials.get(key) is not None and essentials[key] != mine[key]:
                raise ConfigError(f"env.{key}: the model was trained with {key}={essentials[key]}, this instance has "
                                  f"{mine[key]} (the warehouse and observation must match)")

    def params(self) -> dict[str, Any]:
        return {"shared": self.shared, "masked": self.masked}

    def model_obs(self, obs):
        return np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)

    def env_action(self, action, obs):
        return np.asarray(action).reshape(len(obs)).astype(np.int64)

    def _span(self):
        return slice(LOAD_FEATURES, LOAD_FEATURES + self.stride * self.n_actions, self.stride)

    def action_masks(self, obs):
        if not self.masked:
            return None
        return np.asarray(obs)[:, self._span()] > (0.5 if self.action_mode == "slot" else 0.0)

    def graph_masks(self, torch, x):
        return x[:, self._span()] > (0.5 if self.action_mode == "slot" else 0.0)
