"""The trips of ``courier_dispatch_v0``'s couriers: their picks grown into timed trips.

At a decision epoch each courier at the depot may pick one pending order. :func:`courier_trips`
turns those picks into the epoch's trips by cheapest insertion (:func:`cheapest_insertions`
over :func:`insertion_table`, the exact vectorised re-timing of every insertion of a candidate
into a trip); the simulator then records and books them as the trips of its own router
(``DispatchSimulator.step(..., planned=...)``). :func:`direct_trip_ok` is the feasibility of a
trip to one order alone, the courier env's action mask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from envs.dispatch.routing.problem import RoutingProblem, Schedule, Trip, schedule

if TYPE_CHECKING:  # the simulator calls the routers: only its type is needed here
    from envs.dispatch.simulator import DispatchSimulator

EPS = 1e-9


def insertion_table(p: RoutingProblem, stops: list[int], s: Schedule, cands: np.ndarray):
    """Every insertion of each candidate node into the timed trip ``stops`` (schedule ``s``),
    vectorised over (candidate, position j = before the j-th stop; j = len(stops): last).

    Returns (added km, added late minutes including the candidate's own, new return time,
    feasible), each (C, len(stops) + 1). Times follow :func:`schedule`'s recursion exactly;
    feasible: capacity, shift end, hard deadlines, and the departure unchanged (the candidate
    released by then)."""
    prev, nxt = np.array([0, *stops]), np.array([*stops, 0])
    km = p.distance[np.ix_(prev, cands)].T + p.distance[np.ix_(cands, nxt)] - p.distance[prev, nxt]
    end_prev = np.concatenate([[s.departure], s.service_end])
    start = np.maximum(end_prev + p.duration[np.ix_(prev, cands)].T, p.earliest[cands, None])
    late = np.maximum(0.0, start - p.deadline[cands, None])
    t = start + p.service[cands, None] + p.duration[np.ix_(cands, nxt)]  # arrival after the candidate
    for j, node in enumerate(stops):  # push the later stops (positions <= j precede stop j)
        st = np.maximum(t[:, : j + 1], p.earliest[node])
        late[:, : j + 1] += np.maximum(0.0, st - p.deadline[node]) - s.late[j]
        t[:, : j + 1] = st + p.service[node] + p.duration[node, nxt[j + 1]]
    ok = ((s.load + p.demand[cands] <= p.capacity) & (p.release[cands] <= s.departure + EPS))[:, None]
    ok = ok & (t <= p.shift_end + EPS)
    if p.hard_deadline:
        ok &= late <= EPS
    return km, late, t, ok


def cheapest_insertions(p: RoutingProblem, trips: list[list[int]], cands: list[int], price) -> list[int]:
    """Insert ``cands`` (nodes) one at a time where ``price(stops, sched, km, late, back, ok)``
    (an array over (candidate, position), inf = not allowed) is least over all ``trips``;
    ties go to the lower trip, then the earlier candidate. ``trips`` grow in place; returns
    the candidates that found no place."""
    cands = list(cands)
    scheds = [schedule(p, Trip(k, stops)) for k, stops in enumerate(trips)]

    def best(k):
        if not cands:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        cost = price(trips[k], scheds[k], *insertion_table(p, trips[k], scheds[k], np.asarray(cands)))
        return cost.min(axis=1), cost.argmin(axis=1)

    table = [best(k) for k in range(len(trips))]
    while cands and trips:
        costs = np.stack([c for c, _ in table])
        k, i = np.unravel_index(int(np.argmin(costs)), costs.shape)
        if not np.isfinite(costs[k, i]):
            break
        trips[k].insert(int(table[k][1][i]), cands.pop(i))
        scheds[k] = schedule(p, Trip(int(k), trips[k]))
        table = [(c[np.arange(len(c)) != i], pos[np.arange(len(pos)) != i]) for c, pos in table]
        table[k] = best(k)
    return cands


def direct_trip_ok(sim: DispatchSimulator, ids: np.ndarray) -> np.ndarray:
    """Whether a trip from the depot to each order alone, leaving now, is feasible (back by
    the shift end; on time with hard deadlines)."""
    d = sim.day
    start = np.maximum(sim.depart_time + sim.direct[ids], d.earliest[ids])
    ok = start + d.service[ids] + sim.back[ids] <= sim.shift_end + EPS
    return ok & (start <= d.deadline[ids] + EPS) if sim.config.hard_deadlines else ok


def courier_trips(sim: DispatchSimulator, seeds: dict[int, int], grow_max_detour: float):
    """The epoch's trips from the couriers' picks ``seeds`` (vehicle -> day order id).

    1. each picking courier's trip is seeded by its order;
    2. the pending must-go orders are inserted by cheapest insertion (added km, lateness and,
       for a waiting idle courier, the trip charge: it opens a trip only when that is cheaper
       or nothing else fits);
    3. every trip grows by cheapest insertion (added km, over all trips at once) of other
       pending orders while an insertion keeps the trip feasible (capacity, shift end), makes
       no stop later than it was, puts the new order on time and moves the return by at most
       ``grow_max_detour`` minutes (each insertion).

    Returns (problem, trips, orders, vehicles) for :meth:`DispatchSimulator.record` (no
    trips and None for the problem when there is nothing to do)."""
    c = sim.config
    idle = sim.idle_vehicles()
    orders = sim.pending[np.lexsort((sim.pending, sim.day.deadline[sim.pending]))]  # most urgent first
    must = orders[sim.must_go(orders)]
    if not len(idle) or not (seeds or len(must)):
        return None, [], orders, idle
    p = sim.problem(orders, idle)
    node = {int(o): i + 1 for i, o in enumerate(orders)}
    slot = {int(v): k for k, v in enumerate(idle)}
    trips: list[list[int]] = [[] for _ in idle]
    for veh, oid in seeds.items():
        trips[slot[veh]] = [node[oid]]
    taken = {node[o] for o in seeds.values()}
    ckm, clate, ctrip = c.cost_per_km, c.cost_per_late_minute, c.cost_per_trip

    def must_price(stops, s, km, late, back, ok):
        return np.where(ok, ckm * km + clate * late + (0.0 if stops else ctrip), np.inf)

    left = cheapest_insertions(p, trips, [node[int(o)] for o in must if node[int(o)] not in taken], must_price)

    def grow_price(stops, s, km, late, back, ok):
        fits = ok & (late <= EPS) & (back - s.trip_return <= grow_max_detour + EPS)
        return np.where(fits, ckm * km, np.inf)

    used = [k for k, stops in enumerate(trips) if stops]
    busy = {n for stops in trips for n in stops} | set(left)
    grown = [trips[k] for k in used]
    cheapest_insertions(p, grown, [n for n in range(1, len(orders) + 1) if n not in busy], grow_price)
    return p, [Trip(k, trips[k]) for k in used], orders, idle
