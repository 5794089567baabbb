"""Rendering helpers shared by the environments (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import numpy as np

from envs.core.config import ConfigError


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend; a one-line error if matplotlib is missing
    (it is an optional dependency: ``pip install fulfillgym[render]``)."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("render_mode=rgb_array: needs matplotlib (pip install 'fulfillgym[render]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_rgb(fig) -> np.ndarray:
    """The figure as an (H, W, 3) uint8 RGB array; the figure is closed."""
    plt = pyplot()
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image
