"""Classical storage-assignment (putaway) policies of the slotting operation.

Pure NumPy functions that choose the slot an inbound load of a SKU is put away to, given the
:class:`~envs.slotting.layout.Layout` and ``free_mask``, a boolean array of length
``layout.n_slots`` (``True`` = the slot is free). They know nothing of the simulator; the
env's baselines and its ``zone`` action mode call them. Every slot-choosing function raises a
one-line :class:`ValueError` when no slot is free.

Closeness
    Every policy ranks slots by the layout's storage order (:func:`distance_order`): with
    ``storage_order=distance``, by :func:`slot_distance`, the one-way rectilinear walk from
    the depot ``(depot_x, 0)`` along the front cross-aisle to the slot's aisle, then up the
    aisle to the slot's y::

        d(slot) = |x_aisle - depot_x| + y_slot

    with ``storage_order=aisle``, by the aisle's distance from the depot first, then ``y``.
    Sides and levels do not matter (all slots of a position share its point, see the layout).
    Ties are broken by slot id; the *distance rank* of a slot is its index in that order (0 =
    the best).

Policies and sources
    - Random storage (:func:`random_open`) and its closest-open-location benchmark
      (:func:`closest_open`): Hausman, Schwarz & Graves (1976), "Optimal storage assignment
      in automatic warehousing systems", Management Science 22(6); de Koster, Le-Duc &
      Roodbergen (2007), "Design and control of warehouse order picking: a literature
      review", EJOR 182(2), section 5.
    - Class-based (ABC) storage (:func:`abc_zones`, :func:`abc_class`, :func:`abc_slot`):
      Hausman, Schwarz & Graves (1976); Petersen, Aase & Heiser (2004), "Improving
      order-picking performance through the implementation of class-based storage", IJPDLM
      34(7). The usual 20/30/50 split is the default.
    - Cube-per-order index (:func:`coi`, :func:`coi_slot`): Heskett (1963), "Cube-per-order
      index - a key to warehouse stock location", Transportation and Distribution
      Management 3; Kallina & Lynn (1976), "Application of the cube-per-order index rule for
      stock location in a distribution warehouse", Interfaces 7(1).
    - Zone filling (:func:`zone_slot`, :func:`zone_has_free`): the env's ``zone`` action mode.
"""

from __future__ import annotations

import numpy as np

from envs.slotting.layout import Layout

ABC_SHARES = (0.2, 0.3, 0.5)


# ------------------------------------------------------------------------- closeness
def slot_distance(layout: Layout) -> np.ndarray:
    """One-way rectilinear walking distance from the depot to every slot (float array of
    length ``n_slots``): ``|slot_x - depot_x| + slot_y`` (front cross-aisle, then up the
    aisle)."""
    return np.abs(layout.slot_x - layout.depot_x) + layout.slot_y


def distance_order(layout: Layout) -> np.ndarray:
    """Slot ids from the best place for a fast mover to the worst: the *storage order* every
    policy ranks slots by (the *distance rank* of a slot is its index here).

    ``layout.storage_order``:
    - ``distance``: by :func:`slot_distance`, ties by slot id ("across-aisle" storage:
      fast movers at the front of the aisles near the depot; suits return routing);
    - ``aisle``: by the aisle's distance from the depot, then by ``y``, ties by slot id
      ("within-aisle" storage: whole aisles near the depot hold the fast movers; suits
      S-shape routing, which walks every visited aisle end to end; Petersen & Schmenner
      (1999), "An evaluation of routing and volume-based storage policies in an order
      picking operation", Decision Sciences 30(2))."""
    if getattr(layout, "storage_order", "distance") == "aisle":
        return np.lexsort((np.arange(layout.n_slots), layout.slot_y, np.abs(layout.slot_x - layout.depot_x)))
    return np.argsort(slot_distance(layout), kind="stable")


def distance_rank(layout: Layout) -> np.ndarray:
    """Per slot, its index in :func:`distance_order` (0 = the closest slot)."""
    order = distance_order(layout)
    rank = np.empty(layout.n_slots, dtype=np.int64)
    rank[order] = np.arange(layout.n_slots)
    return rank


def _free(layout: Layout, free_mask, name: str) -> np.ndarray:
    """Validated boolean free mask; a full warehouse is a ValueError."""
    free = np.asarray(free_mask)
    if free.shape != (layout.n_slots,):
        raise ValueError(f"{name}: free_mask must have shape ({layout.n_slots},), got {free.shape}")
    if free.dtype != bool:
        if not np.all((free == 0) | (free == 1)):
            raise ValueError(f"{name}: free_mask must be boolean (or 0/1)")
        free = free.astype(bool)
    if not free.any():
        raise ValueError(f"{name}: the warehouse is full (no free slot)")
    return free


def _closest_of(order: np.ndarray, candidates: np.ndarray) -> int:
    """The first slot of ``order`` (slot ids, closest first) with ``candidates`` true, or -1."""
    hits = order[candidates[order]]
    return int(hits[0]) if hits.size else -1


