"""The model interface: how a network trained on a task meets the task's evaluation env.

``Task.model_interface(shared, essentials, maskable)`` returns an object of this protocol;
the one SB3 adapter (``agents.rl.adapter.SB3Policy``), exported policies
(``agents.rl.exported``), the ONNX graph (``agents.rl.graph``), the parity check
(``agents.rl.parity``) and the policy card (``agents.rl.card``) speak only to it.
``agents.rl.adapter.DirectInterface`` gives the defaults of a model that answers the env's
own action (no masks, no extra outputs, no rounding boundaries).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from agents.base import PolicyKind


@runtime_checkable
class ModelInterface(Protocol):
    """What the RL layer needs of a task to evaluate, export and check a trained model."""

    shared: bool
    """One row per agent (a parameter-sharing policy) rather than one per observation."""
    kind: PolicyKind
    """How a model acting through it is played (``agents.base``): on the evaluation env's
    observations, or for every agent of the task's PettingZoo env (a shared courier/operator model)."""
    env_overrides: dict[str, Any]
    """Env config fields the policy acts in (e.g. raw-order actions); the rollout applies them."""
    extra_outputs: dict[str, str]
    """Extra outputs of an exported graph: name -> meaning (for the policy card)."""

    def essentials(self) -> dict[str, Any]:
        """JSON that rebuilds this interface from a run or a policy card."""

    def params(self) -> dict[str, Any]:
        """The ``parameters`` column of result tables."""

    def model_obs(self, obs: np.ndarray) -> np.ndarray:
        """A batch of env observations -> the model's input rows (one per agent if shared)."""

    def env_action(self, action: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """The model's actions for ``obs`` -> the env's actions."""

    def action_masks(self, obs: np.ndarray) -> np.ndarray | None:
        """Legal-action masks of the model's rows (MaskablePPO), or None."""

    def export_outputs(self, torch: Any, x: Any, value: Any) -> dict[str, Any]:
        """Extra outputs of an exported graph (:attr:`extra_outputs`), computed in torch."""

    def extra_values(self, obs: np.ndarray, action: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`export_outputs` computed in NumPy (what an exported file must reproduce)."""

    def near_boundary(self, action: np.ndarray, tol: float) -> np.ndarray:
        """Which actions lie within ``tol`` of a rounding boundary (skipped by parity checks)."""


@runtime_checkable
class MaskedModelInterface(ModelInterface, Protocol):
    """A model interface that gives action masks (MaskablePPO), also inside an exported graph."""

    masked: bool

    def graph_masks(self, torch: Any, x: Any) -> Any:
        """The masks of :meth:`action_masks` in an exported graph (``x``: raw rows, float64)."""
