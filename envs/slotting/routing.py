"""Picker routing in a single-block parallel-aisle warehouse (see :mod:`envs.slotting.layout`).

A pick list is a set of slot ids (1-D integer array) or of ``(aisle, y)`` points (array of
shape ``(k, 2)``, ``0 <= y <= L``). Several picks at the same point, the order of the list,
and picks lying at the depot change nothing. A tour starts and ends at the depot
``(depot_x, 0)``; travel is rectilinear along the aisle centre lines and the two
cross-aisles (front ``y = 0``, back ``y = L``). The empty pick list has length 0.

Notation: the *picked aisles* are those holding at least one pick, ``k`` their number,
``ymax_a`` / ``ymin_a`` the farthest / nearest pick of aisle ``a`` from the front, and
``H = 2 * (max(x_right, depot_x) - min(x_left, depot_x))`` twice the span of the picked
aisles and the depot (``x_left``, ``x_right``: leftmost and rightmost picked aisles). All
three heuristics use ``H`` as their horizontal travel.

Methods (``method=``)
    ``s_shape``
        Every picked aisle is traversed entirely, left to right, alternating up and down; if
        ``k`` is odd the last (rightmost) picked aisle is entered from the front, walked up to
        its farthest pick and left from the front. Length
        ``H + L * (k - k % 2) + (k % 2) * 2 * ymax_right``. (With ``k = 1`` this is the
        return route of the only aisle.)
    ``return``
        Each picked aisle is entered and left from the front: ``H + sum_a 2 * ymax_a``.
    ``largest_gap``
        Hall (1993), "Distance approximations for routing manual pickers in a warehouse",
        IIE Transactions 25(4); as described by Roodbergen & de Koster (2001). The leftmost
        and rightmost picked aisles are traversed entirely (up the leftmost, down the
        rightmost); every other picked aisle is entered from the front and from the back,
        each side up to the largest gap, which is left unvisited. The gaps of an aisle with
        picks ``y_1 <= ... <= y_m`` are ``y_1 - 0``, ``y_{i+1} - y_i`` and ``L - y_m``; with
        ``G_a`` the largest, the aisle costs ``2 * (L - G_a)`` (a largest gap at the front
        means the aisle is visited from the back only, at the back from the front only).
        Length ``H + 2 * L + sum_{inner a} 2 * (L - G_a)``; with ``k = 1`` the only aisle is
        visited as in ``return`` (``H + 2 * ymax``).
    ``optimal``
        The exact shortest tour: the dynamic programme of Ratliff & Rosenthal (1983),
        "Order-picking in a rectangular warehouse: a solvable case of the traveling salesman
        problem", Operations Research 31(3). A tour is a connected multigraph with even
        degrees over the aisle segments and cross-aisle segments (each used 0, 1 or 2 times)
        containing the depot and every pick. The programme sweeps the aisles left to right;
        its state at aisle ``j`` is the degree parity of the aisle's front and back vertices,
        whether each is in the graph and whether they are connected (every component of the
        partial graph must touch them), plus "not started" and "closed". Within an aisle
        only six minimal configurations can be optimal: none, traverse once (``L``), traverse
        twice (``2L``), from the front to the farthest pick (``2 ymax``), from the back to
        the nearest pick (``2 (L - ymin)``), from both ends leaving the largest gap between
        two picks (``2 (L - G)``, the two ends not connected); between aisles each
        cross-aisle edge is used 0, 1 or 2 times. Cost ``O(n_aisles)`` with a fixed table
        of 14 states (13 partial-graph states and "closed", built once at import).

All methods return a float; ``optimal <= largest_gap, s_shape, return`` always.
"""

from __future__ import annotations

import itertools

import numpy as np

METHODS = ("s_shape", "return", "largest_gap", "optimal")
_INF = np.inf


def pick_points(layout, picks) -> tuple[np.ndarray, np.ndarray]:
    """``(aisle, y)`` arrays of a pick list (slot ids or ``(aisle, y)`` points)."""
    arr = np.asarray(picks)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if arr.ndim == 1:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError("picks: slot ids must be integers (or pass (aisle, y) points of shape (k, 2))")
        aisle, _, position, _ = layout.decompose(arr)
        return np.asarray(aisle, dtype=np.int64), (np.asarray(position) + 0.5) * layout.slot_width
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"picks: expected slot ids or (aisle, y) points of shape (k, 2), got shape {arr.shape}")
    aisle_f = arr[:, 0].astype(float)
    aisle = aisle_f.astype(np.int64)
    y = arr[:, 1].astype(float)
    if np.any(aisle != aisle_f) or np.any((aisle < 0) | (aisle >= layout.n_aisles)):
        raise ValueError(f"picks: aisles must be integers in [0, {layout.n_aisles})")
    if np.any(~np.isfinite(y)) or np.any((y < 0) | (y > layout.aisle_length)):
        raise ValueError(f"picks: y must be in [0, {layout.aisle_length}]")
    return aisle, y


