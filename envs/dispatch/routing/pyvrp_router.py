"""PyVRP (hybrid genetic / iterated local search, state of the art) as a router and a hindsight planner.

Description:
    :func:`pyvrp_route` solves a :class:`RoutingProblem` with PyVRP 0.14 (each vehicle one
    trip) and returns ``(trips, unrouted)`` like the other routers; :func:`multi_trip_routes`
    plans a whole day known in advance, each vehicle making several trips (PyVRP's reload
    depots), for the hindsight plan of the dispatch benchmark.

Objective:
    PyVRP minimises ``cost_per_km`` x km + ``cost_per_trip`` per trip (added to every edge
    leaving the depot, so it is charged per trip, also after a reload). Lateness is not in
    PyVRP's objective (its time windows are hard): the returned plan is always re-evaluated
    by :func:`~envs.dispatch.routing.problem.schedule`.

Integer scaling:
    PyVRP needs integers. Costs are ``cost_per_km`` x distance (and ``cost_per_trip``) times
    ``cost_scale``, rounded; times are multiplied by ``time_scale``. Each scale is the
    smallest of 1, 10, 100, 1000 that makes its numbers integral (exact: TSPLIB ``nint``
    matrices stay as they are, Solomon's one-decimal matrices get x10), else 100 (an
    approximation). Times are rounded *conservatively* (durations, service, earliest times,
    release and ready times up; deadlines and the shift end down), so a plan PyVRP finds
    feasible is feasible for ``schedule`` too.

Soft deadlines (``hard_deadline`` False):
    PyVRP's time windows are hard. An order gets ``tw_late = deadline`` when it can still be
    served on time by a trip of its own from the depot, otherwise no deadline at all (it will
    be late whatever happens); with ``cost_per_late_minute`` 0 no order gets one. This is an
    approximation: PyVRP never trades lateness against km, and it may open extra trips to be
    on time where paying for lateness would be cheaper.

Infeasible results:
    Orders infeasible even as a trip of their own are unrouted and not given to PyVRP. When
    the fleet cannot carry every order, orders become optional with a large prize. Trips of
    PyVRP's best solution that ``schedule`` finds infeasible are dropped and their orders
    re-inserted by cheapest insertion (:class:`~envs.dispatch.routing.insertion.InsertionRouter`).

Release times with reloads:
    PyVRP 0.14 applies ``Client.release_time`` *per trip*: a trip after a reload waits at the
    depot for the release of its own clients only (checked: a one-vehicle route serving a
    client released at 0, reloading, then a client released at 100 leaves on its second
    trip at 100 and its first trip is not delayed). That is ``schedule``'s rule chained over a
    vehicle's trips (:func:`chain`), so no post-processing is needed; :func:`chain` re-times
    the plan and the tests check it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from envs.dispatch.routing.problem import RoutingProblem, Schedule, Trip, schedule

SCALES = (1, 10, 100, 1000)
FALLBACK_SCALE = 100


def _scale_for(values: np.ndarray) -> int:
    """Smallest scale making every finite value integral (within 1e-6), else FALLBACK_SCALE."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    for s in SCALES:
        scaled = values * s
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6) and np.all(np.abs(scaled) < 2**50):
            return s
    return FALLBACK_SCALE


def scales(problem: RoutingProblem) -> tuple[int, int]:
    """``(cost_scale, time_scale)`` used for ``problem`` (see the module doc)."""
    p = problem
    costs = np.concatenate([(p.cost_per_km * p.distance).ravel(), [p.cost_per_trip]])
    times = np.concatenate([p.duration.ravel(), p.service, p.earliest, p.deadline, p.release,
                            p.vehicle_ready, [p.shift_end]])
    return _scale_for(costs), _scale_for(times)


def _up(x: float, s: int) -> int:
    return int(math.ceil(x * s - 1e-6))


def _down(x: float, s: int) -> int:
    return int(math.floor(x * s + 1e-6))


