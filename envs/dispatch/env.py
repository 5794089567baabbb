"""``fulfillgym/SameDayDelivery-v0``: dispatch or postpone each pending order at every epoch."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.actions import check_action
from envs.core.episode import check_reset_options, step_before_reset
from envs.dispatch import observation as ob
from envs.dispatch.config import DispatchConfig
from envs.dispatch.generator import generate_day
from envs.dispatch.instance_files import instance_coordinates
from envs.dispatch.simulator import DispatchSimulator


def position_scale(config: DispatchConfig) -> float:
    """Half the square's side, or the largest |coordinate| of the instance around its depot."""
    if config.instance is None:
        return config.area_km / 2.0
    xy = instance_coordinates(config.instance)
    scale = float(np.abs(xy - xy[0]).max()) * (config.instance_km_per_unit if config.rules == "same_day" else 1.0)
    return max(scale, 1e-9)


class SameDayDeliveryEnv(gym.Env):
    """Same-day delivery from a fulfilment centre: at each decision epoch, dispatch each pending
    order now or postpone it; dispatched orders are routed onto the vehicles at the depot.

    ## Description
    A depot (the fulfilment centre) serves orders that arrive through an operating day
    [0, T] (minutes) by a Poisson process with an hourly rate profile. Each order has a
    location, a size, a service time and a delivery window [earliest, deadline] (by default
    [arrival, arrival + 120 min]). A fleet of ``n_vehicles`` vehicles of ``capacity`` makes
    several trips a day, each starting and ending at the depot. Every ``epoch_minutes`` the
    agent decides, for each pending order, to dispatch it now or to postpone it; the orders
    dispatched are routed by a router (cheapest insertion with local search, or PyVRP).
    Waiting consolidates orders into fuller, shorter trips; waiting too long makes orders
    late or lets them fail. The dynamics live in :class:`envs.dispatch.simulator.DispatchSimulator`;
    its docstring gives the exact timing of events and cost accounting.

    ## Timing of events (one step = one decision epoch at t = k * epoch_minutes)
    1. the observation shows the pending orders (released by t) and the fleet;
    2. the action marks orders to dispatch; *must-go* orders (they could not reach their
       deadline if they waited one more epoch; every order at the last epoch) are dispatched
       regardless;
    3. the router builds trips on the vehicles at the depot; they leave at t (+ the dispatch
       margin); unroutable orders stay pending;
    4. the trips' costs are booked (the reward), the clock moves to t + epoch and new orders
       are revealed. After the last epoch undispatched orders fail.

    ## Action space
    ``MultiBinary(K)`` with K = ``max_orders``: bit i = 1 dispatches the i-th shown order now
    (orders are shown most urgent first); bits of padding rows are ignored; pending orders
    beyond the K shown are postponed unless must-go. Anything else is a ``ValueError``.

    ## Observation space
    ``flat`` (default): ``Box(K*8 + K + 8)``: the order rows, the mask, the fleet features;
    ``dict``: ``{"orders": Box(K, 8), "mask": MultiBinary(K), "fleet": Box(8)}``. Columns and
    scales: :mod:`envs.dispatch.observation`. Values are clipped to [-10, 10].

    ## Rewards
    Minus the cost booked this epoch: ``cost_per_km`` x km + ``cost_per_trip`` x trips +
    ``cost_per_late_minute`` x late minutes of the trips dispatched now, plus at the last
    epoch ``failed_penalty`` x failed orders. The episode's return is minus the day's cost.

    ## Episode end
    Terminates after the last decision epoch (``ceil(day_minutes / epoch_minutes)`` steps);
    never truncated.

    ## Arguments
    The fields of :class:`envs.dispatch.config.DispatchConfig` (day, arrival profile, windows,
    locations, fleet, router, costs, observation), plus ``render_mode`` (``rgb_array``: a map of
    the depot, pending orders coloured by slack and the routes of the trips under way).

    ## KPIs in ``info``
    ``cost`` and its parts (``cost_km``, ``cost_trips``, ``cost_late``, ``cost_failed``) for the
    step; ``day``: the day so far: ``orders``, ``delivered``, ``on_time``, ``late``,
    ``failed``, ``on_time_rate``, ``late_minutes``, ``km``, ``km_per_order``, ``trips``,
    ``utilisation`` (vehicle time away / fleet shift time), ``co2_kg``; ``action_mask``
    (the shown orders), ``must_go`` (their flags), ``unrouted`` (dispatched orders that found
    no vehicle this epoch).

    ## Version history
    * v0: first version (FulfillGym 0.1).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, render_mode: str | None = None, config: DispatchConfig | None = None, **kwargs: Any):
        self.config = config if config is not None else DispatchConfig.from_kwargs(kwargs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected rgb_array or None, got {render_mode!r}")
        self.render_mode = render_mode
        c = self.config
        K = c.max_orders
        self.sim = DispatchSimulator(c)
        self.pos_scale = position_scale(c)
        self.action_space = spaces.MultiBinary(K)
        box = lambda shape: spaces.Box(-ob.CLIP, ob.CLIP, shape=shape, dtype=np.float32)  # noqa: E731
        if c.observation == "dict":
            self.observation_space = spaces.Dict({"orders": box((K, ob.F)), "mask": spaces.MultiBinary(K),
                                                  "fleet": box((ob.G,))})
        else:
            self.observation_space = box((K * ob.F + K + ob.G,))
        self._ids = np.zeros(0, dtype=np.int64)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, "SameDayDeliveryEnv")
        super().reset(seed=seed)
        self.sim.reset(generate_day(self.config, self.np_random, seed=seed))
        self._started = True
        obs, info = self._observe()
        info["day"] = self.sim.kpis()
        return obs, info

    def step(self, action):
        if not self._started:
            raise step_before_reset()
        if self.sim.done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        bits = check_action(self.action_space, action).astype(bool)
        dispatch = np.zeros(len(self.sim.pending), dtype=bool)
        shown = bits[: len(self._ids)]
        dispatch[np.isin(self.sim.pending, self._ids[shown])] = True
        result = self.sim.step(dispatch)
        obs, info = self._observe()
        info.update(cost=result.cost, cost_km=result.cost_km, cost_trips=result.cost_trips,
                    cost_late=result.cost_late, cost_failed=result.cost_failed, unrouted=result.unrouted,
                    day=self.sim.kpis())
        self._last = result
        return obs, -float(result.cost), self.sim.done, False, info

    def _observe(self):
        rows, mask, fleet, ids = ob.observe(self.sim, self.pos_scale)
        self._ids = ids
        info = {"action_mask": mask.astype(bool), "must_go": rows[:, 5] > 0.5}
        if self.config.observation == "dict":
            return {"orders": rows, "mask": mask, "fleet": fleet}, info
        return ob.flatten(rows, mask, fleet), info

    def action_masks(self) -> np.ndarray:
        """MaskablePPO's MultiBinary mask, (K * 2,) as [may postpone, may dispatch] per bit:
        padding rows may only be 0, must-go rows only 1 (the env forces them anyway)."""
        K, n = self.config.max_orders, len(self._ids)
        masks = np.ones((K, 2), dtype=bool)
        masks[n:, 1] = False
        if n:
            masks[:n, 0] = ~self.sim.must_go(self._ids)
        return masks.reshape(-1)

    def plan(self):
        """The executed plan so far (one row per stop; see ``DispatchSimulator.plan``)."""
        return self.sim.plan()

    def render(self):
        if self.render_mode == "rgb_array":
            from envs.dispatch.render import render_map

            return render_map(self.sim, self.pos_scale)
        return None
