"""Stress scenarios: a disruption overlaid on a replenishment task for a window of periods.

A :class:`Scenario` is part of a task's env config (``env.scenario``; the Hydra group
``configs/scenario/*.yaml`` sets it). It changes the dynamics during a window of periods
and nothing else, so a stress test evaluates *fixed* policies (tuned heuristics, the
stationary optimum, trained models) on exactly the demand they would face without it:

* ``kind="none"`` (the default) is the baseline; every trajectory is identical to an env
  without a scenario (the simulators do not even derive a stream).
* ``demand_surge``: in the window every period's demand draw ``D`` becomes
  ``floor((1 + size) D + U)``, ``U`` uniform on [0, 1) from the scenario's own stream: the
  demand is scaled by ``1 + size`` with its mean scaled exactly (a multiplicative shock on
  the draws: zero demand stays zero, the coefficient of variation is kept). ``size`` in
  [-1, 100]; a negative size is a demand drop.
* ``supplier_disruption``: of what is ordered in the window the external supplier
  confirms and delivers only ``floor((1 - size) q + U)`` units (``size`` in [0, 1];
  ``size=1``: nothing). Refused units are not charged (neither their unit cost nor, if
  nothing is delivered, the fixed order cost) and never enter the pipeline.
* ``lead_time_shock``: orders placed in the window take ``size`` more periods to arrive
  (``size`` an integer in [1, 365]).
* ``capacity_cut``: the storage capacity and the order capacity (the largest order of
  the action space) are multiplied by ``1 - size`` during the window (``size`` in [0, 1]).
  What each task makes of it is documented by the task's simulator.

Timing: periods are counted from the first period of the episode (``t = 0`` after
``reset()``, warm-up periods included). The window is ``[onset, onset + duration)``; the
onset is ``start``, or with ``random_onset = k > 0`` drawn uniformly from
``start .. start + k`` once per episode.

Randomness: a :class:`ScenarioClock` draws from a ``numpy.random.SeedSequence`` *derived*
from the episode's generator (``rng.bit_generator.seed_seq.spawn(1)``), which does not
consume any of the generator's draws: the demand (and lead-time) stream of an episode is
the same with and without a scenario, and the same for every policy (common random
numbers). The uniforms of period ``t`` are a pure function of that sequence and ``t``
(:meth:`ScenarioClock.uniforms`), so a scalar env and a batched simulator agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from envs.core.config import ConfigError, check_choice, check_float, check_int, check_keys

KINDS = ("none", "demand_surge", "supplier_disruption", "lead_time_shock", "capacity_cut")
"""The accepted ``kind`` values."""
MAX_PERIOD = 10_000_000
"""Largest ``start``, ``duration`` and ``random_onset``."""
MAX_SURGE = 100.0
"""Largest ``size`` of a demand surge (demand times 101)."""
MAX_EXTRA_LEAD = 365
"""Largest ``size`` of a lead-time shock (periods)."""
SIZE_RANGES: dict[str, tuple[float, float]] = {
    "none": (-1.0, MAX_SURGE),
    "demand_surge": (-1.0, MAX_SURGE),
    "supplier_disruption": (0.0, 1.0),
    "lead_time_shock": (1, MAX_EXTRA_LEAD),
    "capacity_cut": (0.0, 1.0),
}
# Streams of the derived seed sequence (spawn-key suffixes): the onset, demand, supply uniforms.
_ONSET, _DEMAND, _SUPPLY = 0, 1, 2
_CACHE_WIDTH = 64  # uniforms of at most this many values per period are cached


@dataclass(frozen=True)
class Scenario:
    """A stress scenario (module docstring): ``kind`` during ``duration`` periods from ``start``.

    Args:
        kind: ``none`` | ``demand_surge`` | ``supplier_disruption`` | ``lead_time_shock`` |
            ``capacity_cut``.
        start: first period of the window, counted from the episode's first period (warm-up
            included), in [0, 1e7].
        duration: periods in the window, in [0, 1e7]; at least 1 unless ``kind="none"``.
        size: the kind's magnitude: ``demand_surge`` demand times ``1 + size`` (in [-1, 100]);
            ``supplier_disruption`` fraction of ordered units not delivered (in [0, 1]);
            ``lead_time_shock`` extra periods of lead time (an integer in [1, 365]);
            ``capacity_cut`` fraction of the storage and order capacity lost (in [0, 1]).
        random_onset: 0 = the window starts at ``start``; k > 0 = at ``start + U``, U uniform
            on 0..k, drawn per episode from the scenario's derived stream.

    Every field is refused with a one-line :class:`~envs.core.config.ConfigError` naming
    ``env.scenario.<field>`` and the accepted values.
    """

    kind: str = "none"
    start: int = 0
    duration: int = 0
    size: float = 0.0
    random_onset: int = 0

    def __post_init__(self) -> None:
        s = "env.scenario"
        check_choice(f"{s}.kind", self.kind, KINDS)
        object.__setattr__(self, "start", check_int(f"{s}.start", self.start, 0, MAX_PERIOD))
        object.__setattr__(self, "duration", check_int(f"{s}.duration", self.duration, 0, MAX_PERIOD))
        object.__setattr__(self, "random_onset", check_int(f"{s}.random_onset", self.random_onset, 0, MAX_PERIOD))
        low, high = SIZE_RANGES[self.kind]
        if self.kind == "lead_time_shock":
            if isinstance(self.size, float) and self.size.is_integer():
                object.__setattr__(self, "size", int(self.size))
            if isinstance(self.size, bool) or not isinstance(self.size, int | np.integer) or not low <= self.size <= high:
                raise ConfigError(f"{s}.size: expected an integer in [{low}, {high}] (extra periods of lead time) "
                                  f"for kind=lead_time_shock, got {self.size!r}")
            object.__setattr__(self, "size", int(self.size))
        else:
            try:
                size = check_float(f"{s}.size", self.size, low, high)
            except ConfigError:
                raise ConfigError(f"{s}.size: expected a number in [{low:g}, {high:g}] for kind={self.kind}, "
                                  f"got {self.size!r}") from None
            object.__setattr__(self, "size", size)
        if self.kind != "none" and self.duration < 1:
            raise ConfigError(f"{s}.duration: expected an integer in [1, {MAX_PERIOD}] for kind={self.kind}, "
                              f"got {self.duration}")

    @classmethod
    def from_value(cls, value: Any) -> Scenario:
        """From a Scenario, a mapping of its fields (e.g. Hydra's ``env.scenario``) or None (none)."""
        if value is None:
            return cls()
        if isinstance(value, Scenario):
            return value
        if isinstance(value, Mapping):
            check_keys("env.scenario", value, [f.name for f in fields(cls)])
            return cls(**dict(value))
        raise ConfigError(f"env.scenario: expected a mapping of {', '.join(f.name for f in fields(cls))}, "
                          f"got {value!r}")

    @property
    def active(self) -> bool:
        """False for ``kind="none"`` (the simulators then skip every scenario code path)."""
        return self.kind != "none"

    @property
    def max_extra_lead_time(self) -> int:
        """Extra pipeline periods a simulator must hold (``size`` of a lead-time shock, else 0)."""
        return int(self.size) if self.kind == "lead_time_shock" else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """A short title, e.g. ``demand_surge(size=0.5, periods 20..49)``."""
        if not self.active:
            return "none"
        onset = f"{self.start}" if not self.random_onset else f"U{{{self.start}..{self.start + self.random_onset}}}"
        return f"{self.kind}(size={self.size:g}, {self.duration} periods from {onset})"

    def clock(self, rng: np.random.Generator | np.random.SeedSequence | None) -> ScenarioClock:
        """The clock of one episode (see :class:`ScenarioClock`); ``rng``: the episode's generator
        (a stream is derived from it without consuming its draws) or a SeedSequence."""
        return ScenarioClock(self, rng)


def derived_seed(rng: np.random.Generator | np.random.SeedSequence) -> np.random.SeedSequence:
    """A child SeedSequence of ``rng``'s seed sequence (``SeedSequence.spawn``): deterministic
    given the seed and how many children were spawned before, and it draws nothing from ``rng``."""
    if isinstance(rng, np.random.SeedSequence):
        return rng
    seq = getattr(rng.bit_generator, "seed_seq", None)
    if not isinstance(seq, np.random.SeedSequence):
        raise ValueError("env.scenario: the episode's generator has no SeedSequence to derive the scenario's "
                         "stream from; seed it with numpy.random.default_rng(seed)")
    return seq.spawn(1)[0]


class ScenarioClock:
    """The scenario of one episode: its window and its per-period queries.

    ``start`` / ``end``: the window ``[start, end)`` (periods from the episode's start; the
    onset drawn if ``random_onset``). Per-period queries take ``t`` as an int or an integer
    array and return the same shape:

    * :meth:`demand_factor` (``1 + size`` in a demand surge's window, else 1),
    * :meth:`supply_fraction` (``1 - size`` in a supplier disruption's window, else 1),
    * :meth:`extra_lead_time` (``size`` in a lead-time shock's window, else 0),
    * :meth:`capacity_factor` (``1 - size`` in a capacity cut's window, else 1),

    and the two rules every simulator applies: :meth:`scale_demand` (stochastic rounding of
    the scaled demand draws) and :meth:`accept` (the units the supplier confirms of an order:
    the supply fraction, stochastically rounded, and the cut order capacity).
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator | np.random.SeedSequence | None):
        self.scenario = sc = scenario
        self._seq = derived_seed(rng) if sc.active and rng is not None else None
        if sc.active and self._seq is None:
            raise ValueError("ScenarioClock: an active scenario needs the episode's generator")
        onset = sc.start
        if sc.active and sc.random_onset:
            onset += int(self._rng(_ONSET).integers(0, sc.random_onset + 1))
        self.start = onset
        self.end = onset + (sc.duration if sc.active else 0)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    # -- the window --------------------------------------------------------------------
    def in_window(self, t):
        """Whether period ``t`` (int or array) is in the window."""
        if isinstance(t, np.ndarray):
            return (t >= self.start) & (t < self.end)
        return self.start <= t < self.end

    def _value(self, t, kind: str, inside, outside):
        if self.scenario.kind != kind:
            return np.full(np.shape(t), outside) if isinstance(t, np.ndarray) else outside
        if isinstance(t, np.ndarray):
            return np.where(self.in_window(t), inside, outside)
        return inside if self.in_window(t) else outside

    def demand_factor(self, t):
        """Demand multiplier of period ``t``: ``1 + size`` in a demand surge's window, else 1."""
        return self._value(t, "demand_surge", 1.0 + self.scenario.size, 1.0)

    def supply_fraction(self, t):
        """Fraction of an order placed in period ``t`` the supplier delivers (``1 - size`` in a
        supplier disruption's window, else 1)."""
        return self._value(t, "supplier_disruption", 1.0 - self.scenario.size, 1.0)

    def extra_lead_time(self, t):
        """Extra periods of lead time of an order placed in period ``t`` (int)."""
        return self._value(t, "lead_time_shock", int(self.scenario.max_extra_lead_time), 0)

    def capacity_factor(self, t):
        """Multiplier of the storage and order capacity in period ``t``."""
        return self._value(t, "capacity_cut", 1.0 - self.scenario.size, 1.0)

    # -- randomness --------------------------------------------------------------------
    def _rng(self, *key: int) -> np.random.Generator:
        seq = self._seq
        return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, *key),
                                                            pool_size=seq.pool_size))

    def uniforms(self, t: int, n: int, stream: int) -> np.ndarray:
        """(n,) uniforms on [0, 1) of period ``t`` and ``stream``: a pure function of the derived
        seed, ``stream``, ``t`` and ``n`` (draws of one period never shift another's)."""
        key = (stream, int(t))
        cached = self._cache.get(key)
        if cached is not None and len(cached) == n:
            return cached
        out = self._rng(stream, int(t)).random(n)
        if n <= _CACHE_WIDTH:
            self._cache[key] = out
        return out

    # -- the rules the simulators apply ------------------------------------------------
    def scale_demand(self, t: int, demand):
        """Period ``t``'s demand draws (an int or an int array) after a demand surge:
        ``floor((1 + size) D + U)`` in the window (mean exactly ``(1 + size) E[D]``), else unchanged."""
        if self.scenario.kind != "demand_surge" or not self.in_window(t):
            return demand
        d = np.asarray(demand, dtype=np.int64)
        u = self.uniforms(t, d.size, _DEMAND).reshape(d.shape)
        out = np.floor(d * (1.0 + self.scenario.size) + u).astype(np.int64)
        return int(out) if np.ndim(demand) == 0 else out

    def accept(self, t: int, order, order_cap=None):
        """The units of period ``t``'s order (int or int array) the supplier confirms: in a supplier
        disruption's window ``floor((1 - size) q + U)``; in a capacity cut's window at most
        ``floor((1 - size) order_cap)`` (``order_cap``: the largest order of the action space,
        scalar or per item; None: no order cap). Unchanged outside the window."""
        kind = self.scenario.kind
        if kind not in ("supplier_disruption", "capacity_cut") or not self.in_window(t):
            return order
        q = np.asarray(order, dtype=np.int64)
        if kind == "supplier_disruption":
            u = self.uniforms(t, q.size, _SUPPLY).reshape(q.shape)
            out = np.minimum(np.floor(q * (1.0 - self.scenario.size) + u).astype(np.int64), q)
        elif order_cap is None:
            out = q
        else:
            cap = np.floor(np.asarray(order_cap, dtype=np.float64) * (1.0 - self.scenario.size) + 1e-9)
            out = np.minimum(q, cap.astype(np.int64))
        return int(out) if np.ndim(order) == 0 else out


