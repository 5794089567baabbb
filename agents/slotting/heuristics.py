"""Storage (putaway) policies of the slotting task, as policies of ``fulfillgym/Slotting-v0``.

A slotting rule needs more than the observation (the popularity of every SKU, where each is
stored), so each rule is a simulator policy (``agents.base``): *bound* to the simulator of the episode
it plays (:meth:`SlottingRule.bind`, done by the episode runner after every reset), it
answers ``predict`` from it; it acts in the env's ``slot`` action mode. The slot-choosing rules are
those of :mod:`envs.slotting.policies` (sources there):

* ``random``: a legal slot drawn uniformly (random storage; seeded per episode);
* ``closest``: the legal slot closest to the depot (closest open location);
* ``abc``: class-based storage: the SKU's class by its rank in the *estimated* popularity
  (``sku_a`` / ``sku_b``: the shares of the SKUs in classes A / B), the slots' zones by
  distance rank (``zone_a`` / ``zone_b``: the shares of the slots in zones A / B); the
  closest legal slot of the class's zone, spilling outward then inward
  (:func:`~envs.slotting.policies.abc_slot`). The four shares are tuned by the CRN race;
* ``coi``: cube-per-order index on the estimated popularity (the load's cube over its
  estimated picks; every load of this model has the same cube, so the COI order is the
  estimated popularity order): the SKU of COI rank r among m active SKUs targets the slot of
  storage rank ``floor(r * spread * m / m)``, i.e. the SKUs are spread over the best
  ``spread * m`` slots (:func:`~envs.slotting.policies.coi_slot` with ``positions``);
  ``spread`` is tuned (room around each target for the SKU's second slot while a load waits
  for the first to empty);
* ``oracle``: dedicated storage by true turnover: the same placement with the true current
  line shares (``demand.shares()``), which no real warehouse knows, its ``spread`` tuned the
  same way; the reference of gaps. It knows more than the other rules, but it is a rule, not
  a bound: another rule may store better (measured in ``docs/benchmarks/slotting.md``);
* ``reslot``: ``coi`` plus nightly re-slotting: every ``night_loads`` loads, up to ``moves``
  relocations of the most popular stored SKUs (by estimate) whose slot is farther than
  their COI target, each to the free slot nearest the target when that is closer; each
  relocation costs ``relocation_cost``. ``night_loads`` and ``moves`` are tuned (``spread``:
  the tuned ``coi``'s).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import SimulatorPolicy
from envs.slotting import policies as pol

ABC_DEFAULT = {"sku_a": 0.2, "sku_b": 0.3, "zone_a": 0.2, "zone_b": 0.3}


class SlottingRule(SimulatorPolicy):
    """A storage rule bound to a simulator (module docstring)."""

    name = "rule"
    env_overrides = {"action_mode": "slot"}

    def __init__(self) -> None:
        self.sim = None

    def bind(self, sim, seed: int) -> None:
        """Play the episode of ``sim`` (just reset with replication ``seed``)."""
        self.sim = sim

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        if self.sim is None:
            raise RuntimeError(f"{self.name}: bind(sim, seed) the rule to the episode's simulator first")
        if np.ndim(observation) > 1:
            raise ValueError(f"{self.name}: a slotting rule acts on one env (one observation), not a batch")
        return np.int64(self.choose(self.sim.free_mask(), self.sim.queue[0])), state

    def choose(self, legal: np.ndarray, sku: int) -> int:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v:g}' for k, v in self.params().items())})"


class RandomOpen(SlottingRule):
    name = "random"

    def bind(self, sim, seed: int) -> None:
        super().bind(sim, seed)
        self.rng = np.random.default_rng([seed, 0x510])

    def choose(self, legal, sku):
        return pol.random_open(self.sim.layout, legal, self.rng)


class ClosestOpen(SlottingRule):
    name = "closest"

    def choose(self, legal, sku):
        cand = np.flatnonzero(legal)
        return int(cand[np.argmin(self.sim.distance_rank[cand])])


class ABC(SlottingRule):
    name = "abc"

    def __init__(self, sku_a=0.2, sku_b=0.3, zone_a=0.2, zone_b=0.3) -> None:
        super().__init__()
        self.p = {"sku_a": float(sku_a), "sku_b": float(sku_b), "zone_a": float(zone_a), "zone_b": float(zone_b)}
        for a, b in (("sku_a", "sku_b"), ("zone_a", "zone_b")):
            if not (self.p[a] > 0 and self.p[b] > 0 and self.p[a] + self.p[b] < 1):
                raise ValueError(f"abc: {a} and {b} must be > 0 with a sum < 1, got {self.p[a]} and {self.p[b]}")
        self.sku_shares = (self.p["sku_a"], self.p["sku_b"], 1.0 - self.p["sku_a"] - self.p["sku_b"])
        self.zones_of: dict[int, np.ndarray] = {}

    def bind(self, sim, seed: int) -> None:
        super().bind(sim, seed)
        key = id(sim.layout)
        if key not in self.zones_of:
            z = (self.p["zone_a"], self.p["zone_b"], 1.0 - self.p["zone_a"] - self.p["zone_b"])
            self.zones_of = {key: pol.abc_zones(sim.layout, z)}

    def choose(self, legal, sku):
        est = self.sim.popularity_estimate()
        active = self.sim.demand.active
        cls = pol.abc_class(est[active], int(np.searchsorted(np.flatnonzero(active), sku)), self.sku_shares)
        return pol.abc_slot(self.sim.layout, legal, self.zones_of[id(self.sim.layout)], cls)

    def params(self):
        return dict(self.p)


class COI(SlottingRule):
    """COI placement on the estimated (``oracle=False``) or the true popularity, the SKUs
    spread over the best ``spread`` x (active SKUs) slots of the storage order."""

    name = "coi"

    def __init__(self, spread: float = 1.5, oracle: bool = False) -> None:
        super().__init__()
        self.spread, self.oracle = float(spread), oracle
        if not self.spread > 0:
            raise ValueError(f"coi: spread must be > 0, got {spread}")
        if oracle:
            self.name = "oracle"

    def popularity(self) -> np.ndarray:
        return self.sim.demand.shares() if self.oracle else self.sim.popularity_estimate()

    def coi_values(self) -> np.ndarray:
        c = self.sim.config
        return pol.coi(np.full(self.sim.demand.n_ids, c.load_units / c.slot_capacity), self.popularity())

    def positions(self) -> int:
        return max(1, int(self.spread * np.count_nonzero(self.sim.demand.active)))

    def target(self, sku: int, values: np.ndarray) -> int:
        return pol.coi_target(self.sim.layout, values, sku, self.sim.demand.active, self.positions())

    def choose(self, legal, sku):
        return pol.coi_slot(self.sim.layout, legal, self.coi_values(), sku, self.sim.demand.active, self.positions())

    def params(self):
        return {"spread": self.spread}


class Reslot(COI):
    """COI putaway plus nightly re-slotting (module docstring)."""

    name = "reslot"

    def __init__(self, night_loads: int = 250, moves: int = 25, spread: float = 1.5) -> None:
        super().__init__(spread=spread, oracle=False)
        self.night_loads, self.moves = int(night_loads), int(moves)
        if self.night_loads < 1 or self.moves < 0:
            raise ValueError(f"reslot: night_loads must be >= 1 and moves >= 0, got {night_loads}, {moves}")

    def bind(self, sim, seed: int) -> None:
        super().bind(sim, seed)
        self.next_night = self.night_loads

    def choose(self, legal, sku):
        if self.sim.loads_put_away >= self.next_night:
            self.next_night += self.night_loads
            self.night()
            legal = self.sim.legal_mask(sku)  # the moves may have freed or filled slots
        return super().choose(legal, sku)

    def night(self) -> None:
        """Up to ``moves`` relocations, most popular stored SKUs first."""
        sim, rank = self.sim, self.sim.distance_rank
        values = self.coi_values()
        held = np.flatnonzero(sim.slot_sku >= 0)
        pop = self.popularity()[sim.slot_sku[held]]
        done = 0
        for slot in held[np.argsort(-pop, kind="stable")]:
            if done >= self.moves:
                break
            sku = int(sim.slot_sku[slot])
            if sku < 0:
                continue
            t = self.target(sku, values)
            if rank[slot] <= t:
                continue
            free = sim.slot_sku == -1
            if not free.any():
                break
            cand = np.flatnonzero(free)
            dst = int(cand[np.lexsort((rank[cand], np.abs(rank[cand] - t)))[0]])
            if rank[dst] < rank[slot]:
                sim.relocate(int(slot), dst)
                done += 1

    def params(self):
        return {"night_loads": self.night_loads, "moves": self.moves, "spread": self.spread}


RULES = {"random": RandomOpen, "closest": ClosestOpen, "abc": ABC, "coi": COI,
         "oracle": lambda: COI(oracle=True), "reslot": Reslot}
TUNED = ("abc", "coi", "oracle", "reslot")
