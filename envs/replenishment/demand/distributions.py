"""Demand models for the replenishment environments.

A :class:`DemandConfig` describes the distribution of one period's demand (a
non-negative integer). It can both *sample* (for simulation, always from a
NumPy ``Generator`` the caller owns) and give its *pmf* (for exact dynamic
programming and exact policy evaluation).

Distributions
-------------
``poisson``            Poisson(``mean``).
``negative_binomial``  mean ``mean`` and variance ``variance`` (> mean); NumPy's
                       (n, p) parameters are n = mean^2 / (variance - mean),
                       p = n / (n + mean).
``pmf``                an explicit pmf over 0, 1, ..., len(pmf) - 1 (must sum to 1).
``series``             a given demand series, replayed from its start and cycled.
                       Deterministic; for exact DP it is treated as i.i.d. draws from
                       its empirical distribution, which is then only an approximation.

Limits
------
The mean demand is at most ``MAX_MEAN`` = 100,000 per period (``LostSales-v0`` orders at most
``q_max`` <= 100,000 units a period, so a larger mean could never be met), and one period's
demand at most ``MAX_DEMAND`` = 200,000: the largest ``series`` value, ``len(pmf) - 1``, and
for ``negative_binomial`` the point beyond which the tail has probability < 1e-12 (so the
pmf arrays of the exact DP stay small; its variance is also at most ``MAX_DEMAND ** 2``). Quantiles of the demand over several periods are
closed-form for ``poisson`` (a sum of i.i.d. Poisson is Poisson) and ``negative_binomial``
(a sum of i.i.d. negative binomials with the same p is negative binomial), so building a
config takes well under a millisecond at any allowed mean.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft

from envs.core.config import ConfigError, check_choice, check_float, check_keys

DISTRIBUTIONS = ("poisson", "negative_binomial", "pmf", "series")
# pmf tails below this mass are dropped (and the remainder renormalised) for the DP.
PMF_TAIL = 1e-12
MAX_MEAN = 100_000.0
"""Largest mean demand per period (see the module docstring)."""
MAX_DEMAND = 200_000
"""Largest one-period demand a distribution may put mass on (see the module docstring)."""
# sum_pmf convolves directly up to this many multiply-adds (exact, as it always did), and
# beyond it raises the one-period spectrum to the power `periods` (one FFT).
DIRECT_CONVOLUTION_WORK = 50_000_000
# quantile tolerance: P(D <= y) >= q - QUANTILE_TOL (absorbs rounding in sums of pmfs)
QUANTILE_TOL = 1e-12


@dataclass(frozen=True)
class DemandConfig:
    """One period's demand distribution (see the module docstring).

    Limits: ``mean`` in (0, 100000] (``MAX_MEAN``); ``pmf`` at most 200,001 probabilities and
    ``series`` values at most 200,000 (``MAX_DEMAND``); a ``negative_binomial`` variance above
    200,000 ** 2 or so large that P(demand > 200,000) >= 1e-12 is refused."""

    distribution: str = "poisson"
    """One of ``poisson``, ``negative_binomial``, ``pmf``, ``series``."""
    mean: float = 5.0
    """Mean demand per period (``poisson`` and ``negative_binomial``), in (0, 100000]."""
    variance: float | None = None
    """Variance per period (``negative_binomial`` only; must exceed ``mean``)."""
    pmf: tuple[float, ...] | None = None
    """Probabilities of demand 0, 1, 2, ... (``pmf`` only; at most 200,001 entries)."""
    series: tuple[int, ...] | None = None
    """Demand of consecutive periods (``series`` only; integers in [0, 200000])."""
    _pmf_cache: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d = "env.demand"
        check_choice(f"{d}.distribution", self.distribution, DISTRIBUTIONS)
        if self.distribution in ("poisson", "negative_binomial"):
            object.__setattr__(self, "mean", check_float(f"{d}.mean", self.mean, 0.0, MAX_MEAN, strict_low=True))
        if self.distribution == "negative_binomial":
            self._check_variance(d)
        if self.distribution == "pmf":
            probs = _check_pmf(f"{d}.pmf", self.pmf)
            object.__setattr__(self, "pmf", probs)
            object.__setattr__(self, "mean", float(np.dot(np.arange(len(probs)), probs)))
        if self.distribution == "series":
            values = _check_series(f"{d}.series", self.series)
            object.__setattr__(self, "series", values)
            object.__setattr__(self, "mean", float(np.mean(values)))

    def _check_variance(self, d: str) -> None:
        if self.variance is None:
            raise ConfigError(f"{d}.variance: required for negative_binomial, a number > mean ({self.mean})")
        var = check_float(f"{d}.variance", self.variance, high=float(MAX_DEMAND) ** 2)
        if var <= self.mean:
            raise ConfigError(f"{d}.variance: expected a number > mean ({self.mean}) for negative_binomial, got {var}")
        object.__setattr__(self, "variance", var)
        from scipy import stats  # (imported on use: a slow import most commands never need)

        n, p = self.nbinom_params()
        if not stats.nbinom.sf(MAX_DEMAND, n, p) < PMF_TAIL:  # also refuses NaN
            raise ConfigError(
                f"{d}.variance: too large for mean {self.mean:g}: P(demand > {MAX_DEMAND}) must stay "
                f"below {PMF_TAIL:g} (the largest one-period demand supported), got {var:g}"
            )

    @classmethod
    def from_value(cls, value: Any) -> DemandConfig:
        """Build from a DemandConfig, a mapping (e.g. Hydra's ``env.demand``) or None."""
        if value is None:
            return cls()
        if isinstance(value, DemandConfig):
            return value
        if isinstance(value, Mapping):
            keys = ("distribution", "mean", "variance", "pmf", "series")
            check_keys("env.demand", value, keys)
            kwargs = dict(value)
            for key in ("pmf", "series"):
                if kwargs.get(key) is not None:
                    kwargs[key] = tuple(kwargs[key])
            return cls(**kwargs)
        raise ConfigError(f"env.demand: expected a mapping with keys distribution, mean, ..., got {value!r}")

    # -- probabilities -----------------------------------------------------------------
    def pmf_array(self) -> np.ndarray:
        """pmf of one period's demand over 0..d_max (tail < 1e-12 dropped, renormalised)."""
        if self._pmf_cache is not None:
            return self._pmf_cache
        if self.distribution == "poisson":
            dist = _Poisson(self.mean)
            probs = dist.pmf(np.arange(int(dist.isf(PMF_TAIL)) + 2))
        elif self.distribution == "negative_binomial":
            from scipy import stats

            n, p = self.nbinom_params()
            dist = stats.nbinom(n, p)
            probs = dist.pmf(np.arange(int(dist.isf(PMF_TAIL)) + 2))
        elif self.distribution == "pmf":
            probs = np.asarray(self.pmf, dtype=float)
        else:
            probs = np.bincount(np.asarray(self.series)).astype(float)
        probs = np.trim_zeros(probs, "b")
        probs = probs / probs.sum()
        probs.setflags(write=False)
        object.__setattr__(self, "_pmf_cache", probs)
        return probs

    def nbinom_params(self) -> tuple[float, float]:
        n = self.mean**2 / (self.variance - self.mean)
        return n, n / (n + self.mean)

    def sum_pmf(self, periods: int) -> np.ndarray:
        """pmf of the total demand over ``periods`` i.i.d. periods (``periods`` >= 1): the
        ``periods``-fold convolution of :meth:`pmf_array`, over 0..periods * d_max."""
        one = self.pmf_array()
        size = periods * (len(one) - 1) + 1
        if periods <= 1 or len(one) * size <= DIRECT_CONVOLUTION_WORK:
            out = one
            for _ in range(periods - 1):
                out = np.convolve(out, one)
            return out
        nfft = scipy.fft.next_fast_len(size, real=True)
        out = scipy.fft.irfft(scipy.fft.rfft(one, nfft) ** periods, nfft)[:size]
        np.maximum(out, 0.0, out=out)  # FFT round-off around zero
        return out / out.sum()

    def sum_quantile(self, periods: int, q: float) -> int:
        """Smallest y with P(demand over ``periods`` periods <= y) >= q (up to 1e-12).
        Closed-form for ``poisson`` and ``negative_binomial``; other distributions sum pmfs."""
        target = q - QUANTILE_TOL
        if target <= 0:
            return 0
        if self.distribution == "poisson":
            return _discrete_quantile(_Poisson(periods * self.mean), target)
        from scipy import stats

        if self.distribution == "negative_binomial":
            n, p = self.nbinom_params()
            return _discrete_quantile(stats.nbinom(periods * n, p), target)
        cdf = np.cumsum(self.sum_pmf(periods))
        return int(np.searchsorted(cdf, target))

    # -- sampling ----------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, size: int, start: int = 0) -> np.ndarray:
        """Draw ``size`` periods of demand (int64). ``start`` is the series position."""
        if self.distribution == "poisson":
            return rng.poisson(self.mean, size)
        if self.distribution == "negative_binomial":
            n, p = self.nbinom_params()
            return rng.negative_binomial(n, p, size)
        if self.distribution == "pmf":
            cdf = np.cumsum(self.pmf)
            return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)
        series = np.asarray(self.series, dtype=np.int64)
        return series[(start + np.arange(size)) % len(series)]


