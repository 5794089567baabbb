"""The ``rgb_array`` view of ``fulfillgym/Slotting-v0``: a top view of the aisles.

Each aisle is drawn as three columns (left rack, walkway, right rack), positions from the
front (bottom) to the back; a rack cell is coloured by the largest line share, over its
levels, of the SKUs stored there (relative to the average SKU, log scale); free cells are
light grey. The slots picked by the last tour are marked with dots, the depot with a square.
"""

from __future__ import annotations

import numpy as np

from envs.core.render import figure_rgb, pyplot


def popularity_grid(sim) -> np.ndarray:
    """(slots_per_side, 3 n_aisles) array: log10 of the stored SKU's relative popularity (max
    over levels), NaN for free cells and walkways."""
    lay = sim.layout
    shares = sim.demand.shares()
    n_active = max(int(sim.demand.active.sum()), 1)
    held = sim.slot_sku >= 0
    rel = np.full(lay.n_slots, np.nan)
    rel[held] = np.log10(np.maximum(shares[sim.slot_sku[held]] * n_active, 1e-3))
    per = rel.reshape(lay.n_aisles, 2, lay.slots_per_side, lay.levels)
    with np.errstate(all="ignore"):
        best = np.where(np.isnan(per).all(axis=3), np.nan, np.nanmax(np.nan_to_num(per, nan=-np.inf), axis=3))
    grid = np.full((lay.slots_per_side, 3 * lay.n_aisles), np.nan)
    grid[:, 0::3] = best[:, 0, :].T
    grid[:, 2::3] = best[:, 1, :].T
    return grid


def render_top_view(sim) -> np.ndarray:
    """The (H, W, 3) uint8 image of the warehouse (module docstring)."""
    plt = pyplot()
    lay = sim.layout
    grid = popularity_grid(sim)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * lay.n_aisles + 2), 4.5), dpi=80)
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", cmap=cmap, vmin=-1.5, vmax=1.5,
                      aspect="auto", interpolation="nearest")
    for a in range(lay.n_aisles):  # walkways
        ax.axvspan(3 * a + 0.5, 3 * a + 1.5, color="white", zorder=1)
    picks = np.asarray(sim.last_tour, dtype=np.int64)
    if picks.size:
        aisle, side, position, _ = lay.decompose(picks)
        ax.scatter(3 * aisle + 2 * side, position, s=14, c="red", zorder=3, label="last tour")
    ax.scatter([3 * lay.depot_aisle + 1], [-0.8], marker="s", s=40, c="black", zorder=3, clip_on=False)
    ax.set_xticks(3 * np.arange(lay.n_aisles) + 1, [str(a) for a in range(lay.n_aisles)])
    ax.set_xlabel("aisle")
    ax.set_ylabel("position")
    ax.set_title(f"loads put away: {sim.loads_put_away}")
    fig.colorbar(image, ax=ax, label="log10 relative popularity")
    return figure_rgb(fig)
