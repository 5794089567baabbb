"""The task registry: task name (its config group name) -> task class, by import path.

:data:`TASKS` maps each name to ``module:Class`` so that importing the registry imports no
task. Adding an operation adds one line here. A run directory's config is only ever
instantiated through the registry (:func:`build_task`), so a crafted ``_target_`` in a run's
``config.yaml`` cannot run code.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Mapping
from typing import Any

from envs.core.config import ConfigError

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


def task_class(name: str) -> type:
    """The ``agents.task.Task`` subclass registered under ``name``, or a one-line ConfigError."""
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


def build_task(env_cfg: Mapping[str, Any]) -> Any:
    """The task (``agents.task.Task``) of an env config mapping (``_target_`` plus keyword arguments), instantiated
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
