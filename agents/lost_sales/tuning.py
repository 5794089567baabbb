"""Tuning the lost-sales heuristics: their grids, on the project's one tuner (``agents.tuning``).

Every candidate is simulated with common random numbers on the tuning seeds
``TUNE_SEED_BASE + r`` (disjoint from the evaluation seeds): batch row ``i * R + r`` of one
:class:`envs.replenishment.lost_sales.simulator.BatchSimulator` run is candidate ``i`` on
replication ``r`` (:meth:`agents.lost_sales.rollout.Replications.tile`), so hundreds of
candidates are scored in one vectorised simulation. The race (``agents.tuning.race``)
screens the grid on as many replications as 6 million simulated row-periods allow (at
least 8), races the 16 best on ``n_reps / 4`` replications and the 6 best of those on
``n_reps`` (default 512) replications of 1000 periods after a ``100 + 10 L`` period
warm-up.

The tuned policy records its mean tuning cost per period in ``tuning_cost`` (slightly
optimistic: the winner of a noisy race), its 95% half-width in ``tuning_ci95`` and search
statistics in ``tuning``. With the defaults, the tuned base-stock level equals the exact
best level on all 16 classic instances (Poisson(5), h = 1, p in {4, 9, 19, 39},
L in {1..4}), checked against exact Markov-chain costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from agents.lost_sales.heuristics import HEURISTICS
from agents.lost_sales.policies import OrderPolicy
from agents.lost_sales.rollout import Replications, rollout
from agents.seeds import TUNE_SEED_BASE
from agents.tuning import Axis, RaceSettings, race
from envs.replenishment.lost_sales.config import LostSalesConfig

DEFAULT_REPS = 512
DEFAULT_PERIODS = 1000
# Row-periods (batch rows x simulated periods) of the screening stage, and of one rollout
# call (bounds the memory of the tiled demand matrix to ~64 MB).
SCREEN_BUDGET = 6_000_000
CHUNK_BUDGET = 8_000_000


def default_warmup(config: LostSalesConfig) -> int:
    """Periods simulated before measuring: the start-up transient of the initial state."""
    return 100 + 10 * config.lead_time


def _evaluator(config: LostSalesConfig, cls: type[OrderPolicy], replications: Replications, warmup: int,
               to_kwargs: Callable[[dict[str, Any]], dict[str, Any]]):
    """Per-replication mean cost per period of candidate parameter arrays (one batched run)."""
    horizon = replications.demand.shape[1]

    def evaluate(params: dict[str, np.ndarray], reps: int) -> np.ndarray:
        sub = replications.take(reps)
        n = len(next(iter(params.values())))
        out = np.empty((n, reps))
        per_chunk = max(1, CHUNK_BUDGET // (reps * horizon))
        for start in range(0, n, per_chunk):
            stop = min(start + per_chunk, n)
            chunk = {name: np.repeat(v[start:stop], reps) for name, v in params.items()}
            policy = cls(config, **to_kwargs(chunk))

            def order_fn(obs, policy=policy):
                return np.clip(policy.orders(obs), 0, config.q_max)

            res = rollout(config, policy, sub.tile(stop - start), warmup, order_fn=order_fn)
            out[start:stop] = res.mean_cost.reshape(stop - start, reps)
        return out

    return evaluate


def _search(name: str, config: LostSalesConfig, axes: list[Axis], valid=None, to_kwargs=None, *,
            n_reps: int | None, periods: int | None, warmup: int | None, seed_base: int) -> OrderPolicy:
    cls = HEURISTICS[name][0]
    to_kwargs = to_kwargs or (lambda params: params)
    n_reps = DEFAULT_REPS if n_reps is None else int(n_reps)
    periods = DEFAULT_PERIODS if periods is None else int(periods)
    warmup = default_warmup(config) if warmup is None else int(warmup)
    if n_reps < 2 or periods < 1 or warmup < 0:
        raise ValueError(f"tune: expected n_reps >= 2, periods >= 1, warmup >= 0, got {n_reps}, {periods}, {warmup}")
    replications = Replications.from_seeds(config, seed_base + np.arange(n_reps), periods + warmup)
    settings = RaceSettings(n_reps, screen_budget=SCREEN_BUDGET // (periods + warmup), min_screen_reps=8)
    result = race(_evaluator(config, cls, replications, warmup, to_kwargs), axes, settings, valid)
    policy = cls(config, **to_kwargs(result.params))
    policy.tuning_cost, policy.tuning_ci95 = result.cost, result.ci95
    policy.tuning = {**result.stats(), "n_reps": n_reps, "periods": periods, "warmup": warmup, "seed_base": seed_base}
    return policy


def _level_range(config: LostSalesConfig, extra_sd: float = 0.5) -> tuple[int, int]:
    """Candidate base-stock levels: from a low quantile of the (L+1)-period demand (the
    search extends below it if the winner is there) to ``newsvendor_level`` + a margin."""
    periods = config.lead_time + 1
    low = config.demand.sum_quantile(periods, config.critical_ratio / 10)
    sd = math.sqrt(periods * _demand_variance(config))
    high = config.newsvendor_level() + 2 + math.ceil(extra_sd * sd)
    return low, high


def _demand_variance(config: LostSalesConfig) -> float:
    pmf = config.demand.pmf_array()
    values = np.arange(len(pmf))
    mean = float(values @ pmf)
    return float((values - mean) ** 2 @ pmf)


def _eoq(config: LostSalesConfig) -> int:
    """Economic order quantity sqrt(2 K mean / h) (0 without a fixed cost)."""
    if config.fixed_order_cost <= 0:
        return 0
    h = config.holding_cost if config.holding_cost > 0 else 1.0
    return math.ceil(math.sqrt(2 * config.fixed_order_cost * config.demand.mean / h))


def _level_low_limit(config: LostSalesConfig) -> float:
    # With lost sales IP >= 0, so levels below 0 never order: 0 is a natural limit.
    return -math.inf if config.backorders else 0


def tune_base_stock(config: LostSalesConfig, **kwargs) -> OrderPolicy:
    """Tune the base-stock level (see ``BaseStock``); kwargs as :func:`tune`."""
    low, high = _level_range(config)
    axes = [Axis("level", np.arange(low, high + 1), low_limit=_level_low_limit(config))]
    return _search("base_stock", config, axes, **_opts(kwargs))


def tune_capped_base_stock(config: LostSalesConfig, **kwargs) -> OrderPolicy:
    """Tune level and cap (see ``CappedBaseStock``); kwargs as :func:`tune`."""
    low, high = _level_range(config, extra_sd=1.0)
    q_max = config.q_max
    cap_high = min(max(config.demand.sum_quantile(1, 0.999), math.ceil(config.demand.mean) + 1), q_max)
    caps = np.append(np.arange(1, cap_high + 1), q_max)
    axes = [Axis("level", np.arange(low, high + 1), low_limit=_level_low_limit(config)),
            Axis("cap", caps, low_limit=1, high_limit=q_max)]
    return _search("capped_base_stock", config, axes, **_opts(kwargs))


def tune_constant_order(config: LostSalesConfig, **kwargs) -> OrderPolicy:
    """Tune the constant order (see ``ConstantOrder``); kwargs as :func:`tune`."""
    mean = config.demand.mean
    if config.backorders:
        high, limit = math.ceil(mean) + 1, config.q_max
    else:
        high = limit = math.ceil(mean) - 1  # the largest quantity < mean (stable)
    high = min(high, config.q_max)
    axes = [Axis("quantity", np.arange(0, high + 1), low_limit=0, high_limit=limit)]
    return _search("constant_order", config, axes, **_opts(kwargs))


def tune_s_S(config: LostSalesConfig, **kwargs) -> OrderPolicy:
    """Tune s < S (see ``SS``); kwargs as :func:`tune`."""
    low, high = _level_range(config)
    eoq = _eoq(config)
    limit = _level_low_limit(config)
    axes = [Axis("S", np.arange(low + 1, high + eoq + 1), low_limit=limit + 1),
            Axis("gap", np.arange(1, eoq + math.ceil(config.demand.mean) + 3), low_limit=1)]

    def valid(p: dict[str, np.ndarray]) -> np.ndarray:
        return p["S"] - p["gap"] >= limit

    def to_kwargs(p: dict[str, Any]) -> dict[str, Any]:
        return {"s": p["S"] - p["gap"], "S": p["S"]}

    return _search("s_S", config, axes, valid, to_kwargs, **_opts(kwargs))


def _opts(kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = {"n_reps", "periods", "warmup", "seed_base"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(f"tune: unexpected keyword arguments {sorted(unknown)}")
    out = {"n_reps": None, "periods": None, "warmup": None, "seed_base": TUNE_SEED_BASE}
    out.update(kwargs)
    return out


TUNERS: dict[str, Callable[..., OrderPolicy]] = {
    "base_stock": tune_base_stock,
    "capped_base_stock": tune_capped_base_stock,
    "constant_order": tune_constant_order,
    "s_S": tune_s_S,
}


def tune(name: str, config: LostSalesConfig, *, n_reps: int | None = None, periods: int | None = None,
         warmup: int | None = None, seed_base: int = TUNE_SEED_BASE) -> OrderPolicy:
    """Tune the heuristic ``name`` for ``config`` by CRN simulation; return the policy.

    Args:
        name: a tunable key of ``HEURISTICS``.
        n_reps: replications of the final race stage (default 512); the screening stage
            uses fewer, sized to a fixed simulation budget.
        periods: measured periods per replication (default 1000).
        warmup: periods simulated before measuring (default ``100 + 10 L``).
        seed_base: replication r uses seed ``seed_base + r`` (default ``TUNE_SEED_BASE``,
            disjoint from the evaluation seeds).
    """
    if name not in HEURISTICS:
        raise ValueError(f"tune: unknown heuristic {name!r}; expected one of {', '.join(HEURISTICS)}")
    if name not in TUNERS:
        raise ValueError(f"tune: {name!r} has no parameters to tune; build it as HEURISTICS[{name!r}][0](config)")
    return TUNERS[name](config, n_reps=n_reps, periods=periods, warmup=warmup, seed_base=seed_base)


def tune_all(config: LostSalesConfig, names: Iterable[str] | None = None, **kwargs) -> dict[str, OrderPolicy]:
    """Ready policies for ``names`` (default: all of ``HEURISTICS``): tunable ones tuned with
    :func:`tune` (``kwargs`` passed on), the others built as ``cls(config)``."""
    out: dict[str, OrderPolicy] = {}
    for name in HEURISTICS if names is None else names:
        if name not in HEURISTICS:
            raise ValueError(f"tune_all: unknown heuristic {name!r}; expected one of {', '.join(HEURISTICS)}")
        cls, tunable = HEURISTICS[name]
        out[name] = tune(name, config, **kwargs) if tunable else cls(config)
    return out
