"""The lost-sales task: ``fulfillgym/LostSales-v0`` with its tuned heuristics and exact optimum.

``configs/env/lost_sales.yaml`` instantiates :class:`LostSalesTask`; its keys are the
``LostSalesConfig`` fields plus ``training`` (:class:`LostSalesTraining`) and
``evaluation`` (``agents.task_config.EvaluationDefaults``: 1000 measured periods after a 100-period
warm-up, 64 replications in the first round).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.base import PolicyKind
from agents.kpi import Kpi
from agents.lost_sales.interface import check_shapes, interface_for
from agents.lost_sales.rollout import Replications, kpis, rollout
from agents.runner import check_kind
from agents.task import Builder, Task
from agents.task_config import EvaluationDefaults, plain
from envs.core.config import ConfigError, check_choice, check_int
from envs.replenishment.lost_sales.config import INITIAL_STATES, LostSalesConfig
from envs.replenishment.lost_sales.wrappers import PARAMETERISATIONS, level_max_default

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface

# Above this many post-decision states the exact DP is skipped (memory and time on a
# 2-core, 24 GiB machine). Measured: L = 4, p = 39, Poisson(5) has 0.66 million (1.8 s,
# 320 MB); L = 5, p = 4 has 4.5 million (about 35 s, 1.8 GB).
MAX_DP_STATES = 6_000_000
# The myopic policy convolves the demand pmf L times for every new state it meets; above
# this many demand values (support of one period's demand) it is skipped with a note.
MAX_MYOPIC_SUPPORT = 2_000


@dataclass(frozen=True)
class LostSalesTraining:
    """Training defaults of the lost-sales task (``env.training.*``).

    ``parameterisation``: how the agent's action becomes an order: ``order_up_to`` (the
    agent picks the target inventory position) or ``order`` (the quantity).
    ``levels_around_base_stock``: w, the order-up-to levels are S* - w .. min(S* + w,
    Morton's bound) around the tuned base-stock level S* (None: 0 .. Morton's bound);
    ``level_min`` / ``level_max`` set the range directly (a run saves the resolved range).
    ``episode_steps``: training episode length; ``initial_state``: of training episodes."""

    parameterisation: str = "order_up_to"
    levels_around_base_stock: int | None = 6
    level_min: int | None = None
    level_max: int | None = None
    episode_steps: int = 200
    initial_state: str = "mean"

    def __post_init__(self) -> None:
        t = "env.training"
        check_choice(f"{t}.parameterisation", self.parameterisation, PARAMETERISATIONS)
        if self.levels_around_base_stock is not None:
            object.__setattr__(self, "levels_around_base_stock",
                               check_int(f"{t}.levels_around_base_stock", self.levels_around_base_stock, 1, 1000))
        for key in ("level_min", "level_max"):
            if getattr(self, key) is not None:
                object.__setattr__(self, key, check_int(f"{t}.{key}", getattr(self, key), 0, 1_000_000))
        if self.level_min is not None and self.level_max is not None and self.level_min >= self.level_max:
            raise ConfigError(f"{t}.level_min: expected an integer < level_max ({self.level_max}), got {self.level_min}")
        object.__setattr__(self, "episode_steps", check_int(f"{t}.episode_steps", self.episode_steps, 1, 10_000_000))
        check_choice(f"{t}.initial_state", self.initial_state, INITIAL_STATES)


class LostSalesTask(Task):
    """``fulfillgym/LostSales-v0`` (module docstring)."""

    name = "lost_sales"
    env_id = "fulfillgym/LostSales-v0"
    kpis = (Kpi("fill_rate", "fill rate", "{:.2%}"), Kpi("holding_cost", "holding", table=False),
            Kpi("shortage_cost", "shortage", table=False), Kpi("ordering_cost", "ordering", table=False),
            Kpi("lost_per_period", "lost / period", table=False))
    default_agents = ("optimal", "base_stock", "capped_base_stock", "constant_order", "s_S", "myopic", "random")
    evaluation_defaults = EvaluationDefaults(periods=1000, warmup=100, reps=64, validation_reps=64)
    speed_module = "agents.lost_sales.speed"
    training_options = LostSalesTraining
    supports_scenarios = True
    dcl_problem_class = "agents.lost_sales.dcl:LostSalesDCL"
    action_type_key = "env.action_type"
    plots = "agents.lost_sales.plots:task_plots"
    suites = {"classic": "agents.lost_sales.suite:run_classic_suite"}

    def make_config(self, env_kwargs: Mapping[str, Any]) -> LostSalesConfig:
        """The env's config; a task also needs demand that is not always zero (the env accepts
        it, e.g. for mechanics tests, but there is nothing to decide, tune or learn)."""
        config = LostSalesConfig.from_kwargs(env_kwargs)
        if config.demand.mean <= 0.0:  # pmf / series (poisson and negative_binomial need mean > 0)
            key = "pmf" if config.demand.distribution == "pmf" else "series"
            raise ConfigError(f"env.demand.{key}: a benchmark or training run needs demand with mean > 0 (as for "
                              "poisson), got one that is always 0: nothing to decide or tune")
        return config

    def env_kwargs(self) -> dict[str, Any]:
        return plain(self.config.to_dict())

    def describe(self) -> str:
        c, d = self.config, self.config.demand
        mode = "backorders" if c.backorders else "lost sales"
        return (f"LostSales-v0 {mode}: L={c.lead_time}, h={c.holding_cost:g}, p={c.penalty:g}, "
                f"K={c.fixed_order_cost:g}, c={c.unit_cost:g}, demand {d.distribution}(mean={d.mean:g}), q_max={c.q_max}"
                + (f", scenario {c.scenario.describe()}" if c.scenario.active else ""))

    def instance_columns(self) -> dict[str, Any]:
        return {"lead_time": self.config.lead_time, "penalty": self.config.penalty}

    # -- training ------------------------------------------------------------------------
    def levels(self) -> tuple[int, int]:
        """The order-up-to level range (level_min, level_max) of the training options."""
        t = self.training
        return (t.level_min or 0), (t.level_max or level_max_default(self.config))

    def resolve_training(self) -> dict[str, Any]:
        """Fix ``level_min`` / ``level_max`` around the tuned base-stock level S* (tuned by
        simulation on the tuning seeds), so the run directory records the concrete range
        (:meth:`with_training` applies it)."""
        t = self.training
        if t.parameterisation != "order_up_to" or t.levels_around_base_stock is None or t.level_max is not None:
            return {}
        from agents.lost_sales.tuning import tune

        level = int(tune("base_stock", self.config).params()["level"])
        width = t.levels_around_base_stock
        top = level + width
        if self.config.fixed_order_cost == 0:  # Morton: an optimal policy never orders above it
            top = min(top, max(level_max_default(self.config), level + 1))
        return {"level_min": max(level - width, 0), "level_max": top}

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        import gymnasium

        import envs  # noqa: F401
        from envs.replenishment.lost_sales.wrappers import OrderMask, OrderUpTo

        t = self.training
        kwargs = {**self.env_kwargs(), "initial_state": t.initial_state}
        level_min, level_max = self.levels()

        def make():
            env = gymnasium.make(self.env_id, max_episode_steps=t.episode_steps, **kwargs)
            if t.parameterisation == "order_up_to":
                return OrderUpTo(env, level_max, level_min)
            return OrderMask(env, level_max) if maskable else env

        return make

    def training_batch(self, n_envs: int, seed: int, maskable: bool = False):
        """The :meth:`training_env_fn` envs stepped together (``envs.replenishment.lost_sales.batch``)."""
        from envs.replenishment.lost_sales.batch import LostSalesBatch

        t = self.training
        config = LostSalesConfig.from_kwargs({**self.env_kwargs(), "initial_state": t.initial_state})
        level_min, level_max = self.levels()
        return LostSalesBatch(config, n_envs, t.episode_steps, seed, t.parameterisation, level_min, level_max,
                              masked=maskable and t.parameterisation == "order")

    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        if shared:
            raise ConfigError("shared: LostSales-v0 has one agent; set shared=false")
        if maskable and self.training.parameterisation != "order":
            raise ConfigError("agent=maskable_ppo masks raw orders: set env.training.parameterisation=order")
        if essentials is None:
            level_min, level_max = self.levels()
            essentials = {"parameterisation": self.training.parameterisation, "level_min": level_min,
                          "level_max": level_max, "masked": maskable and self.training.parameterisation == "order"}
        elif "env_config" in essentials:
            check_shapes(essentials["env_config"], self.config, "policy")
        return interface_for(self.config, essentials)

    # -- agents --------------------------------------------------------------------------
    def agent_builders(self) -> dict[str, Builder]:
        from agents.lost_sales.heuristics import HEURISTICS

        return {"optimal": self._optimal, **{name: partial(self._heuristic, name) for name in HEURISTICS}}

    def reference_name(self) -> str | None:
        """The exact optimum, without a stress scenario. Under one, the DP (which assumes
        stationary demand and supply) solves the unstressed problem: ``optimal`` is then a
        fixed policy like the others, and the reference is the cheapest agent."""
        return None if self.config.scenario.active else "optimal"

    def reference_cost(self) -> float | None:
        if self.unavailable("optimal") or self.config.scenario.active:
            return None
        from agents.lost_sales.optimal import solve

        return solve(self.config).average_cost

    def dp_size(self) -> int:
        """Number of post-decision states of the exact lost-sales DP."""
        bound, lead = self.config.newsvendor_level(), max(self.config.lead_time, 1)
        return math.comb(bound + lead + 1, lead + 1)

    def unavailable(self, name: str) -> str | None:
        if name == "optimal" and not self.config.backorders and self.dp_size() > MAX_DP_STATES:
            return f"state space too large for exact DP ({self.dp_size():,} post-decision states > {MAX_DP_STATES:,})"
        support = len(self.config.demand.pmf_array())
        if name == "myopic" and support > MAX_MYOPIC_SUPPORT:
            return f"demand support too wide for the exact myopic rule ({support:,} values > {MAX_MYOPIC_SUPPORT:,})"
        return None

    def _optimal(self, tuning_reps: int | None, smoke: bool):
        from agents.lost_sales.optimal import make_optimal

        return make_optimal(self.config.stationary())  # the stationary optimum (see reference_name)

    def _heuristic(self, name: str, tuning_reps: int | None, smoke: bool):
        from agents.lost_sales.heuristics import HEURISTICS, RandomPolicy
        from agents.lost_sales.tuning import tune

        if name == "random":
            return RandomPolicy(self.config, seed=0)
        cls, tunable = HEURISTICS[name]
        if not tunable:
            return cls(self.config)
        options = {"n_reps": 8, "periods": 100} if smoke else {}
        if tuning_reps is not None:
            options["n_reps"] = tuning_reps
        return tune(name, self.config, **options)

    # -- evaluation ----------------------------------------------------------------------
    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int) -> dict[str, np.ndarray]:
        check_kind(policy, (PolicyKind.OBSERVATION,), self.name)  # the batched simulator's fast path
        periods = self.evaluation.periods if periods is None else periods
        replications = Replications.from_seeds(self.config, np.asarray(seeds), warmup + periods)
        return kpis(rollout(self.config, policy, replications, warmup))

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        return {**super().smoke_overrides(), "env.training.episode_steps": 50}
