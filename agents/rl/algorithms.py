"""The stable-baselines3 (and sb3-contrib) algorithms a training run can use.

``ALGORITHMS`` lists every supported algorithm with the action spaces it accepts, so a
mismatch (``dqn`` on a continuous-action env) fails before any training with one line.
``dcl`` (Deep Controlled Learning, ``agents.rl.dcl``) is this project's own SB3 algorithm; it
learns by rollouts on the task's batched simulator (``agents.parts.dcl_problem``).
:func:`check_algorithm` refuses, in one line, an algorithm a task does not train (the task's
``algorithms`` / ``shared_algorithms`` allow-lists and ``action_type_key``, as data).
:func:`agent_settings` checks ``agent.kwargs`` against ``KWARG_RANGES`` (the ranges SB3 itself
would accept silently, e.g. ``gamma=2``) and the layer sizes of ``agent.policy_kwargs.net_arch``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from envs.core.config import ConfigError, check_float, check_int


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


@dataclass(frozen=True)
class Range:
    """Accepted values of one keyword argument: a number (an integer if ``integer``) in
    ``[low, high]``, or ``(low, high]`` if ``open_low``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    integer: bool = False

    def check(self, field: str, value: Any) -> None:
        if self.integer:
            check_int(field, value, self.low, self.high)
        else:
            check_float(field, value, self.low, self.high, strict_low=self.open_low)


POSITIVE, NON_NEGATIVE, FRACTION = Range(0.0, open_low=True), Range(0.0), Range(0.0, 1.0)
COUNT, COUNT_FROM_0 = Range(1, integer=True), Range(0, integer=True)
# agent.kwargs that SB3 (or DCL) would take without complaint however absurd (a key an algorithm
# does not have is refused by the algorithm itself)
KWARG_RANGES = {
    "gamma": Range(0.0, 1.0, open_low=True), "learning_rate": POSITIVE, "gae_lambda": FRACTION,
    "ent_coef": NON_NEGATIVE, "vf_coef": NON_NEGATIVE, "max_grad_norm": POSITIVE, "clip_range": POSITIVE,
    "tau": Range(0.0, 1.0, open_low=True), "n_steps": COUNT, "batch_size": COUNT, "n_epochs": COUNT,
    "buffer_size": COUNT, "learning_starts": COUNT_FROM_0, "target_update_interval": COUNT,
    "exploration_fraction": FRACTION, "exploration_initial_eps": FRACTION, "exploration_final_eps": FRACTION,
    "policy_delay": COUNT, "target_policy_noise": NON_NEGATIVE, "target_noise_clip": NON_NEGATIVE,
}
WORDS = {"ent_coef": "auto"}  # SAC's learned entropy coefficient: auto or auto_<initial value>
MAX_LAYER = 65536  # largest layer of policy_kwargs.net_arch
NET_ARCH_KEYS = ("pi", "vf", "qf")


def agent_settings(agent: Any) -> tuple[dict, dict]:
    """The ``agent`` section's ``kwargs`` and ``policy_kwargs`` as dicts, checked: each kwarg of
    ``KWARG_RANGES`` in its range, ``net_arch`` a list of layer sizes (integers in [1, 65536]) or a
    mapping of pi / vf / qf to such lists. Anything else is left to the algorithm."""
    from omegaconf import DictConfig, OmegaConf

    def plain(key: str) -> dict:
        value = agent.get(key)
        value = OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value or {}
        if not isinstance(value, dict):
            raise ConfigError(f"agent.{key}: expected a mapping of the algorithm's keyword arguments, got {value!r}")
        return value

    kwargs, policy_kwargs = plain("kwargs"), plain("policy_kwargs")
    for key, accepted in KWARG_RANGES.items():
        value = kwargs.get(key)
        if value is not None and not (isinstance(value, str) and key in WORDS and value.startswith(WORDS[key])):
            accepted.check(f"agent.kwargs.{key}", value)
    if "net_arch" in policy_kwargs:
        check_net_arch(policy_kwargs["net_arch"])
    return kwargs, policy_kwargs


def check_net_arch(arch: Any) -> None:
    """``net_arch``: layer sizes (integers in [1, MAX_LAYER]), one list or one per pi / vf / qf."""
    field = "agent.policy_kwargs.net_arch"
    named = isinstance(arch, dict) and arch and set(arch) <= set(NET_ARCH_KEYS)
    for key, sizes in arch.items() if named else [("", arch)]:
        if not isinstance(sizes, list):
            raise ConfigError(f"{field}: expected a list of layer sizes or a mapping of {', '.join(NET_ARCH_KEYS)} "
                              f"to such lists, got {arch!r}")
        for size in sizes:
            check_int(f"{field}{'.' + key if key else ''}", size, 1, MAX_LAYER)


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
