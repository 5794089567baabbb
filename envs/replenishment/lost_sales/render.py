"""rgb_array rendering of ``LostSales-v0``: recent periods' stock, pipeline, demand and orders."""

from __future__ import annotations

import numpy as np

from envs.core.render import figure_rgb, pyplot


def render_rgb(history: list[tuple], config) -> np.ndarray:
    """Plot recent periods (stock, pipeline, demand, lost units) and return an RGB array."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    if history:
        q, d, s, lost, oh, pipe = (np.array(col) for col in zip(*history, strict=True))
        t = np.arange(len(history))
        ax.step(t, oh, where="post", label="on-hand (end of period)", color="tab:blue")
        ax.step(t, oh + pipe, where="post", label="inventory position", color="tab:blue", alpha=0.4)
        ax.bar(t, d, width=0.4, label="demand", color="tab:orange", alpha=0.7)
        ax.bar(t + 0.4, q, width=0.4, label="order", color="tab:green", alpha=0.7)
        ax.plot(t, lost, "x", color="tab:red", label="lost / backlog")
        ax.legend(loc="upper left", fontsize=7, ncol=3)
    mode = "backorders" if config.backorders else "lost sales"
    ax.set_title(f"LostSales-v0: L={config.lead_time}, p={config.penalty:g}, h={config.holding_cost:g} ({mode})")
    ax.set_xlabel("period (most recent window)")
    ax.set_ylabel("units")
    return figure_rgb(fig)