class _Poisson:
    """``scipy.stats.poisson(mu)``'s ``ppf`` (for 0 < q < 1), ``isf``, ``cdf`` and ``pmf`` (for y >= 0),
    computed as SciPy computes them (the same ``scipy.special`` calls, so the same numbers)
    without importing ``scipy.stats``, about two CPU-seconds that most commands never need."""

    def __init__(self, mu: float):
        self.mu = mu

    def ppf(self, q: float) -> float:
        from scipy import special

        above = np.ceil(special.pdtrik(q, self.mu))
        below = np.maximum(above - 1, 0)
        return below if special.pdtr(below, self.mu) >= q else above

    def isf(self, q: float) -> float:
        return self.ppf(1.0 - q)

    def cdf(self, y: int) -> float:
        from scipy import special

        return special.pdtr(np.floor(y), self.mu)

    def pmf(self, y: np.ndarray) -> np.ndarray:
        from scipy import special

        return np.clip(np.exp(special.xlogy(y, self.mu) - special.gammaln(y + 1) - self.mu), 0, 1)


def _discrete_quantile(dist: Any, target: float) -> int:
    """Smallest integer y with ``dist.cdf(y) >= target`` (0 < target < 1): SciPy's ppf, then
    corrected by whole steps so that rounding inside ppf cannot shift the answer."""
    y = float(dist.ppf(target))
    y = int(y) if np.isfinite(y) else int(dist.isf(1.0 - target))
    while y > 0 and dist.cdf(y - 1) >= target:
        y -= 1
    while dist.cdf(y) < target:
        y += 1
    return y


