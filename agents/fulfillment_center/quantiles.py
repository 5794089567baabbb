"""Demand quantiles and newsvendor ratios of the fulfilment-centre heuristics.

``p'_i`` is the effective shortage cost of SKU i: ``p_i`` with backorders and, with lost
sales, ``p_i + price_i [revenue] - c_i [purchase_cost]`` floored at 0 (a lost sale forfeits
the price when revenue is counted, and saves the unit cost when purchases are charged:
every unit bought is eventually sold, the long-run argument of
``LostSalesConfig.critical_ratio``). Demand over a protection interval is Poisson; with
``demand.distribution = negative_binomial`` it is the negative binomial with variance
``dispersion x mean`` (the exact sum of i.i.d. periods of the model's gamma-Poisson
demand); intermittent SKUs (``catalogue.intermittency < 1``) use a negative binomial whose
variance-to-mean ratio matches one period of their compound demand at the long-run mean
(``1 - q/m + m/q - m`` for occurrence probability q and mean m >= q; Poisson when that is
<= 1). Replayed (CSV) demand uses Poisson.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from envs.replenishment.fulfillment_center.config import Problem

RATIO_EPS = 1e-9
MAX_STEPS = 200  # quantile correction steps (a handful are needed from the initial guess)


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