def alone_feasible(problem: RoutingProblem) -> list[int]:
    """Orders that a trip of their own, on the earliest-ready vehicle, serves feasibly."""
    if not problem.n_vehicles:
        return []
    v = int(np.argmin(problem.vehicle_ready))
    return [u for u in range(1, problem.n_orders + 1) if schedule(problem, Trip(v, [u])).feasible]


def build_data(problem: RoutingProblem, orders: list[int], reloads: int | None = None):
    """PyVRP ``ProblemData`` for ``orders`` (client i is order ``orders[i]``) and the vehicle
    ids of each vehicle type. ``reloads``: None for one trip per vehicle, else the most
    reloads (extra trips) per vehicle."""
    import pyvrp

    p = problem
    cs, ts = scales(p)
    nodes = [0, *orders]
    sub = np.ix_(nodes, nodes)
    cost = np.rint(p.cost_per_km * p.distance[sub] * cs).astype(np.int64)
    cost[0, 1:] += int(round(p.cost_per_trip * cs))  # the trip charge, on every edge leaving the depot
    dur = np.ceil(p.duration[sub] * ts - 1e-6).astype(np.int64)
    np.fill_diagonal(cost, 0)
    np.fill_diagonal(dur, 0)
    first = float(np.min(p.vehicle_ready))
    optional = reloads is None and int(p.demand[orders].sum()) > p.capacity * p.n_vehicles
    prize = int(4 * (cost[0, 1:].max() + cost[1:, 0].max()) + 1) if orders else 0
    clients = []
    for i, u in enumerate(orders, start=1):
        kw = {}
        if p.earliest[u] > 0:
            kw["tw_early"] = _up(p.earliest[u], ts)
        if math.isfinite(p.deadline[u]):
            on_time = max(max(first, p.release[u]) + p.duration[0, u], p.earliest[u]) <= p.deadline[u]
            if p.hard_deadline or (p.cost_per_late_minute > 0 and on_time):
                kw["tw_late"] = max(_down(p.deadline[u], ts), kw.get("tw_early", 0))
        if p.release[u] > 0:
            kw["release_time"] = _up(p.release[u], ts)
        if optional:
            kw.update(required=False, prize=prize)
        clients.append(pyvrp.Client(i, delivery=[int(p.demand[u])], service_duration=_up(p.service[u], ts), **kw))
    groups: dict[int, list[int]] = {}
    for v in np.argsort(p.vehicle_ready, kind="stable"):
        groups.setdefault(_up(p.vehicle_ready[v], ts), []).append(int(v))
    types = []
    for ready, ids in groups.items():
        kw = {"tw_early": ready}
        if math.isfinite(p.shift_end):  # (a vehicle ready after the shift end serves nothing)
            kw["tw_late"] = max(_down(p.shift_end, ts), ready)
        if reloads is not None:
            kw.update(reload_depots=[0], max_reloads=int(reloads))
        types.append(pyvrp.VehicleType(len(ids), capacity=[int(p.capacity)], **kw))
    locations = [pyvrp.Location(0, 0) for _ in nodes]
    data = pyvrp.ProblemData(locations, clients, [pyvrp.Depot(0)], types, [cost], [dur])
    return data, list(groups.values())


def _solve(data, time_limit: float | None, seed: int, max_iterations: int | None):
    import pyvrp
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    stops = []
    if time_limit is not None:
        stops.append(MaxRuntime(float(time_limit)))
    if max_iterations is not None:
        stops.append(MaxIterations(int(max_iterations)))
    if not stops:
        raise ValueError("pyvrp: give time_limit or max_iterations")
    stop = stops[0] if len(stops) == 1 else MultipleCriteria(stops)
    with warnings.catch_warnings():  # PenaltyBoundWarning: infeasible best solutions are handled by the caller
        warnings.simplefilter("ignore")
        return pyvrp.solve(data, stop=stop, seed=seed, display=False, collect_stats=False).best