def _items(field_name: str, value: Any, what: str) -> tuple:
    if value is None or isinstance(value, (str, bytes, Mapping)):
        raise ConfigError(f"{field_name}: expected a non-empty list of {what}, got {_short(value)}")
    try:
        items = tuple(value)
    except TypeError:
        raise ConfigError(f"{field_name}: expected a non-empty list of {what}, got {_short(value)}") from None
    if not items:
        raise ConfigError(f"{field_name}: expected a non-empty list of {what}, got {_short(value)}")
    return items


def _check_pmf(field_name: str, value: Any) -> tuple[float, ...]:
    """Probabilities in [0, 1] summing to 1, at most MAX_DEMAND + 1 of them; the message names
    the first bad entry (or the sum)."""
    what = f"at most {MAX_DEMAND + 1} probabilities in [0, 1] summing to 1"
    items = _items(field_name, value, what)
    if len(items) > MAX_DEMAND + 1:
        raise ConfigError(f"{field_name}: expected {what}, got {len(items)} entries")
    for i, x in enumerate(items):
        real = isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))
        if not real or not 0.0 <= x <= 1.0:  # also NaN
            raise ConfigError(f"{field_name}: expected {what}, got pmf[{i}] = {_short(x)}")
    probs = tuple(float(x) for x in items)
    total = math.fsum(probs)
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(f"{field_name}: expected {what}, got sum {total:.6g}")
    return probs


def _check_series(field_name: str, value: Any) -> tuple[int, ...]:
    what = f"integers in [0, {MAX_DEMAND}]"
    items = _items(field_name, value, what)
    out = []
    for i, x in enumerate(items):
        real = isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))
        if not real or not 0 <= x <= MAX_DEMAND or not float(x).is_integer():  # also NaN
            raise ConfigError(f"{field_name}: expected {what}, got series[{i}] = {_short(x)}")
        out.append(int(x))
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
