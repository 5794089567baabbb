"""Warehouse geometry of the slotting operation: one block of parallel aisles.

Geometry
    A single block of ``n_aisles`` parallel aisles. Aisle ``i``'s centre line is at
    ``x = i * aisle_spacing`` (``i = 0`` is the leftmost aisle). Each aisle has
    ``slots_per_side`` positions on each side (side 0 = left, side 1 = right) and ``levels``
    levels. Position ``j`` is at ``y = (j + 0.5) * slot_width``, ``j = 0`` at the front. Both
    sides and all levels of a position share its ``(x, y)``: the picker walks along the aisle
    centre line and picks from either side at no extra cost.

    The front cross-aisle is at ``y = 0``, the back one at ``y = L = slots_per_side *
    slot_width`` (``Layout.aisle_length``). The depot is at ``(depot_x, 0)`` on the front
    cross-aisle, at the foot of aisle ``depot_aisle``:

    - ``depot: left``: aisle 0, ``x = 0``;
    - ``depot: centre``: the middle aisle, ``(n_aisles - 1) // 2``. For an odd number of
      aisles this is the true middle; for an even number it is the left one of the two
      middle aisles (aisles 0..3 -> aisle 1).

Slot ids
    Slots are numbered ``0 .. n_slots - 1`` with ``n_slots = n_aisles * 2 * slots_per_side *
    levels``, in row-major order of ``(aisle, side, position, level)``::

        slot = ((aisle * 2 + side) * slots_per_side + position) * levels + level

    :meth:`Layout.slot_id` and :meth:`Layout.decompose` convert both ways (vectorised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.core.config import check_choice, check_float, check_int

DEPOTS = ("left", "centre")
STORAGE_ORDERS = ("distance", "aisle")
MAX_AISLES = 1000
MAX_SLOTS_PER_SIDE = 10_000
MAX_LEVELS = 100
MAX_LENGTH = 1e6


@dataclass(frozen=True)
class LayoutConfig:
    """Parameters of the warehouse geometry (the names are the env's ``env.*`` keys).

    ``n_aisles`` in [1, 1000], ``slots_per_side`` in [1, 10000], ``levels`` in [1, 100];
    ``aisle_spacing`` (distance between adjacent aisle centre lines) and ``slot_width`` (the
    length of one position along the aisle) are finite and > 0; ``depot`` is ``left`` or
    ``centre``. ``storage_order`` (``distance`` | ``aisle``): how slots are ranked from the
    best to the worst place to store a fast mover (:func:`envs.slotting.policies.distance_order`).
    """

    n_aisles: int = 10
    slots_per_side: int = 25
    levels: int = 4
    aisle_spacing: float = 3.0
    slot_width: float = 1.0
    depot: str = "left"
    storage_order: str = "distance"

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "n_aisles", check_int("env.n_aisles", self.n_aisles, 1, MAX_AISLES))
        s(self, "slots_per_side", check_int("env.slots_per_side", self.slots_per_side, 1, MAX_SLOTS_PER_SIDE))
        s(self, "levels", check_int("env.levels", self.levels, 1, MAX_LEVELS))
        s(self, "aisle_spacing",
          check_float("env.aisle_spacing", self.aisle_spacing, 0.0, MAX_LENGTH, strict_low=True))
        s(self, "slot_width", check_float("env.slot_width", self.slot_width, 0.0, MAX_LENGTH, strict_low=True))
        s(self, "depot", check_choice("env.depot", self.depot, DEPOTS))
        s(self, "storage_order", check_choice("env.slot_order", self.storage_order, STORAGE_ORDERS))


class Layout:
    """Slot indexing and coordinates of a :class:`LayoutConfig` warehouse.

    Attributes:
        config: the validated configuration.
        n_slots: number of slots.
        aisle_length: ``L``, the y of the back cross-aisle.
        depot_aisle: the aisle at whose foot the depot lies.
        depot_x: the depot's x.
        slot_aisle, slot_side, slot_position, slot_level: int arrays of length ``n_slots``.
        slot_x, slot_y: float arrays of length ``n_slots``, the slot's point on the aisle
            centre line.
    """

    def __init__(self, config: LayoutConfig | None = None, **kwargs) -> None:
        if config is None:
            config = LayoutConfig(**kwargs)
        elif kwargs:
            raise TypeError("Layout: pass either a LayoutConfig or keyword arguments, not both")
        self.config = config
        c = config
        self.n_aisles = c.n_aisles
        self.slots_per_side = c.slots_per_side
        self.levels = c.levels
        self.aisle_spacing = c.aisle_spacing
        self.slot_width = c.slot_width
        self.n_slots = c.n_aisles * 2 * c.slots_per_side * c.levels
        self.aisle_length = c.slots_per_side * c.slot_width
        self.storage_order = c.storage_order
        self.depot_aisle = 0 if c.depot == "left" else (c.n_aisles - 1) // 2
        self.depot_x = self.depot_aisle * c.aisle_spacing
        self.aisle_x = np.arange(c.n_aisles) * c.aisle_spacing
        ids = np.arange(self.n_slots)
        self.slot_aisle, self.slot_side, self.slot_position, self.slot_level = self.decompose(ids)
        self.slot_x = self.aisle_x[self.slot_aisle]
        self.slot_y = (self.slot_position + 0.5) * c.slot_width

    def slot_id(self, aisle, side, position, level=0):
        """The slot id of ``(aisle, side, position, level)`` (scalars or arrays)."""
        a, s, p, lv = (np.asarray(v) for v in (aisle, side, position, level))
        bad = ((a < 0) | (a >= self.n_aisles) | (s < 0) | (s > 1) | (p < 0) | (p >= self.slots_per_side)
               | (lv < 0) | (lv >= self.levels))
        if np.any(bad):
            raise ValueError("slot_id: (aisle, side, position, level) out of the layout")
        out = ((a * 2 + s) * self.slots_per_side + p) * self.levels + lv
        return int(out) if out.ndim == 0 else out

    def decompose(self, slot):
        """``(aisle, side, position, level)`` of slot id(s) ``slot``."""
        slot = np.asarray(slot)
        if np.any((slot < 0) | (slot >= self.n_slots)):
            raise ValueError(f"decompose: slot ids must be in [0, {self.n_slots})")
        rest, level = np.divmod(slot, self.levels)
        rest, position = np.divmod(rest, self.slots_per_side)
        aisle, side = np.divmod(rest, 2)
        if slot.ndim == 0:
            return int(aisle), int(side), int(position), int(level)
        return aisle, side, position, level

    def coordinates(self, slot) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of slot id(s) ``slot``."""
        slot = np.asarray(slot, dtype=np.int64)
        if np.any((slot < 0) | (slot >= self.n_slots)):
            raise ValueError(f"coordinates: slot ids must be in [0, {self.n_slots})")
        return self.slot_x[slot], self.slot_y[slot]

    def __repr__(self) -> str:
        return f"Layout({self.config!r})"
