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
    the critical ratio ``p'_i / (p'_i + h_i)``, where ``p'_i = p_i`` with backorders and,
    with lost sales, ``p'_i = p_i + price_i [revenue] - c_i [purchase_cost]`` floored at 0
    (a lost sale forfeits the price when revenue is counted, and saves the unit cost
    when purchases are charged: every unit bought is eventually sold, the long-run
    argument of ``LostSalesConfig.critical_ratio``). The demand distribution is Poisson(M_i); with
    ``demand.distribution = negative_binomial`` it is the negative binomial with mean M_i
    and variance ``dispersion x M_i`` (the exact sum of L_i + 1 i.i.d. periods of the
    model's gamma-Poisson demand); intermittent SKUs (``catalogue.intermittency < 1``) use
    a negative binomial whose variance-to-mean ratio matches one period of their
    compound demand at the long-run mean (``1 - q/m + m/q - m`` for occurrence
    probability q and mean m >= q; Poisson when that is <= 1). Replayed (CSV) demand uses
    Poisson. The order-up-to level is

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

Tuning
------
Parameters are tuned by simulation with common random numbers (CRN): every candidate is
evaluated by :func:`agents.fc_evaluation.run_episodes` on the same ``reps`` (default 4)
episodes with seeds ``TUNE_SEED_BASE + r`` (``agents.lost_sales.rollout``; disjoint from the
evaluation seeds ``EVAL_SEED_BASE + r``; with replayed CSV demand and a fixed test window,
on random windows of the history before it: :func:`tuning_problem`), with the config's episode length (or
``periods``) and ``warmup`` periods not measured (default min(28, length // 4)); the
criterion is the mean cost per period. Each 1-D search evaluates a coarse grid, extends
it (at most 3 steps) when the best point is on an open edge, then halves the step twice
around the best point (evaluations are cached; ties go to the first evaluated value):

* ``base_stock``: for each ``forecast_weight`` in {0, 0.5, 1}, ``safety`` on
  {0, 0.5, 1, 1.5, 2} (extended in steps of 0.5, not below -1, e.g. when capacity is
  tight), refined to 0.125; the best pair is kept (and used by the two below).
* ``s_S``: ``safety`` starts at the tuned base-stock value; ``m`` is searched on
  {0, 0.5, 1, 2, 3, 5} (K = 0; refined to 0.25) or {0, 0.25, 0.5, 1, 1.5, 2, 3} (K > 0;
  refined to 0.125), m = 0 (base stock) first so that it wins ties; then ``safety`` is re-searched around its value (+-0.25, +-0.125)
  with ``m`` fixed (one round of coordinate descent).
* ``capacity_base_stock``: ``safety`` starts at the tuned base-stock value;
  ``fill_target`` is searched on {0.6, 0.7, ..., 1.3} plus infinity (= ``base_stock``,
  so the tuned throttle never loses to base stock on the tuning episodes), refined to
  0.025; then ``safety`` is re-searched around its value with ``fill_target`` fixed.
  Unlimited capacity: no throttle to tune, it takes the base-stock ``safety``.

The tuned policy carries ``tuning_cost`` (mean tuning cost per period of the winner,
slightly optimistic), ``tuning_ci95`` and ``tuning`` (evaluations, seconds, settings).
Tuning is deterministic: the same problem gives the same parameters. The tuned
base-stock result is cached per :class:`Problem` object and tuning settings, so
building the three tuned policies for one problem tunes ``safety`` once.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import special

from agents.lost_sales.rollout import TUNE_SEED_BASE
from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.simulator import GLOBAL_FEATURES, SKU_FEATURES

log = logging.getLogger(__name__)
TUNE_REPS = 4
# weights of the smoothed forecast against the SKU's long-run mean demand, searched when
# tuning: 0 = static base stock (best for stationary demand), 1 = pure smoothed forecast
FORECAST_WEIGHTS = (0.0, 0.5, 1.0)
TUNE_WARMUP = 28
RATIO_EPS = 1e-9
MAX_STEPS = 200  # quantile correction steps (a handful are needed from the initial guess)
BISECTION_STEPS = 30
SAFETY_LOW = -1.0  # lowest safety searched: S = M - (Q - M)

# -- demand quantiles -------------------------------------------------------------------


def demand_quantile(mean, ratio, dispersion=1.0) -> np.ndarray:
    """Elementwise smallest integer k >= 0 with P(D <= k) >= ratio, where D is Poisson(mean)
    when ``dispersion`` <= 1, else negative binomial with that mean and variance
    ``dispersion x mean``. Arrays broadcast; equals ``scipy.stats.poisson.ppf`` /
    ``nbinom.ppf`` (n = mean / (dispersion - 1), p = 1 / dispersion), but fast: a
    Cornish-Fisher guess corrected by CDF evaluations."""
    mean, ratio, phi = np.broadcast_arrays(np.maximum(np.asarray(mean, dtype=np.float64), 1e-12),
                                           np.clip(np.asarray(ratio, dtype=np.float64), RATIO_EPS, 1 - RATIO_EPS),
                                           np.maximum(np.asarray(dispersion, dtype=np.float64), 1.0))
    shape = mean.shape
    mean, ratio, phi = mean.ravel(), ratio.ravel(), phi.ravel()
    z = special.ndtri(ratio)
    guess = mean + np.sqrt(phi * mean) * z + (z * z - 1.0) * (2.0 * phi - 1.0) / 6.0
    k = np.maximum(np.rint(guess), 0.0)
    nb = phi > 1.0
    kind = "poisson" if not nb.any() else "nb" if nb.all() else "mixed"
    n_nb, p_nb = mean / np.maximum(phi - 1.0, 1e-12), 1.0 / phi

    def cdf(kk: np.ndarray, i) -> np.ndarray:
        """P(D <= kk) for the elements ``i`` (NaN or 0 for kk = -1: never >= ratio)."""
        if kind == "poisson":
            return special.pdtr(kk, mean[i])
        neg = special.betainc(n_nb[i], kk + 1.0, p_nb[i])  # NB(n, p) cdf(k) = I_p(n, k + 1)
        return neg if kind == "nb" else np.where(nb[i], neg, special.pdtr(kk, mean[i]))

    every = slice(None)
    wrong = (cdf(k - 1.0, every) >= ratio) | (cdf(k, every) < ratio)
    idx = np.flatnonzero(wrong)
    for _ in range(MAX_STEPS):  # step down while the CDF one below already reaches the ratio
        if not idx.size:
            break
        down = cdf(k[idx] - 1.0, idx) >= ratio[idx]
        idx = idx[down]
        k[idx] -= 1.0
    idx = np.flatnonzero(wrong)
    for _ in range(MAX_STEPS):  # step up while the CDF falls short of the ratio
        if not idx.size:
            break
        up = cdf(k[idx], idx) < ratio[idx]
        idx = idx[up]
        k[idx] += 1.0
    return k.reshape(shape)


def critical_ratio(problem: Problem) -> np.ndarray:
    """Per-SKU newsvendor ratio ``p' / (p' + h)`` (see the module docstring for p')."""
    cfg = problem.config
    p = np.asarray(problem.penalty, dtype=np.float64) * np.ones(problem.n)
    h = np.asarray(problem.holding, dtype=np.float64) * np.ones(problem.n)
    if not cfg.backorders:
        if cfg.revenue:
            p = p + problem.price
        if cfg.purchase_cost:
            p = p - problem.unit_cost
        p = np.maximum(p, 0.0)
    total = p + h
    return np.divide(p, total, out=np.zeros(problem.n), where=total > 0)


def demand_dispersion(problem: Problem) -> np.ndarray:
    """Per-SKU variance-to-mean ratio of one period's demand used for the quantiles."""
    cfg, cat = problem.config, problem.catalogue
    phi = np.ones(problem.n)
    if cfg.catalogue == "csv":
        return phi
    model = cfg.demand
    if model.distribution == "negative_binomial":
        phi[:] = model.dispersion
    if model.intermittent:
        q = np.asarray(cat.intermittency, dtype=np.float64)
        m = problem.mean_demand
        irregular = q < 1.0
        matched = np.where(m >= q, 1.0 - q / m + m / q - m, 1.0 - m)
        phi = np.where(irregular, np.maximum(matched, 1.0), phi)
    return phi


# -- policies ---------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class FCPolicy:
    """Base class: parses the centralised flat observation and clips orders to [0, q_max].

    Subclasses implement :meth:`orders` on arrays (B, N) of on-hand stock, pipeline units
    and forecasts and return orders (B, N)."""

    name = "fc_policy"
    action_type = "order"
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
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


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

    def levels(self, forecast: np.ndarray) -> np.ndarray:
        """Order-up-to levels (B, N) for forecasts (B, N)."""
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

# -- tuning -----------------------------------------------------------------------------


class _Evaluator:
    """Mean tuning cost per period of a policy (CRN on the tuning seeds), cached."""

    def __init__(self, problem: Problem, reps: int, periods: int | None, warmup: int | None):
        cfg = problem.config
        if periods is not None and periods != cfg.episode_length:
            problem = Problem(replace(cfg, episode_length=int(periods)), problem.catalogue)
        problem = tuning_problem(problem)
        length = problem.config.episode_length
        self.problem = problem
        self.warmup = min(TUNE_WARMUP, length // 4) if warmup is None else int(warmup)
        self.seeds = [TUNE_SEED_BASE + r for r in range(int(reps))]
        self.cache: dict[tuple, tuple[float, float]] = {}

    def __call__(self, policy: FCPolicy) -> float:
        key = (type(policy).__name__, *policy.params().values())
        if key not in self.cache:
            from agents.fulfillment_center.rollout import ci95, run_episodes

            cost = run_episodes(self.problem, policy, self.seeds, self.warmup)["cost"]
            self.cache[key] = (float(cost.mean()), ci95(cost))
        return self.cache[key][0]

    def ci(self, policy: FCPolicy) -> float:
        self(policy)
        return self.cache[(type(policy).__name__, *policy.params().values())][1]


def tuning_problem(problem: Problem) -> Problem:
    """The problem heuristics are tuned on: :meth:`Problem.training_split` (fresh demand
    from the tuning seeds; with a replayed CSV history and a fixed test window, random
    windows of the history before the test window)."""
    return problem.training_split()


def _search(cost, grid, step: float, min_step: float, low: float = -math.inf,
            high: float = math.inf, start: dict[float, float] | None = None) -> tuple[float, float]:
    """Minimise ``cost(x)`` over a 1-D grid: coarse grid, edge extension, local halving.
    Returns (best x, its cost). ``start``: known costs (kept)."""
    costs: dict[float, float] = dict(start or {})

    def at(x: float) -> float:
        x = round(x, 6)
        if x not in costs:
            costs[x] = cost(x)
        return costs[x]

    for x in grid:
        at(x)

    def best() -> float:
        return min(costs, key=lambda x: (costs[x], list(costs).index(x)))

    for _ in range(3):  # extend an open edge the best point sits on
        finite = [x for x in costs if math.isfinite(x)]
        b = best()
        if b == max(finite) and b + step <= high:
            at(b + step)
        elif b == min(finite) and b - step >= low:
            at(b - step)
        else:
            break
    while step / 2 >= min_step - 1e-12:
        step /= 2
        b = best()
        if math.isfinite(b):
            for x in (b - step, b + step):
                if low <= x <= high:
                    at(x)
    b = best()
    return b, costs[b]


def _around(x: float) -> list[float]:
    """The current value first (it wins ties), then its neighbours at +-0.25 (>= SAFETY_LOW)."""
    return [x, *(v for v in (x - 0.25, x + 0.25) if v >= SAFETY_LOW)]


_BASE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tuned_safety(problem: Problem, ev: _Evaluator, key: tuple, cache: bool) -> tuple[float, float, float]:
    """The base-stock ``safety`` and ``forecast_weight``: ``safety`` searched for each weight
    of ``FORECAST_WEIGHTS``, the best pair kept. Returns (safety, weight, cost)."""
    if cache and key in _BASE_CACHE.get(problem, {}):
        return _BASE_CACHE[problem][key]
    best = None
    for w in FORECAST_WEIGHTS:
        safety, cost = _search(lambda x, w=w: ev(ForecastBaseStock(problem, x, w)), [0.0, 0.5, 1.0, 1.5, 2.0],
                               step=0.5, min_step=0.125, low=SAFETY_LOW)
        if best is None or cost < best[2]:
            best = (safety, w, cost)
    if cache:
        _BASE_CACHE.setdefault(problem, {})[key] = best
    return best


def tune_fc(name: str, problem: Problem, *, reps: int = TUNE_REPS, periods: int | None = None,
            warmup: int | None = None, cache: bool = True) -> FCPolicy:
    """Tune heuristic ``name`` for ``problem`` by CRN simulation (module docstring).
    ``periods``: tuning episode length (default: the config's); ``warmup``: periods not
    measured (default min(28, length // 4)); ``cache``: reuse the tuned base-stock safety."""
    if name not in FC_HEURISTICS or name == "random":
        raise ConfigError(f"fc_agents: {name!r} is not a tunable heuristic; tunable: base_stock, s_S, "
                          f"capacity_base_stock")
    start = time.perf_counter()
    ev = _Evaluator(problem, reps, periods, warmup)
    key = (int(reps), ev.problem.config.episode_length, ev.warmup)
    safety, w, _ = _tuned_safety(problem, ev, key, cache)
    if name == "base_stock":
        policy: FCPolicy = ForecastBaseStock(problem, safety, w)
    elif name == "s_S":
        if problem.config.fixed_order_cost > 0:
            grid, step = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0], 0.5
        else:
            grid, step = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0], 1.0
        # m = 0 is base stock itself, evaluated first: it wins ties, so the tuned (s, S)
        # never does worse than the tuned base stock on the tuning episodes
        m, _ = _search(lambda x: ev(SsPolicy(problem, safety, x, w)), grid, step=step, min_step=step / 4, low=0.0)
        safety, _ = _search(lambda x: ev(SsPolicy(problem, x, m, w)), _around(safety), step=0.25,
                            min_step=0.125, low=SAFETY_LOW)
        policy = SsPolicy(problem, safety, m, w)
    else:
        fill = math.inf
        if problem.limited:
            base_cost = ev(ForecastBaseStock(problem, safety, w))
            grid = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
            fill, _ = _search(lambda x: ev(CapacityAwareBaseStock(problem, safety, x, w)), grid, step=0.1,
                              min_step=0.025, low=0.05, start={math.inf: base_cost})
            if math.isfinite(fill):
                safety, _ = _search(lambda x: ev(CapacityAwareBaseStock(problem, x, fill, w)), _around(safety),
                                    step=0.25, min_step=0.125, low=SAFETY_LOW)
        policy = CapacityAwareBaseStock(problem, safety, fill, w)
    policy.tuning_cost = ev(policy)
    policy.tuning_ci95 = ev.ci(policy)
    policy.tuning = {"evaluations": len(ev.cache), "seconds": round(time.perf_counter() - start, 2),
                     "reps": int(reps), "periods": ev.problem.config.episode_length, "warmup": ev.warmup,
                     "seed_base": TUNE_SEED_BASE}
    return policy


def make_fc_agent(name: str, problem: Problem, *, seed: int = 0, **tuning: Any) -> FCPolicy:
    """A ready fulfilment-centre heuristic: tuned (``base_stock``, ``s_S``,
    ``capacity_base_stock``; keyword arguments go to :func:`tune_fc`) or seeded (``random``)."""
    if name not in FC_HEURISTICS:
        raise ConfigError(f"fc_agents: unknown agent {name!r}; accepted agents are {', '.join(FC_HEURISTICS)}")
    if name == "random":
        return RandomOrders(problem, seed=seed)
    return tune_fc(name, problem, **tuning)
