"""The policy protocol every agent speaks: heuristics, exact optima, trained RL models and
exported (ONNX / TorchScript) policies are all evaluated by the same code through it.

It is SB3's ``predict`` signature::

    action, state = policy.predict(observation, state=None, episode_start=None,
                                   deterministic=True)

``observation`` is one observation of the task's evaluation env, or a batch with a leading
axis; the action comes back with the matching leading axis, in that env's action space.
Two optional attributes refine it:

* ``params()`` -> dict: tuned parameters, shown in result tables;
* ``env_overrides`` -> dict: env config fields the policy's actions assume (e.g. a
  fulfilment-centre heuristic answers in ``action_type="order"``); a task's rollout runs
  the policy in its env with these fields replaced. Absent means none.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    """Anything with SB3's ``predict``; ``name`` labels it in result tables."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]: ...


def params_of(policy) -> dict[str, Any]:
    """A policy's ``params()``, or an empty dict."""
    get = getattr(policy, "params", None)
    return dict(get()) if callable(get) else {}


def describe_params(policy) -> str:
    """``k=v, ...`` of a policy's parameters, for tables (floats to 4 significant digits)."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params_of(policy).items())


def env_overrides(policy) -> dict[str, Any]:
    """The env config fields ``policy`` acts in (see the module docstring)."""
    return dict(getattr(policy, "env_overrides", None) or {})


def episode_overrides(policy, episode_length: int, periods: int | None, warmup: int) -> tuple[int, dict[str, Any]]:
    """The length of a rollout's episodes (``warmup + periods``; ``periods`` None: the config's
    ``episode_length``) and the env fields to replace: the policy's own (``env_overrides``)
    plus ``episode_length`` where it differs. A ConfigError if no period would be measured."""
    from envs.core.config import ConfigError

    length = episode_length if periods is None else warmup + periods
    if periods is None and warmup >= length:
        raise ConfigError(f"eval.warmup: expected fewer periods than env.episode_length ({length}), got {warmup}")
    overrides = env_overrides(policy)
    if length != episode_length:
        overrides["episode_length"] = length
    return length, overrides
