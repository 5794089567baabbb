"""Replenishment heuristics for the fulfilment centre (``fulfillgym/FulfillmentCenter-v0``).

Every policy acts on the centralised env's flat observation (the (F, N) SKU feature
matrix feature by feature, then the global features; ``FulfillmentCenterEnv``) and
answers in the ``order`` action space (``action_type = "order"``: the order quantity of
each SKU, clipped to ``[0, q_max_i]``). It recovers, per SKU i, the inventory position
``IP_i = on_hand_i + pipeline_i`` (units: features x mu_i, rounded) and the forecast
``f_i`` (the env's exponentially smoothed recent demand, column 2 x mu_i). All
computations are vectorised over SKUs (and over a batch of observations).

Notation: ``L_i`` lead time, ``h_i`` holding cost, ``p_i`` shortage penalty, ``c_i`` unit
cost, ``v_i`` unit volume, ``C`` the warehouse capacity (volume), ``K`` the fixed ordering
cost, all from ``config.build()`` (:class:`envs.replenishment.fulfillment_center.config.Problem`).

Forecast: ``f_i = w x (smoothed recent demand) + (1 - w) x mu_i``, a blend of the env's
exponentially smoothed demand (observation column 2) and the SKU's long-run mean demand
``mu_i`` with the weight ``w = forecast_weight`` tuned on {0, 0.5, 1}: with stationary
demand the mean is the best forecast (w = 0 gives the static base-stock policy; the
smoothed forecast's noise would cost about 10% on the single-SKU default instance), with
seasonality, trend or promotions the smoothed demand tracks what the mean misses.

Policies
--------
``base_stock`` -- :class:`ForecastBaseStock`, a forecast-driven order-up-to policy.
    The protection interval is ``L_i + R`` periods with review period ``R = 1``; its demand
    has mean ``M_i = f_i (L_i + 1)``. ``Q_i`` is the newsvendor quantile of that demand at
    the critical ratio ``p'_i / (p'_i + h_i)``, where ``p'_i`` is the SKU's effective
    shortage cost and the demand distribution is Poisson(M_i) or a negative binomial
    (``agents.fulfillment_center.quantiles``). The order-up-to level is

        S_i = max(0, round(M_i + safety x (Q_i - M_i)))

    i.e. ``safety`` scales the safety stock above the mean (1 = the newsvendor level,
    0 = the mean demand over the protection interval, < 0 below it): one scalar shared
    by all SKUs that absorbs what the quantile ignores (forecast error, seasonality,
    promotions, lost sales, capacity). Order ``q_i = max(S_i - IP_i, 0)``.

``s_S`` -- :class:`SsPolicy`, a periodic-review (s, S) policy per SKU.
    ``s_i`` is the base-stock level above (same ``safety``); ``S_i = s_i + B_i`` with the
    batch ``B_i = max(1, round(m x EOQ_i))``, ``EOQ_i = sqrt(2 K f_i / h_i)`` when K > 0,
    else ``B_i = round(m x f_i)`` (m periods of forecast demand); ``m = 0`` gives ``B_i = 0``.
    Order ``S_i - IP_i`` when ``IP_i <= s_i``, else nothing. With m = 0 it is ``base_stock``.

``capacity_base_stock`` -- :class:`CapacityAwareBaseStock`, base stock with a shared
    capacity throttle. It computes the ``base_stock`` orders q_i, then projects the
    warehouse volume when they arrive. An order placed now arrives after the demand of
    the next L_i periods; the stock left by then is approximately
    ``(IP_i - f_i L_i)^+`` (lost sales: stock cannot go below 0; the pipeline has arrived
    by then), so the projected volume is ``V(a) = sum_i v_i ((IP_i - f_i L_i)^+ + a q_i)``
    (with backorders arrivals first fill the backlog: ``sum_i v_i (IP_i - f_i L_i + a
    q_i)^+``). This is tighter than ``sum_i v_i (IP_i + q_i - f_i L_i)^+``, which lets a
    SKU's expected stock-out offset its own order. If ``V(1) > fill_target x C`` every
    order is scaled by the largest common factor ``a`` in [0, 1] with
    ``V(a) <= fill_target x C`` (closed form for lost sales, bisection for backorders),
    and ``q_i <- floor(a q_i)`` so the projection fits. With unlimited capacity it is
    ``base_stock`` exactly. The projection adds stock levels of SKUs with different lead
    times at their own arrival times, a steady-state approximation that ``fill_target``
    (tuned) corrects.

``random`` -- :class:`RandomOrders`: ``q_i`` uniform on ``0 .. floor(2 f_i (L_i + 1))``
    from the policy's own seeded generator; a sanity floor every policy should beat.

Tuning: ``agents.fulfillment_center.tuning``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.base import ObservationPolicy, describe_params
from agents.fulfillment_center.quantiles import critical_ratio, demand_dispersion, demand_quantile
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.simulator import GLOBAL_FEATURES, SKU_FEATURES

BISECTION_STEPS = 30


class FCPolicy(ObservationPolicy):
    """Base class: parses the centralised flat observation and clips orders to [0, q_max].

    Subclasses implement :meth:`orders` on arrays (B, N) of on-hand stock, pipeline units
    and forecasts and return orders (B, N)."""

    name = "fc_policy"
    env_overrides = {"action_type": "order"}
    tuning_cost: float | None = None
    tuning_ci95: float | None = None
    tuning: dict[str, Any] | None = None

    def __init__(self, problem: Problem):
        self.problem = problem
        self.n = problem.n
        self.n_features = len(SKU_FEATURES) + problem.config.pipeline_slots
        self.obs_dim = self.n * self.n_features + len(GLOBAL_FEATURES)
        self.mean = np.asarray(problem.mean_demand, dtype=np.float64)
        self.lead = np.asarray(problem.lead_time, dtype=np.float64)
        self.q_max = np.asarray(problem.q_max, dtype=np.int64)

    def state(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """On-hand units, pipeline units and forecasts, each (B, N), of a batch (B, D).

        The flat observation is feature-major: feature f of SKU i at index ``f * N + i``
        (``FulfillmentCenterEnv``), so features 0, 1, 2 are the first 3 N entries."""
        n = self.n
        rows = obs[:, : 3 * n]
        on_hand = np.rint(rows[:, :n] * self.mean)
        pipeline = np.rint(rows[:, n : 2 * n] * self.mean)
        forecast = rows[:, 2 * n :] * self.mean
        return on_hand, pipeline, forecast

    def orders(self, on_hand: np.ndarray, pipeline: np.ndarray, forecast: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(observation, dtype=np.float64)
        if obs.shape[-1] != self.obs_dim or obs.ndim not in (1, 2):
            raise ValueError(f"{self.name}: expected flat observations of length {self.obs_dim} "
                             f"({self.n} SKUs), got shape {obs.shape}")
        single = obs.ndim == 1
        batch = obs.reshape(-1, self.obs_dim)
        q = self.orders(*self.state(batch))
        q = np.clip(q, 0, self.q_max).astype(np.int64)
        return (q[0] if single else q), state

    def params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({describe_params(self)})"


class ForecastBaseStock(FCPolicy):
    """Order up to ``S_i = round(M_i + safety (Q_i - M_i))`` with M_i = f_i (L_i + 1) and Q_i
    its newsvendor quantile (module docstring). ``safety``: a scalar, tuned."""

    name = "base_stock"

    def __init__(self, problem: Problem, safety: float = 1.0, forecast_weight: float = 1.0):
        super().__init__(problem)
        self.safety = float(safety)
        self.forecast_weight = float(forecast_weight)
        self.ratio = critical_ratio(problem)
        self.dispersion = demand_dispersion(problem)
        self.protection = self.lead + 1.0
        self._static: np.ndarray | None = None

    def levels(self, forecast: np.ndarray) -> np.ndarray:
        """Order-up-to levels (B, N) for forecasts (B, N). With ``forecast_weight`` 0 the
        forecast is the long-run mean, so the levels are computed once."""
        if self.forecast_weight != 0.0:
            return self._levels(forecast)
        if self._static is None:
            self._static = self._levels(self.mean[None, :])[0]
        return np.broadcast_to(self._static, forecast.shape)

    def _levels(self, forecast: np.ndarray) -> np.ndarray:
        m = forecast * self.protection
        if self.safety == 0.0:
            return np.maximum(np.rint(m), 0.0)
        q = demand_quantile(m, self.ratio, self.dispersion)
        return np.maximum(np.rint(m + self.safety * (q - m)), 0.0)

    def state(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`FCPolicy.state`, with the forecast blended with the SKU's long-run mean:
        ``w f_i + (1 - w) mu_i`` (``w = forecast_weight``; 0 = static base stock)."""
        on_hand, pipeline, forecast = super().state(obs)
        w = self.forecast_weight
        return on_hand, pipeline, forecast if w == 1.0 else w * forecast + (1.0 - w) * self.mean

    def orders(self, on_hand, pipeline, forecast):
        return np.maximum(self.levels(forecast) - (on_hand + pipeline), 0.0)

    def params(self) -> dict[str, Any]:
        return {"safety": self.safety, "forecast_weight": self.forecast_weight}


