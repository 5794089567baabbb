"""The routing problem every router solves, and the one schedule evaluation they all share.

A :class:`RoutingProblem` is a set of orders to deliver from one depot by the vehicles that
are ready there. Node 0 is the depot; nodes ``1..n`` are the orders (their rows in the
matrices). Each vehicle makes at most one *trip* (depot -> stops -> depot) per problem; the
dynamic simulator poses one problem per decision epoch with the vehicles idle at the depot,
and the static suite (VRPLIB/Solomon) poses one problem with every vehicle ready at time 0.

Time windows: service cannot start before ``earliest`` (the vehicle waits); service after
``deadline`` is *late* and costs ``cost_per_late_minute`` per minute (soft), unless
``hard_deadline`` is set (VRPTW: lateness is infeasible). A trip cannot leave the depot
before the latest ``release`` of its orders, nor before its vehicle is ready
(``vehicle_ready``), and must be back by ``shift_end`` (hard). Capacity is hard.

:func:`schedule` is the only place times, distances and lateness of a trip are computed:
routers, the simulator, the plans and the tests all call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INF = float("inf")


@dataclass
class RoutingProblem:
    """Orders 1..n to deliver from depot 0 by the vehicles ready at the depot.

    ``distance`` (km) and ``duration`` (minutes) are (n+1, n+1) matrices, possibly asymmetric;
    ``service``, ``demand``, ``earliest``, ``deadline`` and ``release`` have n+1 entries (entry
    0, the depot, is 0 / 0 / 0 / inf / 0). ``vehicle_ready[v]`` is when vehicle v can leave;
    every vehicle has ``capacity``. ``shift_end``: every trip must be back by then (hard).
    """

    distance: np.ndarray
    duration: np.ndarray
    service: np.ndarray
    demand: np.ndarray
    earliest: np.ndarray
    deadline: np.ndarray
    release: np.ndarray
    capacity: int
    vehicle_ready: np.ndarray
    shift_end: float = INF
    cost_per_km: float = 1.0
    cost_per_trip: float = 0.0
    cost_per_late_minute: float = 0.0
    hard_deadline: bool = False

    @property
    def n_orders(self) -> int:
        return len(self.demand) - 1

    @property
    def n_vehicles(self) -> int:
        return len(self.vehicle_ready)


@dataclass
class Trip:
    """One trip: ``vehicle`` leaves the depot at ``start`` (None: as early as allowed) and
    visits ``stops`` (node indices 1..n of its problem) in order."""

    vehicle: int
    stops: list[int]
    start: float | None = None


@dataclass
class Schedule:
    """The timed trip (:func:`schedule`): per stop its arrival, service start and end; the
    departure from and return to the depot; km, load, late minutes, feasibility."""

    departure: float
    arrival: np.ndarray
    service_start: np.ndarray
    service_end: np.ndarray
    late: np.ndarray
    trip_return: float
    km: float
    load: int
    feasible: bool
    why: str = field(default="")

    @property
    def late_minutes(self) -> float:
        return float(self.late.sum())


def schedule(problem: RoutingProblem, trip: Trip) -> Schedule:
    """Time ``trip`` in ``problem``: it leaves at ``max(trip.start or ready, release of its
    stops)``, drives ``duration``, waits for ``earliest``, serves ``service``; lateness is
    service start minus deadline where positive. Feasible iff capacity, the shift end and
    (with ``hard_deadline``) the deadlines hold."""
    p, stops = problem, trip.stops
    ready = float(p.vehicle_ready[trip.vehicle])
    depart = max(ready if trip.start is None else max(float(trip.start), ready),
                 max((float(p.release[s]) for s in stops), default=0.0))
    n = len(stops)
    arrival, start, end, late = (np.empty(n) for _ in range(4))
    t, prev, km, load = depart, 0, 0.0, 0
    for i, s in enumerate(stops):
        t += float(p.duration[prev, s])
        km += float(p.distance[prev, s])
        arrival[i] = t
        t = max(t, float(p.earliest[s]))
        start[i] = t
        late[i] = max(0.0, t - float(p.deadline[s]))
        t += float(p.service[s])
        end[i] = t
        load += int(p.demand[s])
        prev = s
    back = t + float(p.duration[prev, 0]) if n else depart
    km += float(p.distance[prev, 0]) if n else 0.0
    why = ""
    if load > p.capacity:
        why = f"load {load} > capacity {p.capacity}"
    elif back > p.shift_end + 1e-9:
        why = f"returns at {back:.1f} > shift end {p.shift_end:.1f}"
    elif p.hard_deadline and late.sum() > 1e-9:
        why = "a deadline is missed"
    return Schedule(depart, arrival, start, end, late, back, km, load, not why, why)


def trip_cost(problem: RoutingProblem, sched: Schedule) -> float:
    """Cost of a timed trip: km, the trip charge (if it has stops) and lateness."""
    if not len(sched.arrival):
        return 0.0
    return (problem.cost_per_km * sched.km + problem.cost_per_trip
            + problem.cost_per_late_minute * sched.late_minutes)


def plan_cost(problem: RoutingProblem, trips: list[Trip]) -> float:
    """Total cost of a set of trips (each vehicle at most once)."""
    return sum(trip_cost(problem, schedule(problem, t)) for t in trips)


def check_plan(problem: RoutingProblem, trips: list[Trip]) -> None:
    """Raise ValueError unless every order is served at most once, every vehicle makes at
    most one trip, and every trip is feasible."""
    seen: set[int] = set()
    vehicles: set[int] = set()
    for t in trips:
        if t.vehicle in vehicles:
            raise ValueError(f"vehicle {t.vehicle} makes two trips")
        vehicles.add(t.vehicle)
        for s in t.stops:
            if not 1 <= s <= problem.n_orders:
                raise ValueError(f"stop {s} is not an order (1..{problem.n_orders})")
            if s in seen:
                raise ValueError(f"order {s} is served twice")
            seen.add(s)
        sched = schedule(problem, t)
        if not sched.feasible:
            raise ValueError(f"trip of vehicle {t.vehicle}: {sched.why}")
