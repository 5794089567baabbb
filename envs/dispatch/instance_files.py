"""Instance files the dispatch configs point at, read once per process (cached by path).

* :func:`instance_coordinates`: the node coordinates of a VRPLIB file (``locations=instance``);
* :func:`euro_instance`: a EURO Meets NeurIPS 2022 instance (``rules=euro_neurips``).

Both raise a one-line ``ConfigError`` naming ``instance`` on a malformed file (the checks of
every VRPLIB reader, ``envs.dispatch.vrplib_checks``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from envs.dispatch.vrplib_checks import check_vrplib, read_vrplib


@lru_cache(maxsize=8)
def euro_instance(path: str):
    """The competition instance at ``path`` (``envs.dispatch.euro_neurips.read_instance``)."""
    from envs.dispatch.euro_neurips import read_instance

    return read_instance(path, field="instance")


@lru_cache(maxsize=8)
def instance_coordinates(path: str) -> np.ndarray:
    """The node coordinates of a VRPLIB file (row 0 the depot), read with ``vrplib``."""
    where = f"instance: {path}"
    data = read_vrplib(path, where)
    xy = check_vrplib(data, where, required=("node_coord",))["node_coord"].astype(float)
    depots = data.get("depot")
    depot = int(np.asarray(depots).reshape(-1)[0]) if depots is not None and np.size(depots) else 0
    order = [depot] + [i for i in range(len(xy)) if i != depot]
    return xy[order]
