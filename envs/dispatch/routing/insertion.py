"""Cheapest insertion with local search: the fast router of the dispatch simulator.

Description:
    :func:`insertion_route` builds at most one trip per vehicle. Orders are taken in
    increasing deadline order (urgent ones get vehicles first; ties along a nearest-neighbour
    chain from the farthest order) and each goes where it adds least cost, over every trip
    and a new trip on the earliest-ready idle vehicle: ``cost_per_km`` x extra km +
    ``cost_per_trip`` for a new trip + ``cost_per_late_minute`` x extra late minutes (its own
    and those of the stops it delays). Capacity, the shift end and, with ``hard_deadline``,
    the deadlines hold; orders that fit nowhere are returned as unrouted. A first-improvement
    local search follows until no move improves: relocate (in its trip, to another or a new
    one), swap, 2-opt* (tail exchange; an empty tail merges two trips), or-opt (2-3 stops to
    another trip) and 2-opt (reverse a segment). Then trips are emptied into the others where
    it pays (fewest stops first, until 1 + trips // 10 attempts fail). Optional ``rounds`` of
    ruin and recreate: remove an order and neighbours, re-insert, improve, keep if cheaper.

Objective:
    :func:`~envs.dispatch.routing.problem.plan_cost` (km, trip charges, lateness), with the
    times of :func:`~envs.dispatch.routing.problem.schedule`.

Evaluation (:mod:`envs.dispatch.routing.trip_pricing`):
    Trips are timed by ``schedule``, whose times (and prefix km / lateness / load, latest
    starts) price a move from the first stop it changes, the rest shifted (exact; O(1) when
    lateness costs nothing); changed trips are re-timed by ``schedule`` and a move that does
    not gain as predicted is undone. Moves are granular: next to one of an order's
    ``neighbours`` nearest orders (km plus wait / lateness between them, like PyVRP's).

Limits:
    A descent: without ``rounds`` it stops in the first local optimum (gaps to PyVRP in
    ``docs/benchmarks/routing.md``). Pure Python: ~1-2 ms for 10-30 orders, 0.1-0.3 s for 500.
"""

from __future__ import annotations

import random
from collections import deque

import numpy as np

from envs.dispatch.routing.problem import INF, RoutingProblem, Trip
from envs.dispatch.routing.trip_pricing import EPS, PricedTrip, TripPricing


