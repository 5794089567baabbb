"""Cheapest insertion with local search: the fast router of the dispatch simulator.

Description:
    :func:`insertion_route` builds one trip per vehicle at most. Orders are taken in
    increasing deadline order (urgent orders get vehicles first; ties: farthest from the
    depot first) and each is inserted at the position of least added cost, over every trip
    and a new trip on the earliest-ready idle vehicle. Added cost = ``cost_per_km`` x extra km
    + ``cost_per_trip`` when a trip is opened + ``cost_per_late_minute`` x extra late minutes
    (of the order and of every later stop it pushes). Capacity, the shift end and, with
    ``hard_deadline``, the deadlines are respected; orders that fit nowhere are returned as
    unrouted. A first-improvement local search follows until no move improves: *relocate*
    (one order to another position, in its trip or another, or to a new trip), *2-opt\\**
    (exchange the tails of two trips) and *2-opt* (reverse a segment of a trip).

Objective:
    The plan cost of :func:`~envs.dispatch.routing.problem.plan_cost`: km, trip charges and
    lateness, exactly as :func:`~envs.dispatch.routing.problem.schedule` times the trips.

Evaluation:
    Every trip's times come from ``schedule``; a move's cost change is computed from them in
    O(1) (plus the stops it delays, when lateness is priced), with Solomon's latest-start
    times for feasibility. After a move the changed trips are re-timed by ``schedule``; a
    move whose real effect is not an improvement (possible only around release times, or
    with distances that break the triangle inequality) is undone. Candidate moves are
    *granular*: an order is only placed next to one of its ``neighbours`` nearest orders
    (all of them in small problems), with a full scan when that finds no feasible place.

Limits:
    A construction heuristic plus simple neighbourhoods: no perturbation, no restarts, so
    it stops in the first local optimum (see ``docs/benchmarks/routing.md`` for its gap to
    PyVRP). Each vehicle makes at most one trip; a trip leaves as early as its vehicle and
    its orders' release allow.
"""

from __future__ import annotations

import numpy as np

from envs.dispatch.routing.problem import INF, RoutingProblem, Trip, schedule, trip_cost

EPS = 1e-7
TOL = 1e-9  # the feasibility tolerance of ``schedule``


class _Trip:
    """A trip and its timing caches (from :func:`schedule`)."""

    __slots__ = ("vehicle", "stops", "dep", "arr", "st", "lat", "back", "load", "cum", "cost", "late_cost", "km")

    def __init__(self, vehicle: int, stops: list[int]):
        self.vehicle, self.stops = vehicle, stops


