"""Draw one day of orders (a :class:`~envs.dispatch.day.Day`) from a :class:`DispatchConfig`.

``same_day`` rules: arrivals are a Poisson process whose rate is constant within each hour
(``arrival_rates``): hour h brings Poisson(rate_h) orders at uniform times in [60h, 60h+60).
Each order gets a location (``locations``), a uniform integer size in
[``size_min``, ``size_max``], the service time ``service_minutes`` and the window
[release + ``earliest_delay_minutes``, release + ``promise_minutes``]. Everything is drawn
from the generator passed in, in a fixed order, so a seed fixes the whole day.

``euro_neurips`` rules: the requests of the EURO Meets NeurIPS 2022 environment for the
seed (``envs/dispatch/euro_neurips.py``), converted from seconds to minutes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from envs.core.config import ConfigError
from envs.dispatch.config import DispatchConfig
from envs.dispatch.day import Day, Travel


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


def arrival_times(config: DispatchConfig, rng: np.random.Generator) -> np.ndarray:
    counts = rng.poisson(np.asarray(config.arrival_rates))
    times = [60.0 * h + 60.0 * np.sort(rng.random(n)) for h, n in enumerate(counts)]
    return np.concatenate(times) if times else np.zeros(0)


def locations(config: DispatchConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2) km relative to the depot."""
    half = config.area_km / 2.0
    if config.locations == "uniform":
        return rng.uniform(-half, half, size=(n, 2))
    if config.locations == "clustered":
        centres = rng.uniform(-half, half, size=(config.n_hotspots, 2))
        which = rng.integers(config.n_hotspots, size=n)
        return np.clip(centres[which] + rng.normal(0.0, config.hotspot_km, size=(n, 2)), -half, half)
    pool = instance_coordinates(config.instance)
    customers = rng.integers(1, len(pool), size=n)
    return (pool[customers] - pool[0]) * config.instance_km_per_unit


def generate_day(config: DispatchConfig, rng: np.random.Generator, seed: int | None = None) -> Day:
    """One day of orders. ``seed``: the integer seed of the day (EURO-NeurIPS rules draw their
    own generator from it, as the competition does; None: drawn from ``rng``)."""
    if config.rules == "euro_neurips":
        from envs.dispatch.euro_neurips import euro_day_minutes

        return euro_day_minutes(config.instance, int(rng.integers(2**31)) if seed is None else int(seed))
    release = arrival_times(config, rng)
    n = len(release)
    xy = locations(config, rng, n)
    size = rng.integers(config.size_min, config.size_max + 1, size=n)
    travel = Travel(xy=np.vstack([np.zeros((1, 2)), xy]), speed=config.speed)
    return Day(release=release, earliest=release + config.earliest_delay_minutes,
               deadline=release + config.promise_minutes, size=size,
               service=np.full(n, config.service_minutes), node=np.arange(1, n + 1),
               x=xy[:, 0], y=xy[:, 1], travel=travel)
