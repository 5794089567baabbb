"""The stable-baselines3 (and sb3-contrib) algorithms a training run can use.

``ALGORITHMS`` lists every supported algorithm with the action spaces it accepts, so a
mismatch (``dqn`` on a continuous-action env) fails before any training with one line.
``dcl`` (Deep Controlled Learning, ``agents.rl.dcl``) is this project's own SB3 algorithm; it
learns by rollouts on the task's batched simulator (``agents.parts.dcl_problem``).
:func:`check_algorithm` refuses, in one line, an algorithm a task does not train (the task's
``algorithms`` / ``shared_algorithms`` allow-lists and ``action_type_key``, as data).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from envs.core.config import ConfigError


@dataclass(frozen=True)
class Algorithm:
    name: str
    module: str
    cls: str
    action_types: tuple[str, ...]
    off_policy: bool = False
    recurrent: bool = False
    maskable: bool = False
    # Learns from the task's own simulator (``agents.parts.dcl_problem``), not by stepping the VecEnv.
    needs_problem: bool = False

    def load_class(self):
        return getattr(importlib.import_module(self.module), self.cls)


ALGORITHMS = {a.name: a for a in (
    Algorithm("ppo", "stable_baselines3", "PPO", ("discrete", "continuous")),
    Algorithm("a2c", "stable_baselines3", "A2C", ("discrete", "continuous")),
    Algorithm("dqn", "stable_baselines3", "DQN", ("discrete",), off_policy=True),
    Algorithm("sac", "stable_baselines3", "SAC", ("continuous",), off_policy=True),
    Algorithm("td3", "stable_baselines3", "TD3", ("continuous",), off_policy=True),
    Algorithm("maskable_ppo", "sb3_contrib", "MaskablePPO", ("discrete",), maskable=True),
    Algorithm("recurrent_ppo", "sb3_contrib", "RecurrentPPO", ("discrete", "continuous"), recurrent=True),
    Algorithm("dcl", "agents.rl.dcl", "DCL", ("discrete",), needs_problem=True),
)}


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise ConfigError(f"agent.name: unknown algorithm {name!r}; accepted: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def check_algorithm(task: Any, algo: Algorithm, shared: bool) -> None:
    """A ConfigError (one line) if ``algo`` cannot train on ``task`` (``agents.task.Task``):
    no multi-agent face for ``shared``, no DCL problem (or the other kind of DCL policy), not
    on the task's allow-list, actions of the wrong type, or masks the model interface cannot give."""
    if shared and task.shared_batch(1, 0) is None:
        raise ConfigError(f"shared: env={task.name} has no multi-agent (PettingZoo) face; set shared=false")
    if algo.needs_problem:
        if task.dcl_problem_class is None:
            raise ConfigError(f"agent={algo.name}: env={task.name} has no DCL problem (Task.dcl_problem_class); "
                              "DCL is available for env=lost_sales and env=fulfillment_center")
        if shared != task.dcl_shared:
            kind = "one per-SKU policy shared by every SKU" if task.dcl_shared else "one central policy"
            raise ConfigError(f"agent={algo.name} on env={task.name} trains {kind}: "
                              f"set shared={str(task.dcl_shared).lower()}")
    allowed = task.shared_algorithms if shared else task.algorithms
    if allowed is not None and algo.name not in allowed:
        note = f" ({task.algorithms_note})" if task.algorithms_note else ""
        raise ConfigError(f"agent={algo.name}: env={task.name}{' with shared=true' if shared else ''} trains with "
                          f"{', '.join(allowed)}{note}")
    key = task.action_type_key
    value = _setting(task, key) if key else None
    if key and ("continuous" if value == "continuous" else "discrete") not in algo.action_types:
        either = [n for n in (allowed or ALGORITHMS) if len(ALGORITHMS[n].action_types) == 2]
        hint = f" (use agent={', '.join(either[:-1])} or {either[-1]} for either)" if len(either) > 1 else ""
        raise ConfigError(f"agent={algo.name} needs {key}={' or '.join(algo.action_types)}, but {key}={value}{hint}")
    if algo.maskable:
        task.model_interface(shared, maskable=True)  # a ConfigError if this instance cannot give the masks


def _setting(task: Any, key: str) -> Any:
    """The value of a dotted config key of ``task``: ``env.training.<field>`` or ``env.<field>``."""
    section, _, name = key.removeprefix("env.").rpartition(".")
    return getattr(task.training if section == "training" else task.config, name)
