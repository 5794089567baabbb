"""Multi-SKU demand: a configurable stochastic model and a history replayer.

:class:`DemandModelConfig` describes the demand of every SKU of a catalogue
(:mod:`envs.replenishment.demand.catalogue`); :class:`DemandProcess` generates it in blocks of
periods (days), all randomness coming from the NumPy ``Generator`` passed to
:meth:`DemandProcess.reset`.

Calendar
--------
Periods are days with an integer index ``t``. For a catalogue with ``dates``, day 0 is
``dates[0]`` and the weekday / day of year follow the calendar. Otherwise (synthetic and
uniform catalogues) day 0 is a Monday and the first day of a year (e.g. 2024-01-01), so the
weekday is ``t % 7`` (0 = Monday) and the day of year ``t % 365``.

Model
-----
The expected demand of SKU i on day t, without promotions, is (:meth:`DemandProcess.rate`)::

    rate[t, i] = mean_demand[i] * weekly[weekday(t)]
                 * (1 + A * cos(2 pi (doy(t) - yearly_peak_day) / 365))
                 * (1 + trend) ** (t / 365) * alive[t, i]

with ``weekly`` normalised to mean 1 (1 when None), ``A = yearly_amplitude`` and
``alive[t, i] = (launch_day[i] <= 0 or t >= launch_day[i]) and t < retire_day[i]``.
A running promotion multiplies the rate by ``promo_uplift``.

Demand given the rate r:

* regular SKUs (``intermittency[i] == 1``, or every SKU when ``intermittent`` is False):
  Poisson(r), or negative binomial with mean r and variance ``dispersion * r`` (drawn as
  Poisson(Gamma(shape r / (dispersion - 1), scale dispersion - 1)));
* intermittent SKUs (``p = intermittency[i] < 1``): a period has demand with probability
  ``min(p, r)``, and then its size is ``1 + Poisson(max(r / p - 1, 0))``. The mean is exactly
  r for every r (size 1 when r < p), and zero when r = 0. ``distribution`` does not apply.

Promotions: each SKU carries the number of periods its running promotion still lasts. In
every period without a running promotion one starts with probability ``promo_probability``
and covers ``promo_length`` periods, that one included. The state carries across blocks and
is cleared by :meth:`DemandProcess.reset` (no promotion running at the start).

Random draws of one block of S periods, in this order, each only when needed:
``rng.random((S, N))`` (promotion starts, if ``promo_probability > 0``), the regular SKUs'
amounts (``rng.poisson``; or ``rng.gamma`` then ``rng.poisson``), ``rng.random((S, K))``
for the K intermittent SKUs' occurrences, then ``rng.poisson`` of the occurring sizes.
With the default model (Poisson, flat, no promotions) and only regular SKUs alive
throughout, a block is exactly one call ``rng.poisson(mean_demand, size=(S, N))``, so a
one-SKU catalogue reproduces ``rng.poisson(mean, S)``. The draws depend on the block size:
two blocks of 5 periods follow the same distribution as one block of 10 but are not
identical to it (row-major draws); replayed histories are identical either way.

Replay (``replay=True``): the demand of day t is ``catalogue.history[t]``; :meth:`rate` is
the mean of the 28 days before t (``mean_demand`` for t < 28).

Limits: ``dispersion`` at most 1e6; the expected demand of a SKU on any generated day
(rate x promotion uplift) at most ``MAX_DAILY_DEMAND`` = 1e9, so that draws and int64 stock
arithmetic cannot overflow. ``FulfillmentConfig`` checks an upper bound of it when the
problem is built; :meth:`DemandProcess.next_block` checks the rates it draws from.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from envs.core.config import (
    MAX_DAILY_DEMAND,
    ConfigError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
)

DEMAND_DISTRIBUTIONS = ("poisson", "negative_binomial")
REPLAY_RATE_WINDOW = 28
"""Days of history averaged by :meth:`DemandProcess.rate` in replay mode."""
MAX_DISPERSION = 1e6
"""Largest variance / mean of ``negative_binomial`` demand."""


@dataclass(frozen=True)
class DemandModelConfig:
    """Stochastic demand model of a multi-SKU catalogue (see the module docstring)."""

    distribution: str = "poisson"
    """``poisson`` or ``negative_binomial`` (regular SKUs)."""
    dispersion: float = 2.0
    """Variance / mean of ``negative_binomial`` demand, in (1, 1e6] (ignored for ``poisson``)."""
    weekly: tuple[float, ...] | None = None
    """7 day-of-week multipliers, Monday..Sunday, normalised to mean 1; None = flat."""
    yearly_amplitude: float = 0.0
    """A in [0, 1): the rate is multiplied by 1 + A cos(2 pi (day of year - yearly_peak_day) / 365)."""
    yearly_peak_day: int = 330
    """Day of year (0..364, 0 = 1 January) of the seasonal peak (330: late November)."""
    trend: float = 0.0
    """Growth per 365 days, > -1: the rate is multiplied by (1 + trend) ** (day / 365)."""
    promo_probability: float = 0.0
    """Per SKU and period, probability in [0, 1] that a promotion starts (when none is running)."""
    promo_length: int = 7
    """Periods a promotion lasts (>= 1)."""
    promo_uplift: float = 2.0
    """Rate multiplier during a promotion (>= 1)."""
    intermittent: bool = True
    """Use the catalogue's per-SKU intermittency; False treats every SKU as regular."""

    def __post_init__(self) -> None:
        d = "env.demand"
        check_choice(f"{d}.distribution", self.distribution, DEMAND_DISTRIBUTIONS)
        object.__setattr__(
            self, "dispersion", check_float(f"{d}.dispersion", self.dispersion, 1.0, MAX_DISPERSION, strict_low=True)
        )
        if self.weekly is not None:
            object.__setattr__(self, "weekly", _check_weekly(f"{d}.weekly", self.weekly))
        amp = check_float(f"{d}.yearly_amplitude", self.yearly_amplitude, 0.0)
        if amp >= 1.0:
            raise ConfigError(f"{d}.yearly_amplitude: expected a finite number in [0, 1), got {amp!r}")
        object.__setattr__(self, "yearly_amplitude", amp)
        object.__setattr__(
            self, "yearly_peak_day", check_int(f"{d}.yearly_peak_day", self.yearly_peak_day, 0, 364)
        )
        object.__setattr__(self, "trend", check_float(f"{d}.trend", self.trend, -1.0, strict_low=True))
        object.__setattr__(
            self,
            "promo_probability",
            check_float(f"{d}.promo_probability", self.promo_probability, 0.0, 1.0),
        )
        object.__setattr__(self, "promo_length", check_int(f"{d}.promo_length", self.promo_length, 1))
        object.__setattr__(
            self, "promo_uplift", check_float(f"{d}.promo_uplift", self.promo_uplift, 1.0)
        )
        object.__setattr__(self, "intermittent", check_bool(f"{d}.intermittent", self.intermittent))

    @classmethod
    def from_value(cls, value: Any) -> DemandModelConfig:
        """Build from a DemandModelConfig, a mapping (e.g. Hydra's ``env.demand``) or None."""
        if value is None:
            return cls()
        if isinstance(value, DemandModelConfig):
            return value
        if isinstance(value, Mapping):
            check_keys("env.demand", value, [f.name for f in fields(cls)])
            kwargs = dict(value)
            weekly = kwargs.get("weekly")
            if weekly is not None and not isinstance(weekly, (str, bytes, Mapping)):
                try:
                    kwargs["weekly"] = tuple(weekly)
                except TypeError:
                    pass  # reported by __post_init__
            return cls(**kwargs)
        raise ConfigError(
            f"env.demand: expected a mapping with keys distribution, dispersion, weekly, ..., "
            f"got {_short(value)}"
        )

    @property
    def is_default_shape(self) -> bool:
        """True when the rate is flat in time and promotions are off (Poisson or not)."""
        return (
            self.weekly is None
            and self.yearly_amplitude == 0.0
            and self.trend == 0.0
            and self.promo_probability == 0.0
        )


