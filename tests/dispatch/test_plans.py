"""Every figure of a dispatch day is recomputable from its plan, and every plan is feasible.

* ``python -m experiments.benchmark env=dispatch smoke=true save_plans=true`` (a subprocess):
  for each agent, the figures of ``results.csv`` (means over the episodes) are recomputed
  from ``plans/<agent>/episode_<r>.csv`` alone, with the env config of the run
  (``config.yaml``) and the number of orders of each day (the day regenerated from its seed,
  ``EVAL_SEED_BASE + r``, as the task does);
* in process, the Gymnasium env's ``plan()`` for a few seeds and the greedy, random and lazy
  rules, on small same-day configs and on the EURO-NeurIPS rules (the shipped instance; travel
  from its duration matrix, cost in driving seconds).

The recomputation below restates the rules of ``envs/dispatch/simulator.py`` and
``routing/problem.py`` (Euclidean km between consecutive stops, the depot at (0, 0), at
``speed_kmh``; wait for ``earliest``; lateness = service start - deadline where positive; cost
= ``cost_per_km`` km + ``cost_per_trip`` trips + ``cost_per_late_minute`` late minutes +
``failed_penalty`` failed orders) without calling them.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import vrplib
import yaml
from gymnasium.utils.seeding import np_random

from agents.dispatch.heuristics import Greedy, Lazy, RandomDispatch
from agents.dispatch.task import DispatchTask
from agents.seeds import EVAL_SEED_BASE
from envs.dispatch.config import EURO_INSTANCE, DispatchConfig, EuroNeuripsConfig
from envs.dispatch.env import SameDayDeliveryEnv
from envs.dispatch.generator import generate_day
from envs.dispatch.simulator import PLAN_COLUMNS, DispatchSimulator

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ("greedy", "threshold", "hindsight", "lazy")
TOL = 1e-6  # minutes / km of float drift along a day
CONFIG_KEYS = {"_target_", "reference", "training", "evaluation"}  # the task's blocks, not DispatchConfig's


def subprocess_env(base: Path) -> dict[str, str]:
    """As tests/pipeline/training_runs.py: the repo on the path, one thread, no display, a
    scratch HOME, no network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    dead = "http://127.0.0.1:9"
    env.update({"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "COLUMNS": "200",
                "HOME": str(base / "home"), "HTTP_PROXY": dead, "HTTPS_PROXY": dead,
                "http_proxy": dead, "https_proxy": dead})
    return env


# -- the rules, restated ----------------------------------------------------------------------
@dataclass
class World:
    """What the plan alone does not say: the config, how to travel between two stops, the
    shift end, the capacity, the decision epochs and the fleet."""

    config: DispatchConfig
    shift_end: float
    capacity: int
    epochs: np.ndarray
    matrix: np.ndarray | None = None  # EURO-NeurIPS: the instance's durations in seconds

    def leg(self, a: pd.Series | None, b: pd.Series | None) -> tuple[float, float]:
        """(distance, minutes) from stop ``a`` to stop ``b`` (None: the depot)."""
        if self.matrix is not None:
            seconds = float(self.matrix[0 if a is None else int(a["node"]), 0 if b is None else int(b["node"])])
            return seconds, seconds / 60.0
        ax, ay = (0.0, 0.0) if a is None else (a["x"], a["y"])
        bx, by = (0.0, 0.0) if b is None else (b["x"], b["y"])
        km = math.hypot(bx - ax, by - ay)
        return km, km / (self.config.speed_kmh / 60.0)


def same_day_world(config: DispatchConfig) -> World:
    shift = config.day_minutes if config.shift_end_minutes is None else config.shift_end_minutes
    n_epochs = math.ceil(config.day_minutes / config.epoch_minutes - 1e-9)
    return World(config, shift, config.capacity, config.epoch_minutes * np.arange(n_epochs))


