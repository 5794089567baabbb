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

import numpy as np

from envs.dispatch.config import DispatchConfig
from envs.dispatch.day import Day, Travel
from envs.dispatch.instance_files import euro_instance, instance_coordinates


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

        return euro_day_minutes(euro_instance(config.instance), int(rng.integers(2**31)) if seed is None else int(seed))
    release = arrival_times(config, rng)
    n = len(release)
    xy = locations(config, rng, n)
    size = rng.integers(config.size_min, config.size_max + 1, size=n)
    travel = Travel(xy=np.vstack([np.zeros((1, 2)), xy]), speed=config.speed)
    return Day(release=release, earliest=release + config.earliest_delay_minutes,
               deadline=release + config.promise_minutes, size=size,
               service=np.full(n, config.service_minutes), node=np.arange(1, n + 1),
               x=xy[:, 0], y=xy[:, 1], travel=travel)
