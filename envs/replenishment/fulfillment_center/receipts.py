"""The receipt rule of the fulfilment centre's shared capacity, and each SKU's marginal share of it.

When the receipts due in a period exceed the free space, every SKU keeps the same fraction of its
units, rounded down (:func:`pro_rata_refusals`, the simulator's rule, also applied per centre by
the row batch); :func:`marginal_refusals` charges each SKU the refusals its receipt adds (the
marginal reward mode of the PettingZoo env).
"""

from __future__ import annotations

import numpy as np


def pro_rata_refusals(need: np.ndarray, volume: np.ndarray, free: float) -> np.ndarray | None:
    """The receipt rule: units refused per SKU (int64) when the volume ``volume @ need`` of the
    receipts ``need`` exceeds the ``free`` space, each SKU keeping ``floor(need_i * free /
    incoming)`` units (none if ``free <= 0``); ``None`` if everything fits or nothing arrives."""
    incoming = float(volume @ need)
    if incoming <= free or incoming <= 0.0:  # (nothing arrives: nothing to refuse, even over capacity)
        return None
    return need - np.floor(need * (max(free, 0.0) / incoming)).astype(np.int64)


# rows of the (SKUs x SKUs) matrix of marginal_refusals computed at once (bounds its memory)
MARGINAL_CHUNK = 256


def marginal_refusals(need: np.ndarray, volume: np.ndarray, free: float) -> np.ndarray:
    """(N,) int64: for each SKU i, the units :func:`pro_rata_refusals` refuses in total minus
    the units it refuses with ``need_i`` set to 0 (SKU i's receipt "added last"), vectorised
    over the SKUs with a receipt (O(m^2) for m of them, in chunks of ``MARGINAL_CHUNK`` rows).
    Exact up to the rounding of the volume sums (``incoming - volume_i need_i`` here, a dot
    product in the rule). Removing a receipt leaves every other SKU a fraction at least as
    large, so ``own refusals <= marginal_i <= total refusals``."""
    out = np.zeros(len(need), dtype=np.int64)
    rejected = pro_rata_refusals(need, volume, free)
    if rejected is None:
        return out
    total = int(rejected.sum())
    idx = np.flatnonzero(need)
    units = need[idx].astype(np.float64)
    others = float(volume @ need) - volume[idx] * units  # incoming volume without SKU i
    room = max(free, 0.0)
    rest = np.zeros(len(idx))  # units refused without SKU i's receipt
    binding = np.flatnonzero((others > free) & (others > 0.0))
    all_units = units.sum()
    for start in range(0, len(binding), MARGINAL_CHUNK):
        rows = binding[start:start + MARGINAL_CHUNK]
        ratio = room / others[rows]
        kept = np.floor(units[None, :] * ratio[:, None]).sum(axis=1) - np.floor(units[rows] * ratio)
        rest[rows] = (all_units - units[rows]) - kept
    out[idx] = total - np.rint(rest).astype(np.int64)
    return out
