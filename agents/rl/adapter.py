"""The one adapter from a trained SB3 model to the policy protocol, and observation
normalisation as plain data.

:class:`SB3Policy` makes an SB3 policy network speak ``predict`` on the *raw* observations
of a task's evaluation env. The task's model interface (``Task.model_interface``) says how:
it turns an env observation batch into the model's input rows (the same rows, or one row
per agent of a shared policy), supplies action masks, and turns the model's actions back
into env actions (e.g. an order-up-to level into an order). Between the two,
:class:`ObsNormalizer` applies the run's VecNormalize observation statistics, kept as plain
numbers (JSON) so that evaluating or exporting a run unpickles nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import KindedPolicy, PolicyKind
from envs.core.config import ConfigError


@dataclass(frozen=True)
class ObsNormalizer:
    """VecNormalize's observation transform: ``clip((x - mean) / sqrt(var + epsilon), -clip,
    clip)``, computed in float64 and cast to float32 (as VecNormalize does)."""

    mean: np.ndarray
    var: np.ndarray
    clip: float = 10.0
    epsilon: float = 1e-8

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        z = (np.asarray(rows, dtype=np.float64) - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    @classmethod
    def from_vec_env(cls, venv) -> ObsNormalizer | None:
        """The statistics of a VecNormalize (None if it does not normalise observations)."""
        rms = getattr(venv, "obs_rms", None)
        if rms is None or not getattr(venv, "norm_obs", False):
            return None
        return cls(np.array(rms.mean, dtype=np.float64), np.array(rms.var, dtype=np.float64),
                   float(venv.clip_obs), float(venv.epsilon))

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "clip_obs": self.clip, "epsilon": self.epsilon}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "normalisation") -> ObsNormalizer:
        try:
            mean = np.asarray(data["mean"], dtype=np.float64)
            var = np.asarray(data["var"], dtype=np.float64)
            out = cls(mean, var, float(data["clip_obs"]), float(data["epsilon"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}: not a valid normalisation record ({type(err).__name__}: {err})") from None
        if mean.shape != var.shape or not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)):
            raise ConfigError(f"{where}: mean and var must be finite arrays of one shape, var >= 0")
        return out

    @classmethod
    def load(cls, path: Path) -> ObsNormalizer | None:
        """From a ``vecnormalize.json`` written by ``agents.rl.checkpoints`` (None if the run
        did not normalise observations)."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"checkpoint {path}: cannot be read ({type(err).__name__}); delete this checkpoint") from None
        if not isinstance(data, dict):
            raise ConfigError(f"checkpoint {path}: expected a JSON object")
        return cls.from_dict(data["obs"], str(path)) if data.get("norm_obs") and data.get("obs") else None


class DirectInterface:
    """Defaults of a model interface (``Task.model_interface``) whose model answers the env's
    own action: no extra outputs in an exported graph, no action masks, no rounding
    boundaries for the parity check. A task's interface subclasses it and gives
    ``essentials``, ``model_obs``, ``env_action`` and ``params`` (and overrides what differs)."""

    kind = PolicyKind.OBSERVATION  # how a model acting through it is played (agents.base)
    extra_outputs: dict[str, str] = {}
    env_overrides: dict[str, Any] = {}

    def action_masks(self, obs):
        return None

    def export_outputs(self, torch, x, value):
        return {}

    def extra_values(self, obs, action):
        return {}

    def near_boundary(self, action, tol):
        return np.zeros(len(action), dtype=bool)


class InterfacePolicy(KindedPolicy):
    """The policy protocol over a model and a task's model interface: a batch (or one) raw env
    observation in, ``model_action`` on it, ``interface.env_action`` out. Subclasses set
    ``interface`` and implement ``model_action(batch, state, episode_start, deterministic)``."""

    interface = None

    @property
    def kind(self) -> PolicyKind:
        """The policy kind the model interface declares (``interface.kind``)."""
        return self.interface.kind

    def model_action(self, obs: np.ndarray, state=None, episode_start=None, deterministic: bool = True):
        raise NotImplementedError  # pragma: no cover - abstract

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        if single and episode_start is not None:
            episode_start = np.reshape(episode_start, (1,))
        action, state = self.model_action(batch, state, episode_start, deterministic)
        out = self.interface.env_action(action, batch)
        return (out[0] if single else out), state


class SB3Policy(InterfacePolicy):
    """A trained SB3 policy network as a policy on the raw observations of a task's env.

    Args:
        policy: the SB3 policy (``model.policy``), evaluated with its own ``predict``.
        interface: the task's model interface (module docstring).
        normalizer: the run's observation normalisation, or None.
        name: the agent's name in result tables.
    """

    def __init__(self, policy, interface, normalizer: ObsNormalizer | None = None, name: str = "rl"):
        self.policy, self.interface, self.normalizer, self.name = policy, interface, normalizer, name
        self.env_overrides = dict(interface.env_overrides)

    def model_input(self, obs: np.ndarray) -> np.ndarray:
        rows = self.interface.model_obs(obs)
        return self.normalizer(rows) if self.normalizer is not None else np.asarray(rows, dtype=np.float32)

    def model_action(self, obs: np.ndarray, state=None, episode_start=None, deterministic: bool = True):
        """The model's own action (its training action space) for a batch of raw env obs."""
        masks = self.interface.action_masks(obs)
        extra = {} if masks is None else {"action_masks": masks}
        return self.policy.predict(self.model_input(obs), state=state, episode_start=episode_start,
                                   deterministic=deterministic, **extra)

    def params(self) -> dict[str, Any]:
        return self.interface.params()
