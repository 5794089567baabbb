"""``fulfillgym/Slotting-v0``: put each inbound load away into a slot (or a zone) of the warehouse."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.actions import check_action
from envs.core.config import ConfigError, check_choice
from envs.core.episode import check_reset_options, step_before_reset
from envs.slotting.config import SlottingConfig
from envs.slotting.observation import (  # noqa: F401  (re-exported: the observation's constants)
    CLOCK_FEATURES,
    HIGH,
    LOAD_FEATURES,
    LOW,
    OBS_MAPS,
    RECENT_TOURS,
    SLOT_CHANNELS,
    ZONE_FEATURES,
    ObservationBuilder,
    RecentPicks,
)
from envs.slotting.policies import abc_zones, distance_order, zone_has_free
from envs.slotting.simulator import SlottingSimulator

ACTION_MODES = ("slot", "zone")
INVALID_ACTIONS = ("raise", "nearest")


class MaskedDiscrete(spaces.Discrete):
    """``Discrete(n)`` whose ``sample()`` without a mask draws among the legal actions.

    The env refreshes ``legal`` (a bool array of length n) at every reset and step, so the
    random actions of ``action_space.sample()`` (the env checkers, random baselines) are legal
    ones; ``sample(mask)`` with an explicit mask is ``Discrete.sample(mask)``. The env itself
    still refuses an illegal action with a ``ValueError``."""

    def __init__(self, n: int, seed: int | np.random.Generator | None = None):
        super().__init__(n, seed=seed)
        self.legal = np.ones(n, dtype=bool)

    def sample(self, mask=None, probability=None):
        if mask is None and probability is None and self.legal.any():
            mask = self.legal.astype(np.int8)
        return super().sample(mask=mask, probability=probability)


def check_zones_arg(n_zones, n_slots: int) -> tuple[float, ...]:
    """``n_zones`` (an int k: k equal shares, or a sequence of positive shares summing to 1)
    as the shares of :func:`envs.slotting.policies.abc_zones`; a one-line ConfigError."""
    if isinstance(n_zones, bool):
        raise ConfigError(f"env.n_zones: expected an integer >= 1 or a list of shares, got {n_zones!r}")
    if isinstance(n_zones, int | np.integer):
        if not 1 <= n_zones <= n_slots:
            raise ConfigError(f"env.n_zones: expected an integer in [1, {n_slots}] (the slots), got {n_zones}")
        return tuple([1.0 / int(n_zones)] * int(n_zones))
    try:
        shares = tuple(float(s) for s in n_zones)
        ok = len(shares) >= 1 and all(np.isfinite(s) and s > 0 for s in shares) and abs(sum(shares) - 1) <= 1e-9
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"env.n_zones: expected an integer >= 1 or positive shares summing to 1, got {n_zones!r}")
    return shares


class SlottingEnv(gym.Env):
    """Dynamic storage assignment in a piece-picking warehouse: every step, put one inbound
    load away; picking tours run in between and walk to wherever the SKUs were stored.

    ## Description
    One block of parallel aisles with a depot on the front cross-aisle (geometry:
    :mod:`envs.slotting.layout`). Customer orders over a drifting long-tail catalogue are
    batched into picking tours routed by ``routing`` (``s_shape``, ``return``, ``largest_gap``,
    ``optimal``); SKUs falling to their reorder point send an inbound load that must be put
    away. Storing popular SKUs close to the depot shortens the tours. The env is a thin face
    over :class:`envs.slotting.simulator.SlottingSimulator`, whose docstring gives the timing
    of a step, the legal slots of a load and the cost accounting.

    ## Action space
    ``action_mode="slot"`` (default): ``Discrete(n_slots)``, the slot id (ids: the layout's
    ``((aisle * 2 + side) * slots_per_side + position) * levels + level``). Legal slots: free
    ones, or one holding the same SKU with room for the whole load. ``action_masks()`` (for
    sb3-contrib's MaskablePPO) and ``info["action_mask"]`` give them.

    ``action_mode="zone"``: ``Discrete(k)``; zone ``z`` stores the load at its first legal
    slot in the storage order (``slot_order``: by the one-way walk ``|x - depot_x| + y``, or
    aisle by aisle for ``aisle``; ties by slot id; :func:`envs.slotting.policies.distance_order`).
    The zones are classes of that order (:func:`envs.slotting.policies.abc_zones`):
    ``n_zones=k`` (default 3) splits the slots, best first, into k equal shares;
    ``n_zones=[0.2, 0.3, 0.5]`` gives the shares (an ABC split; a tiny class may be empty).
    The mask: zones with a legal slot.

    An out-of-range or non-integer action is a one-line ``ValueError`` that changes nothing.
    A masked action depends on ``invalid_action``:

    * ``"raise"`` (default): a one-line ``ValueError`` that changes nothing; no silent
      fallback.
    * ``"nearest"`` (for algorithms without masks, e.g. plain PPO): in slot mode an illegal
      slot is replaced by ``sim.nearest_legal(slot, legal)``, the legal slot nearest in
      distance rank (ties: the closer one); in zone mode a zone without a legal slot is
      replaced by the nearest zone with one by zone index (``|z' - z|``, ties to the lower
      index). ``info["invalid"]`` is 1 when the action was replaced, else 0.

    ``action_space.sample()`` without a mask draws among the legal actions of the current
    state (:class:`MaskedDiscrete`), so random agents and the env checkers act legally. One
    caveat: Gymnasium's ``check_env`` samples the action of its step-determinism check
    *before* ``reset(seed=123)``, so with ``invalid_action="raise"`` it passes when every slot
    is legal after reset (``initial_occupancy=0``); with a half-full warehouse that action may
    be illegal in the new state and the check stops at the ``ValueError``
    (``invalid_action="nearest"`` passes it).

    ## Observation space
    A flat ``Box(-1, 10, (d,), float32)``, the blocks in this order (k = the zones above),
    built by :class:`envs.slotting.observation.ObservationBuilder` (the same rows as the
    operators' of ``slotting_v0``). "Estimated share": the warehouse's popularity estimate
    (:meth:`SlottingSimulator.popularity_estimate`, exponentially weighted requested lines),
    not the true ``demand.shares()``.

    | block | size | values |
    |---|---|---|
    | load | 4 | the load's SKU: estimated line share x active SKUs (1 = average, clipped to 10); popularity quantile by estimated share among the active SKUs (0 = most popular, 1 = least); cube (``load_units / slot_capacity``); stock in the slots / ``slot_capacity`` (clipped to 10) |
    | map, ``obs_map="grid"`` | 3 n_slots | per slot, slot-major: legal for this load (0/1); fill (units / ``slot_capacity``); the stored SKU's estimated line share x active SKUs / 10 (clipped to 1; 0 if free) |
    | map, ``obs_map="zones"`` | 4 k | per zone: share of its slots legal for this load; mean fill; walk to its first legal slot in the storage order / the farthest slot's walk (1 if none); mean stored relative popularity (as in ``grid``) |
    | recent picks | k | share of the pick lines of the last 10 tours (reset tours included) that fell in each zone (0 before any tour) |
    | clock | 5 | loads put away / ``episode_loads``; occupied slots / slots; units / capacity; sin and cos of ``2 pi tour / season_period`` |

    ``grid`` suits small warehouses (a CNN/MLP sees every slot); ``zones`` keeps the
    observation small for large ones (then only zone actions make sense for a plain MLP).

    ## Rewards
    Minus the step's cost: pick travel (m) of the tours played since the previous step, plus
    ``putaway_cost_per_m`` x putaway travel (depot -> slot -> depot), plus ``relocation_cost``
    x relocations made between steps (``env.unwrapped.sim.relocate``, e.g. by a re-slotting
    baseline). Tours played at reset are charged to no step.

    ## Episode end
    Terminates when the simulator is done: after ``episode_loads`` putaways. Never truncated.

    ## Arguments
    The fields of :class:`envs.slotting.config.SlottingConfig` (geometry, demand, stock,
    routing, costs, ``episode_loads``), plus the env-only ``action_mode`` (``slot`` |
    ``zone``), ``n_zones`` (int or shares, above), ``obs_map`` (``grid`` | ``zones``),
    ``invalid_action`` (``raise`` | ``nearest``, above) and ``render_mode`` (``rgb_array``: a
    top view of the aisles, slots coloured by the stored SKU's popularity, the last tour's
    picks overlaid; needs matplotlib).

    ## ``info``
    ``action_mask`` (bool, as ``action_masks()``); after a step ``slot`` and ``sku`` (where
    the load went), ``invalid`` (1 if a masked action was replaced, ``invalid_action=
    "nearest"``), ``cost`` and its parts ``pick_travel``, ``putaway_travel``,
    ``putaway_cost``, ``relocation_cost``, ``relocations``, ``tours``, ``lines``; always
    ``kpis``: :meth:`SlottingSimulator.kpis` (travel per line and per order, lines per hour,
    golden-zone share, space utilisation, putaway travel, ...).

    ## Version history
    * v0: first version (FulfillGym 0.1). The observation's popularity features use the
      warehouse's estimate; ``invalid_action`` added.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, config: SlottingConfig | None = None,
                 action_mode: str = "slot", n_zones=3, obs_map: str = "grid", invalid_action: str = "raise",
                 **kwargs: Any):
        self.config = config if config is not None else SlottingConfig.from_kwargs(kwargs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected rgb_array or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.action_mode = check_choice("env.action_mode", action_mode, ACTION_MODES)
        self.obs_map = check_choice("env.obs_map", obs_map, OBS_MAPS)
        self.invalid_action = check_choice("env.invalid_action", invalid_action, INVALID_ACTIONS)
        self.sim = SlottingSimulator(self.config)
        lay = self.sim.layout
        self.zone_shares = check_zones_arg(n_zones, lay.n_slots)
        self.n_zones = len(self.zone_shares)
        self.zones = abc_zones(lay, self.zone_shares)
        self._order = distance_order(lay)
        self._builder = ObservationBuilder(self.sim, self.zones, self.n_zones, self.obs_map)
        self._recent = RecentPicks(self.zones, self.n_zones)
        n_actions = lay.n_slots if self.action_mode == "slot" else self.n_zones
        self.action_space = MaskedDiscrete(n_actions)
        self.observation_space = self._builder.space
        self._legal = np.zeros(lay.n_slots, dtype=bool)
        self._started = False

    # -- episode --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, "SlottingEnv")
        super().reset(seed=seed)
        self.sim.reset(self.np_random)
        self._recent.clear()
        self._recent.remember(self.sim.reset_result)
        self._started = True
        obs, mask = self._observe()
        return obs, {"action_mask": mask, "kpis": self.sim.kpis()}

    def step(self, action, observe: bool = True):
        """Gymnasium's step; with ``observe=False`` (a storage rule, which reads the simulator)
        no observation or mask is built (None in their place)."""
        if not self._started:
            raise step_before_reset()
        if self.sim.done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        slot, invalid = self._slot_of(action)
        sku = self.sim.queue[0]
        result = self.sim.step(slot)
        self._recent.remember(result)
        obs, mask = self._observe() if observe else (None, None)
        info = {"action_mask": mask, "slot": slot, "sku": sku, "invalid": invalid, "cost": result.cost,
                "pick_travel": result.pick_travel, "putaway_travel": result.putaway_travel,
                "putaway_cost": result.putaway_cost, "relocation_cost": result.relocation_cost,
                "relocations": result.relocations, "tours": result.tours, "lines": result.lines,
                "kpis": self.sim.kpis()}
        return obs, -float(result.cost), bool(result.done), False, info

    # -- actions --------------------------------------------------------------------------
    def _slot_of(self, action) -> tuple[int, int]:
        """The slot the action stores the load at and whether it replaced a masked action
        (0/1), or a one-line ValueError."""
        a = check_action(self.action_space, action)
        legal = self.sim.free_mask()  # the current state (a relocation may have changed it)
        nearest = self.invalid_action == "nearest"
        if self.action_mode == "zone":
            invalid = 0
            has = zone_has_free(legal, self.zones, self.n_zones)
            if not has[a]:
                if not nearest:
                    raise ValueError(f"action: zone {a} has no legal slot for the load of SKU {self.sim.queue[0]} "
                                     f"(see action_masks())")
                cand = np.flatnonzero(has)
                a, invalid = int(cand[np.argmin(np.abs(cand - a))]), 1  # argmin: ties to the lower index
            return int(self._order[(legal & (self.zones == a))[self._order]][0]), invalid
        if not legal[a]:
            if nearest:
                return self.sim.nearest_legal(a, legal), 1
            sku, held = self.sim.queue[0], int(self.sim.slot_sku[a])
            raise ValueError(f"action: slot {a} cannot take the load of SKU {sku}: it holds SKU {held} with "
                             f"{int(self.sim.slot_units[a])} of {self.config.slot_capacity} units "
                             f"(see action_masks())")
        return a, 0

    def _mask(self, legal: np.ndarray) -> np.ndarray:
        if self.action_mode == "zone":
            return zone_has_free(legal, self.zones, self.n_zones)
        return legal.copy()

    def action_masks(self) -> np.ndarray:
        """Bool mask of the legal actions for the current load (MaskablePPO)."""
        if not self._started:
            raise step_before_reset()
        return self._mask(self.sim.free_mask())

    # -- observation ----------------------------------------------------------------------
    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        obs, legal = self._builder.observe_one(self.sim, 0, self._recent)
        mask = self._mask(legal)
        self.action_space.legal = mask.copy()
        return obs, mask

    # -- rendering ------------------------------------------------------------------------
    def render(self):
        if self.render_mode == "rgb_array":
            if not self._started:
                raise step_before_reset()
            from envs.slotting.render import render_top_view

            return render_top_view(self.sim)
        return None
