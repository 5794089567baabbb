"""The fulfilment-centre task: ``fulfillgym/FulfillmentCenter-v0`` and PettingZoo
``fulfillment_center_v0`` with tuned heuristics (no exact optimum: the cheapest agent is the
reference).

``configs/env/fulfillment_center.yaml`` instantiates :class:`FulfillmentCenterTask`; its keys
are the ``FulfillmentConfig`` fields plus ``training`` (:class:`FulfillmentTraining`) and
``evaluation`` (one episode per replication after a 28-period warm-up, 16 replications in
the first round).

Training never sees the test data: heuristics are tuned, RL agents trained and validated on
``Problem.training_split()`` (with a replayed CSV history and a fixed test window: random
windows of the history before it), and the test window is only used by the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents.fulfillment_center.interface import ACTION_KEYS, interface_for
from agents.fulfillment_center.rollout import problem_env, run_episodes
from agents.kpi import Kpi
from agents.task import Builder, Task
from agents.task_config import EvaluationDefaults, SharedRewardTraining, plain
from envs.replenishment.fulfillment_center.config import FulfillmentConfig, Problem
from envs.replenishment.fulfillment_center.parallel_env import REWARD_MODES

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface

HEURISTICS = ("base_stock", "s_S", "capacity_base_stock", "random")
TRAINING_ACTIONS = ("discrete", "continuous", "level")


@dataclass(frozen=True)
class FulfillmentTraining(SharedRewardTraining):
    """Training defaults of the fulfilment-centre task (``env.training.*``,
    ``agents.task_config.SharedRewardTraining``).

    ``action_type``: the learner's action (``level``: order up to a multiple of the demand
    over lead time + 1, measured best for PPO; ``discrete``; ``continuous``) with the env's
    multiples. ``reward``: per-SKU reward of parameter-sharing training (``individual``:
    the SKU's cost plus its share of the overflow; ``team``: total / N; ``normalised``:
    individual / mean demand; ``marginal``: the overflow it causes at the margin instead of
    its share; ``priced``: individual plus an adapted capacity price; ``parallel_env``).
    ``overrides``: ``FulfillmentConfig`` fields changed for the training episodes only
    (default: random episode starts)."""

    ACTIONS: ClassVar[tuple[str, ...]] = TRAINING_ACTIONS
    REWARDS: ClassVar[tuple[str, ...]] = REWARD_MODES
    CONFIG: ClassVar[type] = FulfillmentConfig

    overrides: dict = field(default_factory=lambda: {"episode_start": "random"})


class FulfillmentCenterTask(Task):
    """``fulfillgym/FulfillmentCenter-v0`` (module docstring)."""

    name = "fulfillment_center"
    env_id = "fulfillgym/FulfillmentCenter-v0"
    cost_decimals = 2
    kpis = (Kpi("fill_rate", "fill rate", "{:.1%}"),
            Kpi("fill_abc", "fill % A/B/C", "{:.0%}", parts=("fill_rate_A", "fill_rate_B", "fill_rate_C")),
            Kpi("fill_rate_A", "fill A", "{:.1%}", table=False), Kpi("fill_rate_B", "fill B", "{:.1%}", table=False),
            Kpi("fill_rate_C", "fill C", "{:.1%}", table=False),
            Kpi("stockout_rate", "stockouts", "{:.1%}"), Kpi("overflow_units", "overflow", "{:.2f}"),
            Kpi("capacity_utilisation", "cap. util.", "{:.1%}"), Kpi("days_of_cover", "cover days", "{:.2f}"),
            Kpi("holding_cost", "holding", "{:.2f}", table=False), Kpi("shortage_cost", "shortage", "{:.2f}", table=False),
            Kpi("ordering_cost", "ordering", "{:.2f}", table=False),
            Kpi("overflow_cost", "overflow cost", "{:.2f}", table=False),
            Kpi("revenue", "revenue", "{:.2f}", table=False),
            Kpi("inventory_turnover", "turnover", "{:.2f}", table=False))
    default_agents = ("base_stock", "s_S", "capacity_base_stock", "random")
    evaluation_defaults = EvaluationDefaults(periods=None, warmup=28, reps=16, validation_reps=4)
    speed_module = "agents.fulfillment_center.speed"
    training_options = FulfillmentTraining
    supports_scenarios = True
    dcl_problem_class = "agents.fulfillment_center.dcl:FulfillmentDCL"  # one per-SKU classifier
    dcl_shared = True
    timestep_units = ("periods", "SKU-periods")
    algorithms = ("ppo", "a2c", "recurrent_ppo", "dcl")
    shared_algorithms = ("ppo", "a2c", "dcl")
    action_type_key = "env.training.action_type"

    def make_config(self, env_kwargs: Mapping[str, Any]) -> FulfillmentConfig:
        config = FulfillmentConfig.from_kwargs(env_kwargs)
        self.problem = config.build()
        return config

    def env_kwargs(self) -> dict[str, Any]:
        return plain(self.config.to_dict())

    def describe(self) -> str:
        p, cfg = self.problem, self.config
        capacity = (f"capacity {p.capacity:.0f}" + (f" ({cfg.capacity_days:g} days)" if cfg.capacity is None else "")
                    if p.limited else "unlimited capacity")
        demand = cfg.demand.distribution if cfg.catalogue != "csv" else f"replayed {cfg.demand_csv}"
        return (f"FulfillmentCenter-v0: {p.n} SKUs ({cfg.catalogue}), {'backorders' if cfg.backorders else 'lost sales'}, "
                f"{capacity}, h={cfg.holding_cost:g}, p={cfg.penalty:g}, K={cfg.fixed_order_cost:g}, {demand} demand, "
                f"{cfg.episode_length}-period episodes"
                + (f", scenario {cfg.scenario.describe()}" if cfg.scenario.active else ""))

    def instance_columns(self) -> dict[str, Any]:
        return {"n_skus": self.problem.n, "capacity_days": self.config.capacity_days}

    # -- training ------------------------------------------------------------------------
    def training_problem(self) -> Problem:
        """The problem RL trains on: the training split, with the training action type and the
        training-episode overrides."""
        split = self.problem.training_split()
        t = self.training
        return Problem(split.config.replace(action_type=t.action_type, **t.overrides), split.catalogue)

    def make_env(self, training_split: bool = False, **overrides: Any):
        """``FulfillmentCenter-v0`` on this task's problem (``rollout.problem_env``: no catalogue
        built again) with the config fields ``overrides``; ``training_split``: on
        ``Problem.training_split()``, what validation plays (module docstring)."""
        return problem_env(self.problem.training_split() if training_split else self.problem, **overrides)

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

        problem = self.training_problem()
        return lambda: FulfillmentCenterEnv(problem=problem)

    def make_parallel_env(self):
        from envs.replenishment.fulfillment_center.parallel_env import FulfillmentCenterParallelEnv

        return FulfillmentCenterParallelEnv(problem=self.training_problem(), reward=self.training.reward)

    def shared_batch(self, n_copies: int, seed: int):
        from envs.replenishment.fulfillment_center.shared import FulfillmentAgentBatch

        return FulfillmentAgentBatch(self.training_problem(), n_copies=n_copies, seed=seed, reward=self.training.reward)

    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        if essentials is None:
            trained = self.training_problem().config
            essentials = {"shared": shared, "n_skus": self.problem.n, "pipeline_slots": trained.pipeline_slots,
                          "action": {k: plain(getattr(trained, k)) for k in ACTION_KEYS}}
        return interface_for(self.problem, essentials)

    # -- agents --------------------------------------------------------------------------
    def agent_builders(self) -> dict[str, Builder]:
        return {name: partial(self._heuristic, name) for name in HEURISTICS}

    def _heuristic(self, name: str, tuning_reps: int | None, smoke: bool):
        from agents.fulfillment_center.tuning import TUNE_REPS, make_fc_agent

        reps = tuning_reps or (2 if smoke else TUNE_REPS)
        return make_fc_agent(name, self.problem, **({} if name == "random" else {"reps": reps}))

    # -- evaluation ----------------------------------------------------------------------
    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        return run_episodes(self.make_env, policy, seeds, warmup, periods=periods)

    def validation_rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int):
        return run_episodes(partial(self.make_env, training_split=True), policy, seeds, warmup, periods=periods)

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        return {**super().smoke_overrides(), "env.n_skus": 5, "env.episode_length": 45,
                "env.evaluation.periods": None, "env.evaluation.warmup": 5}
