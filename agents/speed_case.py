"""Speed cases: what ``python -m experiments.speed`` measures for a task.

A task names its speed module (``Task.speed_module``): ``speed_cases()`` lists its
:class:`SpeedCase` objects, the module docstring says what they measure, and an optional
``speed_notes(rates, reference)`` states the task's speed goals against measured rates.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


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


def speed_module(task: Any) -> ModuleType | None:
    """The task's speed module (``Task.speed_module``), imported on first use; None: none."""
    return importlib.import_module(task.speed_module) if task.speed_module else None


def speed_cases(task: Any) -> list[SpeedCase]:
    module = speed_module(task)
    return module.speed_cases() if module else []


def speed_description(task: Any) -> str:
    """What the speed cases measure and how (a paragraph for the speed page)."""
    module = speed_module(task)
    return (module.__doc__ or "") if module else ""


def speed_notes(task: Any, rates: dict[str, float], reference: float) -> list[str]:
    """Lines stating the task's speed goals against measured ``rates`` (label -> rate)."""
    notes = getattr(speed_module(task), "speed_notes", None)
    return notes(rates, reference) if notes else []
