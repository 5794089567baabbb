"""The typed blocks of a task's config: evaluation defaults (``env.evaluation``), the training
options of tasks with a shared per-agent reward (``env.training``), and the helpers that turn
config mappings into frozen dataclasses and back into plain JSON values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from envs.core.config import check_choice, check_int, check_keys


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


@dataclass(frozen=True)
class SharedRewardTraining:
    """Training options (``env.training.*``) of a task whose agents (SKUs, nodes) can share one
    policy: the learner's ``action_type`` (``level``: order up to a multiple of the demand over
    lead time + 1; ``discrete``; ``continuous``), the per-agent ``reward`` of parameter-sharing
    training, and ``overrides``: env config fields changed for the training episodes only
    (evaluation uses the env as configured, on disjoint seeds). A task subclasses it to name
    its accepted values (``ACTIONS``, ``REWARDS``), its env config class (``CONFIG``, whose
    fields ``overrides`` may set) and, if it differs, the default ``overrides``."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("discrete", "continuous", "level")
    REWARDS: ClassVar[tuple[str, ...]] = ("individual", "team")
    CONFIG: ClassVar[type]

    action_type: str = "level"
    reward: str = "individual"
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = "env.training"
        check_choice(f"{t}.action_type", self.action_type, self.ACTIONS)
        check_choice(f"{t}.reward", self.reward, self.REWARDS)
        overrides = dict(self.overrides or {})
        check_keys(f"{t}.overrides", overrides, [f.name for f in fields(self.CONFIG)])
        object.__setattr__(self, "overrides", overrides)


def plain(value):
    """JSON-ready copy of a config value: tuples as lists, NumPy values as Python."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value
