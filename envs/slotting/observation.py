"""The observation of an inbound load, shared by ``fulfillgym/Slotting-v0`` and ``slotting_v0``.

Both faces call :meth:`ObservationBuilder.observe` with the simulator, the queue indices of
the loads to observe (the Gymnasium env: ``[0]``; the operators of ``slotting_v0``: their
loads) and the :class:`RecentPicks` memory, and get one flat float32 row and the legal-slot
mask (``sim.legal_mask``) per load. The layout (the table of
:class:`envs.slotting.env.SlottingEnv`'s docstring), with ``n`` slots and ``k`` zones:

| block | size | values |
|---|---|---|
| load | 4 | the load's SKU: estimated line share x active SKUs (1 = average, clipped to 10); popularity quantile among the active SKUs by estimated share (0 = most popular, 1 = least); cube (``load_units / slot_capacity``); stock in the slots / ``slot_capacity`` (clipped to 10) |
| map, ``grid`` | 3 n | per slot, slot-major: legal for this load (0/1); fill (units / ``slot_capacity``); the stored SKU's estimated line share x active SKUs / 10 (clipped to 1; 0 if free) |
| map, ``zones`` | 4 k | per zone: share of its slots legal for this load; mean fill; walk to its first legal slot in the storage order / the farthest slot's walk (1 if none); mean stored relative popularity (as in ``grid``) |
| recent picks | k | share of the pick lines of the last ``RECENT_TOURS`` tours (reset tours included) that fell in each zone (0 before any tour) |
| clock | 5 | loads put away / ``episode_loads``; occupied slots / slots; units / capacity; sin and cos of ``2 pi tour / season_period`` |

"Estimated" is :meth:`SlottingSimulator.popularity_estimate`, what the warehouse knows (not
the true ``demand.shares()``). Everything that does not change during an episode (zone
sizes, the distance order, the walk to each slot) is computed once; a call does a few
vectorised passes over the slots and no Python loop over them.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from gymnasium import spaces

from envs.slotting.policies import distance_order, slot_distance
from envs.slotting.simulator import SlottingSimulator, StepResult

OBS_MAPS = ("grid", "zones")
RECENT_TOURS = 10
"""Tours the *recent picks* block of the observation looks back over."""
LOW, HIGH = -1.0, 10.0
"""Bounds of every observation value (relative popularities are clipped to ``HIGH``)."""
LOAD_FEATURES, SLOT_CHANNELS, ZONE_FEATURES, CLOCK_FEATURES = 4, 3, 4, 5


def obs_dim(obs_map: str, n_slots: int, n_zones: int) -> int:
    """Length of the observation vector (module docstring)."""
    n_map = SLOT_CHANNELS * n_slots if obs_map == "grid" else ZONE_FEATURES * n_zones
    return LOAD_FEATURES + n_map + n_zones + CLOCK_FEATURES


class RecentPicks:
    """The *recent picks* memory: per zone, the pick lines of the last ``tours`` tours.

    ``remember(result)`` after ``sim.reset`` (with ``sim.reset_result``) and after every
    ``sim.step``; ``clear()`` at reset. A running integer total keeps ``shares()`` O(k)."""

    def __init__(self, zones: np.ndarray, n_zones: int, tours: int = RECENT_TOURS) -> None:
        self.zones, self.n_zones = np.asarray(zones, dtype=np.int64), int(n_zones)
        self._tours: deque[np.ndarray] = deque(maxlen=tours)
        self._total = np.zeros(self.n_zones, dtype=np.int64)

    def clear(self) -> None:
        self._tours.clear()
        self._total[:] = 0

    def remember(self, result: StepResult) -> None:
        for picks in result.tour_picks[-self._tours.maxlen:]:
            counts = np.bincount(self.zones[picks], minlength=self.n_zones)
            if len(self._tours) == self._tours.maxlen:
                self._total -= self._tours[0]
            self._tours.append(counts)
            self._total += counts

    def shares(self) -> np.ndarray:
        """Share of the remembered pick lines per zone (zeros when there are none)."""
        total = int(self._total.sum())
        return self._total / total if total > 0 else np.zeros(self.n_zones)


class ObservationBuilder:
    """Builds the observation rows of loads of one simulator (module docstring).

    ``zones``: the zone of every slot (int array, e.g. :func:`envs.slotting.policies.abc_zones`)
    and ``n_zones``; ``obs_map``: ``grid`` or ``zones``."""

    def __init__(self, sim: SlottingSimulator, zones: np.ndarray, n_zones: int, obs_map: str) -> None:
        if obs_map not in OBS_MAPS:
            raise ValueError(f"obs_map: expected one of {', '.join(OBS_MAPS)}, got {obs_map!r}")
        lay = sim.layout
        self.obs_map, self.n_slots, self.n_zones = obs_map, lay.n_slots, int(n_zones)
        self.zones = np.asarray(zones, dtype=np.int64)
        k = self.n_zones
        self.zone_size = np.maximum(np.bincount(self.zones, minlength=k), 1)
        order = distance_order(lay)
        self.order = order
        self.zones_in_order = self.zones[order]
        dist = slot_distance(lay)
        self.walk_in_order = dist[order] / max(float(dist.max()), 1e-9)
        # distance classes (abc_zones) are contiguous in the distance order: a searchsorted
        # finds each zone's first legal slot; other zonings take np.unique
        self.sorted_zones = bool(np.all(np.diff(self.zones_in_order) >= 0))
        self.dim = obs_dim(obs_map, self.n_slots, k)
        self.map_end = self.dim - k - CLOCK_FEATURES
        self.space = spaces.Box(LOW, HIGH, shape=(self.dim,), dtype=np.float32)

    def observe(self, sim: SlottingSimulator, indices, recent: RecentPicks) -> tuple[np.ndarray, np.ndarray]:
        """Rows for the loads ``sim.queue[i]`` of ``indices``: (obs ``(m, dim)`` float32, legal
        slots ``(m, n_slots)`` bool). The blocks that do not depend on the load are computed
        once for all rows."""
        c, k, n = sim.config, self.n_zones, self.n_slots
        skus = [sim.queue[i] for i in indices]
        m = len(skus)
        legal = np.empty((m, n), dtype=bool)
        for j, sku in enumerate(skus):
            legal[j] = sim.legal_mask(sku)
        obs = np.empty((m, self.dim), dtype=np.float32)
        # load block
        est = sim.popularity_estimate()
        n_active = max(int(np.count_nonzero(sim.demand.active)), 1)
        stock = sim.stock()
        pop = est[skus]
        # inactive SKUs have estimate 0, never above a load's share: count over all ids
        above = np.count_nonzero(est[None, :] > pop[:, None], axis=1)
        obs[:, 0] = np.minimum(pop * n_active, HIGH)
        obs[:, 1] = above / max(n_active - 1, 1)
        obs[:, 2] = c.load_units / c.slot_capacity
        obs[:, 3] = np.minimum(stock[skus] / c.slot_capacity, HIGH)
        # shared per-slot values
        held = sim.slot_sku >= 0
        fill = sim.slot_units / c.slot_capacity
        rel_pop = np.minimum(est[sim.slot_sku] * (n_active / HIGH), 1.0)  # slot_sku -1: est[-1], masked next
        rel_pop[~held] = 0.0
        if self.obs_map == "grid":
            grid = obs[:, LOAD_FEATURES:self.map_end].reshape(m, n, SLOT_CHANNELS)
            grid[:, :, 0] = legal
            grid[:, :, 1] = fill
            grid[:, :, 2] = rel_pop
        else:
            zmap = obs[:, LOAD_FEATURES:self.map_end].reshape(m, k, ZONE_FEATURES)
            zmap[:, :, 0] = [self._zone_mean(row) for row in legal]  # a loop over the loads only
            zmap[:, :, 1] = self._zone_mean(fill)
            zmap[:, :, 2] = [self._nearest(row) for row in legal]
            zmap[:, :, 3] = self._zone_mean(rel_pop)
        obs[:, self.map_end:self.map_end + k] = recent.shares()
        phase = 2.0 * np.pi * sim.demand.t / c.season_period
        obs[:, self.map_end + k:] = [sim.loads_put_away / c.episode_loads, np.count_nonzero(held) / n,
                                     int(sim.slot_units.sum()) / (n * c.slot_capacity), np.sin(phase), np.cos(phase)]
        np.clip(obs, LOW, HIGH, out=obs)
        return obs, legal

    def observe_one(self, sim: SlottingSimulator, index: int, recent: RecentPicks) -> tuple[np.ndarray, np.ndarray]:
        """The row and legal mask of load ``index`` of the queue (1-D arrays)."""
        obs, legal = self.observe(sim, [index], recent)
        return obs[0], legal[0]

    def _zone_mean(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.zones, weights=values, minlength=self.n_zones) / self.zone_size

    def _nearest(self, legal: np.ndarray) -> np.ndarray:
        """Per zone, the walk to its first legal slot in the storage order / the farthest walk (1 if none)."""
        k = self.n_zones
        out = np.ones(k)
        pos = np.flatnonzero(legal[self.order])  # distance ranks of the legal slots
        if not pos.size:
            return out
        zs = self.zones_in_order[pos]
        if self.sorted_zones:
            first = np.searchsorted(zs, np.arange(k))
            hit = first < zs.size
            hit[hit] = zs[first[hit]] == np.flatnonzero(hit)
            out[hit] = self.walk_in_order[pos[first[hit]]]
        else:
            z, first = np.unique(zs, return_index=True)
            out[z] = self.walk_in_order[pos[first]]
        return out
