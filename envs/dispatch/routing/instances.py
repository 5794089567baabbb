"""Static routing instances (VRPLIB / Solomon files, generated ones) and helpers on problems.

Files are read with the ``vrplib`` package (VRPLIB format, or Solomon's format detected by
its ``VEHICLE`` / ``CUSTOMER`` sections). Distances follow the benchmark conventions
(``rounding``):

* ``nint``: TSPLIB's nearest integer, ``int(d + 0.5)`` (CVRP sets A, B, E, P, X: the
  published optima, e.g. 784 for A-n32-k5, use it);
* ``trunc1``: truncated to one decimal, ``floor(10 d) / 10`` (Solomon's VRPTW convention,
  PyVRP's ``round_func="dimacs"``: RC208's 776.1 reproduces exactly with it);
* ``exact``: unrounded Euclidean distances, or the explicit matrix as given;
* ``auto`` (default): ``trunc1`` for an instance with time windows, ``nint`` for a Euclidean
  one without, ``exact`` for an explicit matrix.

Durations equal distances (one distance unit per time unit), as in both benchmark sets. The
fleet is unlimited (one vehicle per customer, all ready at 0): a file's ``VEHICLES`` count
(Solomon: 25) and the ``k`` in a CVRP name (the fewest trucks needed) are *not* limits;
published best costs are minimum-distance solutions. Time windows are hard
(``hard_deadline``), service times as given, the depot's due date is the shift end.

Helpers: :func:`plan_summary` (a plan's feasibility, every order served), :func:`tidy`, and
:func:`neighbour_lists` (the granular neighbourhoods of the insertion router).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from envs.core.config import ConfigError
from envs.dispatch.routing.problem import INF, RoutingProblem, Trip
from envs.dispatch.vrplib_checks import check_vrplib, read_vrplib

ROUNDINGS = ("auto", "exact", "nint", "trunc1")


def detect_format(path: str | Path) -> str:
    """``"solomon"`` when the file has Solomon's ``VEHICLE`` and ``CUSTOMER`` sections, else ``"vrplib"``."""
    head = Path(path).read_text(errors="replace")[:4000]
    solomon = re.search(r"^\s*VEHICLE\s*$", head, re.M) and re.search(r"^\s*CUSTOMER\s*$", head, re.M)
    return "solomon" if solomon else "vrplib"


def round_distances(matrix: np.ndarray, rounding: str) -> np.ndarray:
    """Apply a benchmark rounding convention (``nint``, ``trunc1`` or ``exact``) to a matrix."""
    if rounding == "nint":
        return np.floor(matrix + 0.5)
    if rounding == "trunc1":
        # 1e-9 guards exact tenths against a representation error just below them
        return np.floor(matrix * 10 + 1e-9) / 10
    if rounding == "exact":
        return np.asarray(matrix, dtype=float)
    raise ValueError(f"rounding: expected one of {', '.join(ROUNDINGS)}, got {rounding!r}")


