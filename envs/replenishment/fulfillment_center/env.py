"""``fulfillgym/FulfillmentCenter-v0``: N SKUs replenished under one shared storage capacity."""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.actions import check_action
from envs.core.episode import check_reset_options, step_after_end, step_before_reset
from envs.replenishment.fulfillment_center.config import FulfillmentConfig, Problem
from envs.replenishment.fulfillment_center.features import GLOBAL_FEATURES
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator

OBS_BOUND = 1.0e9
RENDER_WINDOW = 120
TOP_SKUS = 5


class FulfillmentCenterEnv(gym.Env):
    """Centralised replenishment of N SKUs that share a warehouse's storage capacity.

    ## Description
    An e-commerce fulfilment centre orders every SKU of its catalogue each period (a day)
    from suppliers with per-SKU lead times. SKUs differ in popularity (a long tail, the
    slowest intermittent), unit volume, cost, price and lead time; demand can be seasonal
    (weekly, yearly), trending, boosted by promotions, or replayed from a CSV history.
    All SKUs compete for one storage capacity: receipts that do not fit are refused at a
    cost. One agent decides all N orders (for one agent per SKU see the PettingZoo env
    ``envs.fulfillment_center_v0``). The simulator is ``envs.replenishment.fulfillment_center.simulator``.

    ## Timing of events (period t)
    1. Orders are placed; SKU i's order arrives at the end of period t + l_i - 1
       (lead time l_i >= 1, fixed or drawn each period with ``lead_time_jitter``; orders may
       then cross, and the pipeline is tracked by arrival period).
    2. Demand is served from on-hand stock; unmet demand is lost (or backordered).
    3. Holding cost on stock left after demand, shortage cost on lost (backordered) units.
    4. Receipts due this period arrive; if their volume exceeds the free space, each SKU's
       receipt is accepted pro rata (the same fraction of every SKU's units, rounded down),
       and every refused unit costs ``overflow_cost`` (discarded, or returned for a refund).
    With N = 1 and unlimited capacity this is ``LostSales-v0`` exactly.

    ## Action space
    ``action_type="discrete"`` (default): ``MultiDiscrete([M] * N)``; SKU i orders
    ``ceil(order_multiples[a_i] * forecast_i)``, where forecast_i is the exponentially
    smoothed recent demand (``forecast_alpha``) and the default multiples are
    0, 0.5, 1, 1.5, 2, 3, 4, 6, 8 periods of demand.
    ``"continuous"``: ``Box(-1, 1, (N,), float32)``; order ``ceil((a_i + 1) / 2 *
    max_multiple * forecast_i)``. Orders are rounded up so that any positive multiple
    orders at least one unit (slow movers could otherwise never be ordered).
    ``"level"``: ``MultiDiscrete([M'] * N)``; SKU i orders up to the inventory position
    ``ceil(level_multiples[a_i] * rate_i * (L_i + 1))``, a base-stock level in units of the
    demand over the lead time plus one period (nothing if already above); ``rate_i`` is
    the SKU's long-run mean demand (``level_basis="mean"``, default) or its forecast.
    ``"order"``: ``MultiDiscrete(q_max + 1)``, the order quantities themselves (used by the
    heuristics). Actions outside the space (wrong shape, out of range, or of the wrong
    kind: bools, strings and object arrays are refused) raise a one-line ``ValueError``.

    ## Observation space
    A per-SKU feature matrix (N, F) with F = 7 + P (P = ``pipeline_slots``, default 8,
    fixed so that one shared policy fits any catalogue), stock and demand in units of the
    SKU's long-run mean demand mu_i:

    | column | meaning                                                  | min  | max |
    |--------|----------------------------------------------------------|------|-----|
    | 0      | on-hand stock / mu_i (< 0 = backlog with backorders)     | -1e9 | 1e9 |
    | 1      | units in the pipeline / mu_i                             | 0    | 1e9 |
    | 2      | demand forecast (smoothed recent demand) / mu_i          | 0    | 1e9 |
    | 3      | last period's demand / mu_i                              | 0    | 1e9 |
    | 4      | lead time l_i / 7 (in weeks)                             | 0    | 1e9 |
    | 5      | log10 mu_i (popularity)                                  | -1e9 | 1e9 |
    | 6      | volume share: volume_i * mu_i * N / capacity (0 if unlimited) | 0 | 1e9 |
    | 7..7+P-1 | units due at the end of periods t, ..., t+P-1 / mu_i (the last slot also counts later arrivals) | 0 | 1e9 |

    and G = 5 global features: capacity utilisation (stock volume / capacity, 0 when
    unlimited), sin and cos of the day of week, sin and cos of the day of year.
    ``obs_format="flat"`` (default): a float32 vector of length F*N + G, the matrix
    *feature by feature* (column f of SKU i at index f*N + i, i.e. the (N, F) matrix
    transposed and flattened; contiguous writes keep the env fast) then the global
    features; ``"dict"``: ``Dict(sku=Box((N, F)), global=Box((G,)))``.

    ## Rewards
    Minus the period's total cost: holding + shortage + ordering (K per order, plus unit
    cost if ``purchase_cost``) + overflow (``overflow_cost`` per refused unit, less the
    refund of returned units) - revenue (price per unit sold, if ``revenue``).

    ## Starting state
    ``initial_state="mean"``: on-hand and each of the l_i - 1 pipeline slots hold
    round(mu_i) (on-hand scaled down pro rata if it would not fit); ``"zero"``: empty.
    ``episode_start``: ``fixed`` at ``start_day`` or ``random`` (a random day of the year;
    with a CSV, a random window of the history). Randomness: all from ``np_random``.
    ``reset(seed=..., options=None)``: there are no reset options; ``options`` must be None
    or ``{}`` (any key raises ``ValueError``).

    ## Episode end
    Never terminates; truncated after ``episode_length`` periods (default 365), which the
    env counts itself because a replayed history must hold the whole window. With a CSV,
    a fixed window must lie inside the history (``start_day`` in ``[0, T - E]`` or
    ``[-T, -E]`` for T days of history and E = ``episode_length``; checked when the env is
    built). ``step()`` before the first ``reset()`` or after truncation raises ``RuntimeError``.

    ## Arguments
    Every field of ``envs.replenishment.fulfillment_center.config.FulfillmentConfig`` (documented
    there one by one) is a keyword argument, plus ``render_mode`` (``rgb_array``). The main ones:

    | name             | default    | meaning                                                   |
    |------------------|------------|-----------------------------------------------------------|
    | n_skus           | 100        | N (with a CSV: its N most popular SKUs; None = all)       |
    | catalogue        | synthetic  | synthetic (long tail, ``catalogue_seed``), uniform or csv |
    | demand_csv       | None       | replay a long-format CSV history (validated on load)      |
    | demand           | Poisson    | dict: distribution, dispersion, weekly, yearly_amplitude, yearly_peak_day, trend, promo_probability, promo_length, promo_uplift, intermittent |
    | lead_time        | catalogue  | one lead time for all SKUs (>= 1) instead of the catalogue's |
    | lead_time_jitter | 0          | j: lead times uniform on max(1, L_i - j) .. L_i + j        |
    | holding_cost, holding_rate | 1, 0 | h_i = holding_cost + holding_rate * unit_cost_i    |
    | penalty, penalty_margin | 9, 0 | p_i = penalty + penalty_margin * max(price_i - unit_cost_i, 0) |
    | fixed_order_cost | 0          | K per SKU with a positive order                           |
    | purchase_cost, revenue | False | charge unit_cost_i per unit ordered; count price_i per unit sold |
    | backorders       | False      | backorder instead of losing unmet demand                  |
    | capacity, capacity_days | None, 1.5 | capacity in volume units, or days of mean demand volume (0 = unlimited) |
    | overflow, overflow_cost | discard, 5 | refused units discarded or returned (refund); cost per unit |
    | action_type      | discrete   | discrete, continuous, level or order                      |
    | episode_length   | 365        | periods per episode                                       |
    | episode_start, start_day | fixed, 0 | fixed start day (negative: from the end of a CSV) or random |
    | initial_state    | mean       | mean or zero                                              |
    | pipeline_slots   | 8          | P, pipeline slots observed per SKU                        |
    | obs_format       | flat       | flat or dict                                              |

    ## Vectorized environment
    ``envs.replenishment.fulfillment_center.shared.FulfillmentAgentBatch`` runs copies of this
    simulator with one sub-env per SKU (the agent batch behind parameter-sharing training,
    ``shared=true``); the simulator itself is vectorised over SKUs.

    ## KPIs in ``info``
    ``cost``, ``holding_cost``, ``shortage_cost``, ``ordering_cost``, ``overflow_cost``,
    ``revenue``, ``demand``, ``sales``, ``lost`` (units lost or backordered), ``ordered``,
    ``received``, ``overflow_units``, ``on_hand`` (units), ``fill_rate`` (sales / demand),
    ``stockout_rate`` (share of SKUs with demand that fell short), ``inventory_turnover``
    (annualised: 365 * sales / on-hand), ``days_of_cover`` (on-hand / forecast demand),
    ``capacity_utilisation``, ``day``.

    ## Version history
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, config: FulfillmentConfig | None = None,
                 problem: Problem | None = None, **kwargs: Any):
        if problem is None:
            config = config if config is not None else FulfillmentConfig.from_kwargs(kwargs)
            problem = config.build()
        self.problem, self.config = problem, problem.config
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected rgb_array or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.sim = FulfillmentSimulator(problem)
        n, cfg = problem.n, self.config
        self.n_skus = n
        self.n_features = self.sim.n_features
        sku_box = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(n, self.n_features), dtype=np.float32)
        glob_box = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(len(GLOBAL_FEATURES),), dtype=np.float32)
        if cfg.obs_format == "dict":
            self.observation_space = spaces.Dict({"sku": sku_box, "global": glob_box})
        else:
            size = n * self.n_features + len(GLOBAL_FEATURES)
            self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(size,), dtype=np.float32)
        if cfg.action_choices is not None:
            self.action_space = spaces.MultiDiscrete(np.full(n, len(cfg.action_choices), dtype=np.int64))
        elif cfg.action_type == "continuous":
            self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        else:
            self.action_space = spaces.MultiDiscrete(problem.q_max + 1)
        self._top = np.argsort(-problem.mean_demand, kind="stable")[:TOP_SKUS]
        self._length = cfg.episode_length
        self._live = False  # between reset() and truncation: step() is allowed
        self._history: deque = deque(maxlen=RENDER_WINDOW)

    # -- Gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, "FulfillmentCenterEnv")
        super().reset(seed=seed)
        self.sim.reset(self.np_random)
        self._live = True
        self._history.clear()
        return self._obs(), {"day": self.sim.day, "capacity_utilisation": self.sim.utilisation()}

    def step(self, action):
        if not self._live:
            raise step_before_reset() if self.sim.rng is None else step_after_end(self._length)
        sim = self.sim
        q = self.orders(action)
        totals = sim.step(q)
        info = self._kpis(totals)
        if self.render_mode is not None:
            self._history.append((info["capacity_utilisation"], sim.on_hand[self._top].copy()))
        truncated = sim.t >= self._length
        if truncated:
            self._live = False
        return self._obs(), -float(totals["cost"]), False, truncated, info

    def render(self):
        if self.render_mode == "rgb_array":
            from envs.replenishment.fulfillment_center.render import render_fulfillment

            return render_fulfillment(list(self._history), self.problem, self._top)
        return None

    # -- helpers -------------------------------------------------------------------------
    def orders(self, action) -> np.ndarray:
        """Order quantities (N,) int64 for an action; ``ValueError`` if it is outside the space."""
        return self.sim.orders_from_actions(check_action(self.action_space, action))

    def _obs(self):
        if self.config.obs_format == "dict":
            return {"sku": self.sim.sku_features(), "global": self.sim.global_features()}
        return self.sim.flat_observation()

    def _kpis(self, totals: dict[str, float]) -> dict[str, Any]:
        sim, last = self.sim, self.sim.last
        demand, on_hand = totals["demand"], totals["on_hand"]
        with_demand = np.count_nonzero(last.demand)
        forecast = float(sim.forecast.sum())
        totals["fill_rate"] = totals["sales"] / demand if demand else 1.0
        totals["stockout_rate"] = float(np.count_nonzero(last.short)) / with_demand if with_demand else 0.0
        totals["inventory_turnover"] = 365.0 * totals["sales"] / on_hand if on_hand else 0.0
        totals["days_of_cover"] = on_hand / forecast if forecast > 0 else 0.0
        totals["capacity_utilisation"] = sim.utilisation()
        totals["day"] = sim.day
        return totals
