"""rgb_array rendering for the replenishment environments (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np


def render_rgb(history: list[tuple], config) -> np.ndarray:
    """Plot recent periods (stock, pipeline, demand, lost units) and return an RGB array."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image