class SsPolicy(ForecastBaseStock):
    """(s, S): ``s_i`` the base-stock level, ``S_i = s_i + batch_i`` (EOQ multiple ``m`` if
    K > 0, else ``m`` periods of forecast); order ``S_i - IP_i`` when ``IP_i <= s_i``."""

    name = "s_S"

    def __init__(self, problem: Problem, safety: float = 1.0, m: float = 1.0, forecast_weight: float = 1.0):
        super().__init__(problem, safety, forecast_weight)
        self.m = float(m)
        self.K = float(problem.config.fixed_order_cost)
        self.h = np.maximum(np.asarray(problem.holding, dtype=np.float64) * np.ones(self.n), 1e-9)

    def batch(self, forecast: np.ndarray) -> np.ndarray:
        if self.m == 0.0:  # (s, s): exactly base stock, so tuning can always fall back on it
            return np.zeros_like(forecast)
        if self.K > 0:
            eoq = np.sqrt(2.0 * self.K * np.maximum(forecast, 0.0) / self.h)
            return np.maximum(1.0, np.rint(self.m * eoq))
        return np.rint(self.m * forecast)

    def orders(self, on_hand, pipeline, forecast):
        s = self.levels(forecast)
        ip = on_hand + pipeline
        return np.where(ip <= s, s + self.batch(forecast) - ip, 0.0)

    def params(self) -> dict[str, Any]:
        return {"safety": self.safety, "m": self.m, "forecast_weight": self.forecast_weight}