class DemandProcess:
    """Per-SKU demand for N SKUs, generated in blocks of periods; all randomness from the rng
    passed to :meth:`reset` (see the module docstring for the model and the draws)."""

    def __init__(self, model: DemandModelConfig, catalogue: Any, replay: bool = False):
        """``catalogue``: an :class:`envs.replenishment.demand.catalogue.Catalogue` (not imported
        here: the catalogue module builds on this one)."""
        self.model = model = DemandModelConfig.from_value(model)
        self.catalogue = catalogue
        self.replay = bool(replay)
        self.n = n = int(catalogue.n)
        self._mean = np.asarray(catalogue.mean_demand, dtype=np.float64)
        self._launch = np.asarray(catalogue.launch_day, dtype=np.int64)
        self._retire = np.asarray(catalogue.retire_day, dtype=np.int64)
        self._always_from_start = self._launch <= 0
        self._latest_launch = int(self._launch.max(initial=0))
        self._earliest_retire = int(self._retire.min(initial=np.iinfo(np.int64).max))
        dow0 = doy0 = 0
        if catalogue.dates is not None and len(catalogue.dates):
            first = np.datetime64(catalogue.dates[0], "D")
            dow0 = int((first.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday; Monday = 0
            year_start = first.astype("datetime64[Y]").astype("datetime64[D]")
            doy0 = int((first - year_start).astype(np.int64))
        self._dow0, self._doy0 = dow0, doy0
        self._weekly = None
        if model.weekly is not None:
            w = np.asarray(model.weekly, dtype=np.float64)
            self._weekly = w / w.mean()
        p = np.asarray(catalogue.intermittency, dtype=np.float64)
        irregular = (p < 1.0) if model.intermittent else np.zeros(n, dtype=bool)
        self._int_idx = np.flatnonzero(irregular)
        self._reg_idx = np.flatnonzero(~irregular)
        self._p_int = p[self._int_idx]
        self._all_regular = self._int_idx.size == 0
        if self.replay:
            hist = catalogue.history
            if hist is None:
                raise ConfigError("env.catalogue: replay needs a catalogue with a demand history (csv)")
            self._history = np.asarray(hist, dtype=np.int64)
            self._cum = np.zeros((len(self._history) + 1, n), dtype=np.float64)
            np.cumsum(self._history, axis=0, out=self._cum[1:])
        self._rng: np.random.Generator | None = None
        self._day = 0
        self._promo_left = np.zeros(n, dtype=np.int64)

    # -- state -------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, start_day: int) -> None:
        """Start a new stream at day ``start_day``; draws nothing from ``rng``."""
        start_day = int(start_day)
        if self.replay and not 0 <= start_day < len(self._history):
            raise ConfigError(
                f"env.start_day: expected a day in [0, {len(self._history) - 1}] of the demand "
                f"history, got {start_day}"
            )
        self._rng = rng
        self._day = start_day
        self._promo_left[:] = 0

    @property
    def day(self) -> int:
        """The day index of the next period to be generated."""
        return self._day

    def next_size(self, size: int) -> int:
        """``size``, or fewer periods if a replayed history ends sooner; a RuntimeError if it
        has ended (a simulator stepped past the last day of its history)."""
        if not self.replay:
            return size
        size = min(size, len(self._history) - self._day)
        if size <= 0:
            raise RuntimeError(f"step() called after the last day of the demand history "
                               f"(day {len(self._history) - 1}); call reset() first")
        return size

    # -- demand ------------------------------------------------------------------------
    def next_block(self, size: int) -> np.ndarray:
        """int64 array (size, N): demand of the next ``size`` periods (the stream continues)."""
        size = int(size)
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        start = self._day
        if self.replay:
            end = start + size
            if end > len(self._history):
                raise ConfigError(
                    f"env.episode_length: the demand history has {len(self._history)} days, "
                    f"days {start}..{end - 1} were requested (shorten the episode or start earlier)"
                )
            self._day = end
            return self._history[start:end].copy()
        rng = self._rng
        if rng is None:
            raise RuntimeError("DemandProcess.reset(rng, start_day) must be called first")
        model, n = self.model, self.n
        self._day = start + size
        if size == 0:
            return np.zeros((0, n), dtype=np.int64)
        days = np.arange(start, start + size, dtype=np.int64)
        flat = (
            model.is_default_shape
            and self._all_regular
            and model.distribution == "poisson"
            and self._alive(days) is None
        )
        if flat:  # exactly one draw: reproduces a single-SKU env's rng.poisson(mean, size)
            return rng.poisson(self._mean, size=(size, n)).astype(np.int64, copy=False)
        if model.promo_probability == 0.0 and self._day_factor(days) is None and self._alive(days) is None:
            return self._stationary_block(rng, size)
        rate = self._rate_matrix(days)
        if model.promo_probability > 0.0:
            active = self._promotions(rng, size)
            rate = np.where(active, rate * model.promo_uplift, rate)
        if not rate.max() <= MAX_DAILY_DEMAND:  # also NaN; one reduction per block
            self._rate_too_high(rate, days)
        if self._all_regular:
            return self._regular(rng, rate)
        out = np.empty((size, n), dtype=np.int64)
        if self._reg_idx.size:
            out[:, self._reg_idx] = self._regular(rng, rate[:, self._reg_idx])
        out[:, self._int_idx] = self._intermittent(rng, rate[:, self._int_idx])
        return out

    def rate(self, days: np.ndarray) -> np.ndarray:
        """Expected demand (len(days), N) without promotions (the deterministic part of the
        model), for forecasting heuristics. Replay: the trailing 28-day history average."""
        days = np.atleast_1d(np.asarray(days, dtype=np.int64))
        if self.replay:
            t_len, w = len(self._history), REPLAY_RATE_WINDOW
            end = np.clip(days, 0, t_len)
            avg = (self._cum[end] - self._cum[np.maximum(end - w, 0)]) / w
            return np.where((days >= w)[:, None] & (t_len >= w), avg, self._mean[None, :])
        return self._rate_matrix(days)

    # -- internals ---------------------------------------------------------------------
    def _rate_too_high(self, rate: np.ndarray, days: np.ndarray) -> None:
        t, i = np.unravel_index(np.argmax(np.where(np.isnan(rate), np.inf, rate)), rate.shape)
        raise ConfigError(
            f"env.demand: the expected demand of SKU {self.catalogue.skus[i]!r} reaches {rate[t, i]:.3g} on "
            f"day {int(days[t])}; at most {MAX_DAILY_DEMAND:.0e} per SKU and day is supported (lower the trend, "
            f"promo_uplift or mean demand, or the episode window)")

    def _day_factor(self, days: np.ndarray) -> np.ndarray | None:
        """Weekly * yearly * trend multiplier per day (None when all are 1)."""
        m = self.model
        if m.weekly is None and m.yearly_amplitude == 0.0 and m.trend == 0.0:
            return None
        f = np.ones(len(days), dtype=np.float64)
        if self._weekly is not None:
            f *= self._weekly[(days + self._dow0) % 7]
        if m.yearly_amplitude:
            f *= 1.0 + m.yearly_amplitude * np.cos(
                2.0 * math.pi * (days + self._doy0 - m.yearly_peak_day) / 365.0
            )
        if m.trend:
            f *= (1.0 + m.trend) ** (days / 365.0)
        return f

    def _alive(self, days: np.ndarray) -> np.ndarray | None:
        """Bool (len(days), N) lifecycle mask, or None when every SKU is alive on every day."""
        if len(days) == 0:
            return None
        lo, hi = int(days.min()), int(days.max())
        if (lo >= self._latest_launch or self._always_from_start.all()) and hi < self._earliest_retire:
            return None
        d = days[:, None]
        return ((d >= self._launch) | self._always_from_start) & (d < self._retire)

    def _rate_matrix(self, days: np.ndarray) -> np.ndarray:
        rate = np.broadcast_to(self._mean, (len(days), self.n))
        factor = self._day_factor(days)
        rate = rate * factor[:, None] if factor is not None else rate.copy()
        alive = self._alive(days)
        if alive is not None:
            rate *= alive
        return rate

    def _stationary_block(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """The block when every rate is constant (no seasonality, trend, promotions or
        lifecycle events in it): the same draws, in the same order, as the general path
        (which builds a (size, N) rate matrix first), without the matrices."""
        n = self.n
        out = np.empty((size, n), dtype=np.int64)
        if self._reg_idx.size:
            out[:, self._reg_idx] = self._regular(rng, self._mean[self._reg_idx], size)
        if self._int_idx.size:
            rate = self._mean[self._int_idx]
            p = self._p_int
            occurs = rng.random((size, rate.size)) < np.minimum(p, rate)
            extra = np.maximum(rate / p - 1.0, 0.0)
            block = np.zeros((size, rate.size), dtype=np.int64)
            block[occurs] = 1 + rng.poisson(extra[np.nonzero(occurs)[1]])
            out[:, self._int_idx] = block
        return out

    def _regular(self, rng: np.random.Generator, rate: np.ndarray, size: int | None = None) -> np.ndarray:
        shape = None if size is None else (size, rate.size)
        if self.model.distribution == "negative_binomial":
            k = self.model.dispersion - 1.0
            rate = rng.gamma(rate / k, k, size=shape)
            shape = None
        return rng.poisson(rate, size=shape).astype(np.int64, copy=False)

    def _intermittent(self, rng: np.random.Generator, rate: np.ndarray) -> np.ndarray:
        p = self._p_int
        occurs = rng.random(rate.shape) < np.minimum(p, rate)
        extra = np.maximum(rate / p - 1.0, 0.0)[occurs]
        out = np.zeros(rate.shape, dtype=np.int64)
        out[occurs] = 1 + rng.poisson(extra)
        return out

    def _promotions(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Bool (size, N): promotion running; updates the carried state. Vectorised over SKUs:
        round k accepts every SKU's k-th promotion start of the block."""
        n, length = self.n, self.model.promo_length
        cand = rng.random((size, n)) < self.model.promo_probability
        left = self._promo_left
        stride = size + 1
        sku, t = np.nonzero(cand.T)  # sorted by SKU, then period
        keys = sku * stride + t
        delta = np.zeros((size + 1, n), dtype=np.int32)
        carried = np.flatnonzero(left > 0)
        delta[0, carried] += 1
        delta[np.minimum(left[carried], size), carried] -= 1
        new_left = np.maximum(left - size, 0)
        pending = np.unique(sku)
        free = np.minimum(left[pending], size)  # earliest period a new promotion can start
        starts_t, starts_s = [], []
        while pending.size:
            pos = np.searchsorted(keys, pending * stride + free)
            ok = pos < keys.size
            ok[ok] = keys[pos[ok]] // stride == pending[ok]
            pending, pos = pending[ok], pos[ok]
            t0 = keys[pos] % stride
            starts_t.append(t0)
            starts_s.append(pending)
            new_left[pending] = np.maximum(t0 + length - size, 0)
            free = t0 + length
            keep = free < size
            pending, free = pending[keep], free[keep]
        if starts_t:
            ts, ss = np.concatenate(starts_t), np.concatenate(starts_s)
            np.add.at(delta, (ts, ss), 1)
            np.add.at(delta, (np.minimum(ts + length, size), ss), -1)
        self._promo_left = new_left
        return np.cumsum(delta[:-1], axis=0) > 0


def _check_weekly(field: str, value: Any) -> tuple[float, ...]:
    msg = f"{field}: expected 7 non-negative numbers with a positive sum, got {_short(value)}"
    if isinstance(value, (str, bytes, Mapping)):
        raise ConfigError(msg)
    try:
        items = tuple(value)
    except TypeError:
        raise ConfigError(msg) from None
    if len(items) != 7:
        raise ConfigError(msg)
    out = []
    for x in items:
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x) or x < 0:
            raise ConfigError(msg)
        out.append(float(x))
    if not 0 < sum(out) < math.inf:
        raise ConfigError(msg)
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
