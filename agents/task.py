"""Tasks: what the generic entry points (train, benchmark, export, speed) know of an operation.

A :class:`Task` is one operation (lost sales, the fulfilment centre, ...) with one env
config. It is the only thing ``experiments/`` talks to; ``configs/env/<task>.yaml``
instantiates it through ``_target_`` (Hydra), with the env's keyword arguments as keys plus
two typed blocks: ``training`` (the task's training defaults: action parameterisation,
training episodes, ...) and ``evaluation`` (its evaluation horizon and replications). A
task gives the entry points:

* env factories: :meth:`Task.make_env` (the evaluation env), :meth:`Task.training_env_fn`
  (single-agent training envs), :meth:`Task.training_batch` (the same envs stepped together by a
  batched simulator, if the task has one), :meth:`Task.make_parallel_env` (PettingZoo, if any)
  and :meth:`Task.shared_batch` (one sub-env per agent, for parameter-sharing training);
* its agents by name (:meth:`Task.make_agent`: tuned heuristics, exact solvers) and its
  reference (:meth:`Task.reference_name`: e.g. the exact optimum; None = the cheapest agent);
* its KPI columns (:attr:`Task.kpis`) and a common-random-numbers rollout
  (:meth:`Task.rollout`) returning per-replication KPIs, which ``agents.harness`` turns into
  the one result schema;
* how a trained SB3 model becomes a policy of its evaluation env (:meth:`Task.model_interface`,
  used by ``agents.rl.adapter.SB3Policy`` and by exported policies);
* its speed cases (:meth:`Task.speed_cases`, from its ``speed_module``) and a smoke-sized
  variant (:meth:`Task.smoke_overrides`).

The registry :data:`TASKS` maps each task name (its config group name) to its class, by
import path so that importing the registry imports no task. Adding an operation adds one
line here. A run directory's config is only ever instantiated through the registry, so a
crafted ``_target_`` in a run's ``config.yaml`` cannot run code.
"""

from __future__ import annotations

import copy
import importlib
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from envs.core.config import ConfigError, check_int, check_keys

TASKS: dict[str, str] = {
    "lost_sales": "agents.lost_sales.task:LostSalesTask",
    "fulfillment_center": "agents.fulfillment_center.task:FulfillmentCenterTask",
    "dispatch": "agents.dispatch.task:DispatchTask",
    "dispatch_euro_neurips": "agents.dispatch.task:EuroNeuripsTask",
    "slotting": "agents.slotting.task:SlottingTask",
    "network": "agents.network.task:NetworkTask",
}
"""Task name -> ``module:Class``. One registration line per operation."""
ENV_VAR = "FULFILLGYM_TASKS"
"""More tasks from the environment: ``name=module:Class[,name=module:Class...]`` (an operation
developed outside this repository, or the toy task of the tests)."""


def register(name: str, target: str) -> None:
    """Register a task class (``module:Class``) under ``name``."""
    if ":" not in target:
        raise ConfigError(f"{ENV_VAR}: expected name=module:Class, got {name}={target}")
    TASKS[name] = target


for _item in filter(None, os.environ.get(ENV_VAR, "").split(",")):
    _name, _, _target = _item.partition("=")
    if ":" in _target and _name.strip():
        register(_name.strip(), _target.strip())
    else:  # importing the registry must not fail; the task is simply not registered
        warnings.warn(f"{ENV_VAR}: ignoring {_item!r}; expected name=module:Class", stacklevel=1)


