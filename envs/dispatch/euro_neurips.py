"""The EURO Meets NeurIPS 2022 dynamic VRPTW protocol (ORTEC's quickstart ``environment.py``).

The rules are restated here from the competition's description and code; none of its code is
copied. Times are the instance's seconds from the start of the day; node 0 is the depot and
nodes 1..N the instance's customers; the depot's time window is ``[0, H]``.

* **Epochs.** ``e = start..end`` with ``start = max(floor((min early - 3600) / 3600), 0)`` and
  ``end = max(floor((max early - 3600) / 3600), 0)``, the minimum and maximum over the
  instance's customers (not over sampled requests). At epoch ``e`` the clock reads
  ``t_e = 3600 e``; routes dispatched at ``e`` leave the depot at the planning start
  ``P_e = t_e + 3600`` (``MARGIN_DISPATCH``).
* **Requests.** One ``numpy.random.default_rng(seed)`` per episode. At every epoch, in this
  order, four draws of ``rng.integers(N, size=100) + 1``: the customer (its location, i.e. its
  row of the duration matrix), then the customer whose time window, whose demand and whose
  service time the request takes. A draw is kept iff a vehicle leaving at ``P_e`` straight to
  it and back is feasible: ``a = max(P_e + D[0, c], early) <= late`` and
  ``a + service + D[c, 0] <= H``. Kept draws get request ids 1, 2, ... in epoch order, then
  draw order. Their hindsight release time is ``P_e``.
* **Must dispatch.** At epoch ``e < end`` an open request must go iff it could not be served
  alone from the next epoch's planning start ``P_e + 3600``:
  ``a' = max(P_e + 3600 + D[0, c], early) > late`` or ``a' + service + D[c, 0] > H``. At
  ``e = end`` every open request must go.
* **Epoch instance.** The open requests with windows shifted to ``P_e`` and clipped at 0:
  ``[max(early - P_e, 0), max(late - P_e, 0)]``, i.e. ``[max(early, P_e), late]`` in absolute
  time (``late >= P_e`` always holds for an open request).
* **Cost.** The driving duration: per route ``D[0, first] + sum D[i, j] + D[last, 0]``
  (waiting and service are free), summed over all routes of all epochs. Vehicles are
  unlimited, each of capacity ``CAPACITY``; service may not start before ``early`` (wait),
  arrival after ``late`` and return after ``H`` are infeasible.

:func:`read_instance` reads a competition file (VRPLIB text, with ``vrplib``),
:func:`sample_requests` draws the request stream of one seed, :func:`euro_day` turns it into
a :class:`~envs.dispatch.day.Day`, :func:`must_dispatch` evaluates the must-go rule on a day,
and :func:`write_instance` writes small synthetic instances in the same format (the
competition's instances are CC BY-NC and are not shipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.core.config import ConfigError
from envs.dispatch.day import Day, Travel
from envs.dispatch.vrplib_checks import check_vrplib, read_vrplib

EPOCH_DURATION = 3600
"""Seconds between two decision epochs."""
MARGIN_DISPATCH = 3600
"""Seconds between a decision epoch and the departure of the routes decided in it."""
MAX_REQUESTS_PER_EPOCH = 100
"""Draws per epoch (before the feasibility filter)."""
FIELD = "env.instance"

_SECTIONS = ("edge_weight", "node_coord", "demand", "depot", "service_time", "time_window")


# -- instances ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EuroInstance:
    """A competition instance: node 0 the depot, nodes 1..N the customers (integer arrays)."""

    path: str
    name: str
    duration: np.ndarray       # (N+1, N+1) seconds, asymmetric, zero diagonal
    coords: np.ndarray         # (N+1, 2)
    demand: np.ndarray         # (N+1,), depot 0
    service: np.ndarray        # (N+1,) seconds, depot 0
    time_window: np.ndarray    # (N+1, 2) seconds [early, late]; the depot's is [0, H]
    capacity: int
    vehicles: int | None = None  # the file's VEHICLES (static variant only; dynamic: unlimited)

    @property
    def n_customers(self) -> int:
        return len(self.demand) - 1

    @property
    def horizon(self) -> int:
        """H, the depot's closing time: every route must be back by then."""
        return int(self.time_window[0, 1])

    @property
    def start_epoch(self) -> int:
        return max((int(self.time_window[1:, 0].min()) - MARGIN_DISPATCH) // EPOCH_DURATION, 0)

    @property
    def end_epoch(self) -> int:
        return max((int(self.time_window[1:, 0].max()) - MARGIN_DISPATCH) // EPOCH_DURATION, 0)


def planning_start(epoch: int) -> int:
    """When the routes dispatched at ``epoch`` leave the depot (seconds)."""
    return EPOCH_DURATION * epoch + MARGIN_DISPATCH


def read_instance(path: str | Path, field: str = FIELD) -> EuroInstance:
    """Read a competition instance file (VRPLIB text, EXPLICIT FULL_MATRIX durations).

    Raises :class:`ConfigError` with one line naming the file and the problem if the file is
    missing, unreadable or not a well-formed instance: the checks of every VRPLIB reader
    (:func:`envs.dispatch.vrplib_checks.check_vrplib`) with every section required and every
    value an integer, as the competition's reader requires, plus the competition's own rules
    (one depot, node 1, with demand and service 0 and window ``[0, H]``; zero diagonal)."""
    where = f"{field}: {path}"
    if not Path(path).is_file():
        raise ConfigError(f"{where}: no such file")
    raw = read_vrplib(str(path), where)

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{where}: {problem}")

    if raw.get("dimension") is not None and (raw.get("edge_weight_type") != "EXPLICIT"
                                             or raw.get("edge_weight_format") != "FULL_MATRIX"):
        raise fail("expected EDGE_WEIGHT_TYPE : EXPLICIT and EDGE_WEIGHT_FORMAT : FULL_MATRIX, got "
                   f"{raw.get('edge_weight_type')!r} / {raw.get('edge_weight_format')!r}")
    depot = np.asarray(raw.get("depot", [0])).ravel()
    if depot.tolist() != [0]:
        raise fail(f"DEPOT_SECTION: expected the single depot 1, got {(depot + 1).tolist()}")
    data = check_vrplib(raw, where, required=("dimension", "capacity", *_SECTIONS), integers=True)
    duration, coords, demand = data["edge_weight"], data["node_coord"], data["demand"]
    service, window, capacity = data["service_time"], data["time_window"], data["capacity"]
    if (bad := np.flatnonzero(np.diag(duration))).size:
        raise fail(f"EDGE_WEIGHT_SECTION: expected 0 on the diagonal, got {duration[bad[0], bad[0]]} "
                   f"at node {bad[0] + 1}")
    if service[0] != 0:
        raise fail(f"the depot (node 1) must have demand 0 and service time 0, got {demand[0]} and {service[0]}")
    if window[0, 0] != 0 or window[0, 1] <= 0:
        raise fail(f"TIME_WINDOW_SECTION: the depot's window must be [0, H] with H > 0, got {window[0].tolist()}")
    vehicles = raw.get("vehicles")
    return EuroInstance(path=str(path), name=str(raw.get("name", Path(path).stem)), duration=duration,
                        coords=coords, demand=demand, service=service, time_window=window,
                        capacity=capacity, vehicles=vehicles if isinstance(vehicles, int) else None)


# -- the request stream ------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EuroRequests:
    """Every request of one episode, in request-id order (ids 1..n; one entry per request).

    ``release`` is the planning start of the request's epoch (its hindsight release time);
    ``must_dispatch`` is the must-go flag the competition shows at the request's own epoch."""

    seed: int
    start_epoch: int
    end_epoch: int
    request_id: np.ndarray
    epoch: np.ndarray
    customer: np.ndarray
    early: np.ndarray
    late: np.ndarray
    demand: np.ndarray
    service: np.ndarray
    release: np.ndarray
    must_dispatch: np.ndarray

    _FIELDS = ("request_id", "customer", "early", "late", "demand", "service", "release", "must_dispatch")

    def __len__(self) -> int:
        return len(self.request_id)

    def of_epoch(self, epoch: int) -> dict[str, np.ndarray]:
        """The requests sampled at ``epoch`` (possibly none), one array per field."""
        sel = self.epoch == epoch
        return {f: getattr(self, f)[sel] for f in self._FIELDS}

    def by_epoch(self) -> dict[int, dict[str, np.ndarray]]:
        return {e: self.of_epoch(e) for e in range(self.start_epoch, self.end_epoch + 1)}


def _must_go(instance: EuroInstance, epoch: int, customer: np.ndarray, early: np.ndarray,
             late: np.ndarray, service: np.ndarray) -> np.ndarray:
    """The must-go flags at ``epoch`` of open requests (the competition's rule)."""
    if epoch >= instance.end_epoch:
        return np.ones(len(customer), dtype=bool)
    nxt = planning_start(epoch + 1)
    arrive = np.maximum(nxt + instance.duration[0, customer], early)
    back = arrive + service + instance.duration[customer, 0]
    return (arrive > late) | (back > instance.horizon)


def sample_requests(instance: EuroInstance, seed: int) -> EuroRequests:
    """The requests the competition's environment reveals with instance seed ``seed``."""
    rng = np.random.default_rng(seed)
    n, d, tw = instance.n_customers, instance.duration, instance.time_window
    parts: list[tuple] = []
    for e in range(instance.start_epoch, instance.end_epoch + 1):
        start = planning_start(e)
        cust, win, dem, srv = (rng.integers(n, size=MAX_REQUESTS_PER_EPOCH) + 1 for _ in range(4))
        early, late, service = tw[win, 0], tw[win, 1], instance.service[srv]
        arrive = np.maximum(start + d[0, cust], early)
        keep = (arrive <= late) & (arrive + service + d[cust, 0] <= instance.horizon)
        c, ea, la, se = cust[keep], early[keep], late[keep], service[keep]
        parts.append((np.full(len(c), e), c, ea, la, instance.demand[dem[keep]], se,
                      np.full(len(c), start), _must_go(instance, e, c, ea, la, se)))
    cols = [np.concatenate(p) for p in zip(*parts, strict=True)]
    for i in range(7):
        cols[i] = cols[i].astype(np.int64)
    return EuroRequests(seed, instance.start_epoch, instance.end_epoch,
                        np.arange(1, len(cols[0]) + 1), *cols)


# -- as a Day, and the must-go rule on a day ---------------------------------------------
def euro_day(instance: EuroInstance, seed: int, requests: EuroRequests | None = None) -> Day:
    """The requests of seed ``seed`` as one :class:`Day` (seconds; order i = request id i+1).

    ``release`` = planning start of the request's epoch (when its route may leave the depot);
    ``earliest``/``deadline`` = its window clipped as at that epoch (``[max(early, release),
    late]``); ``node`` = ``customer`` = the instance's customer (``travel`` holds the
    instance's duration matrix as both distance and duration, so distance = driving
    seconds = the competition's cost); ``x``, ``y`` = its coordinates minus the depot's."""
    req = sample_requests(instance, seed) if requests is None else requests
    order = np.argsort(req.release, kind="stable")
    matrix = instance.duration.astype(float)
    rel = req.release[order].astype(float)
    xy = (instance.coords[req.customer[order]] - instance.coords[0]).astype(float)
    return Day(release=rel, earliest=np.maximum(req.early[order], rel),
               deadline=np.maximum(req.late[order], rel), size=req.demand[order].copy(),
               service=req.service[order].astype(float), node=req.customer[order].copy(),
               x=xy[:, 0], y=xy[:, 1], travel=Travel(distance=matrix, duration=matrix),
               customer=req.customer[order].copy(), epoch=req.epoch[order].copy())


def euro_day_minutes(instance: EuroInstance | str | Path, seed: int) -> Day:
    """:func:`euro_day` for the simulator: every time and the duration matrix in minutes
    (seconds / 60; the rules are unchanged: epoch and margin become 60 minutes), the
    distance matrix in driving *seconds* (the competition's cost), and the day's capacity,
    decision epochs (``start_epoch .. end_epoch``) and shift end (the depot's closing time)."""
    inst = instance if isinstance(instance, EuroInstance) else read_instance(instance)
    day = euro_day(inst, seed)
    seconds = day.travel.duration
    # durations in minutes; the "distance" stays in driving seconds, so that cost_per_km = 1
    # charges exactly the competition's cost
    return Day(release=day.release / 60.0, earliest=day.earliest / 60.0, deadline=day.deadline / 60.0,
               size=day.size, service=day.service / 60.0, node=day.node, x=day.x, y=day.y,
               travel=Travel(distance=seconds, duration=seconds / 60.0), customer=day.customer, epoch=day.epoch,
               capacity=int(inst.capacity), shift_end=inst.horizon / 60.0,
               epoch_times=EPOCH_DURATION / 60.0 * np.arange(inst.start_epoch, inst.end_epoch + 1))


def must_dispatch(day: Day, epoch: int, *, end_epoch: int, shift_end: float,
                  epoch_duration: float = EPOCH_DURATION, margin: float = MARGIN_DISPATCH) -> np.ndarray:
    """Must-go flags at ``epoch`` over every order of ``day`` (False for orders not yet known).

    An order is known at ``t = epoch * epoch_duration`` iff ``release <= t + margin``. A known
    order must go iff ``epoch >= end_epoch``, or, leaving alone at the next epoch's departure
    ``t + epoch_duration + margin``, it would arrive after its deadline or be back after
    ``shift_end``: with ``a = max(t + epoch_duration + margin + D[0, node], earliest)``,
    ``a > deadline`` or ``a + service + D[node, 0] > shift_end``. Callers AND it with "not yet
    dispatched". (The clipped ``earliest`` of :func:`euro_day` gives the same ``a``.)"""
    t = epoch * epoch_duration
    known = day.release <= t + margin
    if epoch >= end_epoch:
        return known.copy()
    _, out = day.travel.from_depot(day.node)  # durations (the minutes day keeps its distance in seconds)
    back = day.travel.duration[day.node, 0] if day.travel.duration is not None else out
    arrive = np.maximum(t + epoch_duration + margin + out, day.earliest)
    return known & ((arrive > day.deadline) | (arrive + day.service + back > shift_end))


# -- small synthetic instances in the same format ----------------------------------------
_WINDOWS = ((4800, 12600), (6600, 30600), (8400, 19800), (12000, 19800), (15600, 27000),
            (19200, 27000), (22800, 34200), (30000, 41400))
"""Typical delivery windows of the ORTEC instances (seconds from the start of the day)."""
_HORIZON = 45000


def write_instance(path: str | Path, n_customers: int, seed: int) -> Path:
    """Write a small ORTEC-like instance (same file format; synthetic data, free to ship).

    Coordinates in a 5000 x 7000 box in three clusters around the depot; asymmetric integer
    durations (Euclidean x U(1.0, 1.25) per direction + 300 s); service 4-16 minutes in whole
    minutes; demand 1-15, capacity 200; windows from the typical ORTEC windows, the depot
    [0, 45000], each customer's window ending early enough to be back by 45000."""
    if not isinstance(n_customers, int) or n_customers < 1:
        raise ConfigError(f"n_customers: expected an integer >= 1, got {n_customers!r}")
    rng = np.random.default_rng(seed)
    m = n_customers + 1
    centres = rng.uniform((500, 500), (4500, 6500), size=(3, 2))
    pts = centres[rng.integers(3, size=n_customers)] + rng.normal(0, 700, size=(n_customers, 2))
    coords = np.vstack([[2500, 3500], np.clip(pts, (0, 0), (5000, 7000))]).round().astype(np.int64)
    euclid = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    duration = np.rint(euclid * rng.uniform(1.0, 1.25, size=(m, m)) + 300).astype(np.int64)
    np.fill_diagonal(duration, 0)
    service = np.concatenate([[0], 60 * rng.integers(4, 17, size=n_customers)])
    demand = np.concatenate([[0], rng.integers(1, 16, size=n_customers)])
    window = np.array([(0, _HORIZON)] + [_WINDOWS[k] for k in rng.integers(len(_WINDOWS), size=n_customers)])
    window[1:, 1] = np.minimum(window[1:, 1], _HORIZON - service[1:] - duration[1:, 0])
    window[1:, 0] = np.minimum(window[1:, 0], window[1:, 1])
    lines = [f"NAME : FULFILLGYM-VRPTW-ASYM-s{seed}-n{n_customers}",
             "COMMENT : FulfillGym synthetic instance in the ORTEC format (not a competition instance)",
             "TYPE : VRPTW", f"DIMENSION : {m}", "EDGE_WEIGHT_TYPE : EXPLICIT",
             f"VEHICLES : {max(1, n_customers // 8)}", "EDGE_WEIGHT_FORMAT : FULL_MATRIX",
             "CAPACITY : 200", "EDGE_WEIGHT_SECTION"]
    lines += ["\t".join(map(str, row)) for row in duration]
    lines += ["NODE_COORD_SECTION"] + [f"{i + 1}\t{x}\t{y}" for i, (x, y) in enumerate(coords)]
    lines += ["DEMAND_SECTION"] + [f"{i + 1}\t{q}" for i, q in enumerate(demand)]
    lines += ["DEPOT_SECTION", "1", "-1"]
    lines += ["SERVICE_TIME_SECTION"] + [f"{i + 1}\t{s}" for i, s in enumerate(service)]
    lines += ["TIME_WINDOW_SECTION"] + [f"{i + 1}\t{a}\t{b}" for i, (a, b) in enumerate(window)]
    lines += ["EOF"]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