def read_instance(path: str | Path, rounding: str = "auto", field: str = "instance") -> tuple[RoutingProblem, dict]:
    """Read a VRPLIB or Solomon file into a :class:`RoutingProblem` (node 0 the depot).

    Returns the problem and a small description (``name``, ``format``, ``rounding`` used,
    ``time_windows``). Raises a one-line ``ConfigError`` naming ``field`` and the file on an
    unreadable or malformed file (:func:`envs.dispatch.vrplib_checks.check_vrplib`: CAPACITY
    and DEMAND_SECTION required, finite coordinates, ...) or several depots, ``ValueError`` on
    an unknown rounding.
    """
    from vrplib.parse.parse_distances import pairwise_euclidean, parse_distances

    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding: expected one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    where = f"{field}: {path}"
    fmt = detect_format(path)
    data = read_vrplib(str(path), where, instance_format=fmt)
    checked = check_vrplib(data, where, required=("capacity", "demand"))
    depots = np.atleast_1d(data.get("depot", [0]))
    if len(depots) != 1 or int(depots[0]) != 0:
        raise ConfigError(f"{where}: DEPOT_SECTION: expected one depot, the first node; got {(depots + 1).tolist()}")
    if "edge_weight" in checked:
        weights = checked["edge_weight"].astype(float)
    else:
        try:  # the coordinates are finite and bounded: so are the weights
            with np.errstate(all="ignore"):
                weights = (parse_distances([], **data) if "edge_weight_type" in data
                           else pairwise_euclidean(checked["node_coord"]))
        except (KeyError, ValueError, TypeError):
            raise ConfigError(f"{where}: no distances (EDGE_WEIGHT_TYPE {data.get('edge_weight_type')!r}); expected "
                              "an EDGE_WEIGHT_SECTION or a NODE_COORD_SECTION with a 2D EDGE_WEIGHT_TYPE") from None
    m = len(weights)
    windows = checked.get("time_window")
    explicit = str(data.get("edge_weight_type", "")).upper() == "EXPLICIT"
    if rounding == "auto":
        rounding = "trunc1" if windows is not None else ("exact" if explicit else "nint")
    dist = round_distances(weights, rounding)
    service = checked.get("service_time", np.zeros(m)).astype(float)
    service[0] = 0.0
    demand = checked["demand"]
    earliest = np.zeros(m)
    deadline = np.full(m, INF)
    shift_end = INF
    if windows is not None:
        windows = np.asarray(windows, dtype=float)
        earliest[1:], deadline[1:] = windows[1:, 0], windows[1:, 1]
        shift_end = float(windows[0, 1])
    release = checked.get("release_time", np.zeros(m)).astype(float)
    release[0] = 0.0
    n = m - 1
    problem = RoutingProblem(
        distance=dist, duration=dist.copy(), service=service, demand=demand, earliest=earliest,
        deadline=deadline, release=release, capacity=checked["capacity"], vehicle_ready=np.zeros(max(n, 1)),
        shift_end=shift_end, hard_deadline=windows is not None)
    info = {"name": str(data.get("name", Path(path).stem)), "format": fmt, "rounding": rounding,
            "time_windows": windows is not None}
    return problem, info


def read_solution(path: str | Path) -> tuple[list[Trip], float | None]:
    """A VRPLIB ``.sol`` file as trips (vehicle i for its i-th route) and its ``Cost`` line
    (None if absent). Customer numbers in ``.sol`` files are our order nodes (depot 0)."""
    import vrplib

    sol = vrplib.read_solution(str(path))
    trips = [Trip(i, [int(c) for c in route]) for i, route in enumerate(sol["routes"])]
    cost = sol.get("cost")
    return trips, None if cost is None else float(cost)


def check_solution(problem: RoutingProblem, trips: list[Trip], stated: float | None, where: str,
                   rounding: str) -> float:
    """The cost of a solution's trips recomputed on ``problem`` (its distance convention
    ``rounding``), after checking it may serve as a best known solution; else a one-line
    ``ConfigError`` prefixed with ``where``: an unknown or repeated customer, a route over
    the capacity or its time windows (``check_plan``), a customer in no route, or a stated
    ``Cost`` that differs from the recomputed cost by more than half a unit of its last
    stated decimal (784 within 0.5, 776.1 within 0.05)."""
    from envs.dispatch.routing.problem import check_plan, plan_cost

    n = problem.n_orders
    try:
        check_plan(problem, trips)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}; expected routes serving customers 1..{n}, each once, feasibly") from None
    missing = sorted(set(range(1, n + 1)) - {s for t in trips for s in t.stops})
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise ConfigError(f"{where}: {len(missing)} of {n} customers are in no route ({shown}); expected every "
                          f"customer 1..{n} exactly once")
    cost = tidy(plan_cost(problem, trips))
    if stated is not None:
        text = repr(float(stated))
        decimals = 0 if text.endswith(".0") or "e" in text else len(text.split(".")[1])
        tol = 0.5 * 10.0 ** -decimals + 1e-9
        if not abs(stated - cost) <= tol:
            raise ConfigError(f"{where}: Cost {stated:g} stated, {cost:g} recomputed from its routes with distances "
                              f"{rounding}; expected them equal within {tol:.2g} (another rounding= convention?)")
    return cost


