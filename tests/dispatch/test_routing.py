"""The routers of the dispatch operation: VRPLIB / Solomon instances and their published costs,
feasibility and cost bookkeeping of savings / insertion / PyVRP (property tests on random
problems), PyVRP's hindsight multi-trip plan, and the ``experiments.analysis.routing`` command."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.dispatch.routing import pyvrp_router
from envs.dispatch.routing.insertion import InsertionRouter, insertion_route
from envs.dispatch.routing.instances import (
    generate_instance,
    plan_summary,
    read_instance,
    read_solution,
    tidy,
)
from envs.dispatch.routing.problem import RoutingProblem, Trip, check_plan, plan_cost, schedule
from envs.dispatch.routing.pyvrp_router import chain, multi_trip_routes, pyvrp_route, scales
from envs.dispatch.routing.savings import savings_route

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "vrplib"
OPTIMA = {"A-n32-k5.vrp": 784, "P-n16-k8.vrp": 450, "E-n22-k4.txt": 375, "RC208.vrp": 776.1}


def instance(name: str) -> RoutingProblem:
    return read_instance(DATA / name)[0]


# ---- instances and published solutions ----------------------------------------------------
@pytest.mark.parametrize(("name", "cost"), [("A-n32-k5", 784), ("P-n16-k8", 450), ("RC208", 776.1)])
def test_published_solutions_reproduce_exactly(name, cost):
    problem, info = read_instance(DATA / f"{name}.vrp")
    trips, stated = read_solution(DATA / f"{name}.sol")
    assert stated == cost
    assert plan_summary(problem, trips) == (True, "")
    assert tidy(plan_cost(problem, trips)) == cost
    assert info["rounding"] == ("trunc1" if name == "RC208" else "nint")


def test_rc208_needs_solomons_truncated_decimal():
    """Unrounded distances give 778.93 and rounded decimals 778.4: 776.1 is truncation."""
    trips, _ = read_solution(DATA / "RC208.sol")
    assert tidy(plan_cost(read_instance(DATA / "RC208.vrp", "exact")[0], trips)) == pytest.approx(778.9256, abs=1e-3)


def test_solomon_format_is_read(tmp_path):
    text = ("TINY\n\nVEHICLE\nNUMBER     CAPACITY\n  25         200\n\nCUSTOMER\n"
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
            "    0      40         50          0          0       1236          0\n"
            "    1      45         68         10        912        967         90\n"
            "    2      42         66         10         65        146         90\n")
    (tmp_path / "tiny.txt").write_text(text)
    problem, info = read_instance(tmp_path / "tiny.txt")
    assert info["format"] == "solomon" and info["rounding"] == "trunc1"
    assert problem.distance[0, 1] == 18.6 and problem.shift_end == 1236 and problem.hard_deadline
    trips, unrouted = insertion_route(problem)
    assert unrouted == [] and [t.stops for t in trips] == [[2, 1]]


def test_generated_instances_are_deterministic_and_servable():
    a, b = generate_instance(40, "clustered", True, seed=3), generate_instance(40, "clustered", True, seed=3)
    assert np.array_equal(a.distance, b.distance) and np.array_equal(a.deadline, b.deadline)
    assert all(schedule(a, Trip(0, [u])).feasible for u in range(1, 41))  # every order alone is feasible


# ---- the routers on the shared instances ------------------------------------------------------
def test_pyvrp_reaches_the_optimum_of_e_n22_k4():
    problem = instance("E-n22-k4.txt")
    trips, unrouted = pyvrp_route(problem, time_limit=None, max_iterations=300, seed=0)
    assert unrouted == [] and plan_summary(problem, trips)[0]
    assert plan_cost(problem, trips) == 375


@pytest.mark.parametrize("name", sorted(OPTIMA))
@pytest.mark.parametrize("router", [savings_route, insertion_route])
def test_heuristics_are_feasible_and_not_below_the_optimum(name, router):
    problem = instance(name)
    trips, unrouted = router(problem)
    assert unrouted == [] and plan_summary(problem, trips) == (True, "")
    assert plan_cost(problem, trips) >= OPTIMA[name] - 1e-6


def test_scales_are_exact_for_benchmark_conventions():
    assert scales(instance("A-n32-k5.vrp")) == (1, 1)
    assert scales(instance("RC208.vrp")) == (10, 10)
    problem = dataclasses.replace(instance("A-n32-k5.vrp"), cost_per_km=math.pi)
    assert scales(problem)[0] == pyvrp_router.FALLBACK_SCALE


# ---- random small problems (property tests) ---------------------------------------------------
@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10, size=(n + 1, 2))
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    speed = draw(st.sampled_from([0.5, 1.0, 2.0]))
    release = np.concatenate([[0.0], rng.uniform(0, 20, n) * draw(st.sampled_from([0.0, 1.0]))])
    earliest = np.concatenate([[0.0], rng.uniform(0, 30, n) * draw(st.sampled_from([0.0, 1.0]))])
    deadline = np.concatenate([[math.inf], earliest[1:] + rng.uniform(0, 60, n)])
    return RoutingProblem(
        distance=dist, duration=dist / speed, service=np.concatenate([[0.0], rng.uniform(0, 3, n)]),
        demand=np.concatenate([[0], rng.integers(1, 5, n)]), earliest=earliest, deadline=deadline,
        release=release, capacity=draw(st.integers(4, 15)),
        vehicle_ready=rng.uniform(0, 10, draw(st.integers(1, 4))) * draw(st.sampled_from([0.0, 1.0])),
        shift_end=draw(st.sampled_from([math.inf, 80.0, 150.0])), cost_per_km=draw(st.sampled_from([0.5, 1.0])),
        cost_per_trip=draw(st.sampled_from([0.0, 5.0])), cost_per_late_minute=draw(st.sampled_from([0.0, 0.5, 2.0])),
        hard_deadline=draw(st.booleans()))


def assert_valid(problem: RoutingProblem, trips: list[Trip], unrouted: list[int]) -> None:
    check_plan(problem, trips)  # feasible, each vehicle once, each order at most once
    served = [s for t in trips for s in t.stops]
    assert sorted(served + list(unrouted)) == list(range(1, problem.n_orders + 1))
    assert all(t.stops for t in trips)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 3))
def test_insertion_is_feasible_and_its_cost_bookkeeping_is_exact(problem, rounds):
    router = InsertionRouter(problem, neighbours=4)
    router.construct()
    built = plan_cost(problem, router.plan())
    assert router.cost == pytest.approx(built, abs=1e-6)
    assert_valid(problem, router.plan(), router.unrouted)
    router.improve()
    improved = plan_cost(problem, router.plan())
    assert improved <= built + 1e-9  # the local search never worsens the construction
    router.eliminate()
    router.perturb(rounds, seed=rounds)
    assert plan_cost(problem, router.plan()) <= improved + 1e-9
    assert router.cost == pytest.approx(plan_cost(problem, router.plan()), abs=1e-6)
    assert_valid(problem, router.plan(), router.unrouted)
    while router.unrouted and router.reinsert():  # as insertion_route does
        pass
    assert router.cost == pytest.approx(plan_cost(problem, router.plan()), abs=1e-6)
    assert_valid(problem, router.plan(), router.unrouted)
    for u in router.unrouted:  # an order left out fits on no trip and on no idle vehicle
        assert router.best_insertion(u)[1] is None


@settings(max_examples=100, deadline=None)
@given(problems())
def test_savings_is_feasible(problem):
    trips, unrouted = savings_route(problem)
    assert_valid(problem, trips, unrouted)


@settings(max_examples=15, deadline=None)
@given(problems())
def test_pyvrp_route_is_feasible(problem):
    trips, unrouted = pyvrp_route(problem, time_limit=None, max_iterations=50)
    assert_valid(problem, trips, unrouted)


def test_pyvrp_falls_back_to_insertion_for_infeasible_trips(monkeypatch):
    """Trips of PyVRP's solution that ``schedule`` rejects are dropped and re-inserted."""
    problem = instance("P-n16-k8.vrp")
    monkeypatch.setattr(pyvrp_router, "_routes", lambda *args: [(0, [list(range(1, 16))])])  # over capacity
    trips, unrouted = pyvrp_route(problem, time_limit=None, max_iterations=10)
    assert unrouted == [] and plan_summary(problem, trips) == (True, "")


