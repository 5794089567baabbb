"""``fulfillgym/LostSales-v0``: single-SKU periodic-review inventory with a lead time."""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.actions import check_action
from envs.core.episode import check_reset_options, step_before_reset
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import (
    advance,
    initial_state,
    observe_pipeline,
    order_from_action,
)

# Demand is drawn from ``np_random`` in blocks: one NumPy call per block instead of one
# per step. The stream is a function of the seed alone, so trajectories stay reproducible
# (and match ``BatchSimulator`` fed with ``demand.sample(rng, n)`` from the same seed).
DEMAND_BLOCK = 4096
# Observation bound: finite so that every RL library accepts the space, and far above any
# stock level an episode can reach.
OBS_BOUND = 1.0e9
RENDER_WINDOW = 60


class LostSalesEnv(gym.Env):
    """Single-SKU periodic-review inventory control with lead time and lost sales.

    ## Description
    The classic lost-sales inventory problem (Zipkin 2008; Xin 2021; Temizöz et al.'s
    Deep Controlled Learning benchmarks): each period the agent orders an integer
    quantity of one SKU from a supplier with a deterministic lead time ``L``; customer
    demand is random and demand that cannot be met from stock is lost (or, with
    ``backorders=True``, backordered). The agent trades holding cost against shortage
    cost. Exact optima for this problem are known for small ``L`` (``agents.lost_sales.optimal``).

    ## Timing of events (period t)
    1. The agent orders ``q_t >= 0``; ordering cost ``K * [q_t > 0] + c * q_t``. With
       ``L = 0`` the order arrives at once.
    2. Demand ``D_t`` is served from on-hand stock.
    3. Holding cost ``h`` per unit of on-hand stock left after demand; shortage cost
       ``p`` per unit of demand not met (lost sales), or per unit backordered at the end
       of the period (backorders: ``p`` is charged every period a unit waits).
    4. The order placed at the start of period ``t-L+1`` arrives.

    So an order placed at the start of period t arrives at the end of period t+L-1 and
    first serves demand in period t+L. The pipeline therefore holds the ``L-1`` orders
    placed in the previous ``L-1`` periods.

    ## Action space
    ``action_type="discrete"`` (default): ``Discrete(q_max + 1)``, the action is the
    order quantity (a Python or NumPy integer, or a one-element integer array).
    ``action_type="continuous"``: ``Box(-1, 1, (1,), float32)``, mapped to
    ``round((a + 1) / 2 * q_max)`` (floats or integers; not bools or strings). An action
    outside the space raises a one-line ``ValueError``.

    ## Observation space
    ``Box(shape=(max(L, 1),), float32)``:

    | index | meaning                                                  | min          | max  |
    |-------|----------------------------------------------------------|--------------|------|
    | 0     | on-hand stock (net inventory, < 0 = backlog, if backorders) | 0 (-1e9)  | 1e9  |
    | 1..L-1| orders in the pipeline, oldest (arrives next) first     | 0 | max(q_max, round(mean))|

    The inventory position is the sum of the observation.

    ## Rewards
    Minus the period's total cost ``h * left + p * short + K * [q > 0] + c * q``, a
    Python float. All components are in ``info``.

    ## Starting state
    ``initial_state="mean"``: on-hand and each pipeline slot equal round(mean demand);
    ``"zero"``: all zero; ``"random"``: each uniform on ``0..q_max`` from ``np_random``.
    ``reset(seed=..., options=None)``: there are no reset options; ``options`` must be None or
    ``{}`` (any key raises ``ValueError``). Calling ``step()`` before the first ``reset()``
    raises ``RuntimeError``.

    ## Episode end
    Never terminates; truncated by the ``TimeLimit`` wrapper (``max_episode_steps``,
    default 1000 at registration).

    ## Arguments
    | name             | default   | meaning                                              |
    |------------------|-----------|------------------------------------------------------|
    | lead_time        | 2         | L >= 0                                               |
    | holding_cost     | 1.0       | h per unit left after demand per period              |
    | penalty          | 9.0       | p per lost unit (or per backordered unit per period) |
    | backorders       | False     | backorder instead of losing unmet demand             |
    | fixed_order_cost | 0.0       | K per period with a positive order                   |
    | unit_cost        | 0.0       | c per unit ordered                                   |
    | demand           | Poisson(5)| dict: distribution (poisson, negative_binomial, pmf, series), mean, variance, pmf, series |
    | q_max            | derived   | largest order; default never binds an optimal policy when K = 0 |
    | action_type      | discrete  | discrete or continuous                               |
    | initial_state    | mean      | mean, zero or random                                 |
    | scenario         | none      | stress scenario (``envs.core.scenario``): kind, start, duration, size, random_onset |
    | render_mode      | None      | ``rgb_array`` (plot of recent periods) or ``ansi``   |

    ## Stress scenarios
    ``scenario`` (``envs.core.scenario.Scenario``, default ``kind=none``: no effect) overlays
    a disruption on a window of periods counted from ``reset()`` (period 0): ``demand_surge``
    scales the demand draws by ``1 + size``; ``supplier_disruption`` delivers
    ``floor((1 - size) q + U)`` of each order placed in the window; ``capacity_cut`` (this
    env has no storage capacity) caps each order placed in the window at
    ``floor((1 - size) q_max)``; refused units are not charged and never enter the pipeline
    (the supplier confirms at once). ``lead_time_shock`` adds ``size`` periods to the lead
    time of orders placed in the window: the pipeline then holds ``L - 1 + size`` slots by
    arrival period and the observation's last pipeline slot also holds every unit due
    later (with ``L <= 1`` the observation has no pipeline slot: delayed orders are not
    observed); its bound grows to ``(size + 1) * max(q_max, round(mean))``. The scenario's
    randomness (random onset, rounding) comes from a stream derived from ``np_random``
    without drawing from it, so the demand stream is the same with and without a scenario.

    ## KPIs in ``info``
    ``cost``, ``holding_cost``, ``shortage_cost``, ``ordering_cost``, ``order``,
    ``demand``, ``sales`` (demand met from stock this period), ``lost`` (lost units, or
    backlog after demand when backordering), ``on_hand`` (after the period, arrivals
    included), ``inventory_position``; with an active scenario also ``refused`` (units of
    ``order`` the supplier refused) and ``period`` (the period's index in the episode).

    ## Version history
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, config: LostSalesConfig | None = None, **kwargs: Any):
        self.config = config if config is not None else LostSalesConfig.from_kwargs(kwargs)
        cfg = self.config
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected one of rgb_array, ansi or None, got {render_mode!r}")
        self.render_mode = render_mode
        low = np.zeros(cfg.obs_dim, dtype=np.float32)
        high = np.full(cfg.obs_dim, OBS_BOUND, dtype=np.float32)
        # Pipeline slots hold orders (<= q_max) and, at reset, the initial level
        # round(mean demand), which a user-set q_max may be below.
        high[1:] = max(cfg.q_max, int(round(cfg.demand.mean))) * (cfg.scenario.max_extra_lead_time + 1)
        if cfg.backorders:
            low[0] = -OBS_BOUND
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        if cfg.action_type == "discrete":
            self.action_space = spaces.Discrete(cfg.q_max + 1)
        else:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        # Plain Python ints on the hot path (``advance`` on one copy): much faster than NumPy.
        self._on_hand = 0
        self._pipeline: list[int] = []
        # an empty demand block: the first step refills it, and the refill checks for reset()
        self._demand: list[int] = []
        self._demand_pos = 0
        self._was_reset = False
        self._series_pos = 0
        self._history: deque = deque(maxlen=RENDER_WINDOW)
        self._scenario = cfg.scenario if cfg.scenario.active else None
        self._extra_slots = cfg.scenario.max_extra_lead_time
        self._clock = None
        self._t = 0

    # -- Gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, "LostSalesEnv")
        super().reset(seed=seed)
        self._on_hand, self._pipeline = initial_state(self.config, self.np_random)
        self._demand, self._demand_pos, self._series_pos = [], 0, 0
        self._t = 0
        if self._scenario is not None:  # a derived stream: draws nothing from np_random
            self._clock = self._scenario.clock(self.np_random)
            self._pipeline += [0] * self._extra_slots
        self._was_reset = True
        self._history.clear()
        return self._obs(), {"inventory_position": self._on_hand + sum(self._pipeline)}

    def step(self, action):
        q = self._order(action)
        if self._demand_pos >= len(self._demand):
            self._refill_demand()
        d = self._demand[self._demand_pos]
        self._demand_pos += 1
        clock, t = self._clock, self._t
        placed = q
        if clock is not None:
            d = clock.scale_demand(t, d)
        self._t = t + 1
        self._on_hand, self._pipeline, (filled, short, _, q, holding, shortage, ordering, cost) = advance(
            self.config, self._on_hand, self._pipeline, q, d, t, clock)
        info = {
            "cost": cost,
            "holding_cost": holding,
            "shortage_cost": shortage,
            "ordering_cost": ordering,
            "order": q,
            "demand": d,
            "sales": filled,
            "lost": short,
            "on_hand": self._on_hand,
            "inventory_position": self._on_hand + sum(self._pipeline),
        }
        if clock is not None:
            info["order"], info["refused"], info["period"] = placed, placed - q, t
        if self.render_mode is not None:
            self._history.append((q, d, filled, short, self._on_hand, sum(self._pipeline)))
        return self._obs(), -float(cost), False, False, info

    def render(self):
        if self.render_mode == "ansi":
            return self._render_ansi()
        if self.render_mode == "rgb_array":
            from envs.replenishment.lost_sales.render import render_rgb

            return render_rgb(list(self._history), self.config)
        return None

    # -- helpers -------------------------------------------------------------------------
    def _obs(self) -> np.ndarray:
        if self._extra_slots:  # an arrival-indexed pipeline
            return np.array([self._on_hand, *observe_pipeline(self._pipeline, self.config.lead_time)], dtype=np.float32)
        return np.array([self._on_hand, *self._pipeline], dtype=np.float32)

    def _order(self, action) -> int:
        if self.config.action_type == "discrete":
            return check_action(self.action_space, action)
        return int(order_from_action(float(check_action(self.action_space, action)[0]), self.config))

    def _refill_demand(self) -> None:
        if not self._was_reset:
            raise step_before_reset()
        block = self.config.demand.sample(self.np_random, DEMAND_BLOCK, start=self._series_pos)
        self._series_pos += DEMAND_BLOCK
        self._demand, self._demand_pos = block.tolist(), 0

    def _render_ansi(self) -> str:
        lines = [f"{'order':>6} {'demand':>6} {'sales':>6} {'lost':>6} {'on_hand':>8} {'pipeline':>8}"]
        for q, d, s, lost, oh, pipe in list(self._history)[-10:]:
            lines.append(f"{q:>6} {d:>6} {s:>6} {lost:>6} {oh:>8} {pipe:>8}")
        return "\n".join(lines)