def _aisle_stats(aisle: np.ndarray, y: np.ndarray, n_aisles: int, length: float):
    """Per aisle: pick count, ymin, ymax, largest gap (front, between picks, back), largest
    gap between two picks (0 if fewer than two distinct picks)."""
    order = np.lexsort((y, aisle))
    a, ys = aisle[order], y[order]
    count = np.bincount(a, minlength=n_aisles)
    ymin = np.full(n_aisles, _INF)
    ymax = np.full(n_aisles, -_INF)
    np.minimum.at(ymin, a, ys)
    np.maximum.at(ymax, a, ys)
    inner = np.zeros(n_aisles)
    if len(a) > 1:
        same = a[1:] == a[:-1]
        np.maximum.at(inner, a[1:][same], (ys[1:] - ys[:-1])[same])
    picked = count > 0
    gap = np.where(picked, np.maximum(np.maximum(ymin, length - ymax), inner), length)
    return count, ymin, ymax, gap, inner


def tour_length(layout, picks, method: str = "optimal") -> float:
    """Length of the picker's tour from the depot through ``picks`` and back (see module doc)."""
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    aisle, y = pick_points(layout, picks)
    at_depot = (aisle == layout.depot_aisle) & (y == 0.0)
    aisle, y = aisle[~at_depot], y[~at_depot]
    if aisle.size == 0:
        return 0.0
    return points_length(layout, aisle, y, method)


def points_length(layout, aisle: np.ndarray, y: np.ndarray, method: str) -> float:
    """:func:`tour_length` of validated pick points (aisle ids, y), none at the depot, at
    least one: the simulator's fast path (it knows its slots' points)."""
    if method == "optimal":
        return _optimal(aisle, y, layout.n_aisles, layout.aisle_length, layout.aisle_spacing, layout.depot_aisle)
    # a handful of picks: plain Python is faster than NumPy here
    ys: dict[int, list[float]] = {}
    for a, v in zip(aisle.tolist(), y.tolist(), strict=True):
        ys.setdefault(a, []).append(v)
    picked = sorted(ys)
    length, depot = layout.aisle_length, layout.depot_aisle
    left, right = picked[0], picked[-1]
    horizontal = 2.0 * layout.aisle_spacing * (max(right, depot) - min(left, depot))
    k = len(picked)
    if method == "return" or k == 1:
        return float(horizontal + 2.0 * sum(max(ys[a]) for a in picked))
    if method == "s_shape":
        odd = k % 2
        return float(horizontal + length * (k - odd) + odd * 2.0 * max(ys[right]))
    inner = 0.0
    for a in picked[1:-1]:
        v = sorted(ys[a])
        gap = max(v[0], length - v[-1], *(b - c for b, c in zip(v[1:], v[:-1], strict=True)))
        inner += length - gap
    return float(horizontal + 2.0 * length + 2.0 * inner)


# ---------------------------------------------------------------- Ratliff-Rosenthal DP
# A state (pa, pb, ia, ib, conn): degree parity of the aisle's front / back vertex, whether
# each is in the graph, whether they are connected (only when both are in). Canonical:
# conn = 0 unless ia and ib; parities are 0 for a vertex out of the graph.
# (0, 0, 0, 0, 0) is "not started"; CLOSED is the finished tour.
_STATES = [s for s in itertools.product((0, 1), repeat=5)
           if (s[4] == 0 or (s[2] and s[3])) and (s[2] or s[0] == 0) and (s[3] or s[1] == 0)]
_INDEX = {s: i for i, s in enumerate(_STATES)}
EMPTY = _INDEX[(0, 0, 0, 0, 0)]
CLOSED = len(_STATES)
N_STATES = CLOSED + 1

# Within-aisle configurations: (name, front parity, back parity, uses front, uses back, joins).
_CONFIGS = (
    ("none", 0, 0, 0, 0, 0),
    ("traverse", 1, 1, 1, 1, 1),
    ("double", 0, 0, 1, 1, 1),
    ("front", 0, 0, 1, 0, 0),
    ("back", 0, 0, 0, 1, 0),
    ("gap", 0, 0, 1, 1, 0),
)


