"""The multi-echelon network task: ``fulfillgym/Network-v0`` (central) and PettingZoo
``network_v0`` (one agent per node), with tuned base-stock policies and, for serial chains,
the exact optimum.

``configs/env/network.yaml`` (supplier -> DC -> 3 MFCs, 10 SKUs) instantiates
:class:`NetworkTask`; ``network_serial.yaml`` (a 3-stage Poisson chain with backorders: the
exact Clark-Scarf optimum is the reference) and ``network_orgym.yaml`` (OR-Gym's
``InvManagement-v1``, ``docs/network_orgym.md``) are configurations of it. Keys are
:class:`envs.network.config.NetworkConfig` fields plus ``training`` and ``evaluation``.

Agents: ``echelon_base_stock``, ``base_stock`` (installation), ``s_S`` (tuned by CRN
simulation, ``agents.network.tuning``), ``random``, and ``exact`` (serial chains with
backorders, deterministic lead times, stationary Poisson demand and no capacities: the
echelon base-stock levels of ``agents.network.serial_optimum``, solved per SKU). The
reference is ``exact`` where it exists; otherwise the cheapest agent (no lower bound for
divergent trees is implemented: ``docs/benchmarks/network.md`` says so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents.kpi import Kpi
from agents.network.rollout import network_env, run_episodes
from agents.task import Builder, Task
from agents.task_config import EvaluationDefaults, SharedRewardTraining, plain
from envs.network.config import REWARDS, NetworkConfig

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface

HEURISTICS = ("echelon_base_stock", "base_stock", "s_S", "random")
AGENTS = ("exact", *HEURISTICS)
TRAINING_ACTIONS = ("discrete", "level", "continuous")


@dataclass(frozen=True)
class NetworkTraining(SharedRewardTraining):
    """Training defaults (``env.training.*``, ``agents.task_config.SharedRewardTraining``): the
    learner's ``action_type`` (``level``: order up to a multiple of the node's demand over lead
    time + 1, on its installation position), the per-node ``reward`` of shared training
    (``individual`` or ``team``) and ``overrides``: NetworkConfig fields changed for training
    episodes only."""

    ACTIONS: ClassVar[tuple[str, ...]] = TRAINING_ACTIONS
    REWARDS: ClassVar[tuple[str, ...]] = REWARDS
    CONFIG: ClassVar[type] = NetworkConfig


class NetworkTask(Task):
    """``fulfillgym/Network-v0`` (module docstring)."""

    name = "network"
    env_id = "fulfillgym/Network-v0"
    cost_decimals = 2
    kpis = (Kpi("fill_rate", "fill rate", "{:.1%}"),
            Kpi("holding_cost", "holding", "{:.2f}"), Kpi("pipeline_cost", "pipeline", "{:.2f}"),
            Kpi("shortage_cost", "shortage", "{:.2f}"), Kpi("ordering_cost", "ordering", "{:.2f}", table=False),
            Kpi("purchase_cost", "purchase", "{:.2f}", table=False), Kpi("revenue", "revenue", "{:.2f}", table=False),
            Kpi("overflow_cost", "overflow cost", "{:.2f}", table=False),
            Kpi("transshipment_cost", "transship cost", "{:.2f}", table=False),
            Kpi("lost", "lost", "{:.2f}", table=False), Kpi("backlog", "backlog", "{:.2f}", table=False),
            Kpi("internal_lost", "internal lost", "{:.2f}", table=False),
            Kpi("on_hand", "on hand", "{:.1f}"), Kpi("in_transit", "in transit", "{:.1f}", table=False),
            Kpi("owed", "owed", "{:.1f}", table=False), Kpi("transshipped", "transshipped", "{:.2f}", table=False),
            Kpi("profit", "profit", "{:.2f}", table=False),
            Kpi("episode_profit", "episode profit", "{:.1f}", table=False),
            Kpi("discounted_profit", "disc. profit", "{:.1f}", table=False))
    default_agents = AGENTS
    evaluation_defaults = EvaluationDefaults(periods=None, warmup=30, reps=16, validation_reps=4, max_reps=256)
    speed_module = "agents.network.speed"
    training_options = NetworkTraining
    supports_scenarios = True
    timestep_units = ("periods", "node-periods")
    algorithms = shared_algorithms = ("ppo", "a2c", "recurrent_ppo")
    algorithms_note = "multi-discrete or box actions, one per node and SKU"
    action_type_key = "env.training.action_type"

    def make_config(self, env_kwargs: Mapping[str, Any]) -> NetworkConfig:
        from envs.network.env import network_config

        config = network_config(None, env_kwargs)
        self.network = config.build()
        self.__dict__.pop("exact", None)  # a copy under another scenario solves again
        return config

    def env_kwargs(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = {f.name: getattr(self.config, f.name) for f in fields(NetworkConfig)}
        out["nodes"] = [asdict(n) for n in self.config.nodes]
        out["demand"] = asdict(self.config.demand)
        out["transshipment"] = asdict(self.config.transshipment)
        out["scenario"] = None if not self.config.scenario.active else asdict(self.config.scenario)
        return plain(out)

    def describe(self) -> str:
        net, cfg = self.network, self.config
        shape = "serial chain" if net.is_serial() else f"tree ({len(net.leaves)} leaves)"
        names = " -> ".join(net.names) if net.is_serial() else ", ".join(net.names)
        return (f"Network-v0: {net.m}-node {shape} ({names}), {net.n} SKUs ({cfg.catalogue}), "
                f"{'backorders' if cfg.backorders else 'lost sales'}, internal {cfg.internal}, "
                f"{cfg.allocation} allocation, {cfg.episode_length}-period episodes")

    def instance_columns(self) -> dict[str, Any]:
        return {"nodes": self.network.m, "n_skus": self.network.n}

    # -- training ----------------------------------------------------------------------
    def training_config(self) -> NetworkConfig:
        return replace(self.config, action_type=self.training.action_type,
                       reward=self.training.reward, **self.training.overrides)

    def make_env(self, **overrides: Any):
        """``Network-v0`` on this task's network (``rollout.network_env``: no network built
        again) with the config fields ``overrides``."""
        return network_env(self.network, **overrides)

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        from envs.network.env import NetworkEnv

        network = replace(self.network, config=self.training_config())
        return lambda: NetworkEnv(network=network)

    def make_parallel_env(self):
        from envs.network.parallel_env import NetworkParallelEnv

        return NetworkParallelEnv(network=replace(self.network, config=self.training_config()))

    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        from agents.network.interface import interface_for

        if essentials is None:
            essentials = {"shared": shared, "nodes": list(self.network.names), "n_skus": self.network.n,
                          "pipeline_slots": self.config.pipeline_slots, "action_type": self.training.action_type}
        return interface_for(self.network, essentials)

    # -- agents ------------------------------------------------------------------------
    def agent_builders(self) -> dict[str, Builder]:
        own = {"exact": self._exact, "random": self._random}
        return {name: own.get(name) or partial(self._tuned, name) for name in AGENTS}

    @cached_property
    def exact(self):
        """The exact optimum per SKU (``agents.network.exact``), or the reason there is none."""
        from agents.network.exact import serial_exact

        return serial_exact(self.network)

    def unavailable(self, name: str) -> str | None:
        if name == "exact" and isinstance(self.exact, str):
            return self.exact
        return None

    def reference_name(self) -> str | None:
        return None if isinstance(self.exact, str) else "exact"

    def reference_cost(self) -> float | None:
        return None if isinstance(self.exact, str) else float(self.exact.cost)

    def _exact(self, tuning_reps: int | None, smoke: bool):
        from agents.network.heuristics import EchelonBaseStock

        policy = EchelonBaseStock(self.network, self.exact.levels)
        policy.exact_cost = float(self.exact.cost)
        return policy

    def _random(self, tuning_reps: int | None, smoke: bool):
        from agents.network.heuristics import RandomOrders

        return RandomOrders(self.network)

    def _tuned(self, name: str, tuning_reps: int | None, smoke: bool):
        from agents.network.tuning import TUNE_REPS, tune_network

        e = self.evaluation
        reps = tuning_reps or (2 if smoke else TUNE_REPS)
        return tune_network(name, self.network, reps=reps, periods=e.periods, warmup=e.warmup)

    # -- evaluation --------------------------------------------------------------------
    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        return run_episodes(self.make_env, policy, seeds, warmup, periods=periods)

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        return {**super().smoke_overrides(), "env.n_skus": 2, "env.episode_length": 45,
                "env.evaluation.periods": None, "env.evaluation.warmup": 5}
