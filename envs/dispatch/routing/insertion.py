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

from collections import deque

import numpy as np

from envs.dispatch.routing.problem import INF, RoutingProblem, Trip, schedule, trip_cost

EPS = 1e-7
TOL = 1e-9  # the feasibility tolerance of ``schedule``


class _Trip:
    """A trip and its timing caches (from :func:`schedule`)."""

    __slots__ = ("vehicle", "stops", "dep", "arr", "st", "lat", "back", "load", "cum", "cost", "late_cost",
                 "pkm", "plate", "prel")

    def __init__(self, vehicle: int, stops: list[int]):
        self.vehicle, self.stops = vehicle, stops


def neighbour_lists(problem: RoutingProblem, k: int) -> list[list[int]]:
    """The ``k`` nearest orders of every order (entry 0, the depot: none). Nearness is km
    plus, when time windows matter, the wait (x0.2) and the lateness (x1) of going from one
    to the other, in the better direction (PyVRP's granular neighbourhoods do the same)."""
    p, n = problem, problem.n_orders
    k = min(k, n - 1)
    if k <= 0:
        return [[] for _ in range(n + 1)]
    prox = p.distance[1:, 1:].astype(float)
    if p.hard_deadline or p.cost_per_late_minute > 0:
        e, dl, s = p.earliest[1:], p.deadline[1:], p.service[1:]
        go = p.duration[1:, 1:] + s[:, None]
        with np.errstate(invalid="ignore"):
            wait = np.nan_to_num(np.maximum(0.0, e[None, :] - dl[:, None] - go))
            late = np.nan_to_num(np.maximum(0.0, e[:, None] + go - dl[None, :]))
        prox = prox + 0.2 * wait + late
    prox = np.minimum(prox, prox.T)
    np.fill_diagonal(prox, INF)
    idx = np.argpartition(prox, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(prox, axis=1)[:, :k]
    return [[]] + [[int(v) + 1 for v in row[np.argsort(prox[i, row], kind="stable")]] for i, row in enumerate(idx)]


def chain_rank(problem: RoutingProblem) -> list[int]:
    """Rank of each order on a nearest-neighbour chain from the order farthest from the depot
    (consecutive orders are close, so equal-deadline orders fill trips petal by petal)."""
    n = problem.n_orders
    rank = [0] * (n + 1)
    if n == 0:
        return rank
    dist = problem.distance[1:, 1:].astype(float)
    cur = int(np.argmax(problem.distance[0, 1:]))
    for k in range(n):
        rank[cur + 1] = k
        dist[:, cur] = INF
        cur = int(np.argmin(dist[cur]))
    return rank


class InsertionRouter:
    """The state of :func:`insertion_route`: its trips, unrouted orders and tracked cost.

    ``cost`` is the sum of the cost changes the router *predicted* for the moves it applied
    (tests compare it with :func:`plan_cost` of :meth:`plan`). ``neighbours``: how many
    nearest orders bound the candidate positions of an order (granular search).
    """

    def __init__(self, problem: RoutingProblem, neighbours: int = 16):
        p = self.problem = problem
        n = p.n_orders
        self.D, self.T = p.distance.tolist(), p.duration.tolist()
        self.svc, self.dem = p.service.tolist(), [int(x) for x in p.demand]
        self.early, self.dl, self.rel = p.earliest.tolist(), p.deadline.tolist(), p.release.tolist()
        self.ready = [float(x) for x in p.vehicle_ready]
        self.cap, self.shift, self.hard = int(p.capacity), float(p.shift_end), bool(p.hard_deadline)
        self.ckm, self.ctrip = float(p.cost_per_km), float(p.cost_per_trip)
        self.clate = 0.0 if self.hard else float(p.cost_per_late_minute)
        # fast: no priced lateness and no release after the first vehicle is ready, so every
        # move is checked in O(1) from the caches (else moving stops is re-timed exactly)
        self.fast = not self.clate and max(self.rel[1:], default=0.0) <= min(self.ready, default=0.0) + TOL
        self.trips: list[_Trip] = []
        self.spare = sorted(range(p.n_vehicles), key=lambda v: (self.ready[v], v))  # idle vehicles
        self.where: list[tuple[_Trip, int] | None] = [None] * (n + 1)
        self.empty = self._new_empty()
        self.unrouted: list[int] = []
        self.cost = 0.0
        self.near = neighbour_lists(p, neighbours)
        self.rev: list[list[int]] = [[] for _ in range(n + 1)]
        for u in range(1, n + 1):
            for v in self.near[u]:
                self.rev[v].append(u)
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
        tr.late_cost = self.clate * sched.late_minutes
        stops, T, svc, dl, dem = tr.stops, self.T, self.svc, self.dl, self.dem
        n = len(stops)
        lat, cum, nxt, latest, load = [0.0] * n, [0] * n, 0, self.shift, 0
        for k in range(n - 1, -1, -1):  # latest service start keeping the rest feasible
            s = stops[k]
            latest = latest - T[s][nxt] - svc[s]
            if self.hard and dl[s] < latest:
                latest = dl[s]
            lat[k], nxt = latest, s
        pkm, plate, prel, prev, D, rel = [0.0], [0.0], [0.0], 0, self.D, self.rel
        for k, s in enumerate(stops):  # prefix km, late minutes, latest release
            load += dem[s]
            cum[k] = load
            self.where[s] = (tr, k)
            pkm.append(pkm[-1] + D[prev][s])
            plate.append(plate[-1] + max(0.0, tr.st[k] - dl[s]))
            prel.append(max(prel[-1], rel[s]))
            prev = s
        tr.lat, tr.cum, tr.load, tr.pkm, tr.plate, tr.prel = lat, cum, load, pkm, plate, prel
        return sched.feasible

    def _leave(self, tr: _Trip, i: int) -> float:
        """When the vehicle leaves the stop before position ``i`` (the depot for 0)."""
        return tr.st[i - 1] + self.svc[tr.stops[i - 1]] if i else tr.dep

    def _latest(self, tr: _Trip, i: int) -> float:
        """Latest arrival at position ``i`` (the return for ``len(stops)``)."""
        return tr.lat[i] if i < len(tr.stops) else self.shift

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
        return self.clate * late

    def _exact(self, tr: _Trip, i: int, seq: list[int]) -> float:
        """Cost change of replacing the stops of ``tr`` after its first ``i`` by ``seq`` (INF
        if infeasible): ``schedule``'s rules, continued from the cached prefix."""
        stops, rel = tr.stops, self.rel
        if not i and not seq:
            return -tr.cost
        dep = max(self.ready[tr.vehicle], tr.prel[i], max([rel[s] for s in seq], default=0.0))
        if dep != tr.dep:  # the departure moves (release times): re-time from the depot
            i, seq = 0, stops[:i] + seq
        D, T, early, dl, svc, dem = self.D, self.T, self.early, self.dl, self.svc, self.dem
        if i:
            prev, t, km, late, load = stops[i - 1], tr.st[i - 1] + svc[stops[i - 1]], tr.pkm[i], tr.plate[i], tr.cum[i - 1]
        else:
            prev, t, km, late, load = 0, dep, 0.0, 0.0, 0
        for s in seq:
            km += D[prev][s]
            t += T[prev][s]
            if t < early[s]:
                t = early[s]
            if t > dl[s]:
                late += t - dl[s]
            t += svc[s]
            load += dem[s]
            prev = s
        if load > self.cap or t + T[prev][0] > self.shift + TOL or (self.hard and late > TOL):
            return INF
        p = self.problem
        return p.cost_per_km * (km + D[prev][0]) + p.cost_per_trip + p.cost_per_late_minute * late - tr.cost

    def insert_delta(self, tr: _Trip, i: int, u: int) -> float:
        """Cost change of inserting order ``u`` before stop ``i`` of ``tr``."""
        stops, D, T = tr.stops, self.D, self.T
        if tr.load + self.dem[u] > self.cap:
            return INF
        if self.rel[u] > tr.dep + TOL:
            return self._exact(tr, i, [u] + stops[i:])
        n = len(stops)
        prev = stops[i - 1] if i else 0
        nxt = stops[i] if i < n else 0
        t = self._leave(tr, i) + T[prev][u]
        if t < self.early[u]:
            t = self.early[u]
        late = t - self.dl[u]
        if late > TOL and self.hard:
            return INF
        extra = self._shift(tr, i, t + self.svc[u] + T[u][nxt] - (tr.arr[i] if i < n else tr.back))
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
            return self._exact(tr, i, stops[i + 1:])
        prev = stops[i - 1] if i else 0
        nxt = stops[i + 1] if i + 1 < n else 0
        t = self._leave(tr, i) + self.T[prev][nxt]
        extra = self._shift(tr, i + 1, t - (tr.arr[i + 1] if i + 1 < n else tr.back))
        if extra == INF:
            return INF
        D = self.D
        own = self.clate * max(0.0, tr.st[i] - self.dl[u])
        return self.ckm * (D[prev][nxt] - D[prev][u] - D[u][nxt]) + extra - own

    def _put_ok(self, tr: _Trip, i: int, v: int) -> bool:
        """Whether order ``v`` can replace stop ``i`` of ``tr`` in time (fast mode)."""
        stops = tr.stops
        prev = stops[i - 1] if i else 0
        nxt = stops[i + 1] if i + 1 < len(stops) else 0
        t = max(self._leave(tr, i) + self.T[prev][v], self.early[v])
        if self.hard and t > self.dl[v] + TOL:
            return False
        return t + self.svc[v] + self.T[v][nxt] <= self._latest(tr, i + 1) + TOL

    # ---- applying moves ------------------------------------------------------------------
    def _set(self, tr: _Trip, stops: list[int]) -> bool:
        """Give ``tr`` new stops (opening or closing its vehicle); return feasibility."""
        was_empty = not tr.stops
        for s in tr.stops:
            if self.where[s] is not None and self.where[s][0] is tr:
                self.where[s] = None
        tr.stops = stops
        ok = self._refresh(tr)
        if was_empty and stops:
            self.trips.append(tr)
            self.spare.remove(tr.vehicle)
            self.empty = self._new_empty()
        elif not stops and not was_empty:
            self.trips.remove(tr)
            self.spare.append(tr.vehicle)
            self.spare.sort(key=lambda v: (self.ready[v], v))
            self.empty = self._new_empty()
        return ok

    def _apply(self, changes: list[tuple[_Trip, list[int]]], predicted: float) -> list[_Trip] | None:
        """Apply new stop lists; undo unless they are feasible and improve as predicted
        (construction passes ``predicted=INF``: feasibility only). Returns the changed trips."""
        old = [(tr, tr.stops) for tr, _ in changes]
        before = sum(tr.cost for tr, _ in changes)
        ok = all([self._set(tr, stops) for tr, stops in changes])
        after = sum(tr.cost for tr, _ in changes)
        if ok and (predicted == INF or after - before < -EPS):
            self.cost += after - before if predicted == INF else predicted
            return [tr for tr, _ in changes]
        for tr, stops in reversed(old):
            self._set(tr, stops)
        return None

    def _try(self, changes: list[tuple[_Trip, list[int]]], keep: tuple[int, int], dkm: float,
             check: bool = False) -> list[_Trip] | None:
        """Apply a move that saves ``dkm`` km (checked in time by the caller in fast mode),
        or, in exact mode, one whose exact cost change is negative. ``keep``: how many first
        stops of each trip the move leaves in place; ``check``: time it even in fast mode."""
        closed = sum(1 for _, stops in changes if not stops)
        if self.fast and not check:
            return self._apply(changes, self.ckm * dkm - self.ctrip * closed)
        # lateness can only be saved after the kept stops (unless the departure moves)
        late = sum(tr.plate[-1] - (tr.plate[k] if tr.dep <= self.ready[tr.vehicle] + TOL else 0.0)
                   for (tr, _), k in zip(changes, keep, strict=True))
        if self.ckm * dkm - self.ctrip * closed - self.clate * late >= -EPS:
            return None
        d = sum(self._exact(tr, k, stops[k:]) for (tr, stops), k in zip(changes, keep, strict=True))
        return self._apply(changes, d) if d < -EPS else None

    def _candidates(self, u: int, full: bool) -> list[tuple[_Trip, int]]:
        """Positions to try for ``u``: next to its routed neighbours, or everywhere."""
        out = []
        if not full:
            for v in self.near[u]:
                hit = self.where[v]
                if hit is not None:
                    out.append(hit)
                    out.append((hit[0], hit[1] + 1))
        if full or not out:
            out = [(tr, i) for tr in self.trips for i in range(len(tr.stops) + 1)]
        if self.empty is not None:
            out.append((self.empty, 0))
        return out

    def best_insertion(self, u: int, exclude: _Trip | None = None) -> tuple[float, _Trip | None, int]:
        """The cheapest feasible position of ``u`` (granular first, then everywhere)."""
        best, where, pos = INF, None, 0
        for full in (True,) if self.full_scan else (False, True):
            for tr, i in self._candidates(u, full):
                if tr is not exclude:
                    d = self.insert_delta(tr, i, u)
                    if d < best:
                        best, where, pos = d, tr, i
            if where is not None:
                break
        return best, where, pos

    # ---- construction --------------------------------------------------------------------
    def start(self, trips: list[Trip]) -> None:
        """Begin from given feasible trips, e.g. a partial plan to complete."""
        for t in trips:
            if t.stops:
                tr = _Trip(t.vehicle, [])
                self._set(tr, list(t.stops))
                self.cost += tr.cost

    def construct(self, orders: list[int] | None = None) -> None:
        """Insert ``orders`` (default: all) at their cheapest positions, in increasing deadline
        order (ties: along a nearest-neighbour chain from the farthest order)."""
        orders = list(range(1, self.problem.n_orders + 1)) if orders is None else list(orders)
        rank = chain_rank(self.problem)
        orders.sort(key=lambda u: (self.dl[u], rank[u]))
        for u in orders:
            _, tr, i = self.best_insertion(u)
            if tr is None or not self._apply([(tr, tr.stops[:i] + [u] + tr.stops[i:])], INF):
                self.unrouted.append(u)
        self.unrouted.sort()

    # ---- local search --------------------------------------------------------------------
    def relocate(self, u: int) -> list[_Trip] | None:
        """Move ``u`` to its best position elsewhere (another trip, a new one, or its own)."""
        tr, i = self.where[u]
        gain = self.remove_delta(tr, i)
        best, to, j = INF, None, 0
        if gain < INF:
            for other, k in self._candidates(u, self.full_scan):
                if other is not tr and not (other is self.empty and len(tr.stops) == 1):
                    d = self.insert_delta(other, k, u)
                    if d < best:
                        best, to, j = d, other, k
        if to is not None and gain + best < -EPS:
            rest = tr.stops[:i] + tr.stops[i + 1:]
            return self._apply([(tr, rest), (to, to.stops[:j] + [u] + to.stops[j:])], gain + best)
        stops, D = tr.stops, self.D
        rest = stops[:i] + stops[i + 1:]
        p, q = stops[i - 1] if i else 0, stops[i + 1] if i + 1 < len(stops) else 0
        removed = D[p][q] - D[p][u] - D[u][q]
        for v in stops if self.full_scan else self.near[u]:
            hit = self.where[v]
            if v == u or hit is None or hit[0] is not tr:
                continue
            k = rest.index(v)
            for pos in (k, k + 1):
                a, b = rest[pos - 1] if pos else 0, rest[pos] if pos < len(rest) else 0
                dkm = removed + D[a][u] + D[u][b] - D[a][b]
                if self.ckm * dkm - tr.late_cost < -EPS:
                    new = rest[:pos] + [u] + rest[pos:]
                    d = self._exact(tr, min(i, pos), new[min(i, pos):])
                    if d < -EPS and (done := self._apply([(tr, new)], d)):
                        return done
        return None

    def or_opt(self, u: int) -> list[_Trip] | None:
        """Move the 2 or 3 stops starting at ``u`` into another trip, next to a neighbour."""
        a, i = self.where[u]
        A, D, cap = a.stops, self.D, self.cap
        for size in (2, 3):
            if i + size > len(A):
                return None
            seg = A[i:i + size]
            last, load = seg[-1], sum(self.dem[s] for s in seg)
            p, q = A[i - 1] if i else 0, A[i + size] if i + size < len(A) else 0
            removed = D[p][q] - D[p][u] - D[last][q]
            for v in self.near[u]:
                hit = self.where[v]
                if hit is None or hit[0] is a or hit[0].load + load > cap:
                    continue
                b, j = hit
                B = b.stops
                for k in (j, j + 1):  # before or after v
                    x, y = B[k - 1] if k else 0, B[k] if k < len(B) else 0
                    dkm = removed + D[x][u] + D[last][y] - D[x][y]
                    if self.ckm * dkm - (self.ctrip if len(A) == size else 0.0) < -EPS:
                        done = self._try([(a, A[:i] + A[i + size:]), (b, B[:k] + seg + B[k:])], (i, k), dkm, True)
                        if done:
                            return done
        return None

    def swap(self, u: int) -> list[_Trip] | None:
        """Exchange ``u`` with a neighbour in another trip."""
        a, i = self.where[u]
        A, D, dem, cap = a.stops, self.D, self.dem, self.cap
        pa, sa = A[i - 1] if i else 0, A[i + 1] if i + 1 < len(A) else 0
        for v in self.near[u]:
            hit = self.where[v]
            if hit is None or hit[0] is a:
                continue
            b, j = hit
            if a.load - dem[u] + dem[v] > cap or b.load - dem[v] + dem[u] > cap:
                continue
            B = b.stops
            pb, sb = B[j - 1] if j else 0, B[j + 1] if j + 1 < len(B) else 0
            dkm = (D[pa][v] + D[v][sa] - D[pa][u] - D[u][sa]) + (D[pb][u] + D[u][sb] - D[pb][v] - D[v][sb])
            if dkm * self.ckm - a.late_cost - b.late_cost >= -EPS:
                continue
            if self.fast and not (self._put_ok(a, i, v) and self._put_ok(b, j, u)):
                continue
            done = self._try([(a, A[:i] + [v] + A[i + 1:]), (b, B[:j] + [u] + B[j + 1:])], (i, j), dkm)
            if done:
                return done
        return None

    def two_opt_star(self, u: int) -> list[_Trip] | None:
        """Exchange the tails of ``u``'s trip and a neighbour's so that the two are adjacent
        (a tail may be empty: merging two trips)."""
        a, i = self.where[u]
        A, D, cap = a.stops, self.D, self.cap
        for v in self.near[u]:
            hit = self.where[v]
            if hit is None or hit[0] is a:
                continue
            b, j = hit
            B = b.stops
            late = a.late_cost + b.late_cost + self.ctrip
            # u -> v: A[:i+1] + B[j:] and B[:j] + A[i+1:]
            sa, pb = A[i + 1] if i + 1 < len(A) else 0, B[j - 1] if j else 0
            dkm = D[u][v] + D[pb][sa] - D[u][sa] - D[pb][v]
            if self.ckm * dkm - late < -EPS:
                head_b = b.cum[j - 1] if j else 0
                if (a.cum[i] + b.load - head_b <= cap and head_b + a.load - a.cum[i] <= cap and (
                        not self.fast or (self._leave(a, i + 1) + self.T[u][v] <= b.lat[j] + TOL
                                          and self._leave(b, j) + self.T[pb][sa] <= self._latest(a, i + 1) + TOL))):
                    done = self._try([(a, A[:i + 1] + B[j:]), (b, B[:j] + A[i + 1:])], (i + 1, j), dkm)
                    if done:
                        return done
            # v -> u: B[:j+1] + A[i:] and A[:i] + B[j+1:]
            pa, sb = A[i - 1] if i else 0, B[j + 1] if j + 1 < len(B) else 0
            dkm = D[v][u] + D[pa][sb] - D[v][sb] - D[pa][u]
            if self.ckm * dkm - late < -EPS:
                head_a = a.cum[i - 1] if i else 0
                if (b.cum[j] + a.load - head_a <= cap and head_a + b.load - b.cum[j] <= cap and (
                        not self.fast or (self._leave(b, j + 1) + self.T[v][u] <= a.lat[i] + TOL
                                          and self._leave(a, i) + self.T[pa][sb] <= self._latest(b, j + 1) + TOL))):
                    done = self._try([(b, B[:j + 1] + A[i:]), (a, A[:i] + B[j + 1:])], (j + 1, i), dkm)
                    if done:
                        return done
        return None

    def two_opt(self, tr: _Trip, tries: int = 8) -> bool:
        """Reverse the segment of ``tr`` that saves most km (checked exactly, best first)."""
        n = len(tr.stops)
        if n < 2:
            return False
        path, D = [0, *tr.stops, 0], self.D
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
            d = self._exact(tr, a - 1, stops[a - 1:])
            if d < -EPS and self._apply([(tr, stops)], d):
                return True
        return False

    def improve(self) -> None:
        """First-improvement local search until no move improves: every order is examined
        (relocate, swap, 2-opt*), and again whenever its trip or a neighbour's trip changes;
        changed trips get 2-opt."""
        queue = deque(u for u in range(1, self.problem.n_orders + 1) if self.where[u] is not None)
        queued = set(queue)
        reverse = {id(tr): tr for tr in self.trips}

        def mark(trips: list[_Trip]) -> None:
            for tr in trips:
                if tr.stops:
                    reverse[id(tr)] = tr
                for s in tr.stops:
                    for w in (s, *self.rev[s]):
                        if w not in queued and self.where[w] is not None:
                            queued.add(w)
                            queue.append(w)

        while queue or reverse:
            while queue:
                u = queue.popleft()
                queued.discard(u)
                if self.where[u] is not None:
                    changed = self.relocate(u) or self.swap(u) or self.two_opt_star(u) or self.or_opt(u)
                    if changed:
                        mark(changed)
            todo, reverse = list(reverse.values()), {}
            for tr in todo:
                changed = False
                while tr.stops and self.two_opt(tr):
                    changed = True
                if changed:
                    mark([tr])
                    reverse.pop(id(tr), None)

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
