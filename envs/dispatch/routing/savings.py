"""Clarke-Wright savings (parallel version): the classic baseline router.

Description:
    :func:`savings_route` starts with one trip per order (depot -> order -> depot) and merges
    trips in decreasing order of their *saving*: joining the trip that ends at ``i`` to the
    one that starts at ``j`` saves ``cost_per_km`` x (d(i, 0) + d(0, j) - d(i, j)) km cost
    plus one ``cost_per_trip``. All trips grow at once (the parallel version). A merge is
    made only if the merged trip is feasible for :func:`~envs.dispatch.routing.problem.schedule`
    (capacity, shift end, hard deadlines) and, when lateness is priced, only if it lowers
    the cost of the two trips (``trip_cost`` of the merged trip against the two).

Objective:
    The plan cost of :func:`~envs.dispatch.routing.problem.plan_cost` (km, trip charges,
    lateness), greedily: no local search afterwards.

Limits:
    Feasibility is checked with the earliest-ready vehicle; the merged trips then get the
    vehicles in order of readiness, largest trips first; with fewer vehicles than trips, or
    a trip infeasible on the vehicle it gets, that trip's orders are unrouted. Orders
    infeasible even on a trip of their own are unrouted.
"""

from __future__ import annotations

import numpy as np

from envs.dispatch.routing.problem import RoutingProblem, Trip, schedule, trip_cost


def savings_route(problem: RoutingProblem) -> tuple[list[Trip], list[int]]:
    """Clarke-Wright parallel savings. Returns ``(trips, unrouted)`` like the other routers."""
    p = problem
    n = p.n_orders
    if not p.n_vehicles or not n:
        return [], list(range(1, n + 1))
    first_vehicle = int(np.argmin(p.vehicle_ready))
    # pure CVRP (no time limit of any kind): capacity is the only feasibility check
    timed = p.hard_deadline or np.isfinite(p.shift_end) or p.cost_per_late_minute > 0

    def cost_of(stops: list[int]) -> float | None:
        sched = schedule(p, Trip(first_vehicle, stops))
        return trip_cost(p, sched) if sched.feasible else None

    routes: dict[int, list[int]] = {}
    cost: dict[int, float] = {}
    unrouted = []
    for u in range(1, n + 1):
        c = cost_of([u])
        if c is None:
            unrouted.append(u)
        else:
            routes[u], cost[u] = [u], c
    route_of = {u: u for u in routes}
    load = {u: int(p.demand[u]) for u in routes}

    d = p.distance
    saving = p.cost_per_km * (d[1:, :1] + d[:1, 1:] - d[1:, 1:]) + p.cost_per_trip
    np.fill_diagonal(saving, -np.inf)
    ii, jj = np.nonzero(saving > 1e-9)
    order = np.argsort(-saving[ii, jj], kind="stable")
    for i, j in zip((ii[order] + 1).tolist(), (jj[order] + 1).tolist(), strict=True):
        a, b = route_of.get(i), route_of.get(j)
        if a is None or b is None or a == b:
            continue
        ra, rb = routes[a], routes[b]
        if ra[-1] != i or rb[0] != j or load[a] + load[b] > p.capacity:
            continue
        merged = ra + rb
        if timed:
            c = cost_of(merged)
            if c is None or c >= cost[a] + cost[b] - 1e-9:
                continue
        else:
            c = cost[a] + cost[b] - float(saving[i - 1, j - 1])
        routes[a], cost[a], load[a] = merged, c, load[a] + load[b]
        for s in rb:
            route_of[s] = a
        del routes[b], cost[b], load[b]

    trips: list[Trip] = []
    vehicles = np.argsort(p.vehicle_ready, kind="stable").tolist()
    for stops in sorted(routes.values(), key=lambda r: (-len(r), r[0])):
        trip = Trip(vehicles[len(trips)], stops) if len(trips) < len(vehicles) else None
        if trip is not None and schedule(p, trip).feasible:
            trips.append(trip)
        else:
            unrouted.extend(stops)
    return trips, sorted(unrouted)
