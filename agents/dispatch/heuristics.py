"""Online dispatch policies of ``fulfillgym/SameDayDelivery-v0`` (the dispatch-or-postpone
face). Each reads the env's observation (flat or dict, one or a batch) through
:mod:`envs.dispatch.observation` and returns the ``MultiBinary(K)`` action. Must-go orders
are dispatched by the env whatever a policy says.

* ``greedy``: dispatch every shown order at once (the EURO-NeurIPS "greedy" baseline);
* ``lazy``: dispatch nothing voluntarily, so only must-go orders leave ("lazy");
* ``random``: each shown order with probability 1/2 (seeded);
* ``threshold``: in the spirit of the dispatch-waves rule (Lan et al., arXiv 2308.14476):
  dispatch an order when its slack (minutes to spare if it left now on a direct trip) is
  below ``slack``; then let orders within ``radius`` (km, or the instance's unit) of an
  order being dispatched ride along; and dispatch everything when the shown orders' total
  size reaches ``fill`` vehicle loads. Its three parameters are tuned by the CRN race.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import ObservationPolicy
from envs.dispatch import observation as ob
from envs.dispatch.config import DispatchConfig


class _ObsPolicy(ObservationPolicy):
    """Shared plumbing: split flat/dict, single/batched observations."""

    name = "policy"

    def __init__(self, config: DispatchConfig):
        self.K = config.max_orders

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        rows, mask, fleet = ob.split(observation, self.K)
        single = rows.ndim == 2
        if single:
            rows, mask, fleet = rows[None], np.asarray(mask)[None], np.asarray(fleet)[None]
        act = np.stack([self.decide(r, m > 0.5, f) for r, m, f in zip(rows, mask, fleet, strict=True)]).astype(np.int8)
        return (act[0] if single else act), state

    def decide(self, rows: np.ndarray, shown: np.ndarray, fleet: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {}


class Greedy(_ObsPolicy):
    name = "greedy"

    def decide(self, rows, shown, fleet):
        return shown.copy()


class Lazy(_ObsPolicy):
    name = "lazy"

    def decide(self, rows, shown, fleet):
        return np.zeros_like(shown)


class RandomDispatch(_ObsPolicy):
    name = "random"

    def __init__(self, config: DispatchConfig, seed: int = 0):
        super().__init__(config)
        self.rng = np.random.default_rng(seed)

    def decide(self, rows, shown, fleet):
        return shown & (self.rng.random(len(shown)) < 0.5)


class Threshold(_ObsPolicy):
    """The tuned threshold rule (module docstring). ``slack`` in minutes, ``radius`` in the
    env's distance unit, ``fill`` in vehicle loads (inf: never)."""

    name = "threshold"

    def __init__(self, config: DispatchConfig, slack: float, radius: float = 0.0, fill: float = np.inf,
                 pos_scale: float = 1.0):
        super().__init__(config)
        self.slack, self.radius, self.fill = float(slack), float(radius), float(fill)
        self.time_scale = ob.time_scale(config)
        self.capacity = config.capacity
        self.pos_scale = pos_scale

    def decide(self, rows, shown, fleet):
        slack = rows[:, 3] * self.time_scale
        go = shown & ((slack < self.slack) | (rows[:, 5] > 0.5))
        load = rows[shown, 2].sum()  # in vehicle loads (size / capacity)
        if load >= self.fill:
            return shown.copy()
        if self.radius > 0 and go.any():
            xy = rows[:, :2] * self.pos_scale
            d = np.sqrt(((xy[:, None, :] - xy[None, go, :]) ** 2).sum(-1)).min(axis=1)
            go |= shown & (d <= self.radius)
        return go

    def params(self) -> dict[str, Any]:
        return {"slack": self.slack, "radius": self.radius, "fill": self.fill}
