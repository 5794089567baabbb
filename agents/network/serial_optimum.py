"""The exact optimum of a serial inventory system (Clark and Scarf 1960; Chen and Zheng 1994).

Model
-----
``N`` stages in series. Stage 1 is the downstream stage: it faces i.i.d. per-period
customer demand ``D`` and backorders what it cannot meet. Stage ``j`` orders from stage
``j + 1``; stage ``N`` orders from an external supplier with unlimited stock. Review is
periodic and every stage follows an *echelon base-stock* policy with level ``S_j``: it
orders up to ``S_j`` on its echelon inventory position (its own stock and everything
downstream of it, on hand or in transit, minus customer backorders). An upstream stage
ships what it can and backorders the rest (internal backorders), so the *effective*
echelon inventory position ``Y_j`` of stage ``j`` (not counting what is backordered at
``j + 1``) is ``S_N`` for the top stage and the shortfall recursion below it.

Lead times enter only as ``n_j = demand_periods[j-1]``, the number of periods of demand
that stage ``j``'s lead time covers. In the steady state, with independent blocks of
demand ``D^(n)`` (the demand of ``n`` consecutive periods),

* ``Y_N = S_N``;
* ``Y_{j-1} = min(S_{j-1}, Y_j - D^(n_j))``: when stage ``j - 1`` orders, what stage ``j``
  can release is its echelon position ``n_j`` periods of demand earlier minus that demand;
* ``B_1 = (Y_1 - D^(n_1))^-``: the customer backorders at stage 1;
* ``X_j = Y_j - D^(m_j)``: the echelon inventory level of stage ``j`` on which holding
  costs are charged, ``m_j = holding_periods[j-1]`` periods of demand after ``Y_j``
  (by default ``m_j = n_j``; see the timing example below for when they differ).

Costs, per period. Inputs are the *local* holding costs ``h_1 >= h_2 >= ... >= h_N >= 0``
(per unit per period) and the backorder penalty ``p > 0`` (per unit backordered at stage 1
per period). With ``h_{N+1} = 0`` the echelon holding costs are ``h'_j = h_j - h_{j+1} >= 0``
and the expected cost per period is ::

    C(S) = sum_j h'_j E[X_j] + (p + h_1) E[B_1].

When ``X_j`` is the echelon inventory level at the moment costs are charged (on hand at
stages ``1..j``, plus in transit into stages ``1..j-1``, minus customer backorders) this
is, term for term, the local accounting ::

    sum_j h_j * (on hand at stage j) + sum_j h_{j+1} * (in transit into stage j)
        + p * (customer backorders at stage 1),

i.e. units in transit into stage ``j`` are held at the rate of the stage that shipped them
(nothing for the supplier's shipments into stage ``N``); internal backorders cost nothing.

Timing example (the caller maps its simulator to ``n_j`` and ``m_j``). Suppose every
period runs: shipments due arrive; each stage orders up to ``S_j`` and upstream stages
ship what they can (a shipment made in period ``t`` into stage ``j`` arrives at the start
of period ``t + L_j``, before that period's ordering, shipping and demand); customer
demand at stage 1; costs are charged at the end of the period. Then ::

    n_1 = L_1 + 1,   n_j = L_j (j >= 2),   m_j = L_j + 1 (all j).

Stage 1's end-of-period level sees the ``L_1`` periods of transit plus the current one;
stage ``j - 1`` orders, and stage ``j`` ships, at the start of period ``t + L_j``, before
that period's demand, so the release covers ``L_j`` periods; but stage ``j``'s echelon
level is charged at the *end* of the period, one period of demand later, hence
``m_j = L_j + 1``. With the default ``m_j = n_j`` the optimal levels are the same and
the cost exceeds that simulator's by exactly ``mean * h_2`` (for ``N >= 2``). The test
suite checks this against a direct simulation. Snyder and Shen (2019), *Fundamentals of
Supply Chain Theory*, 2nd ed., Example 6.1 uses its lead times ``L = (1, 1, 2)``
directly as ``n_j`` (and ``m_j = n_j``).

Demand
------
:class:`PoissonDemand` is exact: integer levels, the distribution of ``D^(n)`` truncated
where its tails hold less than ``1e-12``. :class:`NormalDemand` is continuous (as in
Snyder and Shen's treatment; negative demand has positive probability): the functions are
computed on a fine grid (step ``sd / 200``, coarser only where that grid would exceed
``MAX_GRID / 2`` points), ``D^(n)`` is ``N(n mean, n sd^2)`` discretised on the grid by the
midpoint rule and truncated at the same tails, and the reported levels are real (refined
between grid points by a parabola). On Snyder and Shen's Example 6.1 the levels and cost
agree with a 20 times finer grid to about 1e-5.

Algorithm
---------
Chen and Zheng (1994), as in Snyder and Shen (2019), Section 6.2: with
``Cbar_0(x) = (p + h_1) max(-x, 0)``, for ``j = 1..N`` ::

    Chat_j(x) = h'_j x + Cbar_{j-1}(x)
    C_j(y)    = E[Chat_j(y - D^(n_j))]
    S*_j      = argmin_y C_j(y)
    Cbar_j(x) = C_j(min(S*_j, x))

and the optimal cost is ``C_N(S*_N)`` (for ``m = n``). For a given vector ``S`` the same
recursion with ``S_j`` in place of ``S*_j`` is the exact cost of that policy, whatever
``S`` (nested or not): ``Cbar_{j-1}`` is the expected cost of stages ``1..j-1`` given
stage ``j``'s echelon level ``x``. Holding windows ``m != n`` only add the constant
``mean * sum_j h'_j (n_j - m_j)``.

References: A. J. Clark and H. Scarf, Optimal policies for a multi-echelon inventory
problem, *Management Science* 6(4), 1960. F. Chen and Y.-S. Zheng, Lower bounds for
multi-echelon stochastic inventory systems, *Management Science* 40(11), 1994.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal, stats

from envs.core.config import ConfigError, check_float, check_int

__all__ = [
    "NormalDemand",
    "PoissonDemand",
    "SerialOptimum",
    "serial_cost",
    "solve_serial",
]

TAIL = 5e-13
"""Probability left out at each end of every ``D^(n)`` (both tails together < 1e-12)."""
MAX_GRID = 4_000_000
"""Longest grid of the recursion; longer ones are refused (Poisson) or coarsened (Normal)."""
NORMAL_STEPS_PER_SD = 200
"""Normal demand: grid points per standard deviation of one period's demand."""
TIES = 1e-10
"""Relative difference of costs below which two levels tie (the smaller one is chosen)."""
_DIRECT_CONVOLVE = 2_000_000
"""Convolutions with fewer multiply-adds than this are done directly (no FFT noise)."""


