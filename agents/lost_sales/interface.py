"""How a model trained on ``LostSales-v0`` acts in it: action parameterisation and masks.

A model acts on raw observations (on-hand, then the pipeline oldest first; normalised by
the adapter) and answers in its *training* action space:

* ``parameterisation="order_up_to"``: an order-up-to level, ``level_min + a`` for
  ``Discrete`` (or a Box action rescaled to ``[level_min, level_max]``); the order is
  ``clip(level - inventory position, 0, q_max)`` (``envs.replenishment.lost_sales.wrappers``);
* ``parameterisation="order"``: the order quantity itself (Box: ``round((a + 1) / 2 q_max)``);
  MaskablePPO masks orders that would raise the inventory position above ``level_max``.

The order is returned as an action of the evaluation env (the order itself, or
``2 q / q_max - 1`` for a continuous env). The same arithmetic is baked into exported graphs
(:meth:`LostSalesInterface.export_outputs`), which also output ``order``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import PolicyKind
from agents.lost_sales.policies import orders_to_actions
from envs.core.config import ConfigError
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import order_from_action
from envs.replenishment.lost_sales.wrappers import levels_from_action, order_masks, order_up_to

# Env config fields an exported or trained policy cannot act without (shapes and action
# meaning); any other difference only draws a warning.
SHAPE_KEYS = ("lead_time", "q_max", "action_type")


class LostSalesInterface:
    """Model rows, env actions and masks for ``config`` (see the module docstring)."""

    shared = False  # one model row per observation (one agent)
    kind = PolicyKind.OBSERVATION
    extra_outputs = {"order": "order quantity to place this period (int64, 0..q_max)"}

    def __init__(self, config: LostSalesConfig, parameterisation: str, level_min: int, level_max: int,
                 masked: bool = False):
        self.config, self.parameterisation = config, parameterisation
        self.level_min, self.level_max, self.masked = int(level_min), int(level_max), bool(masked)
        self.continuous = config.action_type == "continuous"
        self.env_overrides: dict[str, Any] = {}

    def essentials(self) -> dict[str, Any]:
        return {"parameterisation": self.parameterisation, "level_min": self.level_min,
                "level_max": self.level_max, "masked": self.masked}

    def model_obs(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float64).reshape(-1, self.config.obs_dim)

    def orders(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Order quantities implied by model actions for a batch of raw observations."""
        rows = self.model_obs(obs)
        flat = np.asarray(action).reshape(len(rows), -1)[:, 0]
        if self.parameterisation == "order_up_to":
            levels = levels_from_action(flat, self.level_max, self.continuous, self.level_min)
            return order_up_to(levels, rows, self.config.q_max)
        return order_from_action(flat, self.config)

    def env_action(self, action: np.ndarray, obs: np.ndarray) -> np.ndarray:
        return orders_to_actions(self.orders(obs, action), self.config)

    def action_masks(self, obs: np.ndarray) -> np.ndarray | None:
        """``OrderMask``'s masks for a batch of raw observations (None unless masked)."""
        if not self.masked:
            return None
        return order_masks(self.model_obs(obs), self.level_max, self.config.q_max)

    def input_meaning(self) -> list[str]:
        """What each input column is: on-hand stock, then the pipeline oldest first."""
        lead = self.config.lead_time
        pipeline = [f"pipeline[{i}]: the order placed {lead - 1 - i} period(s) ago" + (" (oldest, arrives next)" if i == 0 else "")
                    for i in range(max(lead - 1, 0))]
        on_hand = "on-hand stock at the start of the period" + (
            " (net inventory: < 0 is the backlog)" if self.config.backorders else "")
        return [on_hand, *pipeline]

    def params(self) -> dict[str, Any]:
        out = {"parameterisation": self.parameterisation}
        if self.parameterisation == "order_up_to":
            out["levels"] = f"{self.level_min}..{self.level_max}"
        return out

    # -- exported graphs ---------------------------------------------------------------
    def graph_masks(self, torch, x):
        """The masks of :meth:`action_masks` inside a graph (``x``: raw rows, float64)."""
        position = torch.round(x.sum(dim=1))
        room = torch.clamp(self.level_max - position, min=0.0)
        orders = torch.arange(self.config.q_max + 1, dtype=torch.float64)
        return orders[None, :] <= room[:, None]

    def export_outputs(self, torch, x, value) -> dict[str, Any]:
        """``order`` from raw rows ``x`` (float64) and the model's action ``value`` (float64:
        the Discrete index, or the clipped Box action), as :meth:`orders` computes it."""
        position = torch.round(x.sum(dim=1))
        if value.dim() == 2:  # a Box action (batch, 1)
            value = value[:, 0]
        up_to = self.parameterisation == "order_up_to"
        scale = self.level_max - self.level_min if up_to else self.config.q_max
        if self.continuous:
            value = torch.round((torch.clamp(value, -1.0, 1.0) + 1.0) * 0.5 * scale)
        if up_to:
            order = torch.clamp(value + self.level_min - position, 0.0, float(self.config.q_max))
        else:
            order = value
        return {"order": order.to(torch.int64)}

    def extra_values(self, obs: np.ndarray, action: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`export_outputs` computed in NumPy (what an exported file must reproduce)."""
        return {"order": self.orders(obs, action)}

    def near_boundary(self, action: np.ndarray, tol: float) -> np.ndarray:
        """Rows whose continuous action is within ``tol`` of a .5 rounding boundary (where
        float32 and float64 arithmetic may round differently)."""
        flat = np.asarray(action, dtype=np.float64).reshape(len(action), -1)[:, 0]
        if not self.continuous:
            return np.zeros(len(flat), dtype=bool)
        scale = self.level_max - self.level_min if self.parameterisation == "order_up_to" else self.config.q_max
        pre = (np.clip(flat, -1.0, 1.0) + 1.0) * 0.5 * scale
        return np.abs(pre - np.floor(pre) - 0.5) < tol


def check_shapes(trained: dict[str, Any], config: LostSalesConfig, label: str) -> None:
    """ConfigError if ``config`` differs from the ``trained`` env config in a shape key."""
    mine = config.to_dict()
    bad = [k for k in SHAPE_KEYS if trained.get(k) != mine.get(k)]
    if bad:
        want = ", ".join(f"env.{k}={trained.get(k)}" for k in bad)
        have = ", ".join(f"env.{k}={mine.get(k)}" for k in bad)
        raise ConfigError(f"{label}: the policy was trained for {want}, but the env has {have}")


def interface_for(config: LostSalesConfig, essentials: dict[str, Any]) -> LostSalesInterface:
    try:
        return LostSalesInterface(config, str(essentials["parameterisation"]), int(essentials["level_min"]),
                                  int(essentials["level_max"]), bool(essentials.get("masked", False)))
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"policy: incomplete essentials for LostSales-v0 ({type(err).__name__}: {err})") from None