# ------------------------------------------------------------------- random / closest
def closest_open(layout: Layout, free_mask) -> int:
    """The free slot closest to the depot (ties by slot id): the classical benchmark of
    random storage, where every load goes to the closest open location."""
    free = _free(layout, free_mask, "closest_open")
    return _closest_of(distance_order(layout), free)


def random_open(layout: Layout, free_mask, rng) -> int:
    """A free slot drawn uniformly at random (random storage). ``rng`` is a
    ``numpy.random.Generator`` (or a seed for ``numpy.random.default_rng``); one integer is
    drawn from it per call."""
    free = _free(layout, free_mask, "random_open")
    rng = np.random.default_rng(rng)
    ids = np.flatnonzero(free)
    return int(ids[rng.integers(ids.size)])


# ------------------------------------------------------------------------- ABC classes
def _check_shares(shares, name: str) -> np.ndarray:
    s = np.asarray(shares, dtype=float)
    if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s)) or np.any(s <= 0) or abs(s.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name}: expected a non-empty sequence of positive shares summing to 1, got {shares!r}")
    return s


def _class_of_rank(n: int, shares: np.ndarray) -> np.ndarray:
    """Class of ranks ``0 .. n - 1``: rank ``r`` is in class ``i`` when
    ``b_{i-1} <= r < b_i`` with ``b_i = floor(n * (s_0 + ... + s_i) + 0.5)`` (``b_{-1} = 0``,
    the last boundary is ``n``)."""
    bounds = np.floor(n * np.cumsum(shares) + 0.5).astype(np.int64)
    bounds[-1] = n
    return np.searchsorted(bounds, np.arange(n), side="right")


def abc_zones(layout: Layout, shares=ABC_SHARES) -> np.ndarray:
    """Per slot, its storage class (0 = A, 1 = B, 2 = C, ...; int array of length
    ``n_slots``) by distance rank: with ``n = n_slots`` and the slots in
    :func:`distance_order`, class ``i`` holds the ranks from ``round(n * (s_0 + ... +
    s_{i-1}))`` up to (excluding) ``round(n * (s_0 + ... + s_i))`` (halves round up). So
    the A zone is the closest ``shares[0]`` of the slots, B the next ``shares[1]``, and so on.
    ``shares``: any number (>= 1) of positive classes summing to 1; on a tiny layout a class
    may be empty."""
    s = _check_shares(shares, "abc_zones")
    zones = np.empty(layout.n_slots, dtype=np.int64)
    zones[distance_order(layout)] = _class_of_rank(layout.n_slots, s)
    return zones


def abc_class(popularity, sku: int, shares_of_skus=ABC_SHARES) -> int:
    """The class of ``sku`` by popularity rank among all SKUs of ``popularity`` (a
    non-negative finite array, one entry per SKU, e.g. pick frequencies): SKUs sorted by
    decreasing popularity, ties by SKU id, are split by ``shares_of_skus`` with the rule of
    :func:`abc_zones` (the most popular ``shares_of_skus[0]`` are class 0 = A, ...)."""
    pop = np.asarray(popularity, dtype=float)
    if pop.ndim != 1 or pop.size == 0 or not np.all(np.isfinite(pop)) or np.any(pop < 0):
        raise ValueError("abc_class: popularity must be a non-empty 1-D array of finite values >= 0")
    sku = _check_sku(sku, pop.size, "abc_class")
    s = _check_shares(shares_of_skus, "abc_class")
    order = np.argsort(-pop, kind="stable")
    rank = int(np.flatnonzero(order == sku)[0])
    return int(_class_of_rank(pop.size, s)[rank])


def _check_zones(layout: Layout, zones, name: str) -> np.ndarray:
    z = np.asarray(zones)
    if z.shape != (layout.n_slots,) or not np.issubdtype(z.dtype, np.integer) or np.any(z < 0):
        raise ValueError(f"{name}: zones must be an integer array >= 0 of shape ({layout.n_slots},)")
    return z


def _check_sku(sku, n: int, name: str) -> int:
    if isinstance(sku, bool) or not isinstance(sku, int | np.integer) or not 0 <= sku < n:
        raise ValueError(f"{name}: sku must be an integer in [0, {n}), got {sku!r}")
    return int(sku)


def abc_slot(layout: Layout, free_mask, zones, cls: int) -> int:
    """The closest free slot of class ``cls`` (``zones`` from :func:`abc_zones`).

    Fallback when the class is full: the closest free slot of the next class outward
    (``cls + 1``, then ``cls + 2``, ... up to the last class), and only when every class
    from ``cls`` outward is full, the closest free slot of the next class inward (``cls -
    1``, then ``cls - 2``, ...), so a load spills into the more valuable zones last. "Closest"
    is always by :func:`slot_distance`, ties by slot id. A ``cls`` beyond the last class is
    an empty class (the search goes inward at once).
    """
    free = _free(layout, free_mask, "abc_slot")
    z = _check_zones(layout, zones, "abc_slot")
    if isinstance(cls, bool) or not isinstance(cls, int | np.integer) or cls < 0:
        raise ValueError(f"abc_slot: cls must be an integer >= 0, got {cls!r}")
    last = max(int(z.max()), int(cls))
    # search priority: cls, cls + 1, ..., last, then cls - 1, ..., 0
    priority = np.where(z >= cls, z - cls, last - cls + (cls - z))
    cand = np.flatnonzero(free)
    best = np.lexsort((distance_rank(layout)[cand], priority[cand]))[0]
    return int(cand[best])