def task_class(name: str) -> type[Task]:
    if name not in TASKS:
        raise ConfigError(f"env: unknown task {name!r}; registered tasks are {', '.join(sorted(TASKS))}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def target_of(name: str) -> str:
    """The ``_target_`` string of a registered task (``module.Class``)."""
    return TASKS[name].replace(":", ".")


def name_of_target(target: Any) -> str:
    """The registered task whose ``_target_`` is ``target``, or a ConfigError."""
    for name, path in TASKS.items():
        if target == path.replace(":", "."):
            return name
    raise ConfigError(f"env._target_: {target!r} is not a registered task; registered: "
                      f"{', '.join(target_of(n) for n in sorted(TASKS))}")


def build_task(env_cfg: Mapping[str, Any]) -> Task:
    """The task of an env config mapping (``_target_`` plus keyword arguments), instantiated
    through the registry only (no other ``_target_`` is honoured, nested ones neither)."""
    if not isinstance(env_cfg, Mapping):
        raise ConfigError(f"env: expected a mapping with a _target_ key, got {type(env_cfg).__name__}")
    kwargs = {k: v for k, v in env_cfg.items() if k != "_target_"}
    _refuse_nested_targets("env", kwargs)
    return task_class(name_of_target(env_cfg.get("_target_")))(**kwargs)


def _refuse_nested_targets(path: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "_target_":
                raise ConfigError(f"{path}._target_: nested _target_ keys are not accepted in a task config")
            _refuse_nested_targets(f"{path}.{key}", item)


def scenario_tasks() -> list[str]:
    """The registered tasks whose env config accepts a stress scenario (``env.scenario``)."""
    out = []
    for name in sorted(TASKS):
        try:
            if task_class(name).supports_scenarios:
                out.append(name)
        except Exception:  # noqa: BLE001  (a task that cannot be imported here accepts nothing)
            continue
    return out


@dataclass(frozen=True)
class Kpi:
    """A KPI column of a task's results: name (the rollout's key), table header, format.
    ``table``: shown in the printed table (``results.csv`` always has every KPI). ``parts``:
    a display-only column showing several KPIs side by side (e.g. fill rate by class).
    ``ci``: ``results.csv`` also has ``<name>_ci95``, the KPI's 95% CI over replications,
    and the table shows ``mean ± CI``."""

    name: str
    header: str
    fmt: str = "{:.4f}"
    table: bool = True
    parts: tuple[str, ...] = ()
    ci: bool = False

    def show(self, value: float) -> str:
        return "-" if value is None or value != value else self.fmt.format(value)

    def cell(self, row) -> str:
        if self.ci:
            return f"{self.show(getattr(row, self.name, float('nan')))} ± {self.show(getattr(row, self.name + '_ci95', float('nan')))}"
        if not self.parts:
            return self.show(getattr(row, self.name, float("nan")))
        return " / ".join(self.show(getattr(row, p, float("nan"))) for p in self.parts)


@dataclass(frozen=True)
class EvaluationDefaults:
    """A task's evaluation horizon and replications (the ``evaluation`` block of its config).

    ``periods``: measured periods per replication (None: the task's natural horizon);
    ``warmup``: periods simulated first and not measured; ``reps``: replications of the first
    round of the benchmark (doubled until the CI target is met); ``validation_reps``:
    replications of each periodic validation during training; ``max_reps``: a cap on the
    replications of any evaluation of this task (the entry points' ``eval.max_reps`` applies
    below it; None: no cap), for tasks whose replications are expensive."""

    periods: int | None = 1000
    warmup: int = 100
    reps: int = 64
    validation_reps: int = 64
    max_reps: int | None = None

    def __post_init__(self) -> None:
        e = "env.evaluation"
        if self.periods is not None:
            object.__setattr__(self, "periods", check_int(f"{e}.periods", self.periods, 1, 10_000_000))
        object.__setattr__(self, "warmup", check_int(f"{e}.warmup", self.warmup, 0, 10_000_000))
        object.__setattr__(self, "reps", check_int(f"{e}.reps", self.reps, 1, 1_000_000))
        object.__setattr__(self, "validation_reps", check_int(f"{e}.validation_reps", self.validation_reps, 1, 1_000_000))
        if self.max_reps is not None:
            object.__setattr__(self, "max_reps", check_int(f"{e}.max_reps", self.max_reps, 1, 1_000_000))


def typed(cls, section: str, value: Mapping[str, Any] | None):
    """A frozen dataclass ``cls`` from a config mapping, unknown keys refused in one line."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{section}: expected a mapping of {', '.join(f.name for f in fields(cls))}, got {value!r}")
    check_keys(section, value, [f.name for f in fields(cls) if f.init])
    return cls(**dict(value))


@dataclass(frozen=True)
class SpeedCase:
    """One speed measurement: ``run(seconds)`` returns a figure in ``unit`` measured for about
    ``seconds`` of wall time: a rate (``per_step``: also shown as time per unit; ``ratio``:
    also as a ratio to CartPole-v1's raw step rate measured in the same process) or, with
    ``ratio=False``, a value such as memory (``higher_is_better`` says which way is good)."""

    label: str
    unit: str
    run: Callable[[float], float]
    per_step: bool = True
    ratio: bool = True
    higher_is_better: bool = True


def timed(seconds: float, one: Callable[[int], int]) -> float:
    """Units per second of ``one(k)`` (it returns the units it did) called with k = units
    done so far, until ``seconds`` of wall time have passed: the loop of a speed case."""
    import time

    done, start = 0, time.perf_counter()
    while True:
        done += one(done)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def plain(value):
    """JSON-ready copy of a config value: tuples as lists, NumPy values as Python."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


class Task(ABC):
    """One operation with one env config (module docstring). Subclasses set the class
    attributes and implement the abstract methods; the rest has defaults."""

    name: ClassVar[str]
    env_id: ClassVar[str]
    kpis: ClassVar[tuple[Kpi, ...]] = ()
    cost_decimals: ClassVar[int] = 4
    cost_unit: ClassVar[str] = "period"  # what one "cost" of the rollout is per (e.g. "day")
    default_agents: ClassVar[tuple[str, ...]] = ()
    evaluation_defaults: ClassVar[EvaluationDefaults] = EvaluationDefaults()
    training_options: ClassVar[type] = type(None)
    speed_module: ClassVar[str | None] = None  # e.g. "agents.lost_sales.speed"
    # agent=dcl: the task's problem dataclass ("module:Class", built with the task and the
    # agent.problem options; None: no DCL) and whether it trains a shared per-agent policy
    dcl_problem_class: ClassVar[str | None] = None
    dcl_shared: ClassVar[bool] = False
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

    # -- the env config -------------------------------------------------------------------
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
        """The Gymnasium evaluation env (``gymnasium.make(env_id, **env_kwargs)``)."""
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
        by tuning); returned as ``{option: value}`` and applied to this task. Default: none."""
        return {}

    def timestep_unit(self, shared: bool) -> str:
        return "agent-periods" if shared else "periods"

    # -- agents ---------------------------------------------------------------------------
    @abstractmethod
    def agent_names(self) -> tuple[str, ...]:
        """Every agent :meth:`make_agent` can build."""

    @abstractmethod
    def make_agent(self, name: str, tuning_reps: int | None = None, smoke: bool = False):
        """A ready policy: tuned (heuristics; ``tuning_reps`` replications, or the task's
        default), solved (exact optima) or as is. ``smoke``: a tiny tuning budget."""

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
                        maskable: bool = False):
        """How a model trained on this task (``essentials``: what its run or exported file
        recorded, with the trained ``env_config``; None: this task's own training options,
        ``maskable`` for MaskablePPO) acts in this task's evaluation env: an object with
        ``model_obs``, ``env_action``, ``action_masks``, ``env_overrides``, ``essentials()``,
        ``params()``, ``extra_outputs``, ``export_outputs``, ``graph_masks`` and
        ``near_boundary`` (see ``agents.rl.adapter``). A ConfigError if it cannot act there
        (e.g. other shapes)."""

    def check_algorithm(self, algorithm, shared: bool) -> None:
        """A ConfigError if ``algorithm`` (``agents.rl.algorithms.Algorithm``) cannot train here."""
        if shared and self.shared_batch(1, 0) is None:
            raise ConfigError(f"shared: env={self.name} has no multi-agent (PettingZoo) face; set shared=false")
        if getattr(algorithm, "needs_problem", False):
            if self.dcl_problem_class is None:
                raise ConfigError(f"agent={algorithm.name}: env={self.name} has no DCL problem (Task.dcl_problem); "
                                  "DCL is available for env=lost_sales and env=fulfillment_center")
            if shared != self.dcl_shared:
                kind = "one per-SKU policy shared by every SKU" if self.dcl_shared else "one central policy"
                raise ConfigError(f"agent={algorithm.name} on env={self.name} trains {kind}: "
                                  f"set shared={str(self.dcl_shared).lower()}")

    def dcl_problem(self, **options: Any):
        """What Deep Controlled Learning (``agents.rl.dcl``) needs of this task: state sampling,
        CRN rollouts of every candidate action on the batched simulator and a start policy
        (``agents.rl.dcl.Problem``): ``dcl_problem_class`` built with the task and ``options``
        (from ``agent.problem``); an unknown option is a one-line error listing the accepted ones."""
        if self.dcl_problem_class is None:
            raise ConfigError(f"agent=dcl: env={self.name} has no DCL problem")
        module, _, name = self.dcl_problem_class.partition(":")
        cls = getattr(importlib.import_module(module), name)  # lazily: it imports torch
        try:
            return cls(self, **options)
        except TypeError as err:
            accepted = ", ".join(f.name for f in fields(cls) if f.name != "task")
            raise ConfigError(f"agent.problem: {err}; accepted keys: {accepted}") from None

    # -- speed, smoke, extras -------------------------------------------------------------
    def _speed(self):
        """The task's speed module (``speed_module``: ``speed_cases()``, ``speed_notes(rates,
        reference)`` and a docstring saying what they measure), imported on first use."""
        return importlib.import_module(self.speed_module) if self.speed_module else None

    def speed_cases(self) -> list[SpeedCase]:
        speed = self._speed()
        return speed.speed_cases() if speed else []

    def speed_description(self) -> str:
        """What the speed cases measure and how (a paragraph for the speed page)."""
        speed = self._speed()
        return (speed.__doc__ or "") if speed else ""

    def speed_notes(self, rates: dict[str, float], reference: float) -> list[str]:
        """Lines stating the task's speed goals against measured ``rates`` (label -> rate)."""
        speed = self._speed()
        return speed.speed_notes(rates, reference) if speed else []

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        """Config overrides (dotted keys under ``env.``) that make the task tiny for smoke runs."""
        return {"env.evaluation.periods": 40, "env.evaluation.warmup": 5, "env.evaluation.reps": 2,
                "env.evaluation.validation_reps": 2}

    def plots(self, out, agents: Mapping[str, Any], trained: str | None) -> list[str]:
        """Task-specific PNGs of a run (e.g. a policy map); returns the file names written."""
        return []

    def suites(self) -> dict[str, Callable]:
        """Named benchmark suites: name -> ``run(task_cfg, out, console) -> pandas.DataFrame``."""
        return {}
