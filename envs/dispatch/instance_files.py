"""Instance files the dispatch configs point at, read once per process (cached by path).

* :func:`instance_coordinates`: the node coordinates of a VRPLIB file (``locations=instance``);
* :func:`euro_instance`: a EURO Meets NeurIPS 2022 instance (``rules=euro_neurips``).

Both raise a one-line ``ConfigError`` naming ``instance`` on a malformed file.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from envs.core.config import ConfigError


@lru_cache(maxsize=8)
def euro_instance(path: str):
    """The competition instance at ``path`` (``envs.dispatch.euro_neurips.read_instance``)."""
    from envs.dispatch.euro_neurips import read_instance

    return read_instance(path, field="instance")


@lru_cache(maxsize=8)
def instance_coordinates(path: str) -> np.ndarray:
    """The node coordinates of a VRPLIB file (row 0 the depot), read with ``vrplib``."""
    import vrplib

    try:
        data = vrplib.read_instance(path, compute_edge_weights=False)
    except Exception as err:  # vrplib raises many kinds on malformed files
        raise ConfigError(f"instance: {path}: not a readable VRPLIB file ({type(err).__name__}: {str(err)[:80]})") from None
    xy = data.get("node_coord")
    if xy is None or np.ndim(xy) != 2 or np.shape(xy)[1] != 2 or len(xy) < 2:
        raise ConfigError(f"instance: {path}: expected a NODE_COORD_SECTION with a depot and at least one customer")
    xy = np.asarray(xy, dtype=float)
    if not np.isfinite(xy).all():
        raise ConfigError(f"instance: {path}: NODE_COORD_SECTION holds non-finite coordinates")
    depots = data.get("depot")
    depot = int(np.asarray(depots).reshape(-1)[0]) if depots is not None and np.size(depots) else 0
    order = [depot] + [i for i in range(len(xy)) if i != depot]
    return xy[order]