def euro_world(config: DispatchConfig) -> World:
    """The instance read with ``vrplib`` (not the project's reader): its duration matrix
    (seconds), capacity, depot closing time; the epochs are the competition's hours."""
    inst = vrplib.read_instance(config.instance)
    early = inst["time_window"][1:, 0]
    first, last = (max((int(e) - 3600) // 3600, 0) for e in (early.min(), early.max()))
    return World(config, float(inst["time_window"][0, 1]) / 60.0, int(inst["capacity"]),
                 60.0 * np.arange(first, last + 1), matrix=np.asarray(inst["edge_weight"], dtype=float))


def recompute(plan: pd.DataFrame, world: World, n_orders: int, online: bool) -> dict[str, float]:
    """Check the plan's feasibility and timing; return the day's figures from the plan alone."""
    c = world.config
    assert list(plan.columns) == list(PLAN_COLUMNS)
    assert not plan.isna().any().any()
    assert plan["order_id"].is_unique, "an order is served twice"
    assert plan["order_id"].between(0, n_orders - 1).all()
    km = late_minutes = busy = 0.0
    late_orders = 0
    trips = plan.groupby(["vehicle", "trip"], sort=False)
    for (vehicle, k), trip in trips:
        assert trip.index.tolist() == list(range(trip.index[0], trip.index[0] + len(trip))), \
            f"the stops of trip {k} of vehicle {vehicle} are not consecutive rows"
        assert trip["dispatch_time"].nunique() == 1 and trip["trip_return"].nunique() == 1
        leave, back = float(trip["dispatch_time"].iloc[0]), float(trip["trip_return"].iloc[0])
        assert trip["size"].sum() <= world.capacity, f"vehicle {vehicle} trip {k} is over capacity"
        assert leave >= trip["release_time"].max() - TOL, "a trip leaves before its orders are released"
        if online:  # trips leave at a decision epoch + the dispatch margin
            assert np.isclose(world.epochs + c.dispatch_margin_minutes, leave, atol=TOL).any(), leave
        t, prev = leave, None
        for _, stop in trip.iterrows():
            dist, minutes = world.leg(prev, stop)
            km += dist
            t += minutes
            assert math.isclose(stop["arrival"], t, abs_tol=TOL), (stop["arrival"], t)
            t = stop["arrival"]
            start = max(t, stop["earliest"])
            assert math.isclose(stop["service_start"], start, abs_tol=TOL)
            assert math.isclose(stop["service_end"], stop["service_start"] + stop["service_time"], abs_tol=TOL)
            late = max(0.0, stop["service_start"] - stop["deadline"])
            assert math.isclose(stop["late"], late, abs_tol=TOL)
            if c.hard_deadlines:
                assert late <= TOL, "a hard deadline is missed"
            late_minutes += late
            late_orders += late > 1e-9
            t, prev = stop["service_end"], stop
        dist, minutes = world.leg(prev, None)
        km += dist
        assert math.isclose(back, t + minutes, abs_tol=TOL), (back, t + minutes)
        assert back <= world.shift_end + TOL, f"vehicle {vehicle} trip {k} is back after the shift end"
        busy += back - leave
    per_vehicle = plan.drop_duplicates(["vehicle", "trip"]).sort_values(["vehicle", "trip"])
    for vehicle, own in per_vehicle.groupby("vehicle"):
        assert own["trip"].tolist() == list(range(len(own))), f"vehicle {vehicle}'s trips are not 0, 1, ..."
        if c.n_vehicles is None:
            assert len(own) == 1, "with an unlimited fleet every trip is a vehicle of its own"
        leaves, backs = own["dispatch_time"].to_numpy(), own["trip_return"].to_numpy()
        assert (leaves[1:] >= backs[:-1] - TOL).all(), f"vehicle {vehicle} leaves before it is back"
    if c.n_vehicles is not None:
        assert plan["vehicle"].between(0, c.n_vehicles - 1).all()
    n_trips = trips.ngroups
    delivered = len(plan)
    failed = n_orders - delivered
    out = {
        "km": km, "trips": n_trips, "late_minutes": late_minutes, "late": late_orders, "delivered": delivered,
        "failed": failed, "orders": n_orders, "on_time": delivered - late_orders,
        "on_time_rate": (delivered - late_orders) / n_orders if n_orders else 1.0,
        "km_per_order": km / delivered if delivered else 0.0, "co2_kg": c.co2_kg_per_km * km,
        "cost_km": c.cost_per_km * km, "cost_trips": c.cost_per_trip * n_trips,
        "cost_late": c.cost_per_late_minute * late_minutes, "cost_failed": c.failed_penalty * failed,
    }
    out["cost"] = out["cost_km"] + out["cost_trips"] + out["cost_late"] + out["cost_failed"]
    if c.n_vehicles:
        out["utilisation"] = busy / (c.n_vehicles * (world.shift_end - float(world.epochs[0])))
    return out


def check_against_day(plan: pd.DataFrame, day) -> None:
    """The plan's order columns are the day's orders (the day regenerated from its seed)."""
    ids = plan["order_id"].to_numpy()
    for column, values in (("x", day.x), ("y", day.y), ("node", day.node), ("size", day.size),
                           ("release_time", day.release), ("deadline", day.deadline), ("earliest", day.earliest),
                           ("service_time", day.service), ("epoch", day.epoch), ("customer", day.customer)):
        assert np.allclose(plan[column].to_numpy(dtype=float), np.asarray(values, dtype=float)[ids],
                           rtol=1e-12, atol=1e-9), column


def day_of(config: DispatchConfig, seed: int):
    return generate_day(config, np_random(seed)[0], seed)


def assert_figures(recomputed: dict[str, float], reported: dict[str, float], keys=None) -> None:
    for key in keys or recomputed:
        assert math.isclose(recomputed[key], reported[key], rel_tol=1e-9, abs_tol=1e-6), \
            (key, recomputed[key], reported[key])


# -- the benchmark's plans --------------------------------------------------------------------
@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("dispatch_plans")
    out = base / "run"
    (base / "cwd").mkdir()
    args = [sys.executable, "-m", "experiments.benchmark", "env=dispatch", "smoke=true", "save_plans=true",
            f"agents=[{','.join(AGENTS)}]", f"hydra.run.dir={out}"]
    result = subprocess.run(args, cwd=base / "cwd", env=subprocess_env(base), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def run_config(out: Path) -> DispatchConfig:
    """The env config of the run, from the run dir's resolved config."""
    env = yaml.safe_load((out / "config.yaml").read_text())["env"]
    return DispatchConfig(**{k: v for k, v in env.items() if k not in CONFIG_KEYS})


def test_the_run_config_is_the_smoke_instance(benchmark_run):
    config = run_config(benchmark_run)
    for key, value in DispatchTask.smoke_overrides().items():
        if key.startswith("env.") and key.count(".") == 1:
            got = getattr(config, key[4:])
            assert (list(got) if isinstance(got, tuple) else got) == value, key


@pytest.mark.parametrize("agent", AGENTS)
def test_results_are_recomputable_from_the_plans_alone(benchmark_run, agent):
    config = run_config(benchmark_run)
    world = same_day_world(config)
    with open(benchmark_run / "results.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["agent"] == agent)
    files = sorted((benchmark_run / "plans" / agent).glob("episode_*.csv"))
    reps = int(row["reps"])
    assert [p.name for p in files] == sorted(f"episode_{r}.csv" for r in range(reps))
    days = []
    for r in range(reps):
        plan = pd.read_csv(benchmark_run / "plans" / agent / f"episode_{r}.csv")
        day = day_of(config, EVAL_SEED_BASE + r)
        check_against_day(plan, day)
        days.append(recompute(plan, world, len(day), online=agent != "hindsight"))
    mean = {key: float(np.mean([d[key] for d in days])) for key in days[0]}
    reported = {key: float(value) for key, value in row.items() if key in mean}
    reported["cost"] = float(row["mean_cost"])
    assert set(mean) - set(reported) == {"on_time"}  # (not a column of the table)
    assert_figures(mean, reported, [k for k in mean if k != "on_time"])


def test_the_benchmark_wrote_plans_only_for_the_agents_asked(benchmark_run):
    assert sorted(p.name for p in (benchmark_run / "plans").iterdir()) == sorted(AGENTS)


# -- the Gymnasium env's plan, in process -----------------------------------------------------
SAME_DAY = {
    "smoke": {"day_minutes": 180.0, "arrival_rates": [12.0, 12.0], "n_vehicles": 3, "max_orders": 12},
    "clustered_margin": {"day_minutes": 240.0, "arrival_rates": [20.0, 25.0, 20.0], "n_vehicles": 2, "capacity": 6,
                         "max_orders": 10, "locations": "clustered", "dispatch_margin_minutes": 10.0,
                         "earliest_delay_minutes": 20.0, "promise_minutes": 60.0, "shift_end_minutes": 200.0,
                         "cost_per_km": 1.3, "cost_per_trip": 2.0, "cost_per_late_minute": 0.7,
                         "failed_penalty": 20.0},
    "unlimited_hard": {"day_minutes": 240.0, "arrival_rates": [20.0, 25.0, 20.0], "n_vehicles": None,
                       "capacity": 8, "max_orders": 16, "hard_deadlines": True, "promise_minutes": 45.0},
}
POLICIES = {"greedy": Greedy, "random": RandomDispatch, "lazy": Lazy}


def play(config: DispatchConfig, policy_name: str, seed: int) -> SameDayDeliveryEnv:
    env = SameDayDeliveryEnv(config=config)
    policy = POLICIES[policy_name](config)
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        action, _ = policy.predict(obs)
        obs, _, done, _, _ = env.step(action)
    return env


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("name", sorted(SAME_DAY))
def test_the_env_plan_gives_every_kpi_same_day(name, policy):
    config = DispatchConfig(**SAME_DAY[name])
    for seed in (0, 1, EVAL_SEED_BASE):
        env = play(config, policy, seed)
        plan = env.plan()
        day = day_of(config, seed)
        assert len(day) == len(env.sim.day) and np.array_equal(day.release, env.sim.day.release)
        check_against_day(plan, day)
        assert_figures(recompute(plan, same_day_world(config), len(day), online=True), env.sim.kpis())


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_env_plan_gives_every_kpi_euro_neurips(policy):
    """The EURO-NeurIPS rules: travel from the instance's duration matrix (the ``node`` column
    indexes it), cost = driving seconds along the routes; the competition's columns filled."""
    config = EuroNeuripsConfig(instance=EURO_INSTANCE)
    world = euro_world(config)
    for seed in (0, EVAL_SEED_BASE):
        env = play(config, policy, seed)
        plan = env.plan()
        day = day_of(config, seed)
        check_against_day(plan, day)
        assert (plan["epoch"] >= 0).all() and (plan["customer"] >= 1).all()
        assert (plan["customer"] == plan["node"]).all()
        assert (plan["earliest"] >= plan["release_time"]).all() and (plan["service_time"] > 0).all()
        assert np.isin(plan["epoch"], world.epochs / 60.0).all()
        figures = recompute(plan, world, len(day), online=True)
        seconds = 0.0  # the competition's cost, route by route
        for _, trip in plan.groupby(["vehicle", "trip"], sort=False):
            route = [0, *trip["node"].astype(int), 0]
            seconds += sum(world.matrix[a, b] for a, b in zip(route[:-1], route[1:], strict=True))
        assert figures["failed"] == 0 and figures["late"] == 0
        assert math.isclose(figures["cost"], seconds, rel_tol=1e-12) and seconds == int(seconds)
        assert_figures(figures, env.sim.kpis())


# -- the checker itself catches broken plans --------------------------------------------------
def first_trip(plan: pd.DataFrame) -> pd.Index:
    key = plan[["vehicle", "trip"]].iloc[0].tolist()
    return plan.index[(plan["vehicle"] == key[0]) & (plan["trip"] == key[1])]


MUTATIONS = {
    "served_twice": lambda p, c: pd.concat([p, p.iloc[[0]]], ignore_index=True),
    "late_arrival": lambda p, c: p.assign(arrival=p["arrival"] + np.eye(len(p))[0]),
    "no_wait_for_earliest": lambda p, c: p.assign(earliest=p["service_start"] + 5.0 * np.eye(len(p))[0]),
    "short_service": lambda p, c: p.assign(service_end=p["service_end"] - np.eye(len(p))[0]),
    "lateness_hidden": lambda p, c: p.assign(deadline=p["service_start"] - 3.0, late=0.0),
    "early_return": lambda p, c: p.assign(trip_return=p["trip_return"] - 0.5),
    "over_capacity": lambda p, c: p.assign(size=c.capacity),
    "leaves_before_release": lambda p, c: p.assign(release_time=p["dispatch_time"] + 1.0),
    "back_after_shift_end": lambda p, c: p.assign(trip_return=p["trip_return"] + c.day_minutes),
    "vehicle_away": lambda p, c: p.assign(dispatch_time=p["dispatch_time"].where(p["trip"] == 0, 0.0)),
    "moved_stop": lambda p, c: p.assign(x=p["x"] + np.eye(len(p))[0]),
    "dispatch_off_epoch": lambda p, c: p.assign(dispatch_time=p["dispatch_time"] + 0.25),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_recomputation_refuses_a_broken_plan(mutation):
    """So that the tests above cannot pass vacuously: each mutation breaks one rule."""
    config = DispatchConfig(**SAME_DAY["smoke"], capacity=4, size_min=2)
    env = play(config, "greedy", 0)
    plan = env.plan()
    world, n = same_day_world(config), len(env.sim.day)
    assert (plan["trip"] > 0).any() and plan.groupby(["vehicle", "trip"]).size().max() > 1
    recompute(plan, world, n, online=True)
    with pytest.raises(AssertionError):
        recompute(MUTATIONS[mutation](plan, config), world, n, online=True)


# -- whole-day plans fixed in advance (DispatchSimulator.execute, the hindsight plan's path) ----
SMOKE = DispatchConfig(**SAME_DAY["smoke"])


def executed(vehicle_trips, seed: int = 5):
    sim = DispatchSimulator(SMOKE)
    day = day_of(SMOKE, seed)
    sim.execute(day, vehicle_trips)
    return sim, day


def test_an_executed_whole_day_plan_is_recomputable_from_its_rows():
    sim, day = executed([[[0, 1], [2, 4]], [[3], [5, 6, 7]], [[8]]])
    plan = sim.plan()
    assert plan["order_id"].tolist() == [0, 1, 2, 4, 3, 5, 6, 7, 8]
    assert_figures(recompute(plan, same_day_world(SMOKE), len(day), online=False), sim.kpis())
    first = plan[plan["order_id"] == 3]
    assert first["dispatch_time"].iloc[0] == day.release[3]  # leaves when its order is released


def test_an_empty_trip_in_a_whole_day_plan_changes_nothing():
    sim, day = executed([[[0, 1], [2]], [[], [3]]])
    plan = sim.plan()
    assert plan.loc[plan["order_id"] == 3, "dispatch_time"].iloc[0] == day.release[3]
    sim, _ = executed([[[]], [[0]]])
    assert sim.plan()["vehicle"].tolist() == [1]


@pytest.mark.parametrize("trips", [[[[0, 0]]], [[[-1]]], [[[17]]]], ids=["twice_in_a_trip", "minus_one", "beyond"])
def test_a_whole_day_plan_with_a_bad_order_id_is_refused(trips):
    assert len(day_of(SMOKE, 5)) == 17
    with pytest.raises(ValueError, match=r"^plan: "):
        executed(trips)