@dataclass(frozen=True)
class PoissonDemand:
    """Poisson demand per period with mean ``mean > 0``; levels are integers."""

    mean: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mean", check_float("demand.mean", self.mean, 0.0, 1e7, strict_low=True)
        )


@dataclass(frozen=True)
class NormalDemand:
    """Normal demand per period, ``N(mean, sd^2)`` with ``mean > 0``, ``sd > 0``; real levels."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mean", check_float("demand.mean", self.mean, 0.0, 1e7, strict_low=True)
        )
        object.__setattr__(self, "sd", check_float("demand.sd", self.sd, 0.0, 1e7, strict_low=True))


Demand = PoissonDemand | NormalDemand


@dataclass(frozen=True)
class SerialOptimum:
    """The optimal echelon base-stock policy of a serial system.

    Attributes
    ----------
    echelon_levels : np.ndarray
        ``S*_1..S*_N``, stage 1 (downstream) first; int64 for Poisson demand, float64 for
        Normal demand. Nested (``S*_1 <= ... <= S*_N``): each ``argmin C_j`` (the smallest
        one if several tie, e.g. where ``h'_j = 0``) capped at the levels upstream of it,
        an equivalent policy since a stage never receives more than its upstream level.
    local_levels : np.ndarray
        ``S*_j - S*_{j-1}`` (``S*_0 = 0``, all ``>= 0``), the installation levels.
    cost : float
        The expected cost per period of these levels (:func:`serial_cost` of them).
    """

    echelon_levels: np.ndarray
    local_levels: np.ndarray
    cost: float


@dataclass(frozen=True)
class _Instance:
    echelon_holding: np.ndarray  # h'_j, float64 (N,)
    penalty: float
    n: tuple[int, ...]
    m: tuple[int, ...]
    demand: Demand

    @property
    def stages(self) -> int:
        return len(self.n)

    @property
    def holding_shift(self) -> float:
        """The constant ``mean * sum_j h'_j (n_j - m_j)`` that holding windows add."""
        diff = np.array(self.n, dtype=np.float64) - np.array(self.m, dtype=np.float64)
        return float(self.demand.mean * np.dot(self.echelon_holding, diff))


def _periods(field: str, value: object, stages: int | None) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise ConfigError(f"{field}: expected a sequence of integers >= 0, got {value!r}")
    out = tuple(check_int(f"{field}[{i}]", v, 0, 10_000) for i, v in enumerate(value))
    if stages is not None and len(out) != stages:
        raise ConfigError(f"{field}: expected {stages} entries (one per stage), got {len(out)}")
    return out


def _instance(
    holding: Sequence[float],
    penalty: float,
    demand_periods: Sequence[int],
    demand: Demand,
    holding_periods: Sequence[int] | None,
) -> _Instance:
    if (
        isinstance(holding, str | bytes)
        or not isinstance(holding, Sequence | np.ndarray)
        or len(holding) == 0
    ):
        raise ConfigError(
            f"holding: expected a non-empty sequence h_1 >= ... >= h_N >= 0, got {holding!r}"
        )
    h = np.array([check_float(f"holding[{i}]", v, 0.0, 1e9) for i, v in enumerate(holding)])
    if np.any(np.diff(h) > 0):
        raise ConfigError(
            f"holding: expected local holding costs h_1 >= h_2 >= ... >= h_N >= 0 "
            f"(stage 1 first), got {h.tolist()}"
        )
    p = check_float("penalty", penalty, 0.0, 1e9, strict_low=True)
    n = _periods("demand_periods", demand_periods, len(h))
    if not any(n):
        raise ConfigError(f"demand_periods: expected at least one entry > 0, got {list(n)}")
    m = n if holding_periods is None else _periods("holding_periods", holding_periods, len(h))
    if not isinstance(demand, PoissonDemand | NormalDemand):
        raise ConfigError(f"demand: expected PoissonDemand or NormalDemand, got {demand!r}")
    echelon = h - np.append(h[1:], 0.0)
    return _Instance(echelon, p, n, m, demand)


# -- discretisation ---------------------------------------------------------------------


def _step(inst: _Instance) -> float:
    """Grid step: 1 for Poisson, ``sd / 200`` for Normal (coarser if the grid is too long)."""
    d = inst.demand
    if isinstance(d, PoissonDemand):
        return 1.0
    z = float(stats.norm.isf(TAIL))
    span = sum(2.0 * (k * d.mean + z * d.sd * math.sqrt(k)) for k in inst.n) + 2.0 * z * d.sd
    return max(d.sd / NORMAL_STEPS_PER_SD, span / (MAX_GRID / 2))


def _kernel(demand: Demand, periods: int, step: float) -> tuple[int, np.ndarray]:
    """``D^(periods)`` on the grid: ``(k0, f)`` with ``P(D = (k0 + i) step) = f[i]``."""
    if periods == 0:
        return 0, np.ones(1)
    if isinstance(demand, PoissonDemand):
        lam = periods * demand.mean
        lo = int(stats.poisson.ppf(TAIL, lam))
        hi = int(stats.poisson.isf(TAIL, lam)) + 1
        k = np.arange(lo, hi + 1)
        f = stats.poisson.pmf(k, lam)
    else:
        mu, sd = periods * demand.mean, demand.sd * math.sqrt(periods)
        z = float(stats.norm.isf(TAIL))
        lo = math.floor((mu - z * sd) / step)
        hi = math.ceil((mu + z * sd) / step)
        edges = (np.arange(lo, hi + 2) - 0.5) * step
        f = np.diff(stats.norm.cdf(edges, mu, sd))
    return lo, f / f.sum()


def _expect(values: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``out[i] = sum_k f[k] values[i + len(f) - 1 - k]`` (a 'valid' convolution)."""
    if len(f) == 1:
        return values * f[0]
    if len(values) * len(f) <= _DIRECT_CONVOLVE:
        return np.convolve(values, f, mode="valid")
    return signal.fftconvolve(values, f, mode="valid")


def _refine(c: np.ndarray, i: int) -> float:
    """Sub-grid offset (in steps, within [-0.5, 0.5]) of the minimum of a parabola through
    ``c[i-1], c[i], c[i+1]``."""
    if i <= 0 or i >= len(c) - 1:
        return 0.0
    curv = c[i - 1] - 2.0 * c[i] + c[i + 1]
    if curv <= 0:
        return 0.0
    return float(np.clip(0.5 * (c[i - 1] - c[i + 1]) / curv, -0.5, 0.5))


def _recursion(inst: _Instance, levels: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Run the Chen-Zheng recursion. ``levels=None``: minimise (returns S* and the cost);
    otherwise evaluate those levels (in demand units). Cost excludes ``holding_shift``."""
    step = _step(inst)
    kernels = [_kernel(inst.demand, k, step) for k in inst.n]
    kmin = [k0 for k0, _ in kernels]
    kmax = [k0 + len(f) - 1 for k0, f in kernels]
    # Domain of C_N, in grid indices (x = index * step): wide enough for every argmin and
    # every given level.
    bottom = min(0, sum(min(k, 0) for k in kmin)) - 1
    top = sum(max(k, 0) for k in kmax) + 1
    widen = sum(kmax) - sum(min(k, 0) for k in kmin)  # what the N expectations use up
    if top - bottom + 1 + widen > MAX_GRID:
        raise ConfigError(
            f"demand.mean: expected a mean demand over the lead times that fits a grid of "
            f"{MAX_GRID} points, got {inst.demand.mean} over {sum(inst.n)} periods"
        )
    if levels is not None:
        bottom = min(bottom, math.floor(levels.min() / step) - 1)
        top = max(top, math.ceil(levels.max() / step) + 1)
        if top - bottom + 1 + widen > MAX_GRID:
            raise ConfigError(
                f"echelon_levels: expected levels within a grid of {MAX_GRID} points around "
                f"the lead-time demand, got {levels.tolist()}"
            )
    # domains[j] (0-based stage j) = domain of Chat_{j+1} (= of C_j, Cbar_j for j >= 1);
    # domains[N] = domain of C_N. Each expectation uses up kmax below and -kmin above.
    domains = [(bottom, top)]
    for j in range(inst.stages - 1, -1, -1):
        b, t = domains[-1]
        domains.append((b - kmax[j], max(t, t - kmin[j])))
    domains.reverse()

    b0, t0 = domains[0]
    x = np.arange(b0, t0 + 1, dtype=np.float64) * step
    h_total = float(inst.echelon_holding.sum())  # h_1
    cbar = (inst.penalty + h_total) * np.maximum(-x, 0.0)
    chosen = np.empty(inst.stages)
    cost = math.nan
    for j in range(inst.stages):
        b_in, _ = domains[j]
        b, t = domains[j + 1]
        x_in = np.arange(b_in, b_in + len(cbar), dtype=np.float64) * step
        chat = inst.echelon_holding[j] * x_in + cbar
        k0, f = kernels[j]
        # C_j at grid index b + i is sum_k f[k] Chat_j at index b + i - k0 - k; with
        # b_in = b - kmax this is _expect(chat, f)[i].
        c = _expect(chat[: (t - b + 1) + len(f) - 1], f)
        y = np.arange(b, t + 1, dtype=np.float64) * step
        if levels is None:
            # The smallest minimiser, ties (flat C_j where h'_j = 0) up to rounding noise.
            low = float(c.min())
            i = int(np.argmax(c <= low + TIES * (1.0 + abs(low))))
            s_grid = y[i]
            chosen[j] = s_grid + _refine(c, i) * step
            c_at_s = float(c[i])
        else:
            s_grid = float(levels[j])
            chosen[j] = s_grid
            c_at_s = float(np.interp(s_grid, y, c))
        if j == inst.stages - 1:
            cost = c_at_s
        else:
            cbar = np.where(y <= s_grid, c, c_at_s)
    return chosen, cost


# -- public API -------------------------------------------------------------------------


def solve_serial(
    holding: Sequence[float],
    penalty: float,
    demand_periods: Sequence[int],
    demand: Demand,
    *,
    holding_periods: Sequence[int] | None = None,
) -> SerialOptimum:
    """The optimal echelon base-stock levels of a serial system and their cost.

    Parameters
    ----------
    holding : sequence of float
        Local holding costs ``h_1..h_N`` per unit per period, stage 1 (downstream) first;
        must satisfy ``h_1 >= h_2 >= ... >= h_N >= 0``.
    penalty : float
        Backorder cost ``p > 0`` per unit backordered at stage 1 per period.
    demand_periods : sequence of int
        ``n_1..n_N``: periods of demand covered by each stage's lead time (>= 0, at
        least one > 0); see the module docstring for the mapping from a simulator.
    demand : PoissonDemand or NormalDemand
        The i.i.d. demand per period.
    holding_periods : sequence of int, optional
        ``m_1..m_N``: periods of demand between each stage's echelon inventory position
        and the moment its echelon holding cost is charged; default ``demand_periods``.
        Shifts the cost by a constant only; the levels do not depend on it.

    Returns
    -------
    SerialOptimum

    Raises
    ------
    envs.core.config.ConfigError
        A one-line message naming the bad field.
    """
    inst = _instance(holding, penalty, demand_periods, demand, holding_periods)
    levels, _ = _recursion(inst, None)
    # Nest: S_j <- min(S_j, ..., S_N). Stage j can never release more than S_{j+1}, so
    # the cap changes nothing (for demand >= 0) and gives local levels >= 0.
    levels = np.minimum.accumulate(levels[::-1])[::-1]
    if isinstance(inst.demand, PoissonDemand):
        levels = np.rint(levels).astype(np.int64)
    _, cost = _recursion(inst, levels.astype(np.float64))
    local = np.diff(levels, prepend=levels.dtype.type(0))
    return SerialOptimum(echelon_levels=levels, local_levels=local, cost=cost + inst.holding_shift)


def serial_cost(
    echelon_levels: Sequence[float],
    holding: Sequence[float],
    penalty: float,
    demand_periods: Sequence[int],
    demand: Demand,
    *,
    holding_periods: Sequence[int] | None = None,
) -> float:
    """The exact expected cost per period of the echelon base-stock levels ``S_1..S_N``.

    Any vector is accepted (nested or not): stage ``j - 1`` receives at most what stage
    ``j`` holds (shortfall), as in the module docstring. Levels are integers for Poisson
    demand; Normal demand is evaluated on the grid of :func:`solve_serial` (levels between
    grid points are interpolated). Other parameters as in :func:`solve_serial`.
    """
    inst = _instance(holding, penalty, demand_periods, demand, holding_periods)
    if isinstance(echelon_levels, str | bytes) or not isinstance(
        echelon_levels, Sequence | np.ndarray
    ):
        raise ConfigError(
            f"echelon_levels: expected a sequence of {inst.stages} numbers, got {echelon_levels!r}"
        )
    if len(echelon_levels) != inst.stages:
        raise ConfigError(
            f"echelon_levels: expected {inst.stages} entries (one per stage), got {len(echelon_levels)}"
        )
    if isinstance(inst.demand, PoissonDemand):
        s = np.array(
            [
                check_int(f"echelon_levels[{i}]", v, -(10**9), 10**9)
                for i, v in enumerate(echelon_levels)
            ]
        )
    else:
        s = np.array(
            [
                check_float(f"echelon_levels[{i}]", v, -1e9, 1e9)
                for i, v in enumerate(echelon_levels)
            ]
        )
    _, cost = _recursion(inst, s.astype(np.float64))
    return cost + inst.holding_shift
