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


# -- pytest-xdist (``make test``: -n auto --dist loadscope --no-loadscope-reorder) -------------
# A worker runs a whole module (its module-scoped fixtures, often trainings started as
# subprocesses, then run once), except the modules of BY_TASK, whose tests are grouped by their
# first parameter, a task name (one task's pipelines run once, different tasks on different
# workers). Workers take the next group in collection order, so the modules that take longest
# come first and the two workers finish together.
BY_TASK = ("tests/test_tasks.py",)
LONGEST_FIRST = (  # worker-seconds in a clean-clone `make test`, 2026-12-08 (see README)
    "tests/fulfillment_center/test_heuristics.py",  # 73
    "tests/test_tasks.py",  # 298 in seven task groups of 35-63
    "tests/pipeline/test_train_tracking.py",  # 49
    "tests/pipeline/test_run_dirs.py",  # 48
    "tests/pipeline/test_launchers.py",  # 44
    "tests/pipeline/test_train_algorithms.py",  # 34
    "tests/lost_sales/test_benchmark.py",  # 34
    "tests/fulfillment_center/test_training.py",  # 31
    "tests/pipeline/test_train_interrupt.py",  # 29
    "tests/pipeline/test_cli.py",  # 27
    "tests/fulfillment_center/test_dcl.py",  # 27
    "tests/slotting/test_heuristics.py",  # 24
    "tests/dispatch/test_env_properties.py",  # 19
    "tests/test_configs.py",  # 18
)


def xdist_group(nodeid: str) -> str:
    """The group of a test: its module, or for BY_TASK its module and task (``[task-...]``)."""
    module, _, rest = nodeid.partition("::")
    if module in BY_TASK and "[" in rest:
        return f"{module}::{rest.split('[', 1)[1].split('-', 1)[0].rstrip(']')}"
    return module


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


class GroupScheduling:
    """The xdist hook (registered only when pytest-xdist is loaded: ``-p no:xdist`` works)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config, log):
        """With ``--dist loadscope``, the groups of :func:`xdist_group` (pytest-xdist 3.8 cannot
        read ``xdist_group`` marks under pytest 9, whose node ids it can no longer extend)."""
        if config.getvalue("dist") != "loadscope":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class ByGroup(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return xdist_group(nodeid)

        return ByGroup(config, log)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(GroupScheduling(), "fulfillgym-xdist-groups")