# ---- the hindsight plan: several trips per vehicle ------------------------------------------
def day_problem(n: int = 24, vehicles: int = 2, seed: int = 0) -> RoutingProblem:
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0, 0], rng.uniform(-5, 5, (n, 2))])
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    release = np.concatenate([[0.0], np.sort(rng.uniform(0, 300, n))])
    return RoutingProblem(
        distance=dist, duration=dist / 0.5, service=np.concatenate([[0.0], np.full(n, 3.0)]),
        demand=np.concatenate([[0], rng.integers(1, 4, n)]), earliest=np.zeros(n + 1),
        deadline=np.concatenate([[math.inf], release[1:] + 90]), release=release, capacity=8,
        vehicle_ready=np.zeros(vehicles), shift_end=480.0, cost_per_km=0.5, cost_per_trip=5.0,
        cost_per_late_minute=0.5)


def test_multi_trip_hindsight_plan_chains_feasibly():
    problem = day_problem()
    plan = multi_trip_routes(problem, time_limit=None, max_iterations=200)
    served = [s for trips in plan for trip in trips for s in trip]
    assert sorted(served) == list(range(1, problem.n_orders + 1))
    assert sum(len(trips) > 1 for trips in plan) >= 1  # capacity 8 for ~48 units: vehicles reload
    for v, trips in enumerate(plan):
        back = problem.vehicle_ready[v]
        for stops, sched in zip(trips, chain(problem, v, trips), strict=True):
            assert sched.feasible, sched.why
            assert sched.departure >= max(back, problem.release[stops].max()) - 1e-9
            back = sched.trip_return


