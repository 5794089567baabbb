"""Test-wide setup: the toy task of ``docs/adding_a_task.md`` is registered (in this process,
and through ``FULFILLGYM_TASKS`` for the entry points the tests start as subprocesses), so
every registry-parametrised test covers it like the real operations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.registry import ENV_VAR, TASKS, register

ROOT = Path(__file__).resolve().parents[1]
TOY = ("newsvendor", "tests.toy.task:NewsvendorTask")
TOY_CONFIGS = ROOT / "tests" / "toy" / "configs"

register(*TOY)
os.environ[ENV_VAR] = ",".join(filter(None, [os.environ.get(ENV_VAR, ""), "=".join(TOY)]))


def task_overrides(name: str) -> list[str]:
    """Command-line overrides that select task ``name`` (the toy's config is not in configs/)."""
    extra = [f"hydra.searchpath=[file://{TOY_CONFIGS}]"] if name == TOY[0] else []
    return [f"env={name}", *extra]


ALL_TASKS = sorted(TASKS)


def one_line_error(error_type, call, *args, **kwargs) -> str:
    """The message of the ``error_type`` that ``call(*args, **kwargs)`` raises; it must be one line."""
    with pytest.raises(error_type) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message, message
    return message
