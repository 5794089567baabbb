"""One day of orders and the travel network they live on (what a generator draws).

A :class:`Day` holds every order of an episode, in release order. The simulator reveals an
order at its ``release`` time; nothing in a day depends on the actions, so every policy can
be replayed on the same day (common random numbers). ``node`` indexes the :class:`Travel`
network (node 0 is the depot): a generated day gives each order its own node; a day sampled
from an instance file points at the instance's customers (several orders may share one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Travel:
    """Travel between nodes (0 = depot): Euclidean km from ``xy`` at ``speed`` km per time
    unit, or explicit ``distance`` / ``duration`` matrices (an instance's; asymmetric allowed)."""

    xy: np.ndarray | None = None           # (m, 2) km, row 0 the depot
    speed: float = 1.0                     # km per time unit (Euclidean only)
    distance: np.ndarray | None = None     # (m, m)
    duration: np.ndarray | None = None     # (m, m)

    def matrices(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance and duration among ``nodes`` (node ids; put the depot 0 first)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if self.distance is not None:
            sub = np.ix_(nodes, nodes)
            return self.distance[sub], self.duration[sub]
        pts = self.xy[nodes]
        dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
        return dist, dist / self.speed

    def from_depot(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance and duration from the depot to each of ``nodes``."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if self.distance is not None:
            return self.distance[0, nodes], self.duration[0, nodes]
        d = np.sqrt(((self.xy[nodes] - self.xy[0]) ** 2).sum(-1))
        return d, d / self.speed


@dataclass
class Day:
    """The orders of one day, sorted by release time (arrays of one entry per order).

    ``release``: when the order becomes known (and may leave the depot at the earliest);
    ``earliest`` / ``deadline``: its delivery window (service may not start before
    ``earliest``; after ``deadline`` it is late); ``size``: capacity units; ``service``:
    service time; ``node``: its node in ``travel``; ``x``, ``y``: position relative to the
    depot (km, or the instance's coordinates); ``customer``: the instance's customer index
    (-1 for generated orders); ``epoch``: the epoch it was sampled in (instance rule sets; -1
    otherwise). An instance rule set may also fix the day's ``capacity``, decision
    ``epoch_times`` and ``shift_end`` (otherwise the config's apply)."""

    release: np.ndarray
    earliest: np.ndarray
    deadline: np.ndarray
    size: np.ndarray
    service: np.ndarray
    node: np.ndarray
    x: np.ndarray
    y: np.ndarray
    travel: Travel
    customer: np.ndarray | None = None
    epoch: np.ndarray | None = None
    capacity: int | None = None             # the instance's vehicle capacity (None: the config's)
    epoch_times: np.ndarray | None = None   # the day's decision epochs (None: the config's)
    shift_end: float | None = None          # when every vehicle must be back (None: the config's)

    def __post_init__(self) -> None:
        n = len(self.release)
        if self.customer is None:
            self.customer = np.full(n, -1, dtype=np.int64)
        if self.epoch is None:
            self.epoch = np.full(n, -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.release)
