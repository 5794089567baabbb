"""The policy protocols every agent speaks: heuristics, exact optima, trained RL models and
exported (ONNX / TorchScript) policies are all evaluated by the same code through them.

A policy declares its **kind** (:class:`PolicyKind`) by subclassing one of the four bases
below; the episode runner (``agents.runner``) plays each kind in one place and refuses an
object of no known kind in one line. Nothing is told apart by sniffing attributes.

* :class:`ObservationPolicy`: SB3's ``predict`` on the task's evaluation env::

      action, state = policy.predict(observation, state=None, episode_start=None,
                                     deterministic=True)

  ``observation`` is one observation of the task's evaluation env, or a batch with a leading
  axis; the action comes back with the matching leading axis, in that env's action space.
* :class:`SimulatorPolicy`: bound to the simulator of every episode it plays
  (:meth:`SimulatorPolicy.bind`, after each reset) and deciding from its state (slotting
  rules, network base stock); the task's face says how its decision is read.
* :class:`PlanPolicy`: plans a whole episode with hindsight and executes the plan in the
  simulator (:meth:`PlanPolicy.run_episode`; the dispatch hindsight plan).
* :class:`MultiAgentPolicy`: one ``predict`` for every agent of the task's PettingZoo env at
  once: rows in, one per agent, one action per agent out (courier rules, a shared per-agent
  model of dispatch or slotting).

Two optional attributes refine every kind:

* ``params()`` -> dict: tuned parameters, shown in result tables;
* ``env_overrides`` -> dict: env config fields the policy's actions assume (e.g. a
  fulfilment-centre heuristic answers in ``action_type="order"``); a task's rollout runs
  the policy in its env with these fields replaced. Absent means none.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np


class PolicyKind(enum.Enum):
    """How the episode runner plays a policy (module docstring)."""

    OBSERVATION = "observation"
    SIMULATOR = "simulator"
    PLAN = "plan"
    MULTI_AGENT = "multi_agent"


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


class KindedPolicy(ABC):
    """The common base of the four policy kinds: ``kind`` says how the runner plays it."""

    kind: ClassVar[PolicyKind]
    name: str = "policy"

    def params(self) -> dict[str, Any]:
        return {}


class ObservationPolicy(KindedPolicy):
    """Acts on the observations of the task's evaluation env (SB3's ``predict``)."""

    kind = PolicyKind.OBSERVATION

    @abstractmethod
    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        """``(action, state)`` for an observation (or a batch) of the evaluation env."""


class SimulatorPolicy(KindedPolicy):
    """Acts on the simulator it is bound to: :meth:`bind` is called after every reset with
    the episode's simulator and the replication's seed; what it decides from that state is
    the operation's (a slotting rule's ``choose``, a network policy's ``orders``)."""

    kind = PolicyKind.SIMULATOR
    sim: Any = None

    def bind(self, sim, seed: int) -> None:
        """Play the episode of ``sim`` (just reset with replication ``seed``)."""
        self.sim = sim


class PlanPolicy(KindedPolicy):
    """Plans a whole episode with hindsight (its future known) and executes the plan."""

    kind = PolicyKind.PLAN

    @abstractmethod
    def run_episode(self, sim) -> None:
        """Plan the episode ``sim`` was just reset to and execute the plan in ``sim``."""


class MultiAgentPolicy(KindedPolicy):
    """Acts for every agent of the task's PettingZoo env at once: ``predict(rows)`` with one
    row per agent (the task's face builds them) returns ``(actions, state)``, one action per
    agent."""

    kind = PolicyKind.MULTI_AGENT

    @abstractmethod
    def predict(self, rows, state=None, episode_start=None, deterministic=True):
        """``(actions, state)``: one action per row."""


def policy_kind(policy) -> PolicyKind:
    """The declared kind of ``policy``; a one-line TypeError naming the accepted kinds if it
    declares none."""
    if isinstance(policy, KindedPolicy) and isinstance(policy.kind, PolicyKind):
        return policy.kind
    raise TypeError(f"policy {policy!r:.60} declares no policy kind: subclass one of agents.base."
                    "ObservationPolicy, SimulatorPolicy, PlanPolicy or MultiAgentPolicy "
                    f"(kinds: {', '.join(k.value for k in PolicyKind)})")


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


def episode_env(make_env: Callable[..., Any], policy, periods: int | None, warmup: int, **fields: Any):
    """The env a rollout plays ``policy`` on: ``make_env`` called with ``fields``, the policy's
    own (``env_overrides``) and, with ``periods``, ``episode_length=warmup + periods`` (None:
    the env config's ``episode_length``). A ConfigError if no period would be measured."""
    from envs.core.config import ConfigError

    overrides = {**fields, **env_overrides(policy)}
    if periods is not None:
        overrides["episode_length"] = warmup + periods
    env = make_env(**overrides)
    length = env.unwrapped.config.episode_length
    if periods is None and warmup >= length:
        raise ConfigError(f"eval.warmup: expected fewer periods than env.episode_length ({length}), got {warmup}")
    return env
