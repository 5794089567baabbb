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


def render_fulfillment(history: list[tuple], problem, top: np.ndarray) -> np.ndarray:
    """Capacity utilisation over recent periods (top) and the stock of the most popular
    SKUs (bottom) of the fulfilment centre; returns an RGB array."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_cap, ax_sku) = plt.subplots(2, 1, figsize=(6.4, 4.8), dpi=100, sharex=True)
    if history:
        util = np.array([h[0] for h in history])
        stock = np.array([h[1] for h in history])
        t = np.arange(len(history))
        ax_cap.plot(t, 100 * util, color="tab:blue")
        ax_cap.axhline(100, color="tab:red", linestyle="--", linewidth=1, label="capacity")
        for j, sku in enumerate(top):
            ax_sku.step(t, stock[:, j], where="post", label=str(problem.catalogue.skus[sku]))
        ax_sku.legend(loc="upper left", fontsize=7, ncol=3)
    ax_cap.set_ylabel("utilisation %")
    ax_cap.set_title(f"FulfillmentCenter-v0: {problem.n} SKUs, capacity "
                     f"{'unlimited' if not problem.limited else f'{problem.capacity:,.0f}'}")
    ax_sku.set_ylabel("on-hand (top SKUs)")
    ax_sku.set_xlabel("period (most recent window)")
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image
