"""The dispatch task (``env=dispatch``, ``env=dispatch_euro_neurips``): same-day delivery.

Agents: the online dispatch-or-postpone rules of the Gymnasium env (``greedy``, ``lazy``,
``random``, the CRN-tuned ``threshold``), the courier rules of the PettingZoo env
(``nearest``, ``edf``, ``hungarian``) and the perfect-information reference ``hindsight``
(PyVRP on the whole day, the reference of every gap). One replication is one day; ``cost``
is the day's cost. Every face plays the same day for a seed (common random numbers): the
Gymnasium env, the courier env and the hindsight plan all draw it with
``generate_day(config, np_random(seed), seed)``.

Training: ``shared=false`` trains PPO / A2C on the Gymnasium env's ``MultiBinary(K)``
action; ``shared=true`` trains one MaskablePPO policy for every courier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.base import PolicyKind
from agents.dispatch.heuristics import Greedy, Lazy, RandomDispatch, Threshold
from agents.dispatch.hindsight import Hindsight
from agents.dispatch.interface import CourierRows, DispatchBits
from agents.kpi import Kpi
from agents.runner import EpisodeCallback, GymFace, PlanWriter, SimKpis, play
from agents.task import Builder, Task
from agents.task_config import EvaluationDefaults
from agents.tuning import Axis, CrnEvaluator, RaceSettings
from envs.core.config import ConfigError, check_float, check_int, typed
from envs.dispatch.config import DispatchConfig, EuroNeuripsConfig
from envs.dispatch.env import SameDayDeliveryEnv

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface

COURIER = ("nearest", "edf", "hungarian")
SHARED_ALGOS = ("maskable_ppo", "ppo", "a2c")  # masked picks are waits, so unmasked PPO can learn too
BITS_ALGOS = ("ppo", "a2c")


@dataclass(frozen=True)
class DispatchTraining:
    """Training defaults (``env.training.*``): ``courier_detour_minutes``: how far a courier's
    trip may grow by insertion (the courier env's ``grow_max_detour``)."""

    courier_detour_minutes: float = 10.0

    def __post_init__(self) -> None:
        check_float("env.training.courier_detour_minutes", self.courier_detour_minutes, 0.0, 1e6)


@dataclass(frozen=True)
class DispatchReference:
    """The ``env.reference`` block: how long PyVRP plans each day of the hindsight reference:
    ``hindsight_iterations`` (reproducible) and/or ``hindsight_seconds`` (a time limit)."""

    hindsight_iterations: int | None = 3000
    hindsight_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.hindsight_iterations is not None:
            check_int("env.reference.hindsight_iterations", self.hindsight_iterations, 1, 10**9)
        if self.hindsight_seconds is not None:
            check_float("env.reference.hindsight_seconds", self.hindsight_seconds, 0.0, 3600.0, strict_low=True)
        if self.hindsight_iterations is None and self.hindsight_seconds is None:
            raise ConfigError("env.reference.hindsight_iterations: give it or hindsight_seconds")


class DayPlans(PlanWriter):
    """Writes each evaluated day's plan (``DispatchSimulator.plan()``) to
    ``<directory>/<agent>/episode_<r>.csv`` (``experiments.benchmark save_plans=true``)."""

    def on_end(self, seed: int, sim) -> None:
        sim.plan().to_csv(self.path(seed), index=False)


class DispatchTask(Task):
    name = "dispatch"
    env_id = "fulfillgym/SameDayDelivery-v0"
    kpis = (
        Kpi("on_time_rate", "on time", "{:.1%}"),
        Kpi("failed", "failed", "{:.1f}"),
        Kpi("late", "late", "{:.1f}"),
        Kpi("km", "km", "{:.0f}"),
        Kpi("km_per_order", "km/order", "{:.2f}"),
        Kpi("trips", "trips", "{:.1f}"),
        Kpi("utilisation", "util.", "{:.1%}"),
        Kpi("co2_kg", "CO2 kg", "{:.0f}", table=False),
        Kpi("delivered", "delivered", "{:.1f}", table=False),
        Kpi("late_minutes", "late min", "{:.0f}", table=False),
        Kpi("cost_km", "cost km", "{:.1f}", table=False),
        Kpi("cost_trips", "cost trips", "{:.1f}", table=False),
        Kpi("cost_late", "cost late", "{:.1f}", table=False),
        Kpi("cost_failed", "cost failed", "{:.1f}", table=False),
        Kpi("orders", "orders", "{:.1f}", table=False),
    )
    cost_decimals = 2
    cost_unit = "day"
    default_agents = ("hindsight", "threshold", "greedy", "lazy", "random", "nearest", "edf", "hungarian")
    evaluation_defaults = EvaluationDefaults(periods=None, warmup=0, reps=32, validation_reps=16, max_reps=128)
    training_options = DispatchTraining
    speed_module = "agents.dispatch.speed"
    algorithms = BITS_ALGOS  # the MultiBinary dispatch action
    shared_algorithms = SHARED_ALGOS  # the courier env
    plan_writer = DayPlans

    def __init__(self, training=None, evaluation=None, reference=None, **env_kwargs):
        self.reference = typed(DispatchReference, "env.reference", reference)
        super().__init__(training, evaluation, **env_kwargs)

    # -- config ---------------------------------------------------------------------------
    def make_config(self, env_kwargs: Mapping[str, Any]) -> DispatchConfig:
        return DispatchConfig.from_kwargs(env_kwargs)

    def env_kwargs(self) -> dict[str, Any]:
        return self.config.plain()

    def describe(self) -> str:
        c = self.config
        fleet = f"{c.n_vehicles} vehicles" if c.n_vehicles else "unlimited vehicles"
        if c.rules == "euro_neurips":
            return f"EURO-NeurIPS 2022 dynamic rules on {Path(c.instance).name}: {fleet}, hourly epochs, {c.router} router"
        where = Path(c.instance).name if c.locations == "instance" else f"{c.locations} {c.area_km:g} km"
        return (f"Same-day delivery: {sum(c.arrival_rates):g} orders/day ({where}), {fleet} x {c.capacity}, "
                f"{c.promise_minutes:g}-min promise, {c.epoch_minutes:g}-min epochs, {c.router} router")

    # -- env factories --------------------------------------------------------------------
    def make_env(self, **overrides: Any):
        return SameDayDeliveryEnv(config=DispatchConfig.from_kwargs({**self.env_kwargs(), **overrides}))

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        config = DispatchConfig.from_kwargs({**self.env_kwargs(), "observation": "flat"})
        return lambda: SameDayDeliveryEnv(config=config)

    def make_parallel_env(self):
        if self.config.n_vehicles is None:
            return None
        from envs.dispatch.parallel_env import CourierDispatchEnv

        # a masked (in-range) action is a wait, as PettingZoo's conformance tests need (they
        # sample unmasked); out-of-range actions still raise
        return CourierDispatchEnv(config=self.config, grow_max_detour=self.training.courier_detour_minutes,
                                  invalid_action="wait")

    def shared_batch(self, n_copies: int, seed: int):
        if self.config.n_vehicles is None:
            return None
        return super().shared_batch(n_copies, seed)

    # -- agents ---------------------------------------------------------------------------
    def agent_builders(self) -> dict[str, Builder]:
        return {"hindsight": self._hindsight, "greedy": partial(self._rule, Greedy), "lazy": partial(self._rule, Lazy),
                "random": partial(self._rule, RandomDispatch), "threshold": self._threshold,
                **{name: partial(self._courier, name) for name in COURIER}}

    def reference_name(self) -> str | None:
        return "hindsight"

    def unavailable(self, name: str) -> str | None:
        if name in COURIER and self.config.n_vehicles is None:
            return "courier rules need a fleet (n_vehicles)"
        return None

    def _hindsight(self, tuning_reps: int | None, smoke: bool) -> Hindsight:
        r = self.reference
        return Hindsight(iterations=50 if smoke else r.hindsight_iterations, seconds=None if smoke else r.hindsight_seconds)

    def _rule(self, cls: type, tuning_reps: int | None, smoke: bool):
        return cls(self.config)

    def _threshold(self, tuning_reps: int | None, smoke: bool) -> Threshold:
        return self.tune_threshold(tuning_reps or (2 if smoke else 24), smoke)

    def _courier(self, name: str, tuning_reps: int | None, smoke: bool):
        from agents.dispatch import couriers

        return couriers.make(name, self.make_parallel_env())

    def tune_threshold(self, reps: int, smoke: bool) -> Threshold:
        """The threshold rule raced on the tuning days (anchors: greedy and lazy)."""
        from envs.dispatch.env import position_scale
        from envs.dispatch.observation import time_scale

        c, pos = self.config, position_scale(self.config)
        ts = time_scale(c)
        greedy_slack = 100.0 * ts
        evaluator = CrnEvaluator(reps, lambda policies, seeds: [self.rollout(p, seeds, None, 0)["cost"] for p in policies])
        slack = np.concatenate([np.arange(0.0, 2.0 * ts + 1e-9, ts / (2 if smoke else 4)), [greedy_slack]])
        radius = pos * np.array([0.0, 0.1] if smoke else [0.0, 0.05, 0.1, 0.2])
        fill = np.array([4.0, np.inf] if smoke else [1.0, 2.0, 4.0, np.inf])
        axes = [Axis("slack", slack, 0.0, greedy_slack), Axis("radius", radius, 0.0, pos),
                Axis("fill", fill, 0.5, np.inf, step=0.5)]
        anchors = [{"slack": greedy_slack, "radius": 0.0, "fill": np.inf},  # = greedy
                   {"slack": 0.0, "radius": 0.0, "fill": np.inf}]  # = lazy (must-go only)
        settings = RaceSettings(reps, min_screen_reps=min(4, reps), screen_budget=64 * 4, max_rounds=1 if smoke else 2)
        result = evaluator.race(lambda slack, radius, fill: Threshold(c, slack, radius, fill, pos), axes, settings,
                                anchors=anchors)
        p = result.params
        return Threshold(c, p["slack"], p["radius"], p["fill"], pos)

    # -- evaluation -----------------------------------------------------------------------
    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int,
                callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
        """One day per seed (``agents.runner``): online policies in the Gymnasium env, the
        hindsight plan in its simulator, courier policies (rules, a shared model) in the
        courier env; each day's KPIs."""
        def single() -> GymFace:
            return GymFace(self.make_env())

        faces = {PolicyKind.OBSERVATION: single, PolicyKind.PLAN: single, PolicyKind.MULTI_AGENT: self.courier_face}
        return play(policy, seeds, faces, lambda face: SimKpis(), callback, self.name)

    def courier_face(self):
        """The courier env as the runner plays it (a ConfigError without a fleet)."""
        env = self.make_parallel_env()
        if env is None:
            raise ConfigError(f"agents: courier policies need a fleet; env={self.name} has none (set env.n_vehicles)")
        from agents.dispatch.couriers import courier_face

        return courier_face(env)

    # -- trained models -------------------------------------------------------------------
    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        if not shared:
            if self.config.observation != "flat":
                raise ConfigError("env.observation: trained policies act on the flat observation; set observation=flat")
            return DispatchBits()
        env = self.make_parallel_env()
        if env is None:
            raise ConfigError("shared: couriers need a fleet; set env.n_vehicles")
        agent = env.possible_agents[0]
        interface = CourierRows(env.observation_space(agent)["observation"].shape[0], env.action_space(agent).n,
                                masked=maskable or bool((essentials or {}).get("masked", False)))
        if essentials and (essentials.get("obs_dim"), essentials.get("n_actions")) not in (
                (None, None), (interface.obs_dim, interface.n_actions)):
            raise ConfigError(f"model: trained on courier rows of {essentials.get('obs_dim')} features and "
                              f"{essentials.get('n_actions')} actions; this instance has {interface.obs_dim} and "
                              f"{interface.n_actions} (max_orders must match)")
        return interface

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        return {"env.evaluation.reps": 2, "env.evaluation.validation_reps": 2, "env.day_minutes": 180.0,
                "env.arrival_rates": [12.0, 12.0], "env.n_vehicles": 3, "env.max_orders": 12}


class EuroNeuripsTask(DispatchTask):
    """``env=dispatch_euro_neurips``: the EURO Meets NeurIPS 2022 dynamic protocol on a
    competition-format instance (``env.instance``); courier agents need a fleet, which the
    protocol does not have, so the agents are the online rules and the hindsight plan."""

    name = "dispatch_euro_neurips"
    default_agents = ("hindsight", "threshold", "greedy", "lazy", "random")
    kpis = tuple(k for k in DispatchTask.kpis if k.name != "utilisation")  # no fleet
    speed_module = None  # the same simulator as env=dispatch (its speed page)
    make_parallel_env = Task.make_parallel_env  # no fleet, so no couriers
    shared_batch = Task.shared_batch

    def make_config(self, env_kwargs: Mapping[str, Any]) -> DispatchConfig:
        return EuroNeuripsConfig.from_kwargs(env_kwargs)

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        return {"env.evaluation.reps": 2, "env.evaluation.validation_reps": 2}