# --------------------------------------------------------------------------------- COI
def coi(cube, pick_frequency) -> np.ndarray:
    """Cube-per-order index (Heskett 1963) per SKU: ``cube / pick_frequency`` (the space a
    SKU needs per pick; lower = stored closer). A SKU never picked (frequency 0) has an
    infinite COI. ``cube`` > 0 and ``pick_frequency`` >= 0, finite, same shape."""
    c = np.asarray(cube, dtype=float)
    f = np.asarray(pick_frequency, dtype=float)
    if c.shape != f.shape:
        raise ValueError(f"coi: cube and pick_frequency must have the same shape, got {c.shape} and {f.shape}")
    if not np.all(np.isfinite(c)) or np.any(c <= 0):
        raise ValueError("coi: cube must be finite and > 0")
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError("coi: pick_frequency must be finite and >= 0")
    out = np.full(c.shape, np.inf)
    np.divide(c, f, out=out, where=f > 0)
    return out


def coi_target(layout: Layout, coi_values, sku: int, active=None, positions: int | None = None) -> int:
    """The target distance rank of ``sku`` under COI storage (see :func:`coi_slot`)."""
    v = np.asarray(coi_values, dtype=float)
    if v.ndim != 1 or v.size == 0 or np.any(np.isnan(v)) or np.any(v < 0):
        raise ValueError("coi_slot: coi_values must be a non-empty 1-D array of values >= 0 (inf allowed)")
    sku = _check_sku(sku, v.size, "coi_slot")
    if active is None:
        act = np.ones(v.size, dtype=bool)
    else:
        act = np.asarray(active, dtype=bool)
        if act.shape != v.shape:
            raise ValueError(f"coi_slot: active must have shape {v.shape}, got {act.shape}")
        act = act.copy()
    act[sku] = True
    ids = np.flatnonzero(act)
    # rank among active SKUs by (COI, SKU id)
    before = (v[ids] < v[sku]) | ((v[ids] == v[sku]) & (ids < sku))
    r, m = int(before.sum()), ids.size
    n = layout.n_slots if positions is None else int(np.clip(positions, 1, layout.n_slots))
    return (r * n) // m


def coi_slot(layout: Layout, free_mask, coi_values, sku: int, active=None, positions: int | None = None) -> int:
    """The COI putaway slot of ``sku``.

    ``coi_values``: the COI of every SKU (:func:`coi`; ``inf`` allowed). ``active``: optional
    boolean mask of the SKUs that share the warehouse (default all; ``sku`` always counts).
    The SKU's rank ``r`` among the ``m`` active SKUs (increasing COI, ties by SKU id, 0 =
    lowest COI) maps to the same relative position of the distance order of all slots:
    the target distance rank is ``t = floor(r * n_slots / m)`` (``t = r`` when there is one
    slot per active SKU; each SKU's target is the start of an equal share of the slots).
    ``positions`` (default ``n_slots``) spreads the SKUs over the closest ``positions``
    distance ranks instead: ``t = floor(r * positions / m)`` (e.g. the occupied slots, so
    that the SKUs are packed towards the depot in COI order as they would be by sorting).
    The load goes to the free slot whose distance rank is nearest to ``t``; a tie (equally
    far before and after) goes to the closer slot (lower rank).
    """
    free = _free(layout, free_mask, "coi_slot")
    t = coi_target(layout, coi_values, sku, active, positions)
    rank = distance_rank(layout)
    cand = np.flatnonzero(free)
    best = np.lexsort((rank[cand], np.abs(rank[cand] - t)))[0]
    return int(cand[best])


# ------------------------------------------------------------------------------- zones
def zone_has_free(free_mask, zones, n_zones: int) -> np.ndarray:
    """Boolean array of length ``n_zones``: whether zone ``k`` holds a free slot (the action
    mask of the ``zone`` action mode)."""
    free = np.asarray(free_mask, dtype=bool)
    z = np.asarray(zones)
    if free.shape != z.shape or free.ndim != 1:
        raise ValueError("zone_has_free: free_mask and zones must be 1-D arrays of the same shape")
    counts = np.bincount(z[free], minlength=n_zones)
    return counts[:n_zones] > 0


def zone_slot(layout: Layout, free_mask, zones, k: int) -> int:
    """The free slot of zone ``k`` closest to the depot (:func:`slot_distance`, ties by slot
    id). A full (or empty) zone is a ValueError, not a silent fallback: the ``zone`` action
    mode masks such zones (:func:`zone_has_free`), so choosing one is an illegal action."""
    free = _free(layout, free_mask, "zone_slot")
    z = _check_zones(layout, zones, "zone_slot")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"zone_slot: k must be an integer >= 0, got {k!r}")
    slot = _closest_of(distance_order(layout), free & (z == k))
    if slot < 0:
        raise ValueError(f"zone_slot: zone {int(k)} has no free slot")
    return slot
