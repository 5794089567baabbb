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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from envs.core.config import ConfigError, check_choice, check_float, check_keys

DISTRIBUTIONS = ("poisson", "negative_binomial", "pmf", "series")
# pmf tails below this mass are dropped (and the remainder renormalised) for the DP.
PMF_TAIL = 1e-12


@dataclass(frozen=True)
class DemandConfig:
    """One period's demand distribution (see the module docstring)."""

    distribution: str = "poisson"
    """One of ``poisson``, ``negative_binomial``, ``pmf``, ``series``."""
    mean: float = 5.0
    """Mean demand per period (``poisson`` and ``negative_binomial``)."""
    variance: float | None = None
    """Variance per period (``negative_binomial`` only; must exceed ``mean``)."""
    pmf: tuple[float, ...] | None = None
    """Probabilities of demand 0, 1, 2, ... (``pmf`` only)."""
    series: tuple[int, ...] | None = None
    """Demand of consecutive periods (``series`` only)."""
    _pmf_cache: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d = "env.demand"
        check_choice(f"{d}.distribution", self.distribution, DISTRIBUTIONS)
        if self.distribution in ("poisson", "negative_binomial"):
            object.__setattr__(self, "mean", check_float(f"{d}.mean", self.mean, 0.0, strict_low=True))
        if self.distribution == "negative_binomial":
            if self.variance is None:
                raise ConfigError(f"{d}.variance: required for negative_binomial, a number > mean ({self.mean})")
            var = check_float(f"{d}.variance", self.variance)
            if var <= self.mean:
                raise ConfigError(
                    f"{d}.variance: expected a number > mean ({self.mean}) for negative_binomial, got {var}"
                )
            object.__setattr__(self, "variance", var)
        if self.distribution == "pmf":
            probs = _as_float_tuple(f"{d}.pmf", self.pmf)
            if any(x < 0 for x in probs) or abs(sum(probs) - 1.0) > 1e-9:
                raise ConfigError(f"{d}.pmf: expected non-negative probabilities summing to 1, got sum {sum(probs):.6g}")
            object.__setattr__(self, "pmf", probs)
            object.__setattr__(self, "mean", float(np.dot(np.arange(len(probs)), probs)))
        if self.distribution == "series":
            if self.series is None or len(self.series) == 0:
                raise ConfigError(f"{d}.series: expected a non-empty list of integers >= 0, got {self.series!r}")
            values = []
            for x in self.series:
                if isinstance(x, bool) or not float(x).is_integer() or x < 0:
                    raise ConfigError(f"{d}.series: expected integers >= 0, got {x!r}")
                values.append(int(x))
            object.__setattr__(self, "series", tuple(values))
            object.__setattr__(self, "mean", float(np.mean(values)))

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
            dist = stats.poisson(self.mean)
            probs = dist.pmf(np.arange(int(dist.isf(PMF_TAIL)) + 2))
        elif self.distribution == "negative_binomial":
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
        """pmf of the total demand over ``periods`` i.i.d. periods (``periods`` >= 1)."""
        one = self.pmf_array()
        out = one
        for _ in range(periods - 1):
            out = np.convolve(out, one)
        return out

    def sum_quantile(self, periods: int, q: float) -> int:
        """Smallest y with P(demand over ``periods`` periods <= y) >= q."""
        cdf = np.cumsum(self.sum_pmf(periods))
        return int(np.searchsorted(cdf, q - 1e-12))

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


def _as_float_tuple(field_name: str, value: Any) -> tuple[float, ...]:
    try:
        out = tuple(float(x) for x in value)
    except TypeError:
        out = ()
    if not out:
        raise ConfigError(f"{field_name}: expected a non-empty list of probabilities, got {value!r}")
    return out
