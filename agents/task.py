"""Tasks: what the generic entry points (train, benchmark, export, speed) know of an operation.

A :class:`Task` is one operation (lost sales, the fulfilment centre, ...) with one env
config. It is the only thing ``experiments/`` talks to; ``configs/env/<task>.yaml``
instantiates it through ``_target_`` (Hydra, through ``agents.registry`` only), with the
env's keyword arguments as keys plus two typed blocks: ``training`` (the task's training
defaults: action parameterisation, training episodes, ...) and ``evaluation``
(``agents.task_config.EvaluationDefaults``: its evaluation horizon and replications).

A task is mostly data (class attributes): its name and env id, KPI columns
(``agents.kpi.Kpi``), evaluation defaults, cost unit, default agents, the algorithms it
trains (checked by ``agents.rl.algorithms.check_algorithm``) and its optional parts, each
named by import path and used by the entry point that needs it: speed cases
(``speed_module``, ``agents.speed_case``), a DCL problem (``dcl_problem_class``), plots and
suites (``plots``, ``suites``: ``agents.parts``) and stress scenarios
(``supports_scenarios``). It implements seven hooks (the abstract methods: config, env,
agents, rollout, model interface); the rest has defaults. Its agents are one mapping, name ->
:data:`Builder` (:meth:`Task.agent_builders`), from which :meth:`Task.agent_names` and
:meth:`Task.make_agent` follow. A task is stateless once built:
:meth:`Task.with_training` and :meth:`Task.with_scenario` return new tasks.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents.kpi import Kpi
from agents.registry import scenario_tasks
from agents.task_config import EvaluationDefaults
from envs.core.config import ConfigError, typed

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface

Builder = Callable[[int | None, bool], Any]
"""How a task builds one agent: ``builder(tuning_reps, smoke)`` -> a ready policy, tuned
(heuristics: on ``tuning_reps`` replications, None: the task's default), solved (exact optima)
or as is; ``smoke``: a tiny tuning budget."""


class Task(ABC):
    """One operation with one env config (module docstring). Subclasses set the class
    attributes and implement the abstract methods; the rest has defaults."""

    name: ClassVar[str]
    env_id: ClassVar[str]
    kpis: ClassVar[tuple[Kpi, ...]] = ()
    cost_decimals: ClassVar[int] = 4
    cost_unit: ClassVar[str] = "period"  # what one "cost" of the rollout is per (e.g. "day")
    timestep_units: ClassVar[tuple[str, str]] = ("periods", "agent-periods")  # (single, shared) training
    default_agents: ClassVar[tuple[str, ...]] = ()
    evaluation_defaults: ClassVar[EvaluationDefaults] = EvaluationDefaults()
    training_options: ClassVar[type] = type(None)
    # the algorithms it trains (None: any whose action types fit); the reason, for the error
    algorithms: ClassVar[tuple[str, ...] | None] = None
    shared_algorithms: ClassVar[tuple[str, ...] | None] = None
    algorithms_note: ClassVar[str] = ""
    # the config field ("env.action_type", "env.training.action_type") whose value says whether
    # the learner's actions are continuous ("continuous") or discrete (anything else); None: no check
    action_type_key: ClassVar[str | None] = None
    # optional parts, by import path (imported on use)
    speed_module: ClassVar[str | None] = None  # "module": speed_cases(), speed_notes() (agents.speed_case)
    dcl_problem_class: ClassVar[str | None] = None  # "module:Class" of agent=dcl's problem (agents.parts)
    dcl_shared: ClassVar[bool] = False  # whether DCL trains one shared per-agent policy
    plots: ClassVar[str | None] = None  # "module:function(task, out, agents, trained) -> [png names]"
    suites: ClassVar[Mapping[str, str]] = {}  # name -> "module:function(task, out, console, dir, command)"
    supports_scenarios: ClassVar[bool] = False  # its env config has a ``scenario`` field (envs.core.scenario)
    # save_plans: an agents.runner.PlanWriter class (directory, agent) its rollout calls back (None: no plans)
    plan_writer: ClassVar[type | None] = None

    def __init__(self, training: Mapping[str, Any] | None = None, evaluation: Mapping[str, Any] | None = None,
                 **env_kwargs: Any):
        self.training = typed(self.training_options, "env.training", training)
        given = dict(evaluation) if evaluation is not None else None
        base = {f.name: getattr(self.evaluation_defaults, f.name) for f in fields(EvaluationDefaults)}
        self.evaluation = typed(EvaluationDefaults, "env.evaluation", {**base, **(given or {})})
        self.config = self.make_config(env_kwargs)

    # -- the env config (required) --------------------------------------------------------
    @abstractmethod
    def make_config(self, env_kwargs: Mapping[str, Any]):
        """The env's typed, validated config from the keyword arguments."""

    @abstractmethod
    def env_kwargs(self) -> dict[str, Any]:
        """Plain (JSON-ready) keyword arguments of ``gymnasium.make(env_id, ...)``."""

    @abstractmethod
    def describe(self) -> str:
        """A one-line title of the instance for result tables."""

    def instance_columns(self) -> dict[str, Any]:
        """The few config values that tell instances of a suite apart (for summary tables)."""
        return {}

    def with_scenario(self, scenario: Any) -> Task:
        """This task (same training and evaluation blocks) with ``env.scenario`` replaced by
        ``scenario`` (an ``envs.core.scenario.Scenario`` or a mapping of its fields), for
        stress tests of fixed policies; a ConfigError if the task has no scenarios."""
        if not self.supports_scenarios:
            accepting = ", ".join(scenario_tasks())
            raise ConfigError(f"scenarios: env={self.name} has no scenario field; tasks that accept scenarios: "
                              f"{accepting}")
        other = copy.copy(self)
        other.config = other.make_config({**self.env_kwargs(), "scenario": scenario})
        return other

    # -- env factories --------------------------------------------------------------------
    def make_env(self, **overrides: Any):
        """The evaluation env of this instance with the env fields ``overrides`` replaced: what
        :meth:`rollout` plays, in the spaces a trained model meets. Default:
        ``gymnasium.make(env_id, **env_kwargs(), **overrides)``, the env inside Gymnasium's
        wrappers (env checker, order enforcing); a task that overrides it returns the env
        itself, built from what the task has built (``.unwrapped`` is the env either way)."""
        import gymnasium

        import envs  # noqa: F401  (registers the ids)

        return gymnasium.make(self.env_id, **{**self.env_kwargs(), **overrides})

    def make_parallel_env(self):
        """The PettingZoo ParallelEnv of this instance, or None if the task has none."""
        return None

    @abstractmethod
    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        """A factory of single-agent Gymnasium training envs (the task's training defaults:
        action parameterisation, episode length, start state). ``maskable``: the env must
        offer ``action_masks()`` (MaskablePPO)."""

    def training_batch(self, n_envs: int, seed: int, maskable: bool = False):
        """``n_envs`` copies of the :meth:`training_env_fn` env as one batch (``envs.core.batch``
        protocol, one sub-env per copy) stepped together by the task's batched NumPy simulator:
        what ``vec_env=batched`` (or ``auto``) trains on instead of a ``DummyVecEnv``
        (``agents.rl.vec_env``). None (the default): the task has none."""
        return None

    def shared_batch(self, n_copies: int, seed: int):
        """One sub-env per agent of ``n_copies`` copies (``envs.core.batch`` protocol), for
        parameter-sharing training; None if the task has no multi-agent face. Default: the
        generic batch over :meth:`make_parallel_env`."""
        if type(self).make_parallel_env is Task.make_parallel_env:
            return None
        from envs.core.batch import ParallelEnvBatch

        return ParallelEnvBatch(self.make_parallel_env, n_copies, seed)

    def resolve_training(self) -> dict[str, Any]:
        """Training options fixed before a run starts and saved with it (e.g. levels derived
        by tuning), as ``{option: value}``; :meth:`with_training` applies them. Default: none."""
        return {}

    def with_training(self, changes: Mapping[str, Any]) -> Task:
        """This task with the training options ``changes`` (e.g. :meth:`resolve_training`'s)."""
        other = copy.copy(self)
        other.training = replace(self.training, **changes) if changes else self.training
        return other

    def timestep_unit(self, shared: bool) -> str:
        return self.timestep_units[bool(shared)]

    # -- agents ---------------------------------------------------------------------------
    @abstractmethod
    def agent_builders(self) -> Mapping[str, Builder]:
        """Every agent the task can build, name -> :data:`Builder`, in the order of
        :meth:`agent_names`. Cheap to call (a solver is imported by its builder, not here)."""

    def agent_names(self) -> tuple[str, ...]:
        """Every agent :meth:`make_agent` can build."""
        return tuple(self.agent_builders())

    def make_agent(self, name: str, tuning_reps: int | None = None, smoke: bool = False):
        """Agent ``name`` built by its :data:`Builder`; a one-line ConfigError if the task has no
        such agent or this instance cannot have it (:meth:`unavailable`)."""
        builders = self.agent_builders()
        if name not in builders:
            raise self.unknown_agent(name)
        if why := self.unavailable(name):
            raise ConfigError(f"agents: {name} is not available for this instance: {why}")
        return builders[name](tuning_reps, smoke)

    def unknown_agent(self, name: str) -> ConfigError:
        """The one-line error for an agent ``name`` that :meth:`make_agent` cannot build."""
        return ConfigError(f"agents: unknown agent {name!r} for env={self.name}; accepted agents are "
                           f"{', '.join(self.agent_names())}")

    def reference_name(self) -> str | None:
        """The agent gaps are measured against when it is evaluated (None: the cheapest)."""
        return None

    def reference_cost(self) -> float | None:
        """The reference's long-run cost per period when known without simulation (e.g. the
        exact optimum's average cost), for the gap logged during training; None otherwise."""
        return None

    def unavailable(self, name: str) -> str | None:
        """Why agent ``name`` cannot be built for this instance (None: it can)."""
        return None

    # -- evaluation -----------------------------------------------------------------------
    @abstractmethod
    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        """Play ``policy`` on replications with ``seeds`` (common random numbers): one array
        per KPI with one value per replication; ``cost`` (mean cost per measured period) is
        required. ``periods`` None: the task's natural horizon. Usually one call of
        ``agents.runner.play``; a task with a :attr:`plan_writer` also takes ``callback`` (an
        ``agents.runner.EpisodeCallback``) and passes it to the runner."""

    def validation_rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        """:meth:`rollout` for model selection during training (on validation seeds); a task
        whose test data must stay unseen (a replayed history's test window) overrides it."""
        return self.rollout(policy, seeds, periods, warmup)

    @classmethod
    def kpi_names(cls) -> tuple[str, ...]:
        """The KPI columns of ``results.csv`` (display-only groups excluded)."""
        return tuple(n for k in cls.kpis if not k.parts for n in ((k.name, f"{k.name}_ci95") if k.ci else (k.name,)))

    # -- trained models -------------------------------------------------------------------
    @abstractmethod
    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        """How a model trained on this task (``essentials``: what its run or exported file
        recorded, with the trained ``env_config``; None: this task's own training options,
        ``maskable`` for MaskablePPO) acts in this task's evaluation env
        (``agents.rl.interface.ModelInterface``). A ConfigError if it cannot act there (e.g.
        other shapes, or masks a maskable algorithm needs and this instance cannot give)."""

    # -- smoke, plans ---------------------------------------------------------------------
    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        """Config overrides (dotted keys under ``env.``) that make the task tiny for smoke runs."""
        return {"env.evaluation.periods": 40, "env.evaluation.warmup": 5, "env.evaluation.reps": 2,
                "env.evaluation.validation_reps": 2}

