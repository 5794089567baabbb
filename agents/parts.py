"""The optional parts a task declares by import path (``Task.dcl_problem_class``,
``Task.plots``, ``Task.suites``), built here when an entry point needs them, so that
declaring a part imports nothing (DCL imports torch)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from envs.core.config import ConfigError


def load(target: str) -> Any:
    """The object ``module:name`` names."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def dcl_problem(task: Any, **options: Any):
    """What Deep Controlled Learning (``agents.rl.dcl``) needs of ``task``: state sampling,
    CRN rollouts of every candidate action on the batched simulator and a start policy
    (``agents.rl.dcl.Problem``): the task's ``dcl_problem_class`` built with the task and
    ``options`` (from ``agent.problem``); an unknown option is a one-line error listing the
    accepted ones."""
    if task.dcl_problem_class is None:
        raise ConfigError(f"agent=dcl: env={task.name} has no DCL problem")
    cls = load(task.dcl_problem_class)
    try:
        return cls(task, **options)
    except TypeError as err:
        accepted = ", ".join(f.name for f in fields(cls) if f.name != "task")
        raise ConfigError(f"agent.problem: {err}; accepted keys: {accepted}") from None


def task_plots(task: Any, out, agents: Mapping[str, Any], trained: str | None) -> list[str]:
    """The task's own PNGs of a run (``Task.plots``, e.g. a policy map); the file names written."""
    return load(task.plots)(task, out, agents, trained) if task.plots else []


def suite(task: Any, name: str):
    """Benchmark suite ``name`` of the task (``Task.suites``):
    ``run(task, out, console, suite_dir, command)``; a ConfigError naming the suites it has."""
    if name not in task.suites:
        have = f"suites {', '.join(task.suites)}" if task.suites else "no suites"
        raise ConfigError(f"suite: env={task.name} has {have}, got {name!r}")
    return load(task.suites[name])