def _routes(solution, orders: list[int], vehicles: list[list[int]]) -> list[tuple[int, list[list[int]]]]:
    """``(vehicle, trips)`` of every route of a PyVRP solution, in our node numbers."""
    import pyvrp

    free = [list(ids) for ids in vehicles]
    out = []
    for route in solution.routes():
        trips: dict[int, list[int]] = {}
        for act in route.schedule():
            if act.type == pyvrp.ActivityType.CLIENT:
                trips.setdefault(act.trip, []).append(orders[act.idx])
        out.append((free[route.vehicle_type()].pop(0), [trips[k] for k in sorted(trips)]))
    return out


def pyvrp_route(problem: RoutingProblem, time_limit: float | None = 1.0, seed: int = 0,
                max_iterations: int | None = None) -> tuple[list[Trip], list[int]]:
    """Solve ``problem`` with PyVRP for ``time_limit`` seconds (and/or ``max_iterations``).

    Returns ``(trips, unrouted)`` like :func:`~envs.dispatch.routing.insertion.insertion_route`:
    feasible trips (checked by ``schedule``; infeasible ones are dropped and their orders
    re-inserted by cheapest insertion) and the orders that fit nowhere.
    """
    from envs.dispatch.routing.insertion import InsertionRouter

    orders = alone_feasible(problem)
    trips: list[Trip] = []
    if orders:
        data, vehicles = build_data(problem, orders)
        best = _solve(data, time_limit, seed, max_iterations)
        trips = [Trip(v, stops[0]) for v, stops in _routes(best, orders, vehicles) if stops]
    kept = [t for t in trips if schedule(problem, t).feasible]
    served = {s for t in kept for s in t.stops}
    rest = [u for u in range(1, problem.n_orders + 1) if u not in served]
    if not rest:
        return kept, []
    router = InsertionRouter(problem)
    router.start(kept)
    router.construct(rest)
    return router.plan(), router.unrouted


def chain(problem: RoutingProblem, vehicle: int, trips: list[list[int]]) -> list[Schedule]:
    """Time a vehicle's trips in order: trip k+1 leaves when trip k is back (or later, for
    its vehicle's ready time and its orders' release)."""
    out: list[Schedule] = []
    start = None
    for stops in trips:
        sched = schedule(problem, Trip(vehicle, stops, start))
        out.append(sched)
        start = sched.trip_return
    return out


def multi_trip_routes(problem: RoutingProblem, time_limit: float | None = 1.0, seed: int = 0,
                      max_reloads: int = 20, max_iterations: int | None = None) -> list[list[list[int]]]:
    """The hindsight plan: every order of the day known in advance, each vehicle making up
    to ``max_reloads + 1`` trips. Returns, per vehicle of ``problem``, its trips in order
    (each a list of order nodes).

    Release times are per trip (see the module doc); :func:`chain` gives the times. If
    PyVRP's best solution is infeasible (too many soft deadlines imposed as hard), it is
    solved again with no soft deadline. Orders infeasible on their own, and orders of trips
    that :func:`chain` finds infeasible, are left out (never expected for a day the fleet
    can serve).
    """
    orders = alone_feasible(problem)
    plan: list[list[list[int]]] = [[] for _ in range(problem.n_vehicles)]
    if not orders:
        return plan
    data, vehicles = build_data(problem, orders, reloads=max_reloads)
    best = _solve(data, time_limit, seed, max_iterations)
    if not best.is_feasible() and not problem.hard_deadline and problem.cost_per_late_minute > 0:
        relaxed = dataclasses.replace(problem, cost_per_late_minute=0.0)
        data, vehicles = build_data(relaxed, orders, reloads=max_reloads)
        best = _solve(data, time_limit, seed, max_iterations)
    for v, trips in _routes(best, orders, vehicles):
        timed = chain(problem, v, trips)
        ok = next((k for k, s in enumerate(timed) if not s.feasible), len(trips))
        plan[v] = trips[:ok]  # an infeasible trip and those after it are dropped
    return plan