class InsertionRouter:
    """The state of :func:`insertion_route`: its trips, unrouted orders and tracked cost.

    ``cost`` is the sum of the cost changes the router *predicted* for the moves it applied
    (tests compare it with :func:`plan_cost` of :meth:`plan`). ``neighbours``: how many
    nearest orders bound the candidate positions of an order (granular search).
    """

    def __init__(self, problem: RoutingProblem, neighbours: int = 16):
        p = self.problem = problem
        self.D, self.T = p.distance.tolist(), p.duration.tolist()
        self.svc, self.dem = p.service.tolist(), [int(x) for x in p.demand]
        self.early, self.dl, self.rel = p.earliest.tolist(), p.deadline.tolist(), p.release.tolist()
        self.ready = [float(x) for x in p.vehicle_ready]
        self.cap, self.shift, self.hard = int(p.capacity), float(p.shift_end), bool(p.hard_deadline)
        self.ckm, self.ctrip = float(p.cost_per_km), float(p.cost_per_trip)
        self.clate = 0.0 if self.hard else float(p.cost_per_late_minute)
        self.trips: list[_Trip] = []
        self.spare = sorted(range(p.n_vehicles), key=lambda v: (self.ready[v], v))  # idle vehicles
        self.empty = self._new_empty()
        self.where: dict[int, tuple[_Trip, int]] = {}
        self.unrouted: list[int] = []
        self.cost = 0.0
        n = p.n_orders
        k = min(neighbours, n - 1)
        if n <= 1 or k <= 0:
            self.near = [[] for _ in range(n + 1)]
        else:
            sub = p.distance[1:, 1:] + p.distance[1:, 1:].T
            np.fill_diagonal(sub, INF)
            idx = np.argpartition(sub, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(sub, axis=1)[:, :k]
            self.near = [[]] + [[int(v) + 1 for v in row[np.argsort(sub[i, row])]] for i, row in enumerate(idx)]
        self.full_scan = n <= 2 * neighbours

    # ---- timing caches -------------------------------------------------------------------
    def _new_empty(self) -> _Trip | None:
        if not self.spare:
            return None
        tr = _Trip(self.spare[0], [])
        self._refresh(tr)
        return tr

    def _refresh(self, tr: _Trip) -> bool:
        """Re-time ``tr`` with :func:`schedule`; return its feasibility."""
        sched = schedule(self.problem, Trip(tr.vehicle, tr.stops))
        tr.dep, tr.back = sched.departure, sched.trip_return
        tr.arr, tr.st = sched.arrival.tolist(), sched.service_start.tolist()
        tr.cost = trip_cost(self.problem, sched)
        tr.km = sched.km
        tr.late_cost = self.clate * sched.late_minutes
        stops, T, svc, dl = tr.stops, self.T, self.svc, self.dl
        lat, cum, nxt, latest, load = [0.0] * len(stops), [0] * len(stops), 0, self.shift, 0
        for k in range(len(stops) - 1, -1, -1):
            s = stops[k]
            latest = latest - T[s][nxt] - svc[s]
            if self.hard and dl[s] < latest:
                latest = dl[s]
            lat[k], nxt = latest, s
        for k, s in enumerate(stops):
            load += self.dem[s]
            cum[k] = load
        tr.lat, tr.cum, tr.load = lat, cum, load
        for k, s in enumerate(stops):
            self.where[s] = (tr, k)
        return sched.feasible

    # ---- move evaluation -----------------------------------------------------------------
    def _shift(self, tr: _Trip, j: int, x: float) -> float:
        """Extra late cost when the arrival at stop ``j`` of ``tr`` (``len(stops)``: the
        return) moves by ``x``; INF if that breaks the shift end or a hard deadline."""
        stops = tr.stops
        if j == len(stops):
            return 0.0 if tr.back + x <= self.shift + TOL else INF
        if x > 0 and tr.arr[j] + x > tr.lat[j] + TOL:
            return INF
        if not self.clate:
            return 0.0
        early, dl, arr, st, late = self.early, self.dl, tr.arr, tr.st, 0.0
        for k in range(j, len(stops)):
            s, old = stops[k], st[k]
            new = arr[k] + x
            if new < early[s]:
                new = early[s]
            if new == old:
                break
            d = dl[s]
            late += max(0.0, new - d) - max(0.0, old - d)
            x = new - old
        else:
            if tr.back + x > self.shift + TOL:
                return INF
        return self.clate * late

    def _exact(self, tr: _Trip, stops: list[int]) -> float:
        """Cost change of replacing ``tr``'s stops by ``stops`` (INF if infeasible)."""
        if not stops:
            return -tr.cost
        sched = schedule(self.problem, Trip(tr.vehicle, stops))
        return trip_cost(self.problem, sched) - tr.cost if sched.feasible else INF

    def insert_delta(self, tr: _Trip, i: int, u: int) -> float:
        """Cost change of inserting order ``u`` before stop ``i`` of ``tr``."""
        stops, D, T = tr.stops, self.D, self.T
        if tr.load + self.dem[u] > self.cap:
            return INF
        if self.rel[u] > tr.dep + TOL:
            return self._exact(tr, stops[:i] + [u] + stops[i:])
        n = len(stops)
        prev = stops[i - 1] if i else 0
        nxt = stops[i] if i < n else 0
        t = (tr.st[i - 1] + self.svc[prev] if i else tr.dep) + T[prev][u]
        if t < self.early[u]:
            t = self.early[u]
        late = t - self.dl[u]
        if late > TOL and self.hard:
            return INF
        x = t + self.svc[u] + T[u][nxt] - (tr.arr[i] if i < n else tr.back)
        extra = self._shift(tr, i, x)
        if extra == INF:
            return INF
        added = self.ckm * (D[prev][u] + D[u][nxt] - D[prev][nxt]) + extra + self.clate * max(0.0, late)
        return added + (self.ctrip if not n else 0.0)

    def remove_delta(self, tr: _Trip, i: int) -> float:
        """Cost change of removing stop ``i`` from ``tr``."""
        stops = tr.stops
        n, u = len(stops), stops[i]
        if n == 1:
            return -tr.cost
        if self.rel[u] > self.ready[tr.vehicle] + TOL and self.rel[u] >= tr.dep - TOL:
            return self._exact(tr, stops[:i] + stops[i + 1:])
        prev = stops[i - 1] if i else 0
        nxt = stops[i + 1] if i + 1 < n else 0
        t = (tr.st[i - 1] + self.svc[prev] if i else tr.dep) + self.T[prev][nxt]
        extra = self._shift(tr, i + 1, t - (tr.arr[i + 1] if i + 1 < n else tr.back))
        if extra == INF:
            return INF
        D = self.D
        own = self.clate * max(0.0, tr.st[i] - self.dl[u])
        return self.ckm * (D[prev][nxt] - D[prev][u] - D[u][nxt]) + extra - own

    # ---- applying moves ------------------------------------------------------------------
    def _set(self, tr: _Trip, stops: list[int]) -> bool:
        """Give ``tr`` new stops (opening or closing its vehicle); return feasibility."""
        was_empty = not tr.stops
        for s in tr.stops:
            if self.where.get(s, (None,))[0] is tr:
                del self.where[s]
        tr.stops = stops
        ok = self._refresh(tr)
        if was_empty and stops:
            self.trips.append(tr)
            self.spare.remove(tr.vehicle)
            self.empty = self._new_empty()
        elif stops == [] and not was_empty:
            self.trips.remove(tr)
            self.spare.append(tr.vehicle)
            self.spare.sort(key=lambda v: (self.ready[v], v))
            self.empty = self._new_empty()
        return ok

    def _apply(self, changes: list[tuple[_Trip, list[int]]], predicted: float) -> bool:
        """Apply new stop lists; undo unless they are feasible and improve as predicted
        (construction passes ``predicted=INF``: feasibility only)."""
        old = [(tr, tr.stops, tr.cost) for tr, _ in changes]
        before = sum(c for _, _, c in old)
        ok = all([self._set(tr, stops) for tr, stops in changes])
        after = sum(tr.cost for tr, _ in changes)
        if ok and (predicted == INF or after - before < -EPS):
            self.cost += after - before if predicted == INF else predicted
            return True
        for tr, stops, _ in reversed(old):
            self._set(tr, stops)
        return False

    def _candidates(self, u: int, full: bool) -> list[tuple[_Trip, int]]:
        """Positions to try for ``u``: next to its routed neighbours, or everywhere."""
        out = []
        if not full:
            for v in self.near[u]:
                hit = self.where.get(v)
                if hit is not None:
                    out.append(hit)
                    out.append((hit[0], hit[1] + 1))
        if full or not out:
            out = [(tr, i) for tr in self.trips for i in range(len(tr.stops) + 1)]
        if self.empty is not None:
            out.append((self.empty, 0))
        return out

    def best_insertion(self, u: int, exclude: _Trip | None = None) -> tuple[float, _Trip | None, int]:
        best, where, pos = INF, None, 0
        for full in ((self.full_scan,) if self.full_scan else (False, True)):
            for tr, i in self._candidates(u, full):
                if tr is exclude:
                    continue
                d = self.insert_delta(tr, i, u)
                if d < best:
                    best, where, pos = d, tr, i
            if where is not None:
                break
        return best, where, pos

    def start(self, trips: list[Trip]) -> None:
        """Begin from given (feasible) trips, e.g. a partial plan to complete."""
        for t in trips:
            if t.stops:
                tr = _Trip(t.vehicle, [])
                self._set(tr, list(t.stops))
                self.cost += tr.cost

    # ---- construction --------------------------------------------------------------------
    def construct(self, orders: list[int] | None = None) -> None:
        """Insert ``orders`` (default: all) in increasing deadline order, farthest first on ties."""
        orders = list(range(1, self.problem.n_orders + 1)) if orders is None else list(orders)
        orders.sort(key=lambda u: (self.dl[u], -self.D[0][u], u))
        for u in orders:
            _, tr, i = self.best_insertion(u)
            if tr is None or not self._apply([(tr, tr.stops[:i] + [u] + tr.stops[i:])], INF):
                self.unrouted.append(u)
        self.unrouted.sort()

    # ---- local search --------------------------------------------------------------------
    def relocate(self, u: int) -> bool:
        tr, i = self.where[u]
        gain = self.remove_delta(tr, i)
        if gain == INF:
            return False
        best, to, j = INF, None, 0
        for other, k in self._candidates(u, self.full_scan):
            if other is tr or (other is self.empty and len(tr.stops) == 1):
                continue
            d = self.insert_delta(other, k, u)
            if d < best:
                best, to, j = d, other, k
        if to is not None and gain + best < -EPS:
            rest = tr.stops[:i] + tr.stops[i + 1:]
            return self._apply([(tr, rest), (to, to.stops[:j] + [u] + to.stops[j:])], gain + best)
        # within its own trip: next to a neighbour in the same trip
        rest = tr.stops[:i] + tr.stops[i + 1:]
        for v in self.near[u] if not self.full_scan else tr.stops:
            hit = self.where.get(v)
            if hit is None or hit[0] is not tr or v == u:
                continue
            k = rest.index(v)
            for pos in (k, k + 1):
                stops = rest[:pos] + [u] + rest[pos:]
                if stops == tr.stops:
                    continue
                d = self._exact(tr, stops)
                if d < -EPS:
                    return self._apply([(tr, stops)], d)
        return False

    def two_opt_star(self, u: int) -> bool:
        """Tail exchange making ``u`` adjacent to a neighbour in another trip."""
        a, i = self.where[u]
        A, D, cap = a.stops, self.D, self.cap
        for v in self.near[u]:
            hit = self.where.get(v)
            if hit is None or hit[0] is a:
                continue
            b, j = hit
            B = b.stops
            late = a.late_cost + b.late_cost
            # u -> v: A[:i+1] + B[j:] and B[:j] + A[i+1:]
            sa = A[i + 1] if i + 1 < len(A) else 0
            pb = B[j - 1] if j else 0
            dkm = D[u][v] + D[pb][sa] - D[u][sa] - D[pb][v]
            if self.ckm * dkm - late < -EPS:
                load_a = a.cum[i] + b.load - (b.cum[j - 1] if j else 0)
                load_b = (b.cum[j - 1] if j else 0) + a.load - a.cum[i]
                if load_a <= cap and load_b <= cap and self._try2([(a, A[:i + 1] + B[j:]), (b, B[:j] + A[i + 1:])]):
                    return True
            # v -> u: B[:j+1] + A[i:] and A[:i] + B[j+1:]
            pa = A[i - 1] if i else 0
            sb = B[j + 1] if j + 1 < len(B) else 0
            dkm = D[v][u] + D[pa][sb] - D[v][sb] - D[pa][u]
            if self.ckm * dkm - late < -EPS:
                load_b = b.cum[j] + a.load - (a.cum[i - 1] if i else 0)
                load_a = (a.cum[i - 1] if i else 0) + b.load - b.cum[j]
                if load_a <= cap and load_b <= cap and self._try2([(b, B[:j + 1] + A[i:]), (a, A[:i] + B[j + 1:])]):
                    return True
        return False

    def _try2(self, changes: list[tuple[_Trip, list[int]]]) -> bool:
        d = sum(self._exact(tr, stops) for tr, stops in changes)
        return d < -EPS and self._apply(changes, d)

    def two_opt(self, tr: _Trip, tries: int = 8) -> bool:
        """Reverse the segment of ``tr`` that saves most km (checked exactly, best first)."""
        path = [0, *tr.stops, 0]
        D, n = self.D, len(tr.stops)
        if n < 2:
            return False
        fw, bw = [0.0], [0.0]
        for m in range(n + 1):
            fw.append(fw[-1] + D[path[m]][path[m + 1]])
            bw.append(bw[-1] + D[path[m + 1]][path[m]])
        found = []
        for a in range(1, n):
            pa, xa = path[a - 1], path[a]
            for b in range(a + 1, n + 1):
                pb, nb = path[b], path[b + 1]
                dkm = D[pa][pb] + D[xa][nb] + bw[b] - bw[a] - D[pa][xa] - D[pb][nb] - fw[b] + fw[a]
                if self.ckm * dkm - tr.late_cost < -EPS:
                    found.append((dkm, a, b))
        found.sort()
        for _, a, b in found[:tries]:
            stops = tr.stops[:a - 1] + tr.stops[a - 1:b][::-1] + tr.stops[b:]
            d = self._exact(tr, stops)
            if d < -EPS and self._apply([(tr, stops)], d):
                return True
        return False

    def improve(self, max_rounds: int = 1000) -> None:
        """First-improvement local search until no move improves (or ``max_rounds`` passes)."""
        for _ in range(max_rounds):
            improved = False
            for u in sorted(self.where):
                if u in self.where and (self.relocate(u) or self.two_opt_star(u)):
                    improved = True
            for tr in list(self.trips):
                while tr.stops and self.two_opt(tr):
                    improved = True
            if not improved:
                return

    def plan(self) -> list[Trip]:
        return [Trip(tr.vehicle, list(tr.stops)) for tr in self.trips]


def insertion_route(problem: RoutingProblem, local_search: bool = True, *,
                    neighbours: int = 16) -> tuple[list[Trip], list[int]]:
    """Cheapest insertion in deadline order, then local search (see the module doc).

    Returns ``(trips, unrouted)``: feasible trips (each vehicle at most once, each order at
    most once) and the order nodes that fit in no trip. ``neighbours`` bounds the candidate
    positions of an order to those next to its nearest orders (granular search).
    """
    router = InsertionRouter(problem, neighbours)
    router.construct()
    if local_search:
        router.improve()
    return router.plan(), router.unrouted