class CapacityAwareBaseStock(ForecastBaseStock):
    """Base-stock orders scaled by a common factor in [0, 1] so that the projected volume at
    arrival fits ``fill_target x capacity`` (module docstring). ``fill_target = inf``:
    no throttle (base stock)."""

    name = "capacity_base_stock"

    def __init__(self, problem: Problem, safety: float = 1.0, fill_target: float = 1.0,
                 forecast_weight: float = 1.0):
        super().__init__(problem, safety, forecast_weight)
        self.fill_target = float(fill_target)
        self.volume = np.asarray(problem.volume, dtype=np.float64)
        self.capacity = float(problem.capacity)
        self.backorders = problem.config.backorders

    def orders(self, on_hand, pipeline, forecast):
        q = super().orders(on_hand, pipeline, forecast)
        target = self.fill_target * self.capacity
        if not math.isfinite(target):
            return q
        rest = on_hand + pipeline - forecast * self.lead  # expected stock just before arrival
        if not self.backorders:
            base = np.maximum(rest, 0.0) @ self.volume  # (B,)
            incoming = q @ self.volume
            with np.errstate(divide="ignore", invalid="ignore"):
                a = np.where(incoming > 0, (target - base) / incoming, 1.0)
        else:
            a = self._bisect(rest, q, target)
        a = np.clip(a, 0.0, 1.0)[:, None]
        return np.where(a < 1.0, np.floor(a * q), q)

    def _bisect(self, rest: np.ndarray, q: np.ndarray, target: float) -> np.ndarray:
        def volume(a):
            return np.maximum(rest + a[:, None] * q, 0.0) @ self.volume

        lo, hi = np.zeros(len(q)), np.ones(len(q))
        fits = volume(hi) <= target
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            ok = volume(mid) <= target
            lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        return np.where(fits, 1.0, lo)

    def params(self) -> dict[str, Any]:
        return {"safety": self.safety, "fill_target": self.fill_target, "forecast_weight": self.forecast_weight}


class RandomOrders(FCPolicy):
    """Uniform random orders on ``0 .. floor(2 f_i (L_i + 1))`` from its own generator."""

    name = "random"

    def __init__(self, problem: Problem, seed: int = 0):
        super().__init__(problem)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    def orders(self, on_hand, pipeline, forecast):
        high = np.floor(2.0 * forecast * (self.lead + 1.0))
        return np.floor(self.rng.random(high.shape) * (high + 1.0))

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}


FC_HEURISTICS: dict[str, type[FCPolicy]] = {
    "base_stock": ForecastBaseStock,
    "s_S": SsPolicy,
    "capacity_base_stock": CapacityAwareBaseStock,
    "random": RandomOrders,
}