def test_pyvrp_applies_release_times_per_trip():
    """What ``multi_trip_routes`` relies on: after a reload, a trip waits for the release of
    its own clients only (PyVRP 0.14)."""
    import pyvrp

    dist = np.array([[0, 10, 10], [10, 0, 30], [10, 30, 0]])
    data = pyvrp.ProblemData(
        [pyvrp.Location(0, 0)] * 3,
        [pyvrp.Client(1, delivery=[1], tw_late=15), pyvrp.Client(2, delivery=[1], tw_late=110, release_time=100)],
        [pyvrp.Depot(0)], [pyvrp.VehicleType(1, capacity=[1], reload_depots=[0], max_reloads=2)], [dist], [dist])
    visits = [pyvrp.Activity(pyvrp.ActivityType.CLIENT, 0), pyvrp.Activity(pyvrp.ActivityType.DEPOT, 0),
              pyvrp.Activity(pyvrp.ActivityType.CLIENT, 1)]
    route = pyvrp.Route(data, visits, 0)
    assert route.is_feasible()  # the first client is served at 10 <= 15: its trip did not wait for 100
    starts = {(a.type, a.idx): a.start_time for a in route.schedule()}
    assert starts[(pyvrp.ActivityType.CLIENT, 1)] == 110


# ---- the command line ------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "experiments.analysis.routing", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_routes_an_instance_and_checks_its_solution(tmp_path):
    out = tmp_path / "run"
    result = run_cli(f"instance={DATA / 'A-n32-k5.vrp'}", f"solution={DATA / 'A-n32-k5.sol'}", "time_limit=0.3",
                     "repeats=1", f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out / "results.csv")
    assert list(frame["solver"]) == ["savings", "insertion", "pyvrp"]
    assert frame["feasible"].all() and (frame["bks"] == 784).all()
    assert (frame["cost"] >= 784).all() and (frame["gap_pct"] >= 0).all()
    assert (out / "results.md").is_file()


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.vrp"
    bad.write_text("this is not an instance\n")
    result = run_cli(f"instance={bad}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: instance:")