class InsertionRouter(TripPricing):
    """The search of :func:`insertion_route`: construction, local search, trip elimination and
    ruin and recreate over a :class:`~envs.dispatch.routing.trip_pricing.TripPricing` plan (its
    trips, unrouted orders and predicted ``cost``)."""

    # ---- construction --------------------------------------------------------------------
    def construct(self, orders: list[int] | None = None) -> None:
        """Insert ``orders`` (default: all) at their cheapest places in increasing deadline order,
        ties along a nearest-neighbour chain from the order farthest from the depot."""
        p = self.problem
        orders = list(range(1, p.n_orders + 1)) if orders is None else list(orders)
        rank, dist = [0] * (p.n_orders + 1), p.distance[1:, 1:].astype(float)
        cur = int(np.argmax(p.distance[0, 1:])) if p.n_orders else 0
        for k in range(p.n_orders):
            rank[cur + 1], dist[:, cur] = k, INF
            cur = int(np.argmin(dist[cur]))
        orders.sort(key=lambda u: (self.dl[u], rank[u]))
        self.unrouted = sorted(self.unrouted + [u for u in orders if not self._insert(u)])

    def reinsert(self) -> bool:
        """Insert the unrouted orders that fit now (the local search made room), improve there."""
        left, self.unrouted = self.unrouted, []
        self.construct(left)
        self.improve([u for u in left if self.where[u] is not None])
        return len(self.unrouted) < len(left)

    # ---- local search --------------------------------------------------------------------
    def relocate(self, u: int) -> list[PricedTrip] | None:
        """Move ``u`` to its best place in another trip or a new one, else within its trip."""
        tr, i = self.where[u]
        stops, D = tr.stops, self.D
        rest = stops[:i] + stops[i + 1:]
        best, to, j = INF, None, 0
        if (gain := self._replace(tr, i, i + 1, [])) < INF:
            places = [(o, k) for o, k in self._candidates(u, self.full_scan) if o is not tr and (rest or o.stops)]
            best, to, j = self._cheapest(u, places, -gain - EPS)
        if to is not None and gain + best < -EPS:
            return self._apply([(tr, rest), (to, to.stops[:j] + [u] + to.stops[j:])], gain + best)
        p, q = stops[i - 1] if i else 0, stops[i + 1] if i + 1 < len(stops) else 0
        removed = D[p][q] - D[p][u] - D[u][q]
        for v in stops if self.full_scan else self.near[u]:
            if v == u or (hit := self.where[v]) is None or hit[0] is not tr:
                continue
            k = rest.index(v)
            for pos in (k, k + 1):
                a, b = rest[pos - 1] if pos else 0, rest[pos] if pos < len(rest) else 0
                m = min(i, pos)
                if self.ckm * (removed + D[a][u] + D[u][b] - D[a][b]) - self._late_bound([(tr, m)]) < -EPS:
                    new = rest[:pos] + [u] + rest[pos:]
                    if done := self._apply([(tr, new)], self._replace(tr, m, len(stops), new[m:])):
                        return done
        return None

    def or_opt(self, u: int) -> list[PricedTrip] | None:
        """Move the 2 or 3 stops starting at ``u`` into another trip, next to a neighbour."""
        a, i = self.where[u]
        A, D = a.stops, self.D
        for size in (2, 3):
            if i + size > len(A):
                return None
            seg, load = A[i:i + size], a.cum[i + size - 1] - (a.cum[i - 1] if i else 0)
            p, q = A[i - 1] if i else 0, A[i + size] if i + size < len(A) else 0
            removed = D[p][q] - D[p][u] - D[seg[-1]][q]
            for v in self.near[u]:
                if (hit := self.where[v]) is None or hit[0] is a or hit[0].load + load > self.cap:
                    continue
                b, j = hit
                B = b.stops
                for k in (j, j + 1):  # before or after v
                    x, y = B[k - 1] if k else 0, B[k] if k < len(B) else 0
                    bound = self._late_bound([(a, i), (b, k)]) + (self.ctrip if len(A) == size else 0.0)
                    if self.ckm * (removed + D[x][u] + D[seg[-1]][y] - D[x][y]) - bound < -EPS:
                        d = self._replace(a, i, i + size, []) + self._replace(b, k, k, seg)
                        if done := self._apply([(a, A[:i] + A[i + size:]), (b, B[:k] + seg + B[k:])], d):
                            return done
        return None

    def swap(self, u: int) -> list[PricedTrip] | None:
        """Exchange ``u`` with a neighbour in another trip."""
        a, i = self.where[u]
        A, D, dem = a.stops, self.D, self.dem
        pa, sa = A[i - 1] if i else 0, A[i + 1] if i + 1 < len(A) else 0
        for v in self.near[u]:
            if (hit := self.where[v]) is None or hit[0] is a:
                continue
            b, j = hit
            if a.load - dem[u] + dem[v] > self.cap or b.load - dem[v] + dem[u] > self.cap:
                continue
            B = b.stops
            pb, sb = B[j - 1] if j else 0, B[j + 1] if j + 1 < len(B) else 0
            dkm = (D[pa][v] + D[v][sa] - D[pa][u] - D[u][sa]) + (D[pb][u] + D[u][sb] - D[pb][v] - D[v][sb])
            if self.ckm * dkm - self._late_bound([(a, i), (b, j)]) < -EPS:
                if (d := self._replace(a, i, i + 1, [v])) < INF:
                    d += self._replace(b, j, j + 1, [u])
                    if done := self._apply([(a, A[:i] + [v] + A[i + 1:]), (b, B[:j] + [u] + B[j + 1:])], d):
                        return done
        return None

    def _tails(self, a: PricedTrip, i: int, b: PricedTrip, j: int) -> list[PricedTrip] | None:
        """2-opt* of ``a`` and ``b`` into ``a[:i] + b[j:]`` and ``b[:j] + a[i:]``, if it pays."""
        A, B, D = a.stops, b.stops, self.D
        head_a, head_b = (a.cum[i - 1] if i else 0), (b.cum[j - 1] if j else 0)
        if head_a + b.load - head_b > self.cap or head_b + a.load - head_a > self.cap:
            return None
        pa, sa = A[i - 1] if i else 0, A[i] if i < len(A) else 0
        pb, sb = B[j - 1] if j else 0, B[j] if j < len(B) else 0
        closed = (not i and j == len(B)) + (not j and i == len(A))
        d = self.ckm * (D[pa][sb] + D[pb][sa] - D[pa][sa] - D[pb][sb]) - self.ctrip * closed
        if d - self._late_bound([(a, i), (b, j)]) >= -EPS:
            return None
        new_a, new_b = A[:i] + B[j:], B[:j] + A[i:]
        if self.fixed and not closed:  # each tail keeps its order; only its start moves
            d += self._shift(b, j, self._leave(a, i) + self.T[pa][sb] - (b.arr[j] if j < len(B) else b.back))
            if d < INF:
                d += self._shift(a, i, self._leave(b, j) + self.T[pb][sa] - (a.arr[i] if i < len(A) else a.back))
        else:
            d = self._replace(a, i, len(A), new_a[i:]) + self._replace(b, j, len(B), new_b[j:])
        return self._apply([(a, new_a), (b, new_b)], d)

    def two_opt_star(self, u: int) -> list[PricedTrip] | None:
        """Exchange the tails of ``u``'s trip and a neighbour's to make the two adjacent."""
        a, i = self.where[u]
        for v in self.near[u]:
            if (hit := self.where[v]) is not None and hit[0] is not a:
                b, j = hit
                if done := self._tails(a, i + 1, b, j) or self._tails(b, j + 1, a, i):  # u->v, v->u
                    return done
        return None

    def two_opt(self, tr: PricedTrip) -> bool:
        """Reverse the segment of ``tr`` that saves most km (priced exactly, best first)."""
        n, D = len(tr.stops), self.D
        path, fw, bw, found = [0, *tr.stops, 0], [0.0], [0.0], []
        for m in range(n + 1):
            fw.append(fw[-1] + D[path[m]][path[m + 1]])
            bw.append(bw[-1] + D[path[m + 1]][path[m]])
        for a in range(1, n):
            pa, xa = path[a - 1], path[a]
            for b in range(a + 1, n + 1):
                pb, nb = path[b], path[b + 1]
                dkm = D[pa][pb] + D[xa][nb] + bw[b] - bw[a] - D[pa][xa] - D[pb][nb] - fw[b] + fw[a]
                if self.ckm * dkm - tr.late_cost < -EPS:
                    found.append((dkm, a, b))
        for _, a, b in sorted(found)[:8]:
            stops = tr.stops[:a - 1] + tr.stops[a - 1:b][::-1] + tr.stops[b:]
            if self._apply([(tr, stops)], self._replace(tr, a - 1, n, stops[a - 1:])):
                return True
        return False

    def improve(self, orders: list[int] | None = None) -> None:
        """Local search until no move improves: each order (default: all) is examined, and
        again whenever its trip or a neighbour's changes; changed trips get 2-opt."""
        routed = range(1, self.problem.n_orders + 1) if orders is None else orders
        queue = deque(u for u in routed if self.where[u] is not None)
        queued, todo = set(queue), {id(self.where[u][0]): self.where[u][0] for u in queue}

        def mark(trips: list[PricedTrip]) -> None:
            for tr in trips:
                if tr.stops:
                    todo[id(tr)] = tr
                for w in (w for s in tr.stops for w in (s, *self.rev[s])):
                    if w not in queued and self.where[w] is not None:
                        queued.add(w)
                        queue.append(w)

        while queue or todo:
            while queue:
                u = queue.popleft()
                queued.discard(u)
                if self.where[u] is not None and (
                        changed := self.relocate(u) or self.swap(u) or self.two_opt_star(u) or self.or_opt(u)):
                    mark(changed)
            trips, todo = list(todo.values()), {}
            for tr in trips:
                if tr.stops and self.two_opt(tr):
                    mark([tr])  # (two_opt is called again when the trip comes back in todo)

    def _recreate(self, removed: list[int], new_trips: bool = True) -> bool:
        """Ruin and recreate: take ``removed`` out, re-insert them in deadline order (on new
        trips too if ``new_trips``), improve there; keep the result only if it is cheaper."""
        before, self.journal = self.cost, {}
        trips = {id(self.where[u][0]): self.where[u][0] for u in removed}
        ok = all(self._apply([(tr, [s for s in tr.stops if s not in removed])], None) for tr in trips.values())
        self.empty = self.empty if new_trips else None
        ok = ok and all(self._insert(u) for u in sorted(removed, key=lambda u: self.dl[u]))
        self.empty = self._new_empty()
        if ok:
            self.improve(removed)
        journal, self.journal = self.journal, None
        if ok and self.cost < before - EPS:
            return True
        current = {tr.vehicle: tr for tr in self.trips}  # restore the plan before
        for v, stops in journal.items():
            tr = current.get(v) or (self.empty if self.empty and self.empty.vehicle == v else PricedTrip(v, []))
            self._set(tr, stops)
        self.cost = before
        return False

    def eliminate(self, failures: int | None = None) -> None:
        """Try to empty trips, fewest stops first, into the others, until ``failures`` attempts
        fail (default: 1 + one per 10 trips)."""
        failures = failures or 1 + len(self.trips) // 10
        for tr in sorted(self.trips, key=lambda t: len(t.stops)):
            if failures <= 0:
                return
            room = sum(self.cap - t.load for t in self.trips if t is not tr)
            if tr in self.trips and len(self.trips) > 1 and room >= tr.load:
                failures -= not self._recreate(list(tr.stops), new_trips=False)

    def perturb(self, rounds: int, seed: int = 0) -> None:
        """``rounds`` times, ruin and recreate an order and up to 11 of its neighbours."""
        rng = random.Random(seed)
        for _ in range(rounds):
            if len(routed := [u for u in range(1, len(self.where)) if self.where[u] is not None]) < 2:
                return
            first = rng.choice(routed)
            removed = [first, *(v for v in self.near[first] if self.where[v] is not None)]
            removed = removed[:rng.randint(2, max(2, min(12, len(routed) // 3)))]
            rng.shuffle(removed)  # random ties in deadline order
            self._recreate(removed)


def insertion_route(problem: RoutingProblem, local_search: bool = True, *, neighbours: int | None = None,
                    rounds: int = 0, seed: int = 0) -> tuple[list[Trip], list[int]]:
    """Cheapest insertion in deadline order, then local search (module doc). Returns feasible
    trips (each vehicle and order at most once) and the orders that fit nowhere. ``neighbours``:
    the granular neighbourhood (default 6 up to 40 orders, the simulator's problems, else 10);
    ``rounds``: ruin-and-recreate rounds after the local search (default none), random by ``seed``."""
    router = InsertionRouter(problem, neighbours)
    router.construct()
    if local_search:
        router.improve()
        router.eliminate()
        router.perturb(rounds, seed)
        while router.unrouted and router.reinsert():
            pass
    return router.plan(), router.unrouted
