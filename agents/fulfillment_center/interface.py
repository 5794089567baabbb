"""How a model trained on the fulfilment centre acts in ``FulfillmentCenter-v0``.

* **Shared** (parameter sharing): the model was trained on per-SKU rows (the PettingZoo
  env's observation: the SKU's F features and the G shared ones) and answers one per-SKU
  action. The centralised flat observation (F x N features, feature-major, then G) is cut
  into N rows; the N actions form the centralised action. One shared model fits any
  catalogue with the same number of observed pipeline slots (F is fixed).
* **Centralised**: the model acts on the flat observation itself and answers all N actions
  (MultiDiscrete or Box); the catalogue must have the trained number of SKUs.

Either way the policy answers in the *trained* action space (``action_type`` and its
multiples), which its ``env_overrides`` declare, so the rollout plays it in the env with
those fields (on the same catalogue and demand streams as every other policy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import PolicyKind
from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.simulator import GLOBAL_FEATURES, SKU_FEATURES

ACTION_KEYS = ("action_type", "order_multiples", "level_multiples", "level_basis", "max_multiple")


class FulfillmentInterface:
    """Model rows and env actions for ``problem`` (the evaluation env; see the module docstring)."""

    kind = PolicyKind.OBSERVATION  # a shared model too acts on the centralised env's observations
    extra_outputs: dict[str, str] = {}

    def __init__(self, problem: Problem, shared: bool, action: dict[str, Any], trained_n: int | None = None):
        self.problem, self.shared = problem, bool(shared)
        self.n = problem.n
        self.n_features = len(SKU_FEATURES) + problem.config.pipeline_slots
        self.env_overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in action.items()}
        self.continuous = action["action_type"] == "continuous"
        self.trained_n = trained_n
        if not shared and trained_n is not None and trained_n != self.n:
            raise ConfigError(f"policy: a centralised model of {trained_n} SKUs cannot act on {self.n} SKUs "
                              "(a shared per-SKU model can)")

    def essentials(self) -> dict[str, Any]:
        return {"shared": self.shared, "action": {k: _jsonable(v) for k, v in self.env_overrides.items()},
                "n_skus": self.n, "pipeline_slots": self.problem.config.pipeline_slots}

    def model_obs(self, obs: np.ndarray) -> np.ndarray:
        n, f, g = self.n, self.n_features, len(GLOBAL_FEATURES)
        flat = np.asarray(obs, dtype=np.float32).reshape(-1, n * f + g)
        if not self.shared:
            return flat
        b = len(flat)
        sku = flat[:, : n * f].reshape(b, f, n).transpose(0, 2, 1)  # (B, N, F): the obs is feature-major
        glob = np.broadcast_to(flat[:, None, n * f:], (b, n, g))
        return np.concatenate([sku, glob], axis=2).reshape(b * n, f + g)

    def env_action(self, action: np.ndarray, obs: np.ndarray) -> np.ndarray:
        a = np.asarray(action).reshape(-1, self.n)
        if self.continuous:
            return np.clip(a, -1.0, 1.0).astype(np.float32)
        return a.astype(np.int64)

    def action_masks(self, obs: np.ndarray) -> None:
        return None

    def input_meaning(self) -> str:
        if self.shared:
            return (f"one row per SKU: its {self.n_features} features (FulfillmentCenterEnv's per-SKU columns) "
                    f"then the {len(GLOBAL_FEATURES)} shared ones, as the PettingZoo env's per-agent observation")
        return "the centralised flat observation of FulfillmentCenter-v0 (feature-major, then the global features)"

    def params(self) -> dict[str, Any]:
        return {"shared_over_skus": self.n} if self.shared else {"centralised": True}

    def export_outputs(self, torch, x, value) -> dict[str, Any]:
        return {}

    def extra_values(self, obs: np.ndarray, action: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def near_boundary(self, action: np.ndarray, tol: float) -> np.ndarray:
        """Continuous actions are rounded up inside the env (``ceil`` of a multiple of the
        forecast): any row may sit on a boundary, so exact cost parity is not required."""
        return np.full(len(np.asarray(action).reshape(len(action), -1)), self.continuous)


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def interface_for(problem: Problem, essentials: dict[str, Any]) -> FulfillmentInterface:
    """The interface of a trained model's ``essentials`` (its run or exported card) on ``problem``."""
    try:
        action = dict(essentials["action"])
        shared = bool(essentials["shared"])
        slots = int(essentials.get("pipeline_slots", problem.config.pipeline_slots))
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"policy: incomplete essentials for FulfillmentCenter-v0 ({type(err).__name__}: {err})") from None
    if slots != problem.config.pipeline_slots:
        raise ConfigError(f"policy: trained with env.pipeline_slots={slots}, but the env has "
                          f"env.pipeline_slots={problem.config.pipeline_slots}")
    unknown = set(action) - set(ACTION_KEYS)
    if unknown or "action_type" not in action or action["action_type"] == "order":
        raise ConfigError(f"policy: expected an action of type discrete, continuous or level, got {action}")
    return FulfillmentInterface(problem, shared, action, essentials.get("n_skus"))
