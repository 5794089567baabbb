"""The slotting task (``env=slotting``): dynamic storage assignment in a piece-picking warehouse.

Agents: the storage rules of :mod:`agents.slotting.heuristics` (``random``, ``closest``,
``abc`` (tuned), ``coi``, ``reslot`` (tuned) and the turnover ``oracle``, the reference of
gaps). One replication is one episode of ``warmup + periods`` inbound loads (the
evaluation block's ``periods`` and ``warmup`` count loads); ``cost`` is the cost per measured
load (pick travel of the tours played while those loads were stored, plus putaway and
relocation costs), and the KPIs are those of the measured loads
(:meth:`envs.slotting.simulator.SlottingSimulator.kpis` over the window). The demand of a
seed does not depend on the actions, so every agent meets the same orders (common random
numbers).

Training: ``shared=false`` trains on ``fulfillgym/Slotting-v0`` (MaskablePPO with the env's
masks, or PPO / A2C, whose illegal slots go to the nearest legal one); ``shared=true`` trains
one policy for every putaway operator of ``slotting_v0`` (``n_operators``). A shared policy is
evaluated in ``slotting_v0`` with ``n_operators`` operators (their conflicts included).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.base import PolicyKind, env_overrides
from agents.kpi import Kpi
from agents.runner import AgentsFace, EpisodeCallback, GymFace, Meter, PlanWriter, play
from agents.slotting.heuristics import ABC, COI, RULES, Reslot
from agents.slotting.interface import SlotRows
from agents.task import Builder, Task
from agents.task_config import EvaluationDefaults, plain
from agents.tuning import Axis, CrnEvaluator, RaceSettings
from envs.core.config import check_choice, check_int
from envs.slotting.config import SlottingConfig

if TYPE_CHECKING:
    from agents.rl.interface import ModelInterface

ENV_ONLY = ("action_mode", "n_zones", "obs_map")
RULE_FACES = ("single", "operators")
"""Arguments of the Gymnasium env that are not simulator config."""


@dataclass(frozen=True)
class SlottingTaskConfig(SlottingConfig):
    """The simulator's config plus the Gymnasium face's arguments (``envs.slotting.env``):
    ``action_mode`` (``slot`` | ``zone``), ``n_zones`` (an int or shares), ``obs_map``
    (``grid`` | ``zones``); validated by building the env. ``rules_face``: where the storage
    rules play: ``single`` (the Gymnasium env, one load per step) or ``operators``
    (``slotting_v0`` with ``training.n_operators`` operators, each operator choosing by the
    rule for its own load, conflicts settled by the env's priority rule: the same face as a
    shared policy, for a like-for-like comparison)."""

    action_mode: str = "slot"
    n_zones: Any = 3
    obs_map: str = "grid"
    rules_face: str = "single"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "rules_face", check_choice("env.rules_face", self.rules_face, RULE_FACES))

    def simulator(self) -> SlottingConfig:
        return SlottingConfig(**{f.name: getattr(self, f.name) for f in fields(SlottingConfig)})

    def face(self) -> dict[str, Any]:
        return {k: plain(getattr(self, k)) for k in ENV_ONLY}


@dataclass(frozen=True)
class SlottingTraining:
    """Training defaults (``env.training.*``): ``n_operators``: the putaway operators of
    ``slotting_v0`` a shared policy trains and is evaluated with (``shared=true``)."""

    n_operators: int = 3

    def __post_init__(self) -> None:
        check_int("env.training.n_operators", self.n_operators, 1, 64)
DISCRETE_ALGOS = ("maskable_ppo", "ppo", "a2c")
PLAN_COLUMNS = ("tour", "slot", "sku", "aisle", "side", "position", "level", "x", "y", "travel")


class SlottingMeter(Meter):
    """The KPIs of the loads put away after the first ``warmup`` (``SlottingSimulator.kpis``
    from the snapshot then), with the operators' conflicts (``operators``: a ``slotting_v0``
    episode) over the same loads."""

    def __init__(self, warmup: int, operators: bool, names: list[str]):
        self.warmup, self.operators, self.names = warmup, operators, names
        self.since, self.conflicts = None, 0

    def start(self, sim) -> None:
        self.since = sim.snapshot() if self.warmup == 0 else None

    def step(self, t: int, info, sim) -> None:
        if self.operators and self.since is not None:
            self.conflicts += sum(int(i.get("conflict", 0)) for i in info.values())
        if self.since is None and sim.loads_put_away >= self.warmup:
            self.since = sim.snapshot()

    def finish(self, sim) -> dict[str, float]:
        k = {**sim.kpis(self.since), "conflicts": float(self.conflicts)}
        return {"cost": k["cost_per_load"], **{name: k[name] for name in self.names}}


class TourPlans(PlanWriter):
    """Writes every evaluated episode's tours to ``<directory>/<agent>/episode_<r>.csv``: one
    row per picked slot (``PLAN_COLUMNS``; ``travel`` is the tour's reported length)."""

    def on_reset(self, seed: int, sim) -> None:
        self.tours = _tours(sim.reset_result)

    def on_step(self, sim) -> None:
        self.tours.extend(_tours(sim.last_result))

    def on_end(self, seed: int, sim) -> None:
        lay = sim.layout
        with self.path(seed).open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(PLAN_COLUMNS)
            for tour, (picks, skus, length) in enumerate(self.tours):
                for slot, sku in zip(picks, skus, strict=True):
                    a, s, p, lv = lay.decompose(int(slot))
                    out.writerow([tour, int(slot), int(sku), a, s, p, lv, repr(float(lay.slot_x[slot])),
                                  repr(float(lay.slot_y[slot])), repr(float(length))])


class SlottingTask(Task):
    name = "slotting"
    env_id = "fulfillgym/Slotting-v0"
    kpis = (
        Kpi("travel_per_line", "m/line", "{:.2f}", ci=True),
        Kpi("travel_per_order", "m/order", "{:.1f}"),
        Kpi("lines_per_hour", "lines/h", "{:.1f}"),
        Kpi("golden_share", "golden", "{:.1%}"),
        Kpi("space_utilisation", "space", "{:.1%}"),
        Kpi("putaway_travel", "putaway m", "{:.0f}"),
        Kpi("relocations", "moves", "{:.1f}"),
        Kpi("fill_rate", "fill", "{:.2%}", table=False),
        Kpi("pick_travel", "pick m", "{:.0f}", table=False),
        Kpi("cube_utilisation", "cube", "{:.1%}", table=False),
        Kpi("lines", "lines", "{:.0f}", table=False),
        Kpi("orders", "orders", "{:.0f}", table=False),
        Kpi("tours", "tours", "{:.0f}", table=False),
        Kpi("relocation_cost", "reloc. cost", "{:.1f}", table=False),
        Kpi("conflicts", "conflicts", "{:.1f}", table=False),
    )
    cost_decimals = 3
    cost_unit = "load"
    default_agents = ("oracle", "reslot", "coi", "abc", "closest", "random")
    evaluation_defaults = EvaluationDefaults(periods=1000, warmup=1000, reps=16, validation_reps=8, max_reps=64)
    speed_module = "agents.slotting.speed"
    timestep_units = ("loads", "operator-loads")
    algorithms = shared_algorithms = DISCRETE_ALGOS
    algorithms_note = "slotting actions are discrete slots or zones"

    training_options = SlottingTraining
    plan_writer = TourPlans

    def __init__(self, training=None, evaluation=None, **env_kwargs):
        self._tuned: dict[tuple, Any] = {}
        super().__init__(training, evaluation, **env_kwargs)

    # -- config ---------------------------------------------------------------------------
    def make_config(self, env_kwargs: Mapping[str, Any]) -> SlottingTaskConfig:
        config = SlottingTaskConfig.from_kwargs(env_kwargs)
        self.sim_config, self.env_only = config.simulator(), config.face()
        e = self.evaluation  # its episodes are warmup + periods loads: within the limits too (docs/reliability.md)
        if e.periods is not None:
            replace(self.sim_config, episode_loads=e.warmup + e.periods)
        self.make_env()  # validates the face's arguments (one-line errors)
        return config

    def env_kwargs(self) -> dict[str, Any]:
        return plain(self.config.plain())

    def describe(self) -> str:
        c = self.config
        demand = f"orders of {Path(c.orders_csv).name}" if c.orders_csv else c.popularity
        return (f"Slotting: {c.n_aisles} aisles x 2 x {c.slots_per_side} x {c.levels} levels, {c.n_skus} SKUs "
                f"({demand}), {c.routing} routing, {self.env_only['action_mode']} actions")

    def instance_columns(self) -> dict[str, Any]:
        c = self.config
        return {"slots": c.layout().n_slots, "skus": c.n_skus, "routing": c.routing}

    # -- env factories --------------------------------------------------------------------
    def make_env(self, config: SlottingConfig | None = None, **overrides: Any):
        from envs.slotting.env import SlottingEnv

        config = config or self.sim_config
        sim_keys = {f.name for f in fields(SlottingConfig)}
        if any(k in sim_keys for k in overrides):
            config = SlottingConfig.from_kwargs({**config.plain(), **{k: v for k, v in overrides.items() if k in sim_keys}})
        extra = {**self.env_only, **{k: v for k, v in overrides.items() if k not in sim_keys}}
        return SlottingEnv(config=config, **extra)

    def training_env_fn(self, maskable: bool = False) -> Callable[[], Any]:
        invalid = "raise" if maskable else "nearest"
        return lambda: self.make_env(invalid_action=invalid)

    def make_parallel_env(self, config: SlottingConfig | None = None):
        from envs.slotting.parallel_env import SlottingParallelEnv

        return SlottingParallelEnv(config=config or self.sim_config, n_operators=self.training.n_operators,
                                   n_zones=self.env_only["n_zones"], obs_map=self.env_only["obs_map"],
                                   invalid_action="nearest")

    # -- agents ---------------------------------------------------------------------------
    def agent_builders(self) -> dict[str, Builder]:
        tuners = {"abc": self.tune_abc, "coi": partial(self.tune_coi, oracle=False),
                  "oracle": partial(self.tune_coi, oracle=True), "reslot": self.tune_reslot}
        return {name: partial(self._tuned_rule, tuners[name]) if name in tuners else partial(_untuned, RULES[name])
                for name in RULES}

    def reference_name(self) -> str | None:
        return "oracle"

    def _tuned_rule(self, tune: Callable, tuning_reps: int | None, smoke: bool):
        return tune(tuning_reps or (2 if smoke else 8), smoke)

    def _race(self, make, axes, reps: int, smoke: bool, anchors, valid=None):
        e = self.evaluation
        evaluator = CrnEvaluator(reps, lambda policies, seeds: [self.rollout(p, seeds, e.periods, e.warmup)["cost"]
                                                                for p in policies])
        settings = RaceSettings(reps, min_screen_reps=min(2, reps), screen_budget=(8 if smoke else 48) * 2,
                                keep=(6, 3), max_rounds=1 if smoke else 2)
        return evaluator.race(make, axes, settings, valid, anchors=anchors).params

    def tune_abc(self, reps: int, smoke: bool) -> ABC:
        """The four class shares raced on the tuning seeds (anchor: the 20/30/50 textbook split);
        only splits that leave class C a share (A + B < 1, of SKUs and of zones) are candidates,
        also when the race extends an axis."""
        p = self._race(ABC, abc_axes(smoke), reps, smoke, anchors=[{"sku_a": 0.2, "sku_b": 0.3, "zone_a": 0.2, "zone_b": 0.3}]
                       if not smoke else [], valid=_abc_split)
        return ABC(**p)

    def tune_coi(self, reps: int, smoke: bool, oracle: bool) -> COI:
        """``spread`` raced on the tuning seeds (cached: ``reslot`` reuses the ``coi`` one)."""
        key = ("coi", oracle, reps, smoke)
        if key not in self._tuned:
            axes = [Axis("spread", [1.0, 1.5] if smoke else [1.0, 1.25, 1.5, 2.0, 2.5], 0.25, 20.0, step=0.25)]
            p = self._race(lambda spread: COI(spread, oracle), axes, reps, smoke, anchors=[])
            self._tuned[key] = COI(p["spread"], oracle)
        return self._tuned[key]

    def tune_reslot(self, reps: int, smoke: bool) -> Reslot:
        """``night_loads`` and ``moves`` raced on the tuning seeds with the tuned ``coi``'s
        ``spread`` (anchor: no moves, which is that ``coi``)."""
        spread = self.tune_coi(reps, smoke, oracle=False).spread
        axes = [Axis("night_loads", [50, 100] if smoke else [50, 100, 250], 10, 100_000, step=25),
                Axis("moves", [0, 10] if smoke else [0, 10, 25, 50], 0, 10_000, step=5)]
        p = self._race(lambda night_loads, moves: Reslot(night_loads, moves, spread), axes, reps, smoke,
                       anchors=[{"night_loads": 100, "moves": 0}])
        return Reslot(p["night_loads"], p["moves"], spread)

    # -- evaluation -----------------------------------------------------------------------
    def rollout(self, policy, seeds: Sequence[int], periods: int | None, warmup: int,
                callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
        """One episode of ``warmup + periods`` loads per seed (``agents.runner``); the KPIs of
        the last ``periods``. Observation policies play the Gymnasium env, shared models the
        operators of ``slotting_v0``, storage rules the face ``env.rules_face`` names (in
        ``slotting_v0`` each operator by the rule, for its own load, from the same state)."""
        loads = {"episode_loads": warmup + (periods or self.evaluation.periods)}
        overrides = env_overrides(policy)

        def single() -> GymFace:
            return GymFace(self.make_env(**loads, **overrides))

        def rules_single() -> GymFace:  # a storage rule reads the simulator: no observation is built
            env = self.make_env(**loads, **overrides)
            return GymFace(env, step=lambda slot: env.step(slot, observe=False))

        def operators() -> AgentsFace:
            env = self.make_parallel_env(SlottingConfig.from_kwargs({**self.sim_config.plain(), **loads}))
            return AgentsFace(env, _operator_rows, decide=_operator_choices)

        rules = operators if self.config.rules_face == "operators" else rules_single
        faces = {PolicyKind.OBSERVATION: single, PolicyKind.SIMULATOR: rules, PolicyKind.MULTI_AGENT: operators}
        names = [c.name for c in self.kpis]
        return play(policy, seeds, faces, lambda face: SlottingMeter(warmup, isinstance(face, AgentsFace), names),
                    callback, self.name)

    # -- trained models -------------------------------------------------------------------
    def model_interface(self, shared: bool = False, essentials: Mapping[str, Any] | None = None,
                        maskable: bool = False) -> ModelInterface:
        if shared:
            env = self.make_parallel_env()
            agent = env.possible_agents[0]
            obs_dim = env.observation_space(agent)["observation"].shape[0]
            n_actions = env.action_space(agent).n
            mode = "slot"
        else:
            env = self.make_env()
            obs_dim, n_actions, mode = env.observation_space.shape[0], env.action_space.n, self.env_only["action_mode"]
        masked = maskable or bool((essentials or {}).get("masked", False))
        interface = SlotRows(mode, self.env_only["obs_map"], n_actions, obs_dim, masked, shared)
        interface.check(essentials)
        return interface

    @classmethod
    def smoke_overrides(cls) -> dict[str, Any]:
        return {"env.evaluation.periods": 30, "env.evaluation.warmup": 10, "env.evaluation.reps": 2,
                "env.evaluation.validation_reps": 2, "env.n_aisles": 3, "env.slots_per_side": 5, "env.levels": 2,
                "env.n_skus": 30, "env.episode_loads": 40}


def _untuned(rule: Callable, tuning_reps: int | None, smoke: bool):
    """A storage rule without parameters to tune (an agent's builder)."""
    return rule()


def _tours(result) -> list[tuple]:
    """(picked slots, their SKUs, reported length) of every tour of a step result."""
    return list(zip(result.tour_picks, result.tour_skus, result.tour_lengths, strict=True))


def _operator_rows(obs, agents) -> np.ndarray:
    """The operators' observations, one row each (what a shared model reads)."""
    return np.stack([obs[a]["observation"] for a in agents])


def _operator_choices(rule, env) -> list[int]:
    """Each operator's slot by a storage rule, for its own load, from the same state."""
    return [rule.choose(mask, sku) for mask, sku in zip(env.action_masks(), env.held_skus(), strict=True)]


def abc_axes(smoke: bool) -> list[Axis]:
    """The race's grid of ABC class shares (extendable up to 0.6 each)."""
    a = [0.1, 0.2] if smoke else [0.02, 0.05, 0.1, 0.2]
    b = [0.3] if smoke else [0.05, 0.1, 0.3]
    return [Axis("sku_a", a, 0.01, 0.6, step=0.05), Axis("sku_b", b, 0.05, 0.6, step=0.1),
            Axis("zone_a", a, 0.01, 0.6, step=0.05), Axis("zone_b", b, 0.05, 0.6, step=0.1)]


def _abc_split(p: dict[str, np.ndarray]) -> np.ndarray:
    """The grid points whose A and B shares leave class C a share, of SKUs and of zones."""
    return (p["sku_a"] + p["sku_b"] < 1.0) & (p["zone_a"] + p["zone_b"] < 1.0)
