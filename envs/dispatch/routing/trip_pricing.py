"""The trips of a routing plan under search, and the exact pricing and applying of moves on them.

:class:`TripPricing` holds a plan (one :class:`PricedTrip` per working vehicle, the unrouted
orders, where each order sits) with each trip's :func:`~envs.dispatch.routing.problem.schedule`
cached (arrivals, service starts, latest feasible starts, prefix load / km / late minutes /
release). A move (replace a run of stops of a trip by a sequence) is priced from the cached
prefix with the kept tail shifted, exactly as ``schedule`` would time it; :meth:`TripPricing._apply`
applies moves, re-times the changed trips with ``schedule`` and undoes a move that does not gain
as predicted. :class:`~envs.dispatch.routing.insertion.InsertionRouter` builds and searches on it.
"""

from __future__ import annotations

from envs.dispatch.routing.instances import neighbour_lists
from envs.dispatch.routing.problem import INF, RoutingProblem, Trip, schedule, trip_cost

EPS = 1e-7
TOL = 1e-9  # the feasibility tolerance of ``schedule``


class PricedTrip:
    """A trip and its caches (from :func:`schedule`)."""

    __slots__ = ("vehicle", "stops", "dep", "arr", "st", "lat", "back", "load", "cum", "cost", "late_cost",
                 "pkm", "plate", "prel")

    def __init__(self, vehicle: int, stops: list[int]):
        self.vehicle, self.stops = vehicle, stops


