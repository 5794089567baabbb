"""rgb_array rendering of the fulfilment centre: capacity utilisation and the top SKUs' stock."""

from __future__ import annotations

import numpy as np

from envs.core.render import figure_rgb, pyplot


def render_fulfillment(history: list[tuple], problem, top: np.ndarray) -> np.ndarray:
    """Capacity utilisation over recent periods (top) and the stock of the most popular
    SKUs (bottom) of the fulfilment centre; returns an RGB array."""
    plt = pyplot()
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
    return figure_rgb(fig)
