"""``rgb_array`` rendering of a dispatch epoch: the depot, pending orders coloured by slack,
and the routes of the trips under way (one colour per vehicle)."""

from __future__ import annotations

import numpy as np

from envs.core.render import figure_rgb, pyplot


def render_map(sim, pos_scale: float) -> np.ndarray:
    plt = pyplot()
    d, t = sim.day, sim.t
    fig, ax = plt.subplots(figsize=(6, 6), dpi=80)
    ax.set_xlim(-1.05 * pos_scale, 1.05 * pos_scale)
    ax.set_ylim(-1.05 * pos_scale, 1.05 * pos_scale)
    ax.set_aspect("equal")
    cmap = plt.get_cmap("tab10")
    for veh, ids, _leave, back in sim.trip_routes:
        if back > t + 1e-9:  # under way (or leaving after the dispatch margin)
            xs = np.concatenate([[0.0], d.x[ids], [0.0]])
            ys = np.concatenate([[0.0], d.y[ids], [0.0]])
            ax.plot(xs, ys, "-", lw=1.2, color=cmap(veh % 10), alpha=0.8)
    if len(sim.pending):
        p = sim.pending
        slack = d.deadline[p] - sim.depart_time - sim.direct[p]
        sc = ax.scatter(d.x[p], d.y[p], c=slack, cmap="RdYlGn", vmin=0, vmax=max(1.0, float(np.max(slack, initial=1.0))),
                        s=18 + 8 * d.size[p], edgecolors="k", linewidths=0.3)
        fig.colorbar(sc, ax=ax, shrink=0.7, label="slack (min)")
    ax.plot([0], [0], "ks", ms=9, label="depot")
    busy = int((sim.ready > sim.depart_time + 1e-9).sum()) if sim.config.n_vehicles else 0
    ax.set_title(f"t = {t:.0f} min  pending {len(sim.pending)}  vehicles away {busy}  "
                 f"cost {sim.totals.cost:.1f}", fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    return figure_rgb(fig)
