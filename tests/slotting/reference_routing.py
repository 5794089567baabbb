"""An independent, plainly written reference of the four picker-routing rules of
:mod:`envs.slotting.routing`, used to check it.

Written from the module docstring of ``envs/slotting/routing.py`` only. A pick list is a
sequence of ``(x, y)`` points (``x`` an aisle's centre line ``i * spacing``, ``0 <= y <= L``);
the depot is ``(depot_x, 0)``. The three heuristics follow the docstring's formulas literally;
``optimal`` is *not* the Ratliff-Rosenthal programme but a brute-force exact method: shortest
paths on the rectilinear aisle graph (Floyd-Warshall) and an exact TSP over the distinct pick
points (Held-Karp), which is obviously correct and fine up to ~14 distinct points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import numpy as np

Point = tuple[float, float]


# ------------------------------------------------------------------------- helpers
def _aisle_of(x: float, spacing: float) -> int:
    a = round(x / spacing)
    if not math.isclose(a * spacing, x, rel_tol=0.0, abs_tol=1e-9 * max(1.0, spacing)):
        raise ValueError(f"x = {x} is not on an aisle centre line (spacing {spacing})")
    return int(a)


def _clean(points: Iterable[Sequence[float]], depot_x: float, spacing: float) -> list[tuple[int, float]]:
    """``(aisle index, y)`` of the picks, picks lying at the depot dropped."""
    depot_aisle = _aisle_of(depot_x, spacing)
    out = []
    for x, y in points:
        a = _aisle_of(float(x), spacing)
        if a == depot_aisle and float(y) == 0.0:
            continue  # a pick at the depot changes nothing
        out.append((a, float(y)))
    return out


def _by_aisle(picks: list[tuple[int, float]]) -> dict[int, list[float]]:
    aisles: dict[int, list[float]] = {}
    for a, y in picks:
        aisles.setdefault(a, []).append(y)
    for ys in aisles.values():
        ys.sort()
    return aisles


def _horizontal(aisles: dict[int, list[float]], depot_x: float, spacing: float) -> float:
    """``H = 2 * (max(x_right, depot_x) - min(x_left, depot_x))``."""
    x_left = min(aisles) * spacing
    x_right = max(aisles) * spacing
    return 2.0 * (max(x_right, depot_x) - min(x_left, depot_x))


# ------------------------------------------------------------------------- heuristics
def s_shape(points, depot_x: float, spacing: float, length: float) -> float:
    """``H + L * (k - k % 2) + (k % 2) * 2 * ymax_right``."""
    aisles = _by_aisle(_clean(points, depot_x, spacing))
    if not aisles:
        return 0.0
    k = len(aisles)
    ymax_right = max(aisles[max(aisles)])
    return _horizontal(aisles, depot_x, spacing) + length * (k - k % 2) + (k % 2) * 2.0 * ymax_right


def return_route(points, depot_x: float, spacing: float, length: float) -> float:
    """``H + sum_a 2 * ymax_a``."""
    aisles = _by_aisle(_clean(points, depot_x, spacing))
    if not aisles:
        return 0.0
    return _horizontal(aisles, depot_x, spacing) + sum(2.0 * max(ys) for ys in aisles.values())


def largest_gap(points, depot_x: float, spacing: float, length: float) -> float:
    """``H + 2 L + sum_{inner a} 2 (L - G_a)``; with one picked aisle ``H + 2 ymax``."""
    aisles = _by_aisle(_clean(points, depot_x, spacing))
    if not aisles:
        return 0.0
    h = _horizontal(aisles, depot_x, spacing)
    if len(aisles) == 1:
        (ys,) = aisles.values()
        return h + 2.0 * max(ys)
    left, right = min(aisles), max(aisles)
    total = h + 2.0 * length
    for a, ys in aisles.items():
        if a in (left, right):
            continue
        gaps = [ys[0] - 0.0] + [ys[i + 1] - ys[i] for i in range(len(ys) - 1)] + [length - ys[-1]]
        total += 2.0 * (length - max(gaps))
    return total


# ------------------------------------------------------------------------- optimal
def warehouse_graph(picks: list[tuple[int, float]], n_aisles: int, spacing: float, length: float,
                    depot_aisle: int):
    """The rectilinear aisle graph: nodes are the front and back end of every aisle and every
    distinct pick point; edges the aisle segments between consecutive points of an aisle and
    the cross-aisle segments between adjacent aisle ends. Returns ``(dist, depot, targets)``:
    the all-pairs shortest-path matrix (Floyd-Warshall), the depot's node and the nodes of the
    distinct pick points other than the depot."""
    index: dict[tuple[int, float], int] = {}

    def node(a: int, y: float) -> int:
        return index.setdefault((a, y), len(index))

    for a in range(n_aisles):
        node(a, 0.0)
        node(a, length)
    for a, y in picks:
        node(a, y)
    size = len(index)
    dist = np.full((size, size), np.inf)
    np.fill_diagonal(dist, 0.0)

    def edge(u: int, v: int, w: float) -> None:
        if w < dist[u, v]:
            dist[u, v] = dist[v, u] = w

    for a in range(n_aisles):  # aisle segments
        ys = sorted(y for (b, y) in index if b == a)
        for y0, y1 in itertools.pairwise(ys):
            edge(index[(a, y0)], index[(a, y1)], y1 - y0)
    for a in range(n_aisles - 1):  # cross-aisle segments (front and back)
        for y in (0.0, length):
            edge(index[(a, y)], index[(a + 1, y)], spacing)
    for k in range(size):  # Floyd-Warshall
        dist = np.minimum(dist, dist[:, k:k + 1] + dist[k:k + 1, :])
    depot = index[(depot_aisle, 0.0)]
    targets = sorted({index[p] for p in picks} - {depot})
    return dist, depot, targets


def held_karp(dist: np.ndarray, start: int, targets: list[int]) -> float:
    """The exact shortest closed tour from ``start`` through every node of ``targets``."""
    n = len(targets)
    if n == 0:
        return 0.0
    full = 1 << n
    best = [[math.inf] * n for _ in range(full)]  # best[S][j]: start -> all of S, ending at j
    for j in range(n):
        best[1 << j][j] = float(dist[start, targets[j]])
    for subset in range(1, full):
        row = best[subset]
        for j in range(n):
            cost = row[j]
            if cost == math.inf or not subset >> j & 1:
                continue
            for nxt in range(n):
                if subset >> nxt & 1:
                    continue
                cand = cost + float(dist[targets[j], targets[nxt]])
                if cand < best[subset | 1 << nxt][nxt]:
                    best[subset | 1 << nxt][nxt] = cand
    return min(best[full - 1][j] + float(dist[targets[j], start]) for j in range(n))


def optimal(points, depot_x: float, spacing: float, length: float, n_aisles: int | None = None) -> float:
    """The exact shortest tour: Held-Karp over the shortest-path metric of the aisle graph.

    ``n_aisles`` (default: just enough to hold the depot and the picks) only adds aisles that
    a shortest tour never uses, so it does not change the result."""
    picks = _clean(points, depot_x, spacing)
    if not picks:
        return 0.0
    depot_aisle = _aisle_of(depot_x, spacing)
    needed = max([depot_aisle] + [a for a, _ in picks]) + 1
    n_aisles = needed if n_aisles is None else max(n_aisles, needed)
    dist, depot, targets = warehouse_graph(picks, n_aisles, spacing, length, depot_aisle)
    if len(targets) > 16:
        raise ValueError(f"optimal: {len(targets)} distinct points is too many for Held-Karp")
    return held_karp(dist, depot, targets)


RULES = {"s_shape": s_shape, "return": return_route, "largest_gap": largest_gap, "optimal": optimal}


def tour_length_reference(layout, slot_ids, method: str) -> float:
    """The reference length of the tour through slot ids ``slot_ids`` of ``layout``."""
    ids = np.asarray(slot_ids, dtype=np.int64).reshape(-1)
    points = [(float(layout.slot_x[s]), float(layout.slot_y[s])) for s in ids]
    return points_length_reference(layout, points, method)


def points_length_reference(layout, points, method: str) -> float:
    """The reference length of the tour through ``(x, y)`` points of ``layout``."""
    args = (points, float(layout.depot_x), float(layout.aisle_spacing), float(layout.aisle_length))
    if method == "optimal":
        return optimal(*args, n_aisles=layout.n_aisles)
    return RULES[method](*args)