class TripPricing:
    """A plan under search: trips, unrouted orders and ``cost``, the sum of the cost changes
    *predicted* for the moves applied (tests compare it with :func:`plan_cost`)."""

    def __init__(self, problem: RoutingProblem, neighbours: int | None = None):
        p = self.problem = problem
        n = p.n_orders
        neighbours = neighbours or (6 if n <= 40 else 10)
        self.D, self.T = p.distance.tolist(), p.duration.tolist()
        self.svc, self.dem = p.service.tolist(), [int(x) for x in p.demand]
        self.early, self.dl, self.rel = p.earliest.tolist(), p.deadline.tolist(), p.release.tolist()
        self.ready = [float(x) for x in p.vehicle_ready]
        self.cap, self.shift, self.hard = int(p.capacity), float(p.shift_end), bool(p.hard_deadline)
        self.ckm, self.ctrip = float(p.cost_per_km), float(p.cost_per_trip)
        self.clate = 0.0 if self.hard else float(p.cost_per_late_minute)
        # fixed: no release after the first vehicle is ready, so trips leave when their vehicle
        # is ready (else a trip whose departure may move is re-timed from the depot)
        self.fixed = max(self.rel[1:], default=0.0) <= min(self.ready, default=0.0) + TOL
        self.trips, self.unrouted = [], []  # type: list[PricedTrip], list[int]
        self.journal: dict[int, list[int]] | None = None  # stops before a ruin-and-recreate round
        self.where: list[tuple[PricedTrip, int] | None] = [None] * (n + 1)
        self.spare = sorted(range(p.n_vehicles), key=lambda v: (self.ready[v], v))  # idle vehicles
        self.empty, self.cost = self._new_empty(), 0.0
        self.near = neighbour_lists(p, neighbours)
        self.rev: list[list[int]] = [[] for _ in range(n + 1)]  # who has v as a neighbour
        for a, b in ((u, v) for u in range(1, n + 1) for v in self.near[u]):
            self.rev[b].append(a)
        self.full_scan = n <= 2 * neighbours

    # ---- caches --------------------------------------------------------------------------
    def _new_empty(self) -> PricedTrip | None:
        """An empty trip of the earliest-ready idle vehicle: where a new trip is priced."""
        if not self.spare:
            return None
        self._refresh(tr := PricedTrip(self.spare[0], []))
        return tr

    def _refresh(self, tr: PricedTrip) -> bool:
        """Re-time ``tr`` with :func:`schedule`; return its feasibility."""
        sched = schedule(self.problem, Trip(tr.vehicle, tr.stops))
        tr.dep, tr.back, tr.cost = sched.departure, sched.trip_return, trip_cost(self.problem, sched)
        tr.arr, tr.st = sched.arrival.tolist(), sched.service_start.tolist()
        tr.late_cost = self.clate * sched.late_minutes
        stops, T, D, svc, dl, dem, rel = tr.stops, self.T, self.D, self.svc, self.dl, self.dem, self.rel
        n = len(stops)
        tr.lat, nxt, latest = [0.0] * n, 0, self.shift
        for k in range(n - 1, -1, -1):  # latest service start keeping the rest feasible
            s = stops[k]
            latest = latest - T[s][nxt] - svc[s]
            if self.hard and dl[s] < latest:
                latest = dl[s]
            tr.lat[k], nxt = latest, s
        tr.cum, tr.pkm, tr.plate, tr.prel, prev = [], [0.0], [0.0], [0.0], 0
        for k, s in enumerate(stops):  # prefix load, km, late minutes, latest release
            tr.cum.append((tr.cum[-1] if k else 0) + dem[s])
            tr.pkm.append(tr.pkm[-1] + D[prev][s])
            tr.plate.append(tr.plate[-1] + max(0.0, tr.st[k] - dl[s]))
            tr.prel.append(max(tr.prel[-1], rel[s]))
            self.where[s], prev = (tr, k), s
        tr.load = tr.cum[-1] if n else 0
        return sched.feasible

    def _leave(self, tr: PricedTrip, i: int) -> float:
        """When the vehicle leaves the stop before position ``i`` (the depot for 0)."""
        return tr.st[i - 1] + self.svc[tr.stops[i - 1]] if i else tr.dep

    # ---- pricing moves -------------------------------------------------------------------
    def _shift(self, tr: PricedTrip, j: int, x: float) -> float:
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
            late += max(0.0, new - dl[s]) - max(0.0, old - dl[s])
            x = new - old
        return self.clate * late

    def _replace(self, tr: PricedTrip, i: int, k: int, seq: list[int]) -> float:
        """Cost change of replacing stops ``i..k-1`` of ``tr`` by ``seq`` (INF if infeasible):
        ``schedule``'s rules from the cached prefix, the kept tail shifted."""
        stops, dem = tr.stops, self.dem
        n, dep = len(stops), tr.dep
        if not i and k == n and not seq:
            return -tr.cost
        if not self.fixed:  # the departure may move: time everything after the prefix
            seq, k = seq + stops[k:], n
            dep = max(self.ready[tr.vehicle], tr.prel[i], max([self.rel[s] for s in seq], default=0.0))
            if dep != tr.dep:
                seq, i = stops[:i] + seq, 0
        load = tr.load - (tr.cum[k - 1] if k else 0) + (tr.cum[i - 1] if i else 0)
        for s in seq:
            load += dem[s]
        if load > self.cap:
            return INF
        D, T, early, dl, svc = self.D, self.T, self.early, self.dl, self.svc
        prev = p = stops[i - 1] if i else 0
        t, km, late = (tr.st[i - 1] + svc[prev] if i else dep), 0.0, 0.0
        for s in seq:
            km += D[p][s]
            t += T[p][s]
            if t < early[s]:
                t = early[s]
            if t > dl[s]:
                if self.hard and t > dl[s] + TOL:
                    return INF
                late += t - dl[s]
            t += svc[s]
            p = s
        nxt = stops[k] if k < n else 0
        extra = self._shift(tr, k, t + T[p][nxt] - (tr.arr[k] if k < n else tr.back))
        if extra == INF:
            return INF
        old_km = tr.pkm[k] - tr.pkm[i] + D[stops[k - 1] if k > i else prev][nxt]
        late_cost = self.problem.cost_per_late_minute * (late - tr.plate[k] + tr.plate[i])
        return self.ckm * (km + D[p][nxt] - old_km) + extra + late_cost + (self.ctrip if not n else 0.0)

    def _late_bound(self, changes: list[tuple[PricedTrip, int]]) -> float:
        """The most late cost a move can save in trips that keep their first stops."""
        return self.clate * sum(tr.plate[-1] - (tr.plate[k] if self.fixed else 0.0) for tr, k in changes)

    # ---- applying moves ------------------------------------------------------------------
    def _set(self, tr: PricedTrip, stops: list[int]) -> bool:
        """Give ``tr`` new stops (opening or closing its vehicle); return feasibility."""
        was_empty = not tr.stops
        if self.journal is not None:
            self.journal.setdefault(tr.vehicle, tr.stops)
        for s in tr.stops:
            if self.where[s] is not None and self.where[s][0] is tr:
                self.where[s] = None
        tr.stops = stops
        ok = self._refresh(tr)
        if was_empty != (not stops):  # a vehicle starts or stops working
            self.trips.append(tr) if stops else self.trips.remove(tr)
            self.spare = sorted({*self.spare, tr.vehicle} - ({tr.vehicle} if stops else set()),
                                key=lambda v: (self.ready[v], v))
            self.empty = self._new_empty()
        return ok

    def _apply(self, changes: list[tuple[PricedTrip, list[int]]], predicted: float | None) -> list[PricedTrip] | None:
        """Apply new stop lists if ``predicted`` (their cost change) is an improvement, and
        undo unless they are feasible and improve as predicted (``None``: construction,
        feasibility only). Returns the changed trips."""
        if predicted is not None and predicted >= -EPS:  # INF included
            return None
        old = [(tr, tr.stops) for tr, _ in changes]
        before = sum(tr.cost for tr, _ in changes)
        ok = all([self._set(tr, stops) for tr, stops in changes])
        after = sum(tr.cost for tr, _ in changes)
        if ok and (predicted is None or after - before < -EPS):
            self.cost += after - before if predicted is None else predicted
            return [tr for tr, _ in changes]
        for tr, stops in reversed(old):
            self._set(tr, stops)
        return None

    def _candidates(self, u: int, full: bool) -> list[tuple[PricedTrip, int]]:
        """Positions to try for ``u``: next to its routed neighbours, or everywhere."""
        out = []
        for v in () if full else self.near[u]:
            if (hit := self.where[v]) is not None:
                out += [hit, (hit[0], hit[1] + 1)]
        if full or not out:
            out = [(tr, i) for tr in self.trips for i in range(len(tr.stops) + 1)]
        return out + ([(self.empty, 0)] if self.empty is not None else [])

    def _cheapest(self, u: int, places: list[tuple[PricedTrip, int]], limit: float = INF) -> tuple[float, PricedTrip | None, int]:
        """The cheapest of ``places`` for ``u`` if it costs less than ``limit``. A place is
        priced only if its extra km (and trip charge) alone could beat the best so far."""
        best, where, pos, D, ckm = limit, None, 0, self.D, self.ckm
        for tr, i in places:
            stops = tr.stops
            a, b = stops[i - 1] if i else 0, stops[i] if i < len(stops) else 0
            if ckm * (D[a][u] + D[u][b] - D[a][b]) + (0.0 if stops else self.ctrip) < best:
                if (d := self._replace(tr, i, i, [u])) < best:
                    best, where, pos = d, tr, i
        return best, where, pos

    def best_insertion(self, u: int) -> tuple[float, PricedTrip | None, int]:
        """The cheapest feasible position of ``u`` (granular first, then everywhere)."""
        best = (INF, None, 0)
        for full in (True,) if self.full_scan else (False, True):
            if (best := self._cheapest(u, self._candidates(u, full)))[1] is not None:
                break
        return best

    def _insert(self, u: int) -> bool:
        _, tr, i = self.best_insertion(u)
        return tr is not None and self._apply([(tr, tr.stops[:i] + [u] + tr.stops[i:])], None) is not None

    # ---- plans ---------------------------------------------------------------------------
    def start(self, trips: list[Trip]) -> None:
        """Begin from given feasible trips, e.g. a partial plan to complete."""
        for t in trips:
            if t.stops:
                self._set(tr := PricedTrip(t.vehicle, []), list(t.stops))
                self.cost += tr.cost

    def plan(self) -> list[Trip]:
        return [Trip(tr.vehicle, list(tr.stops)) for tr in self.trips]