def generate_instance(n: int, kind: str = "uniform", time_windows: bool = False, seed: int = 0,
                      capacity: int = 100) -> RoutingProblem:
    """A random static instance of ``n`` customers on a 1000 x 1000 grid (depot at the centre),
    distances Euclidean rounded to the nearest integer, demands uniform in 1..10.

    ``kind``: ``"uniform"`` (customers uniform on the square) or ``"clustered"`` (8 cluster
    centres uniform on the square, customers normal around them with standard deviation 60,
    clipped to the square). ``time_windows``: hard windows in the spirit of Solomon's sets: a
    horizon of 6000, service time 10, each window 300..1200 wide centred uniformly between the
    earliest reachable time and the latest time that still allows the return (always feasible
    as a trip of its own). Deterministic for a given ``seed``.
    """
    if kind not in ("uniform", "clustered"):
        raise ValueError(f"kind: expected 'uniform' or 'clustered', got {kind!r}")
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        xy = rng.uniform(0, 1000, size=(n, 2))
    else:
        centres = rng.uniform(100, 900, size=(8, 2))
        xy = np.clip(centres[rng.integers(0, 8, size=n)] + rng.normal(0, 60, size=(n, 2)), 0, 1000)
    xy = np.vstack([[500.0, 500.0], xy])
    dist = np.floor(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)) + 0.5)
    demand = np.concatenate([[0], rng.integers(1, 11, size=n)])
    service = np.zeros(n + 1)
    earliest = np.zeros(n + 1)
    deadline = np.full(n + 1, INF)
    shift_end = INF
    if time_windows:
        shift_end, service[1:] = 6000.0, 10.0
        lo = dist[0, 1:]
        hi = shift_end - dist[1:, 0] - service[1:]
        centre = rng.uniform(lo, hi)
        half = rng.uniform(150, 600, size=n)
        earliest[1:] = np.maximum(lo, np.floor(centre - half))
        deadline[1:] = np.minimum(hi, np.ceil(centre + half))
    return RoutingProblem(
        distance=dist, duration=dist.copy(), service=service, demand=demand, earliest=earliest,
        deadline=deadline, release=np.zeros(n + 1), capacity=int(capacity), vehicle_ready=np.zeros(n),
        shift_end=shift_end, hard_deadline=time_windows)


def neighbour_lists(problem: RoutingProblem, k: int) -> list[list[int]]:
    """The ``k`` nearest orders of every order (entry 0, the depot: none). Nearness is km
    plus, when time windows matter, the wait (x0.2) and the lateness (x1) of going from one
    to the other, in the better direction."""
    p, n = problem, problem.n_orders
    k = min(k, n - 1)
    if k <= 0:
        return [[] for _ in range(n + 1)]
    prox = p.distance[1:, 1:].astype(float)
    if p.hard_deadline or p.cost_per_late_minute > 0:
        e, dl, go = p.earliest[1:], p.deadline[1:], p.duration[1:, 1:] + p.service[1:, None]
        with np.errstate(invalid="ignore"):
            wait = np.nan_to_num(np.maximum(0.0, e[None, :] - dl[:, None] - go))
            late = np.nan_to_num(np.maximum(0.0, e[:, None] + go - dl[None, :]))
        prox = prox + 0.2 * wait + late
    prox = np.minimum(prox, prox.T)
    np.fill_diagonal(prox, INF)
    idx = np.argpartition(prox, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(prox, axis=1)[:, :k]
    return [[]] + [[int(v) + 1 for v in row[np.argsort(prox[i, row], kind="stable")]] for i, row in enumerate(idx)]


def plan_summary(problem: RoutingProblem, trips: list[Trip]) -> tuple[bool, str]:
    """``(feasible, why)``: :func:`check_plan` plus every order served exactly once."""
    from envs.dispatch.routing.problem import check_plan

    try:
        check_plan(problem, trips)
    except ValueError as err:
        return False, str(err)
    served = sum(len(t.stops) for t in trips)
    if served != problem.n_orders:
        return False, f"{problem.n_orders - served} of {problem.n_orders} orders are not served"
    return True, ""


def tidy(cost: float) -> float:
    """A cost summed from tenths, without float noise (776.0999999 -> 776.1)."""
    return round(cost, 6) if math.isfinite(cost) else cost
