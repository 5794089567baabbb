"""The dispatch simulator: one day of orders, decision epochs, routed trips executed in time.

Timing of events at decision epoch k (time t = k * ``epoch_minutes``):

1. Orders with ``release <= t + margin`` are *pending* (known, not yet dispatched; an order
   becomes known one margin before it may leave); the policy sees them.
2. The policy marks each pending order dispatch-now or postpone. *Must-go* orders are
   dispatched whatever it says: those that could not be served alone in time if they waited
   one more epoch (leaving at the next epoch + margin, a direct trip arrives at
   a = max(that + travel, earliest); must-go iff a > deadline, or a + service + the way back
   > shift end), and every pending order at the last epoch. This is the EURO-NeurIPS
   2022 rule (``envs/dispatch/euro_neurips.py: must_dispatch``) in general form.
3. The dispatched orders are routed (``router``) onto the vehicles that are at the depot by
   t + margin, one trip each; trips leave at t + margin (never before their orders'
   release). Orders that fit on no trip (capacity, fleet, shift end) stay pending.
4. The trips run in simulated time: each vehicle is away until its trip's return and
   becomes available at the first epoch after that. Their km, trip charges and lateness
   are *booked at dispatch* (travel is deterministic, so a trip's lateness is known when it
   leaves); the step's cost is what the epoch's trips will cost.
5. The clock moves to the next epoch. After the last epoch every order not yet dispatched
   (pending, or released after the last epoch) has *failed* and pays ``failed_penalty``.

Cost of a day = cost_per_km * km + cost_per_trip * trips + cost_per_late_minute * late
minutes + failed_penalty * failed orders. Every figure is recomputable from the plan
(:meth:`DispatchSimulator.plan`: one row per stop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from envs.dispatch.config import DispatchConfig
from envs.dispatch.day import Day
from envs.dispatch.routing.problem import RoutingProblem, Trip, schedule

PLAN_COLUMNS = ("vehicle", "trip", "order_id", "x", "y", "node", "size", "release_time", "deadline",
                "earliest", "service_time", "epoch", "customer", "dispatch_time", "arrival",
                "service_start", "service_end", "late", "trip_return")
EPS = 1e-9


@dataclass
class EpochResult:
    """What one decision epoch cost (booked at dispatch) and did."""

    cost: float = 0.0
    cost_km: float = 0.0
    cost_trips: float = 0.0
    cost_late: float = 0.0
    cost_failed: float = 0.0
    km: float = 0.0
    trips: int = 0
    dispatched: int = 0
    unrouted: int = 0
    failed: int = 0
    late_minutes: float = 0.0
    late_orders: int = 0
    busy_minutes: float = 0.0
    trip_stops: list[list[int]] = field(default_factory=list)  # order ids per trip (for rendering)
    trip_vehicles: list[int] = field(default_factory=list)

    ADDITIVE = ("cost", "cost_km", "cost_trips", "cost_late", "cost_failed", "km", "trips", "dispatched",
                "failed", "late_minutes", "late_orders", "busy_minutes")

    def close(self) -> EpochResult:
        """Set ``cost`` to the sum of its parts (the epoch's figures are complete)."""
        self.cost = self.cost_km + self.cost_trips + self.cost_late + self.cost_failed
        return self

    def add(self, other: EpochResult) -> None:
        """Accumulate another epoch's additive figures (the day's totals)."""
        for name in self.ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def route(config: DispatchConfig, problem: RoutingProblem) -> tuple[list[Trip], list[int]]:
    """Route ``problem`` with the configured router."""
    if config.router == "pyvrp":
        from envs.dispatch.routing.pyvrp_router import pyvrp_route

        return pyvrp_route(problem, time_limit=config.router_time_limit, max_iterations=config.router_iterations)
    from envs.dispatch.routing.insertion import insertion_route

    return insertion_route(problem)


class DispatchSimulator:
    """The day's dynamics (module docstring). ``reset(day)`` starts a day; ``step(dispatch)``
    plays one epoch with ``dispatch`` a bool per :attr:`pending` order."""

    def __init__(self, config: DispatchConfig):
        self.config = config
        self.day: Day | None = None

    # -- state ----------------------------------------------------------------------------
    def reset(self, day: Day) -> None:
        c = self.config
        self.day = day
        self.epoch_times = (np.asarray(day.epoch_times, dtype=float) if day.epoch_times is not None
                            else np.arange(c.n_epochs) * c.epoch_minutes)
        self.capacity = int(day.capacity if day.capacity is not None else c.capacity)
        self.shift_end = float(day.shift_end if day.shift_end is not None else c.shift_end)
        self.epoch = 0
        self.t = float(self.epoch_times[0])
        self.next_order = 0
        self.pending = np.zeros(0, dtype=np.int64)
        self.dispatched = np.zeros(len(day), dtype=bool)
        n_veh = c.n_vehicles or 0
        self.ready = np.zeros(n_veh)
        self.vehicle_trips = np.zeros(n_veh, dtype=np.int64)
        self.totals = EpochResult()  # the day so far (additive fields)
        self.rows: list[tuple] = []
        self.done = False
        self.trip_routes: list[tuple[int, list[int], float, float]] = []  # vehicle, order ids, leave, back
        _, self.direct = day.travel.from_depot(day.node)
        self.back = day.travel.duration[day.node, 0] if day.travel.duration is not None else self.direct
        self._reveal()

    def _reveal(self) -> None:
        """Orders become known at ``release - margin`` (their trips leave ``margin`` later)."""
        rel, start = self.day.release, self.next_order
        while self.next_order < len(rel) and rel[self.next_order] <= self.depart_time + EPS:
            self.next_order += 1
        if self.next_order > start:
            self.pending = np.concatenate([self.pending, np.arange(start, self.next_order)])

    @property
    def n_epochs(self) -> int:
        return len(self.epoch_times)

    @property
    def last_epoch(self) -> bool:
        return self.epoch >= self.n_epochs - 1

    @property
    def depart_time(self) -> float:
        return self.t + self.config.dispatch_margin_minutes

    def must_go(self, orders: np.ndarray | None = None) -> np.ndarray:
        """Must-go flags of ``orders`` (default: the pending ones)."""
        orders = self.pending if orders is None else orders
        if self.last_epoch:
            return np.ones(len(orders), dtype=bool)
        d = self.day
        later = self.epoch_times[self.epoch + 1] + self.config.dispatch_margin_minutes
        arrive = np.maximum(later + self.direct[orders], d.earliest[orders])
        return ((arrive > d.deadline[orders] + EPS)
                | (arrive + d.service[orders] + self.back[orders] > self.shift_end + EPS))

    def idle_vehicles(self) -> np.ndarray:
        """Vehicles at the depot by the departure time of this epoch's trips."""
        return np.flatnonzero(self.ready <= self.depart_time + EPS)

    # -- one epoch ------------------------------------------------------------------------
    def step(self, dispatch: np.ndarray, planned: tuple | None = None) -> EpochResult:
        """Play one epoch: ``dispatch`` flags the :attr:`pending` orders to send now (must-go
        orders are sent anyway) and the router places them. ``planned``: trips already built
        for this epoch, ``(problem, trips, orders, vehicles)`` as :meth:`record` takes them
        (the courier env's), executed first; the router then places the rest on the vehicles
        still idle."""
        if self.done:
            raise RuntimeError("the day is over; call reset()")
        dispatch = np.asarray(dispatch, dtype=bool).reshape(-1)
        if dispatch.shape != self.pending.shape:
            raise ValueError(f"dispatch: expected {len(self.pending)} flags (one per pending order), got {dispatch.shape[0]}")
        result = EpochResult()
        if planned is not None:
            before = self.pending
            routed = self.record(*planned, result)
            dispatch = dispatch[~np.isin(before, routed)]
        chosen = self.pending[dispatch | self.must_go()]
        if len(chosen):
            self._dispatch(chosen, result)
        if self.last_epoch:
            self._end_of_day(result)
        else:
            self.epoch += 1
            self.t = float(self.epoch_times[self.epoch])
            self._reveal()
        self.totals.add(result.close())
        return result

    def problem(self, orders: np.ndarray, vehicles: np.ndarray) -> RoutingProblem:
        """The routing problem of dispatching ``orders`` (day order ids) on ``vehicles``."""
        c, d = self.config, self.day
        dist, dur = d.travel.matrices(np.concatenate([[0], d.node[orders]]))
        pad = lambda a, v0: np.concatenate([[v0], a[orders]])  # noqa: E731
        return RoutingProblem(
            distance=dist, duration=dur, service=pad(d.service, 0.0), demand=pad(d.size, 0),
            earliest=pad(d.earliest, 0.0), deadline=pad(d.deadline, np.inf), release=pad(d.release, 0.0),
            capacity=self.capacity, vehicle_ready=np.full(len(vehicles), self.depart_time),
            shift_end=self.shift_end, cost_per_km=c.cost_per_km, cost_per_trip=c.cost_per_trip,
            cost_per_late_minute=c.cost_per_late_minute, hard_deadline=c.hard_deadlines)

    def _dispatch(self, chosen: np.ndarray, result: EpochResult) -> None:
        vehicles = self.idle_vehicles() if self.config.n_vehicles else np.arange(len(chosen))
        if not len(vehicles):
            result.unrouted = len(chosen)
            return
        problem = self.problem(chosen, vehicles)
        trips, unrouted = route(self.config, problem)
        self.record(problem, trips, chosen, vehicles, result)
        result.unrouted = len(unrouted)

    def record(self, problem: RoutingProblem, trips: list[Trip], orders: np.ndarray, vehicles: np.ndarray,
               result: EpochResult) -> np.ndarray:
        """Execute timed ``trips`` of ``problem`` (stops index ``orders``, trip vehicles index
        ``vehicles``): plan rows, vehicle availability, the epoch's booked costs in ``result``;
        the orders on them are dispatched (no longer pending). Returns their ids."""
        c, d = self.config, self.day
        routed = []
        for trip in trips:
            if not trip.stops:
                continue
            s = schedule(problem, trip)
            if not s.feasible:
                raise RuntimeError(f"router returned an infeasible trip: {s.why}")
            ids = orders[np.asarray(trip.stops) - 1]
            if c.n_vehicles:  # a fleet: the vehicle's next trip
                veh = int(vehicles[trip.vehicle])
                k = int(self.vehicle_trips[veh])
                self.vehicle_trips[veh] += 1
                self.ready[veh] = s.trip_return
            else:  # unlimited vehicles: every trip is a vehicle of its own
                veh, k = len(self.trip_routes), 0
            for i, oid in enumerate(ids):
                self.rows.append((veh, k, int(oid), float(d.x[oid]), float(d.y[oid]), int(d.node[oid]),
                                  int(d.size[oid]), float(d.release[oid]), float(d.deadline[oid]),
                                  float(d.earliest[oid]), float(d.service[oid]), int(d.epoch[oid]),
                                  int(d.customer[oid]), s.departure, float(s.arrival[i]),
                                  float(s.service_start[i]), float(s.service_end[i]), float(s.late[i]),
                                  s.trip_return))
            late = s.late_minutes
            result.km += s.km
            result.trips += 1
            result.dispatched += len(ids)
            result.late_minutes += late
            result.late_orders += int((s.late > EPS).sum())
            result.busy_minutes += s.trip_return - s.departure
            result.cost_km += c.cost_per_km * s.km
            result.cost_trips += c.cost_per_trip
            result.cost_late += c.cost_per_late_minute * late
            result.trip_stops.append([int(i) for i in ids])
            result.trip_vehicles.append(veh)
            self.trip_routes.append((veh, [int(i) for i in ids], s.departure, s.trip_return))
            routed.extend(int(i) for i in ids)
        routed = np.asarray(routed, dtype=np.int64)
        self.dispatched[routed] = True
        self.pending = self.pending[~np.isin(self.pending, routed)]
        return routed

    def _end_of_day(self, result: EpochResult) -> None:
        failed = int(len(self.day) - self.dispatched.sum())
        result.failed = failed
        result.cost_failed = self.config.failed_penalty * failed
        self.pending = np.zeros(0, dtype=np.int64)
        self.done = True

    # -- results --------------------------------------------------------------------------
    def kpis(self) -> dict[str, float]:
        """The day's KPIs so far (all recomputable from :meth:`plan`)."""
        c, tot, n = self.config, self.totals, len(self.day)
        delivered = tot.dispatched
        fleet_minutes = (c.n_vehicles or 0) * (self.shift_end - float(self.epoch_times[0]))
        out = {
            "cost": tot.cost, "cost_km": tot.cost_km, "cost_trips": tot.cost_trips, "cost_late": tot.cost_late,
            "cost_failed": tot.cost_failed, "orders": n, "delivered": delivered,
            "on_time": delivered - tot.late_orders, "late": tot.late_orders, "failed": tot.failed,
            "on_time_rate": (delivered - tot.late_orders) / n if n else 1.0,
            "late_minutes": tot.late_minutes, "km": tot.km,
            "km_per_order": tot.km / delivered if delivered else 0.0, "trips": tot.trips,
            "co2_kg": c.co2_kg_per_km * tot.km,
        }
        if fleet_minutes:  # (undefined with an unlimited fleet)
            out["utilisation"] = tot.busy_minutes / fleet_minutes
        return out

    def plan(self):
        """The executed plan: a pandas DataFrame with one row per stop (:data:`PLAN_COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(PLAN_COLUMNS))

    def execute(self, day: Day, vehicle_trips: list[list[list[int]]]) -> EpochResult:
        """Run a whole-day plan fixed in advance (the hindsight plan): ``vehicle_trips[v]`` is
        vehicle v's trips in order, each a list of day order ids. Each trip leaves when its
        vehicle is back and its orders are released; orders on no trip fail. Returns the
        day's totals (as after the last epoch of :meth:`step`)."""
        self.reset(day)
        if self.config.n_vehicles is not None and len(vehicle_trips) > self.config.n_vehicles:
            raise ValueError(f"plan uses {len(vehicle_trips)} vehicles; the fleet has {self.config.n_vehicles}")
        orders = np.arange(len(day))
        n_veh = max(len(vehicle_trips), 1)
        self.t = 0.0
        problem = self.problem(orders, np.arange(n_veh))
        problem.vehicle_ready = np.zeros(n_veh)
        result = EpochResult()
        seen: set[int] = set()
        for v, trips in enumerate(vehicle_trips):
            for stops in trips:
                stops = [int(i) for i in stops]
                if not stops:
                    continue
                bad = [i for i in stops if not 0 <= i < len(day)]
                if bad:
                    raise ValueError(f"plan: vehicle {v} visits order {bad[0]}; the day's orders are 0..{len(day) - 1}")
                if seen.intersection(stops) or len(set(stops)) < len(stops):
                    raise ValueError(f"plan: an order of vehicle {v}'s trips is served twice")
                seen.update(stops)
                self.record(problem, [Trip(v, [i + 1 for i in stops])], orders, np.arange(n_veh), result)
                problem.vehicle_ready[v] = self.trip_routes[-1][3]
        self.epoch = self.n_epochs - 1
        self._end_of_day(result)
        self.totals = EpochResult()
        self.totals.add(result.close())
        return result
