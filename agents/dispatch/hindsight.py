"""The perfect-information reference of a dispatch day (``hindsight``).

The whole day is known in advance: every order, its release time and window. PyVRP
(``envs.dispatch.routing.pyvrp_router.multi_trip_routes``) plans every vehicle's trips of
the day (several trips per vehicle, reloading at the depot; no trip leaves before its
orders' release), and the plan is executed by the same simulator
(``DispatchSimulator.execute``) and charged by the same cost accounting as every online
policy. Trips may leave at any time, not only at decision epochs.

It is the usual *hindsight bound* of dynamic routing in the sense that no online policy can
do better than the optimal perfect-information plan; PyVRP is a heuristic with a time limit,
so the figure reported is the cost of a good perfect-information plan: an upper bound on
that optimum, not a proven lower bound on the online policies. A policy that beats it (a
negative gap) shows the limit, not an error. PyVRP's time windows are hard, so deadlines are
targets the plan meets where it can (see the router's docstring); lateness is charged as for
every other policy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import PlanPolicy
from envs.dispatch.day import Day
from envs.dispatch.simulator import DispatchSimulator, EpochResult


class Hindsight(PlanPolicy):
    """Plan each day with perfect information (module docstring): PyVRP stops after
    ``iterations`` and/or ``seconds`` per day (iterations alone are reproducible)."""

    name = "hindsight"

    def __init__(self, iterations: int | None = 3000, seconds: float | None = None, seed: int = 0):
        self.iterations, self.seconds, self.seed = iterations, seconds, int(seed)

    def plan(self, sim: DispatchSimulator, day: Day) -> list[list[list[int]]]:
        """Per vehicle, its trips of the day as lists of the day's order ids."""
        from envs.dispatch.routing.pyvrp_router import multi_trip_routes

        sim.reset(day)
        n = len(day)
        if n == 0:
            return []
        fleet = sim.config.n_vehicles or n
        problem = sim.problem(np.arange(n), np.arange(fleet))
        problem.vehicle_ready = np.zeros(fleet)
        routes = multi_trip_routes(problem, time_limit=self.seconds, seed=self.seed, max_iterations=self.iterations)
        return [[[int(s) - 1 for s in trip] for trip in trips if trip] for trips in routes]

    def run(self, sim: DispatchSimulator, day: Day) -> EpochResult:
        """Plan ``day`` and execute the plan in ``sim`` (its KPIs and plan rows then hold it)."""
        return sim.execute(day, self.plan(sim, day))

    def run_episode(self, sim: DispatchSimulator) -> None:
        """Plan the day ``sim`` was just reset to and execute the plan (a plan policy)."""
        self.run(sim, sim.day)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        raise TypeError("hindsight plans whole days (Hindsight.run); it does not act on observations")

    def params(self) -> dict[str, Any]:
        out = {"pyvrp_iterations": self.iterations}
        if self.seconds is not None:
            out["pyvrp_seconds"] = self.seconds
        return out