class ScenarioBatch:
    """Clocks of a batch of independent replications (one per batch row), with the per-period
    queries vectorised over rows: each returns a (B,) array for a period ``t``."""

    def __init__(self, clocks: Sequence[ScenarioClock]):
        self.clocks = list(clocks)
        self.scenario = self.clocks[0].scenario if self.clocks else Scenario()
        self.starts = np.array([c.start for c in self.clocks], dtype=np.int64)
        self.ends = np.array([c.end for c in self.clocks], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.clocks)

    def tile(self, k: int) -> ScenarioBatch:
        """Each block of rows repeated k times (row ``i * B + r`` is replication r)."""
        return ScenarioBatch(self.clocks * k)

    def take(self, n: int) -> ScenarioBatch:
        return ScenarioBatch(self.clocks[:n])

    def in_window(self, t: int) -> np.ndarray:
        return (self.starts <= t) & (t < self.ends)

    def _value(self, t: int, kind: str, inside, outside) -> np.ndarray:
        if self.scenario.kind != kind:
            return np.full(len(self.clocks), outside)
        return np.where(self.in_window(t), inside, outside)

    def demand_factor(self, t: int) -> np.ndarray:
        return self._value(t, "demand_surge", 1.0 + self.scenario.size, 1.0)

    def supply_fraction(self, t: int) -> np.ndarray:
        return self._value(t, "supplier_disruption", 1.0 - self.scenario.size, 1.0)

    def extra_lead_time(self, t: int) -> np.ndarray:
        return self._value(t, "lead_time_shock", int(self.scenario.max_extra_lead_time), 0)

    def capacity_factor(self, t: int) -> np.ndarray:
        return self._value(t, "capacity_cut", 1.0 - self.scenario.size, 1.0)

    def accept(self, t: int, order: np.ndarray, order_cap=None) -> np.ndarray:
        """:meth:`ScenarioClock.accept` row by row (one order per row)."""
        inside = self.in_window(t)
        if self.scenario.kind not in ("supplier_disruption", "capacity_cut") or not inside.any():
            return order
        out = np.array(order, dtype=np.int64, copy=True)
        for r in np.flatnonzero(inside):
            out[r] = self.clocks[r].accept(t, int(out[r]), order_cap)
        return out