def _vertical_table():
    """For each configuration: (source states, destination states)."""
    out = []
    for name, da, db, ua, ub, joins in _CONFIGS:
        src, dst = [], []
        for i, (pa, pb, ia, ib, conn) in enumerate(_STATES):
            na, nb = ia | ua, ib | ub
            nconn = int(na and nb and (conn or joins))
            src.append(i)
            dst.append(_INDEX[(pa ^ da, pb ^ db, na, nb, nconn)])
        src.append(CLOSED)  # a closed tour only passes through empty aisles ("none")
        dst.append(CLOSED if name == "none" else -1)
        keep = [j for j, d in enumerate(dst) if d >= 0]
        out.append((np.array([src[j] for j in keep]), np.array([dst[j] for j in keep])))
    return out


def _cross_table():
    """For each (required front, required back): (sources, destinations, edge copies) of the
    move from aisle j to aisle j + 1 using the front / back cross-aisle edge f / g times."""
    tables = {}
    for req_a, req_b in itertools.product((0, 1), repeat=2):
        src, dst, units = [], [], []
        for i, (pa, pb, ia, ib, conn) in enumerate(_STATES):
            for f, g in itertools.product((0, 1, 2), repeat=2):
                if (pa + f) % 2 or (pb + g) % 2:
                    continue  # final degrees at aisle j must be even
                in_a, in_b = ia or f > 0, ib or g > 0
                if (req_a and not in_a) or (req_b and not in_b):
                    continue
                # components must go on to aisle j + 1 or the tour closes here
                a_goes = f > 0 or (conn and g > 0)
                b_goes = g > 0 or (conn and f > 0)
                if i == EMPTY and f == g == 0:
                    src.append(i), dst.append(EMPTY), units.append(0)
                    continue
                if f == g == 0:
                    if ia and ib and not conn:
                        continue
                    src.append(i), dst.append(CLOSED), units.append(0)
                    continue
                if (ia and not a_goes) or (ib and not b_goes):
                    continue  # a component would be cut off from the rest
                nconn = int(f > 0 and g > 0 and ia and ib and conn)
                dst_state = (f % 2, g % 2, int(f > 0), int(g > 0), nconn)
                src.append(i), dst.append(_INDEX[dst_state]), units.append(f + g)
        if not (req_a or req_b):
            src.append(CLOSED), dst.append(CLOSED), units.append(0)
        tables[(req_a, req_b)] = (np.array(src), np.array(dst), np.array(units, dtype=float))
    return tables


_VERTICAL = _vertical_table()
_CROSS = _cross_table()


def _final_ok() -> np.ndarray:
    ok = np.zeros(N_STATES, dtype=bool)
    for i, (pa, pb, ia, ib, conn) in enumerate(_STATES):
        ok[i] = i != EMPTY and pa == 0 and pb == 0 and (conn or not (ia and ib))
    ok[CLOSED] = True
    return ok


_FINAL_OK = _final_ok()


def _optimal(aisle, y, n, length, spacing, depot) -> float:
    # picks exactly on a cross-aisle only require that vertex in the tour; the interior
    # picks decide which configurations an aisle may take
    req_front = np.zeros(n, dtype=bool)
    req_back = np.zeros(n, dtype=bool)
    req_front[depot] = True
    req_front[aisle[y == 0.0]] = True
    req_back[aisle[y == length]] = True
    interior = (y > 0.0) & (y < length)
    count, ymin, ymax, _, inner = _aisle_stats(aisle[interior], y[interior], n, length)
    value = np.full(N_STATES, _INF)
    value[EMPTY] = 0.0
    for j in range(n):
        if j > 0:
            src, dst, units = _CROSS[(int(req_front[j - 1]), int(req_back[j - 1]))]
            new = np.full(N_STATES, _INF)
            np.minimum.at(new, dst, value[src] + units * spacing)
            value = new
        costs = _config_costs(count[j], ymin[j], ymax[j], inner[j], length)
        new = np.full(N_STATES, _INF)
        for (src, dst), cost in zip(_VERTICAL, costs, strict=True):
            if cost < _INF:
                np.minimum.at(new, dst, value[src] + cost)
        value = new
    # the last aisle: its vertices get no cross edge to the right
    src, dst, _ = _CROSS[(int(req_front[n - 1]), int(req_back[n - 1]))]
    closing = np.zeros(N_STATES, dtype=bool)
    closing[src[(dst == CLOSED)]] = True
    best = value[closing & _FINAL_OK].min(initial=_INF)
    return float(best)


def _config_costs(count, ymin, ymax, inner, length) -> tuple[float, ...]:
    """Costs of the six configurations in one aisle (inf where not allowed)."""
    if count == 0:
        return (0.0, length, 2 * length, _INF, _INF, _INF)
    front = 2.0 * ymax
    back = 2.0 * (length - ymin)
    gap = 2.0 * (length - inner) if inner > 0 else _INF
    return (_INF, length, 2 * length, front, back, gap)
